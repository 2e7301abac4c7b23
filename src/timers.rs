//! Deadlines for many connections: a coarse timing wheel.
//!
//! Deadlines here are coarse by nature (a linger of two seconds, idle
//! timeouts of seconds), so they are kept in slots of [`TICK`]: scheduling
//! and expiring cost O(1) per deadline, whatever the number of connections,
//! and `poll` wakes at most once a tick while any deadline is pending.
//!
//! The wheel stores slab keys. Each owner holds at most one entry and keeps
//! the [`Entry`] that says where it is (slot and index), so an entry is
//! removed in O(1) when its owner closes or needs an earlier deadline: the
//! wheel never holds a key that is not a live owner's, and its memory
//! follows the connections open, not the connections closed. A deadline
//! that moves later keeps its entry: the entry fires early and the owner
//! schedules the next one, so a keep-alive request re-arms nothing.
//! Deadlines further out than the wheel's span fire early the same way.

use std::time::{Duration, Instant};

/// Resolution of the wheel, in milliseconds.
const TICK_MS: u64 = 100;
/// Resolution of the wheel.
pub const TICK: Duration = Duration::from_millis(TICK_MS);
/// Number of slots: the wheel spans `SLOTS * TICK` (51.2 s).
pub const SLOTS: usize = 512;

/// Where one key sits in the wheel, kept by its owner: the tick it fires
/// at (0: nowhere) and its index in that tick's slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    tick: u32,
    index: u32,
}

impl Entry {
    /// No entry.
    pub const NONE: Entry = Entry { tick: 0, index: 0 };

    /// The tick it fires at; 0 for none.
    pub fn tick(self) -> u32 {
        self.tick
    }
}

/// A timing wheel of slab keys.
#[derive(Debug)]
pub struct Timers {
    origin: Instant,
    slots: Vec<Vec<usize>>,
    /// The last tick whose slot was expired.
    cursor: u64,
    /// Entries in all slots.
    pending: usize,
}

impl Timers {
    /// An empty wheel starting at `now`.
    pub fn new(now: Instant) -> Timers {
        Timers {
            origin: now,
            slots: vec![Vec::new(); SLOTS],
            cursor: 0,
            pending: 0,
        }
    }

    fn tick_of(&self, t: Instant) -> u64 {
        // In u64 milliseconds: `as_millis` is u128, whose division costs
        // more than the rest of a keep-alive request's bookkeeping.
        let d = t.saturating_duration_since(self.origin);
        (d.as_secs() * 1000 + u64::from(d.subsec_millis())) / TICK_MS
    }

    /// The tick at which a deadline at `at` falls due: the first tick
    /// boundary at or after it. Ticks fit in 32 bits for 13 years, so a
    /// connection stores its deadline in four bytes. Never 0.
    pub fn due_tick(&self, at: Instant) -> u32 {
        (self.tick_of(at) + 1).min(u64::from(u32::MAX)) as u32
    }

    /// Whether a deadline at `tick` has passed at `now`.
    pub fn is_due(&self, tick: u32, now: Instant) -> bool {
        u64::from(tick) <= self.tick_of(now)
    }

    /// Arranges for `key` to be handed back by [`Timers::expire`] at
    /// `tick` (from [`Timers::due_tick`]), or earlier if that is beyond
    /// the span. The owner keeps the entry to cancel it.
    pub fn schedule(&mut self, key: usize, tick: u32) -> Entry {
        let tick = u64::from(tick).clamp(self.cursor + 1, self.cursor + SLOTS as u64 - 1);
        let slot = &mut self.slots[(tick % SLOTS as u64) as usize];
        slot.push(key);
        self.pending += 1;
        Entry {
            tick: tick as u32,
            index: (slot.len() - 1) as u32,
        }
    }

    /// Removes an entry. The last key of its slot takes its place: if
    /// there was one, it is returned with its new index, for its owner to
    /// note in its entry.
    pub fn cancel(&mut self, entry: Entry) -> Option<(usize, Entry)> {
        if entry.tick == 0 {
            return None;
        }
        let slot = &mut self.slots[(u64::from(entry.tick) % SLOTS as u64) as usize];
        let index = entry.index as usize;
        if index >= slot.len() {
            return None;
        }
        slot.swap_remove(index);
        self.pending -= 1;
        slot.get(index).map(|&moved| (moved, entry))
    }

    /// How long `poll` may sleep before the next slot is due, or `None`
    /// when nothing is scheduled.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        if self.pending == 0 {
            return None;
        }
        let next = self.origin + TICK * (self.cursor + 1) as u32;
        Some(next.saturating_duration_since(now))
    }

    /// Moves every key whose slot is due at `now` into `expired`. Their
    /// entries are gone: owners forget them.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<usize>) {
        if self.pending == 0 {
            // Nothing to find: jump the cursor instead of walking empty slots.
            self.cursor = self.cursor.max(self.tick_of(now));
            return;
        }
        let due = self.tick_of(now);
        while self.cursor < due {
            self.cursor += 1;
            let slot = &mut self.slots[(self.cursor % SLOTS as u64) as usize];
            self.pending -= slot.len();
            expired.append(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(w: &Timers, t: Instant) -> u32 {
        w.due_tick(t)
    }

    #[test]
    fn keys_come_back_at_their_tick() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        assert_eq!(w.next_timeout(t0), None);
        w.schedule(7, at(&w, t0 + Duration::from_millis(250)));
        w.schedule(8, at(&w, t0 + Duration::from_secs(2)));
        let mut out = Vec::new();
        w.expire(t0 + Duration::from_millis(200), &mut out);
        assert!(out.is_empty());
        w.expire(t0 + Duration::from_millis(300), &mut out);
        assert_eq!(out, [7]);
        out.clear();
        w.expire(t0 + Duration::from_millis(2099), &mut out);
        assert!(out.is_empty());
        w.expire(t0 + Duration::from_millis(2100), &mut out);
        assert_eq!(out, [8]);
        assert_eq!(w.next_timeout(t0), None);
    }

    #[test]
    fn far_deadlines_fire_early_within_the_span() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        let entry = w.schedule(1, at(&w, t0 + Duration::from_secs(3600)));
        assert_eq!(entry.tick(), SLOTS as u32 - 1, "clamped to the span");
        let mut out = Vec::new();
        w.expire(t0 + TICK * SLOTS as u32, &mut out);
        assert_eq!(out, [1], "fires within one span; the owner reschedules");
    }

    #[test]
    fn cancelled_entries_are_gone_and_the_moved_key_is_named() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        let tick = at(&w, t0 + Duration::from_millis(500));
        let a = w.schedule(1, tick);
        let b = w.schedule(2, tick);
        let c = w.schedule(3, tick);
        assert_eq!(w.cancel(Entry::NONE), None);
        // Key 3, the last, moves into key 1's place.
        let (moved, entry) = w.cancel(a).unwrap();
        assert_eq!((moved, entry.index), (3, a.index));
        assert_ne!(entry, c);
        assert_eq!(w.cancel(b), None, "the last of its slot: nothing moves");
        let mut out = Vec::new();
        w.expire(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(out, [3]);
        assert_eq!(w.next_timeout(t0), None, "nothing left behind");
    }

    #[test]
    fn churn_leaves_nothing_behind() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        // A thousand connections come and go within one tick's slot.
        let tick = at(&w, t0 + Duration::from_secs(15));
        for key in 0..1000 {
            let entry = w.schedule(key, tick);
            assert_eq!(w.cancel(entry), None);
        }
        assert_eq!(w.pending, 0);
        assert_eq!(w.next_timeout(t0), None);
    }

    #[test]
    fn next_timeout_points_at_the_next_tick() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        w.schedule(1, at(&w, t0 + Duration::from_secs(1)));
        assert_eq!(w.next_timeout(t0), Some(TICK));
        assert_eq!(
            w.next_timeout(t0 + Duration::from_secs(9)),
            Some(Duration::ZERO)
        );
    }
}
