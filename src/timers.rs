//! Deadlines for many connections: a coarse timing wheel.
//!
//! Deadlines here are coarse by nature (a linger of two seconds, idle
//! timeouts of seconds), so they are kept in slots of [`TICK`]: arming,
//! cancelling and expiring cost O(1) per deadline, whatever the number of
//! connections, and `poll` sleeps until the next slot that holds a
//! deadline (or a second, while deadlines further out are pending).
//!
//! The wheel is indexed by slab key, as the Linux kernel's timer wheel and
//! Netty's are by their timers: each key has one `Link` (its deadline,
//! and the next and previous keys in its slot's list), and each slot is the
//! head of a doubly linked list through those links. So a key is in at
//! most one slot, and arming, moving or cancelling it touches only its own
//! link and its neighbours'. The links live in one array that grows with
//! the highest key, the way the slab does: nothing is allocated per
//! deadline, so no burst of connections leaves memory behind, and a closed
//! connection's key is taken out of its list at once.
//!
//! A deadline that moves later stays where it is and only records the new
//! deadline: its slot fires early, and the key is moved on then. So a
//! keep-alive request, whose idle deadline moves later every time, costs
//! one store. Deadlines further out than the wheel's span fire early and
//! move on the same way.

use std::time::{Duration, Instant};

/// Resolution of the wheel, in milliseconds.
const TICK_MS: u64 = 100;
/// Resolution of the wheel.
pub const TICK: Duration = Duration::from_millis(TICK_MS);
/// Number of slots: the wheel spans `SLOTS * TICK` (51.2 s).
pub const SLOTS: usize = 512;

/// Slots [`Timers::next_timeout`] looks ahead for one that holds a key:
/// with deadlines pending, an idle loop wakes when one is due or once a
/// second, not every tick.
const LOOK_AHEAD: u64 = 10;

/// No key: the end of a list.
const NIL: u32 = u32::MAX;
/// Marks a list's first key: its `prev` is `HEAD | slot`. Keys stay below.
const HEAD: u32 = 1 << 31;

/// One key's place in the wheel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    /// The tick the key is due at; 0 when it is in no list.
    due: u32,
    /// The next key in the same slot, or [`NIL`].
    next: u32,
    /// The previous key, or `HEAD | slot` for the first.
    prev: u32,
}

const UNLINKED: Link = Link {
    due: 0,
    next: NIL,
    prev: NIL,
};

/// A timing wheel of slab keys.
#[derive(Debug)]
pub struct Timers {
    origin: Instant,
    /// The first key of each slot's list, or [`NIL`].
    heads: Box<[u32]>,
    /// Every key's link, indexed by key.
    links: Vec<Link>,
    /// The last tick whose slot was expired.
    cursor: u64,
    /// Keys in all lists.
    pending: usize,
}

impl Timers {
    /// An empty wheel starting at `now`, with room for keys below `keys`.
    pub fn new(now: Instant, keys: usize) -> Timers {
        Timers {
            origin: now,
            heads: vec![NIL; SLOTS].into_boxed_slice(),
            links: Vec::with_capacity(keys),
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
    /// boundary at or after it. Ticks fit in 32 bits for 13 years. Never 0.
    pub fn due_tick(&self, at: Instant) -> u32 {
        (self.tick_of(at) + 1).min(u64::from(u32::MAX)) as u32
    }

    /// Arranges for `key` to be handed back by [`Timers::expire`] once
    /// `at` has passed (rounded up to the next tick), replacing the
    /// deadline it had.
    pub fn arm(&mut self, key: usize, at: Instant) {
        debug_assert!(key < HEAD as usize, "slab keys stay below 2^31");
        let due = self.due_tick(at);
        if key >= self.links.len() {
            self.links.resize(key + 1, UNLINKED);
        }
        let old = self.links[key].due;
        if old != 0 {
            if due >= old {
                // Its slot comes no later than the new deadline: it fires
                // early and moves on then.
                self.links[key].due = due;
                return;
            }
            self.unlink(key);
        }
        self.link(key, due);
    }

    /// Takes `key` out of the wheel, if it is in it.
    pub fn cancel(&mut self, key: usize) {
        if self.links.get(key).is_some_and(|l| l.due != 0) {
            self.unlink(key);
        }
    }

    /// Puts `key` first in the slot of `due`, or of the span's last tick
    /// if `due` is beyond it.
    fn link(&mut self, key: usize, due: u32) {
        let tick = u64::from(due).clamp(self.cursor + 1, self.cursor + SLOTS as u64 - 1);
        let slot = (tick % SLOTS as u64) as usize;
        let first = self.heads[slot];
        self.links[key] = Link {
            due,
            next: first,
            prev: HEAD | slot as u32,
        };
        if first != NIL {
            self.links[first as usize].prev = key as u32;
        }
        self.heads[slot] = key as u32;
        self.pending += 1;
    }

    /// Takes `key` out of its list: its neighbours (or its slot's head)
    /// point past it.
    fn unlink(&mut self, key: usize) {
        let Link { next, prev, .. } = self.links[key];
        if prev & HEAD != 0 {
            self.heads[(prev & !HEAD) as usize] = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next != NIL {
            self.links[next as usize].prev = prev;
        }
        self.links[key] = UNLINKED;
        self.pending -= 1;
    }

    /// How long `poll` may sleep before a slot that holds a key is due
    /// (looking `LOOK_AHEAD` slots ahead at most), or `None` when nothing
    /// is scheduled.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        if self.pending == 0 {
            return None;
        }
        let tick = (self.cursor + 1..=self.cursor + LOOK_AHEAD)
            .find(|t| self.heads[(t % SLOTS as u64) as usize] != NIL)
            .unwrap_or(self.cursor + LOOK_AHEAD);
        let next = self.origin + TICK * tick as u32;
        Some(next.saturating_duration_since(now))
    }

    /// Moves into `expired` every key whose deadline has passed at `now`;
    /// they are out of the wheel. Keys whose slot came before their
    /// deadline move on to a later slot.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<usize>) {
        let now_tick = self.tick_of(now);
        if self.pending == 0 {
            // Nothing to find: jump the cursor instead of walking empty slots.
            self.cursor = self.cursor.max(now_tick);
            return;
        }
        while self.cursor < now_tick {
            self.cursor += 1;
            let slot = (self.cursor % SLOTS as u64) as usize;
            let mut key = std::mem::replace(&mut self.heads[slot], NIL);
            while key != NIL {
                let link = self.links[key as usize];
                self.links[key as usize] = UNLINKED;
                self.pending -= 1;
                if u64::from(link.due) <= now_tick {
                    expired.push(key as usize);
                } else {
                    // A later slot: the link is at least one tick ahead.
                    self.link(key as usize, link.due);
                }
                key = link.next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn keys_come_back_once_their_deadline_passed() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        assert_eq!(w.next_timeout(t0), None);
        w.arm(7, ms(t0, 250));
        w.arm(8, ms(t0, 2000));
        let mut out = Vec::new();
        w.expire(ms(t0, 200), &mut out);
        assert!(out.is_empty());
        w.expire(ms(t0, 300), &mut out);
        assert_eq!(out, [7]);
        out.clear();
        w.expire(ms(t0, 2099), &mut out);
        assert!(out.is_empty());
        w.expire(ms(t0, 2100), &mut out);
        assert_eq!(out, [8]);
        assert_eq!(w.next_timeout(t0), None);
    }

    #[test]
    fn far_deadlines_go_round_until_due() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        w.arm(1, t0 + Duration::from_secs(120));
        let mut out = Vec::new();
        for lap in 1..=2 {
            w.expire(t0 + TICK * (SLOTS * lap) as u32, &mut out);
            assert!(out.is_empty(), "lap {lap}: not due yet");
        }
        w.expire(t0 + Duration::from_millis(120_100), &mut out);
        assert_eq!(out, [1]);
    }

    #[test]
    fn a_later_deadline_stays_put_and_an_earlier_one_moves() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        w.arm(4, ms(t0, 1000));
        w.arm(4, ms(t0, 15_000));
        let mut out = Vec::new();
        w.expire(ms(t0, 2000), &mut out);
        assert!(out.is_empty(), "moved on, not expired");
        assert_eq!(w.pending, 1);
        w.arm(4, ms(t0, 3000));
        w.expire(ms(t0, 3100), &mut out);
        assert_eq!(out, [4], "the earlier deadline holds");
        assert_eq!(w.pending, 0);
    }

    #[test]
    fn cancelling_unlinks_from_anywhere_in_a_list() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        for key in 0..5 {
            w.arm(key, ms(t0, 500)); // one slot: 4 3 2 1 0
        }
        w.cancel(2); // the middle
        w.cancel(4); // the first
        w.cancel(0); // the last
        w.cancel(9); // never armed
        w.cancel(2); // twice
        let mut out = Vec::new();
        w.expire(ms(t0, 1000), &mut out);
        out.sort_unstable();
        assert_eq!(out, [1, 3]);
        assert_eq!(w.pending, 0);
    }

    #[test]
    fn churn_leaves_nothing_behind() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        // Ten thousand connections come and go: nothing stays in the
        // wheel, and its memory is one link per key ever used.
        for round in 0..10 {
            for key in 0..10_000 {
                w.arm(key, ms(t0, 15_000 + round * 100));
            }
            for key in 0..10_000 {
                w.cancel(key);
            }
        }
        assert_eq!(w.pending, 0);
        assert_eq!(w.links.len(), 10_000);
        assert!(w.heads.iter().all(|&h| h == NIL));
        assert_eq!(w.next_timeout(t0), None);
    }

    #[test]
    fn next_timeout_points_at_the_next_slot_with_a_key() {
        let t0 = Instant::now();
        let mut w = Timers::new(t0, 0);
        w.arm(1, ms(t0, 450));
        assert_eq!(w.next_timeout(t0), Some(ms(t0, 500) - t0));
        assert_eq!(w.next_timeout(ms(t0, 9000)), Some(Duration::ZERO));
        // Far away: wake once a second to look again, not every tick.
        let mut w = Timers::new(t0, 0);
        w.arm(1, t0 + Duration::from_secs(15));
        assert_eq!(w.next_timeout(t0), Some(Duration::from_secs(1)));
        let mut out = Vec::new();
        w.expire(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(w.next_timeout(t0), Some(Duration::from_secs(2)));
    }
}
