//! The connection: whatever it speaks, on whatever stream; reads, flushes, deadlines, lingering close.
//!
//! One connection: its stream (a [`Transport`] in the server, a scripted
//! fake in the tests), and while it has work a [`Work`]: the
//! [`Protocol`](protocol::Protocol) it speaks, chosen by ALPN or by the
//! first bytes, and the edge-triggered discipline between the two.
//!
//! mio reports readiness edges, so the connection remembers the one fact an
//! edge carries: "the socket may have bytes" ([`edge::Ready`]). A
//! readable event sets it; a read that would block, or that came back
//! shorter than the buffer (the kernel had no more), clears it. Reading
//! only while it is set is what keeps a keep-alive request at two syscalls:
//! one `read`, one write, and no `read` that answers EAGAIN.
//!
//! Bytes are read into the loop's one shared buffer; only the tail of an
//! incomplete request is copied into the connection's own `partial`, and
//! while it is non-empty reads go straight into it. Everything a busy
//! connection needs (protocol, partial head, output queue, state) lives in
//! a [`Work`] lent by the loop's [`WorkPool`]: an idle connection holds
//! its stream, nothing else.
//!
//! The connection never touches the poller or the timer wheel. After every
//! event it says what it needs in a [`Next`]: the interest to register and
//! the deadline by which it must close, both derived from its state, and
//! the loop registers and arms.
//!
//! Closing: when the session says the connection ends, the queued output is
//! flushed first. If the client might still be sending (unread bytes), the
//! write side is shut and input is read and dropped for a short while
//! ("lingering close", RFC 9112 §9.6, as nginx and Apache do): closing a
//! socket with unread input makes the kernel send a reset, which can
//! destroy the response before the client reads it.

use std::time::Instant;

use mio::Interest;

use crate::config::Timeouts;
use crate::http::site::Site;
use crate::metrics::{ConnStates, Waiting};
use crate::ops::Ops;
use crate::stream::Stream;

pub mod edge;
pub mod pool;
pub mod protocol;
pub mod transport;
mod work;

use pool::Pool;
pub use transport::Transport;
use work::Under;
pub use work::Work;

/// Stop reading a connection while this many response bytes wait for it,
/// so a client that pipelines without reading cannot grow our memory.
pub const BACKLOG_BYTES: u64 = 1 << 20;
/// The same bound in chunks (each response is two to four).
pub const BACKLOG_CHUNKS: usize = 1024;
/// Bytes read at a time into a connection's own buffer while a request is
/// incomplete.
const PARTIAL_READ: usize = 4096;
/// Capacity of that buffer a pooled state may keep: one read's worth past
/// a typical head. More is freed when the state goes back to the pool.
const PARTIAL_KEEP: usize = 2 * PARTIAL_READ;
/// Output chunks of capacity a pooled state may keep (16 pipelined
/// responses take about 32); a queue a slow reader grew is shrunk back.
const OUT_KEEP: usize = 128;

/// Spare [`Work`] states, lent to connections while they have work.
pub type WorkPool = Pool<Work>;

/// What the loop should do with the connection after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep it, as [`Wait`] says.
    Wait(Wait),
    /// Keep it, and call it again in this turn of the loop, after the other
    /// events: it has more to write and the socket can take it.
    Again(Wait),
    /// Close it now.
    Close,
}

/// What a connection that stays open waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The readiness to register.
    pub interest: Interest,
    /// Close it then, unless an event comes first.
    pub deadline: Instant,
}

/// What the loop lends a connection for one event: the loop's shared state
/// and the wakeup's time. Each layer is lent what it needs and no more:
/// the connection lends its session a [`SessionLoan`](crate::http::session::SessionLoan) cut from this one.
pub struct ConnLoan<'a> {
    /// The loop's read buffer.
    pub buf: &'a mut [u8],
    /// The site every session serves.
    pub site: &'a mut Site,
    /// The counters and the access log.
    pub ops: &'a mut Ops,
    /// Connection state, lent while a connection has work.
    pub pool: &'a mut WorkPool,
    /// The loop's time for this wakeup.
    pub now: Instant,
    /// How long each wait may last.
    pub timeouts: Timeouts,
}

/// An HTTP connection: its stream, and its state while it has work.
///
/// An idle keep-alive connection (between requests, nothing to send) is
/// just its stream: its [`Work`] goes back to the loop's [`WorkPool`] and
/// the next busy connection reuses it. So ten thousand idle connections
/// cost ten thousand slab entries of a few words, and a request still
/// allocates nothing.
#[derive(Debug)]
pub struct Conn<S> {
    work: Option<Box<Work>>,
    sock: S,
}

impl<S: Stream> Conn<S> {
    /// Wraps a freshly accepted stream.
    pub fn new(sock: S) -> Conn<S> {
        Conn { work: None, sock }
    }

    /// Bytes sent of what its responses queued (see
    /// [`crate::out::OutQueue::sent`]), for the access log when the loop
    /// closes it.
    pub fn sent(&self) -> u64 {
        self.work.as_ref().map_or(0, |w| w.out.sent())
    }

    /// The stream, to register it.
    pub fn socket(&mut self) -> &mut S {
        &mut self.sock
    }

    /// The interest its state needs: what it asked for after its last
    /// event, since nothing has changed it since.
    pub fn interest(&self) -> Interest {
        let under = Under::of(&self.sock);
        self.work
            .as_ref()
            .map_or(Interest::READABLE, |w| w.interest(under))
    }

    /// What the connection waits for, which names the deadline that closes
    /// it when it passes.
    pub fn waiting(&self) -> Waiting {
        let under = Under::of(&self.sock);
        self.work
            .as_ref()
            .map_or(Waiting::Idle, |w| w.waiting(under))
    }

    /// Before an idle connection is closed at its deadline, its client is
    /// told so in its protocol's words, as far as the socket takes them at
    /// once: HTTP/2 says GOAWAY (RFC 9113 §6.8); HTTP/1.x has none.
    pub fn farewell(&mut self) {
        if let Some(work) = self.work.as_mut() {
            work.protocol.drain(&mut work.out);
            if !work.out.is_empty() {
                let _ = work.out.flush(&mut self.sock, &mut 0);
            }
        }
    }

    /// Once a second: an HTTP/2 connection with nothing in flight gives
    /// back its per-request buffers and its output queue's room. (An
    /// HTTP/1.x connection between requests has given its whole state back
    /// to the pool already; HTTP/2's state, the HPACK table and the
    /// settings, must stay.) Once a second, not after every batch: a busy
    /// connection would only allocate them again.
    pub fn give_back(&mut self) {
        if let Some(work) = self.work.as_mut()
            && work.out.is_empty()
            && work.protocol.give_back()
        {
            work.out.shrink_to(0);
            if work.partial.is_empty() {
                work.partial = Vec::new();
            }
        }
    }

    /// Adds this connection to the count of its state (for the metrics).
    pub fn count_state(&self, states: &mut ConnStates) {
        let under = Under::of(&self.sock);
        let count = match self.work.as_deref() {
            None => &mut states.idle,
            Some(w) => match w.waiting(under) {
                Waiting::Linger => &mut states.lingering,
                Waiting::Send => &mut states.writing,
                _ if w.is_idle(under) => &mut states.idle,
                _ => &mut states.reading,
            },
        };
        *count += 1;
    }

    /// Graceful shutdown: an idle connection closes now; a busy one finishes
    /// the request in progress and its response says `Connection: close`.
    pub fn drain(&mut self, key: usize, loan: &mut ConnLoan<'_>) -> Next {
        match self.work.take() {
            Some(mut work) if !work.is_idle(Under::of(&self.sock)) => {
                // HTTP/1.x: the answer in progress says `close`; HTTP/2:
                // GOAWAY with the last stream taken, those finish, and with
                // none in flight the connection ends once the GOAWAY is out.
                work.protocol.drain(&mut work.out);
                work.end_if_done(false);
                let next = work.next_step(&mut self.sock, key, loan);
                self.park(work, next, key, loan)
            }
            idle => {
                if let Some(work) = idle {
                    loan.pool.give(work);
                }
                Next::Close
            }
        }
    }

    /// Whether the connection is idle: between requests, nothing to send,
    /// its state given back to the pool (only its stream is held).
    pub fn is_idle(&self) -> bool {
        self.work.is_none()
    }

    /// Handles a readiness event. `readable` covers error events too (the
    /// next read reports them); `hup` says the peer's FIN has arrived.
    pub fn on_event(
        &mut self,
        key: usize,
        readable: bool,
        hup: bool,
        loan: &mut ConnLoan<'_>,
    ) -> Next {
        let mut work = self.work.take().unwrap_or_else(|| loan.pool.take(loan.now));
        let next = work.on_event(&mut self.sock, key, readable, hup, loan);
        self.park(work, next, key, loan)
    }

    /// Keeps the work state while there is work; idle or finished, it goes
    /// back to the pool with the capacity it grew.
    fn park(&mut self, work: Box<Work>, next: Next, key: usize, loan: &mut ConnLoan<'_>) -> Next {
        if let Some(log) = loan.ops.access_log.as_mut() {
            log.settle(key, work.out.sent(), next == Next::Close);
        }
        if next == Next::Close || work.is_idle(Under::of(&self.sock)) {
            if next != Next::Close {
                log::trace!("connection {key}: idle, kept open (persistence, RFC 9112 §9.3)");
            }
            loan.pool.give(work);
        } else {
            self.work = Some(work);
        }
        next
    }
}

#[cfg(test)]
mod schedules;
#[cfg(test)]
mod tests;
