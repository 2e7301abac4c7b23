//! The loop's table of HTTP connections: a slab of connections, and for
//! each what the loop keeps beside it (the interest registered, the
//! deadline, its entry in the timer wheel).
//!
//! A connection says what it needs after every event ([`crate::http::conn::Next`]);
//! this table turns the deadline it names into at most one wheel entry:
//! an entry due sooner than the deadline stays and is rescheduled when it
//! fires (so a keep-alive request re-arms nothing), an entry due later is
//! moved, and removing a connection removes its entry. The wheel therefore
//! holds exactly one key per armed connection, and never a closed one.

use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;
use slab::Slab;

use crate::http::conn::Conn;
use crate::timers::{Entry, Timers};

/// A connection in the slab, with what the loop keeps about it.
#[derive(Debug)]
pub struct Slot {
    /// The connection.
    pub conn: Conn<TcpStream>,
    /// The interest registered, to reregister only on change.
    pub registered: Interest,
    /// When it must close, as a wheel tick: from its last `Next`.
    deadline: u32,
    /// Its one entry in the wheel, due at or before `deadline`.
    timer: Entry,
}

/// The slab of connections and the wheel of their deadlines.
#[derive(Debug)]
pub struct Conns {
    slab: Slab<Slot>,
    timers: Timers,
    /// Keys the wheel handed back, reused from wakeup to wakeup.
    fired: Vec<usize>,
}

impl Conns {
    /// An empty table whose wheel starts at `now`.
    pub fn new(now: Instant) -> Conns {
        Conns {
            slab: Slab::new(),
            timers: Timers::new(now),
            fired: Vec::new(),
        }
    }

    /// Connections open.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// The key the next [`Conns::insert`] will use.
    pub fn next_key(&self) -> usize {
        self.slab.vacant_key()
    }

    /// The connection at `key`, if open.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Slot> {
        self.slab.get_mut(key)
    }

    /// Every open connection.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.slab.iter()
    }

    /// Adds a registered connection, closing it at `deadline` unless it
    /// is armed again first; returns its key.
    pub fn insert(
        &mut self,
        conn: Conn<TcpStream>,
        registered: Interest,
        deadline: Instant,
    ) -> usize {
        let key = self.slab.insert(Slot {
            conn,
            registered,
            deadline: 0,
            timer: Entry::NONE,
        });
        self.arm(key, deadline);
        key
    }

    /// Removes a connection and its wheel entry. Dropping the slot closes
    /// the socket.
    pub fn remove(&mut self, key: usize) -> Option<Slot> {
        let slot = self.slab.try_remove(key)?;
        self.cancel(slot.timer);
        Some(slot)
    }

    /// Makes sure the wheel looks at connection `key` by `deadline`.
    pub fn arm(&mut self, key: usize, deadline: Instant) {
        let tick = self.timers.due_tick(deadline);
        let Some(slot) = self.slab.get_mut(key) else {
            return;
        };
        slot.deadline = tick;
        let entry = slot.timer;
        if entry.tick() != 0 && entry.tick() <= tick {
            return; // it fires first, and is rescheduled then
        }
        slot.timer = Entry::NONE;
        self.cancel(entry);
        let entry = self.timers.schedule(key, tick);
        if let Some(slot) = self.slab.get_mut(key) {
            slot.timer = entry;
        }
    }

    /// Removes a wheel entry; the key that took its place learns its new
    /// index.
    fn cancel(&mut self, entry: Entry) {
        if let Some((moved, entry)) = self.timers.cancel(entry)
            && let Some(slot) = self.slab.get_mut(moved)
        {
            slot.timer = entry;
        }
    }

    /// How long `poll` may sleep before a deadline needs looking at.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.timers.next_timeout(now)
    }

    /// Puts in `due` the keys of connections whose deadline has passed at
    /// `now` (they keep no entry: close them); the entries that fired
    /// early, because their deadline moved later, are rescheduled.
    pub fn expire(&mut self, now: Instant, due: &mut Vec<usize>) {
        self.timers.expire(now, &mut self.fired);
        for key in self.fired.drain(..) {
            let Some(slot) = self.slab.get_mut(key) else {
                continue; // cannot happen: entries leave with their owner
            };
            slot.timer = Entry::NONE;
            if self.timers.is_due(slot.deadline, now) {
                due.push(key);
            } else {
                slot.timer = self.timers.schedule(key, slot.deadline);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::mem::size_of;

    /// An idle connection costs its slot (and 8 bytes in the wheel). In a
    /// release build a stream is its 4-byte descriptor, so a slot is four
    /// words: 10,000 idle connections take 320 KB of slab. (Debug builds
    /// of mio add a word to each stream.)
    #[test]
    fn a_slot_is_the_stream_a_pointer_and_two_words() {
        let conn = size_of::<Conn<TcpStream>>();
        assert_eq!(conn, (size_of::<TcpStream>() + 8).next_multiple_of(8));
        assert!(size_of::<Slot>() <= conn + 16, "{}", size_of::<Slot>());
    }
}
