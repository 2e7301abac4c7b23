//! Deadlines for many connections: a coarse timing wheel.
//!
//! Deadlines here are coarse by nature (a linger of two seconds, idle
//! timeouts of seconds), so they are kept in slots of [`TICK`]: scheduling
//! and expiring cost O(1) per deadline, whatever the number of connections,
//! and `poll` wakes at most once a tick while any deadline is pending.
//!
//! The wheel stores slab keys, not owners: a key is reused after a close,
//! so an entry may outlive its connection. Each connection therefore
//! remembers the tick of the one entry it counts on; an entry that fires at
//! any other tick is stale (a predecessor's, or one superseded by an
//! earlier deadline) and is dropped. Only the counted entry closes the
//! connection or, if the deadline has moved later, schedules the next one,
//! so entries never multiply on a busy key. Deadlines further out than the
//! wheel's span fire early and are rescheduled the same way.

use std::time::{Duration, Instant};

/// Resolution of the wheel, in milliseconds.
const TICK_MS: u64 = 100;
/// Resolution of the wheel.
pub const TICK: Duration = Duration::from_millis(TICK_MS);
/// Number of slots: the wheel spans `SLOTS * TICK` (51.2 s).
pub const SLOTS: usize = 512;

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

    /// Arranges for `key` to be handed back by [`Timers::expire`] at or
    /// after `at` (rounded up to the next tick; early if beyond the span).
    pub fn schedule(&mut self, key: usize, at: Instant) -> u32 {
        let tick = self.due_tick(at);
        self.schedule_tick(key, tick)
    }

    /// [`Timers::schedule`] for a tick from [`Timers::due_tick`]. Returns
    /// the tick the entry will fire at (earlier, if beyond the span): the
    /// owner keeps it to recognize its own entry among stale ones.
    pub fn schedule_tick(&mut self, key: usize, tick: u32) -> u32 {
        let tick = u64::from(tick).clamp(self.cursor + 1, self.cursor + SLOTS as u64 - 1);
        self.slots[(tick % SLOTS as u64) as usize].push(key);
        self.pending += 1;
        tick as u32
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

    /// Moves every key whose slot is due at `now` into `expired`, with the
    /// tick it fired at.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<(usize, u32)>) {
        if self.pending == 0 {
            // Nothing to find: jump the cursor instead of walking empty slots.
            self.cursor = self.cursor.max(self.tick_of(now));
            return;
        }
        let due = self.tick_of(now);
        while self.cursor < due {
            self.cursor += 1;
            let tick = self.cursor as u32;
            let slot = &mut self.slots[(self.cursor % SLOTS as u64) as usize];
            self.pending -= slot.len();
            expired.extend(slot.drain(..).map(|key| (key, tick)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_back_at_their_tick() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        assert_eq!(w.next_timeout(t0), None);
        w.schedule(7, t0 + Duration::from_millis(250));
        w.schedule(8, t0 + Duration::from_secs(2));
        let mut out = Vec::new();
        w.expire(t0 + Duration::from_millis(200), &mut out);
        assert!(out.is_empty());
        w.expire(t0 + Duration::from_millis(300), &mut out);
        assert_eq!(out, [(7, 3)]);
        out.clear();
        w.expire(t0 + Duration::from_millis(2099), &mut out);
        assert!(out.is_empty());
        w.expire(t0 + Duration::from_millis(2100), &mut out);
        assert_eq!(out, [(8, 21)]);
        assert_eq!(w.next_timeout(t0), None);
    }

    #[test]
    fn far_deadlines_fire_early_within_the_span() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        let tick = w.schedule(1, t0 + Duration::from_secs(3600));
        assert_eq!(tick, SLOTS as u32 - 1, "clamped to the span");
        let mut out = Vec::new();
        w.expire(t0 + TICK * SLOTS as u32, &mut out);
        assert_eq!(
            out,
            [(1, tick)],
            "fires within one span; the owner reschedules"
        );
    }

    #[test]
    fn next_timeout_points_at_the_next_tick() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0);
        w.schedule(1, t0 + Duration::from_secs(1));
        assert_eq!(w.next_timeout(t0), Some(TICK));
        assert_eq!(
            w.next_timeout(t0 + Duration::from_secs(9)),
            Some(Duration::ZERO)
        );
    }
}
