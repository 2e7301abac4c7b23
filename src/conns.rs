//! The slab of connections and the wheel of their deadlines, under the same keys.
//!
//! The loop's table of HTTP connections: a slab of connections, and the
//! wheel of their deadlines, indexed by the same keys.
//!
//! A connection says what it needs after every event
//! ([`crate::conn::Next`]); this table arms the deadline it names
//! (a store, when it only moved later) and takes a connection's key out of
//! the wheel when it is removed, so the wheel never holds a closed
//! connection's key.
//!
//! The interest registered for a connection is not stored: it is what the
//! connection's state asked for after its last event, and that state has
//! not changed since, so [`Conn::interest`] still says it.
//!
//! The slab holds one type for HTTP and HTTPS alike, a connection over a
//! [`Transport`]: the TCP socket, or TLS over it.

use std::time::{Duration, Instant};

use slab::Slab;

use crate::conn::{Conn, Transport};
use crate::timers::Timers;

/// Most connections [`Conns::new`] reserves room for (a million: 28 MB of
/// address space, not of memory).
const MAX_RESERVED: usize = 1 << 20;

/// The slab of connections and the wheel of their deadlines.
#[derive(Debug)]
pub struct Conns {
    slab: Slab<Conn<Transport>>,
    timers: Timers,
}

impl Conns {
    /// An empty table for up to `max` connections, whose wheel starts at
    /// `now`. Room for all of them is reserved at once: large reservations
    /// are fresh pages from the kernel, which cost nothing until a
    /// connection first uses them, whereas growing by doubling would copy
    /// the table each time and leave the old copies behind in the heap.
    pub fn new(now: Instant, max: usize) -> Conns {
        let room = max.min(MAX_RESERVED);
        Conns {
            slab: Slab::with_capacity(room),
            timers: Timers::new(now, room),
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
    pub fn get_mut(&mut self, key: usize) -> Option<&mut Conn<Transport>> {
        self.slab.get_mut(key)
    }

    /// Every open connection.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Conn<Transport>)> {
        self.slab.iter()
    }

    /// Every open connection, to change (the once-a-second chores).
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut Conn<Transport>)> {
        self.slab.iter_mut()
    }

    /// Adds a registered connection, closing it at `deadline` unless it
    /// is armed again first; returns its key.
    pub fn insert(&mut self, conn: Conn<Transport>, deadline: Instant) -> usize {
        let key = self.slab.insert(conn);
        self.timers.arm(key, deadline);
        key
    }

    /// Removes a connection and its deadline. Dropping the connection
    /// closes its socket.
    pub fn remove(&mut self, key: usize) -> Option<Conn<Transport>> {
        let conn = self.slab.try_remove(key)?;
        self.timers.cancel(key);
        Some(conn)
    }

    /// Connection `key` must close at `deadline`, unless armed again first.
    pub fn arm(&mut self, key: usize, deadline: Instant) {
        if self.slab.contains(key) {
            self.timers.arm(key, deadline);
        }
    }

    /// How long `poll` may sleep before a deadline needs looking at.
    pub fn next_timeout(&self, now: Instant) -> Option<Duration> {
        self.timers.next_timeout(now)
    }

    /// Puts in `due` the keys of connections whose deadline has passed at
    /// `now`: close them.
    pub fn expire(&mut self, now: Instant, due: &mut Vec<usize>) {
        self.timers.expire(now, due);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// An idle connection costs its slab entry and its 12-byte link in the
    /// wheel. The entry is the socket (a descriptor, or the pointer to a
    /// TLS stream, and which of the two) and the pointer to a work state.
    #[test]
    fn a_connection_is_its_socket_and_a_pointer() {
        let conn = size_of::<Conn<Transport>>();
        // (A pointer is 4 bytes on 32-bit ARM.)
        let align = std::mem::align_of::<Conn<Transport>>();
        assert_eq!(
            conn,
            (size_of::<Transport>() + size_of::<usize>()).next_multiple_of(align)
        );
        assert!(size_of::<Transport>() <= 16 + size_of::<mio::net::TcpStream>());
    }
}
