//! One busy connection's state: reading, answering, flushing, ending and lingering, by the edge-triggered rules.
//!
//! A [`Work`] is what a connection holds while it has work (see the
//! module above): its protocol, the tail of an incomplete request, the
//! output queue and where the connection stands ([`ConnState`]). Every
//! event runs [`Work::on_event`]: read while the edge says the socket may
//! have bytes, answer what was read, flush, and say what follows.

use std::io;
use std::time::Instant;

use mio::Interest;

use super::edge::{Got, Ready, read};
use super::pool::Pooled;
use super::protocol::Protocol;
use super::{
    BACKLOG_BYTES, BACKLOG_CHUNKS, ConnLoan, Next, OUT_KEEP, PARTIAL_KEEP, PARTIAL_READ, Wait,
};
use crate::config::Timeouts;
use crate::http::session::SessionLoan;
use crate::http::site::Site;
use crate::metrics::Waiting;
use crate::ops::Ops;
use crate::out::{Flush, OutQueue};
use crate::stream::Stream;
use crate::sys::would_block;

/// What the stream under the connection says about itself: a TLS layer
/// may hold records of its own, or still be shaking hands.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Under {
    /// Output waits in the stream, beyond the queue.
    held: bool,
    /// The stream is setting up (under the head deadline).
    handshaking: bool,
}

impl Under {
    pub(super) fn of<S: Stream>(sock: &S) -> Under {
        Under {
            held: sock.holds_output(),
            handshaking: sock.handshaking(),
        }
    }
}

/// The connection at the socket level (the exchange's own state is its
/// session's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnState {
    /// Requests come in, answers go out.
    Open(Ready),
    /// The session has ended (an error, `Connection: close`, shutdown): its
    /// last answers go out, then the connection closes. `unread`: the
    /// client sent bytes that were never looked at, so closing must linger.
    Ending { ready: Ready, unread: bool },
    /// The client closed its side (a read returned 0). Answers already
    /// queued still go out (it may have only half-closed), then it closes.
    PeerClosed,
    /// Everything is sent and our side is shut; reading and dropping what
    /// the client still sends until it closes or `until` passes.
    Lingering { ready: Ready, until: Instant },
}

impl ConnState {
    /// The readiness remembered, in the states that still read.
    fn ready(&mut self) -> Option<&mut Ready> {
        match self {
            ConnState::Open(ready)
            | ConnState::Ending { ready, .. }
            | ConnState::Lingering { ready, .. } => Some(ready),
            ConnState::PeerClosed => None,
        }
    }
}

/// A connection's state while it has work: a request in progress, output
/// to send, or a lingering close.
#[derive(Debug)]
pub struct Work {
    /// The protocol, chosen with the first bytes since the state was lent.
    pub(super) protocol: Protocol,
    /// An incomplete request head (or chunk line) awaiting more bytes.
    pub(super) partial: Vec<u8>,
    pub(super) out: OutQueue,
    state: ConnState,
    /// When the first byte of the request head now in `partial` arrived.
    head_started: Instant,
    /// When the connection last made progress (bytes came in, or went
    /// out): the send, body and idle deadlines count from here.
    progress: Instant,
}

impl Pooled for Work {
    fn fresh(now: Instant) -> Work {
        Work::new(now)
    }

    fn restart(&mut self, now: Instant) {
        // A pooled state's clocks are those of its last connection.
        self.progress = now;
        self.head_started = now;
    }

    fn reset(&mut self) {
        Work::reset(self);
    }
}

impl Work {
    /// A fresh state for a connection that has work as of `now`.
    fn new(now: Instant) -> Work {
        Work {
            protocol: Protocol::default(),
            partial: Vec::new(),
            out: OutQueue::default(),
            state: ConnState::Open(Ready::default()),
            head_started: now,
            progress: now,
        }
    }

    /// Makes an idle state as good as new for the next connection, keeping
    /// the output queue's capacity (that is the point of the pool).
    fn reset(&mut self) {
        self.protocol = Protocol::default();
        self.out.clear();
        self.out.shrink_to(OUT_KEEP);
        // A head split across reads is common under load; keep room for
        // one, but not what an oversized head grew to.
        self.partial.clear();
        if self.partial.capacity() > PARTIAL_KEEP {
            self.partial = Vec::new();
        }
        self.state = ConnState::Open(Ready::default());
    }

    /// What the connection waits for, which names its deadline.
    pub(super) fn waiting(&self, under: Under) -> Waiting {
        match self.state {
            ConnState::Lingering { .. } => Waiting::Linger,
            // The client is not taking our output, or (HTTP/2) not opening
            // the windows that let it leave.
            _ if !self.out.is_empty() || under.held || self.protocol.owes_data() => Waiting::Send,
            // A request head is arriving (a TLS handshake counts as one).
            _ if !self.partial.is_empty() || under.handshaking => Waiting::Head,
            // A body is arriving, or nothing is: idle rules.
            _ => Waiting::Idle,
        }
    }

    /// When the connection must close, by what it is waiting for.
    fn deadline(&self, t: &Timeouts, under: Under) -> Instant {
        match (self.state, self.waiting(under)) {
            (ConnState::Lingering { until, .. }, _) => until,
            (_, Waiting::Send) => self.progress + t.send,
            // A head's deadline is fixed at its first byte, never extended.
            (_, Waiting::Head) => self.head_started + t.head,
            _ => self.progress + t.idle,
        }
    }

    /// The interest its state needs: WRITABLE only while output waits.
    pub(super) fn interest(&self, under: Under) -> Interest {
        if self.out.is_empty() && !under.held {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }

    fn wait<S: Stream>(&self, t: &Timeouts, sock: &S) -> Wait {
        let under = Under::of(sock);
        Wait {
            interest: self.interest(under),
            deadline: self.deadline(t, under),
        }
    }

    /// Whether the connection sits between requests with nothing to send
    /// (the socket is then empty: reading stops only at WouldBlock).
    pub(super) fn is_idle(&self, under: Under) -> bool {
        !under.held
            && !under.handshaking
            && matches!(
                self.state,
                ConnState::Open(Ready {
                    readable: false,
                    ..
                })
            )
            && self.protocol.between_requests()
            && self.partial.is_empty()
            && self.out.is_empty()
    }

    /// See [`Conn::on_event`].
    pub(super) fn on_event<S: Stream>(
        &mut self,
        sock: &mut S,
        key: usize,
        readable: bool,
        hup: bool,
        loan: &mut ConnLoan<'_>,
    ) -> Next {
        if let Some(ready) = self.state.ready() {
            ready.readable |= readable || hup;
            ready.hup |= hup;
        }
        if let ConnState::Lingering { .. } = self.state {
            return self.linger(sock, loan);
        }
        // The stream stopped reading with input of its own still held
        // (TLS: many records that carried little): the answers go out,
        // and the rest is read on the connection's next turn, after the
        // others have had theirs.
        let mut yielded = false;
        loop {
            // Readable before writable: requests read now are answered by the
            // flush below, in this same wakeup.
            if self.wants_input() && !yielded {
                if let Err(e) = self.read_and_answer(sock, key, loan) {
                    log::debug!("connection {key}: read: {e}");
                    return Next::Close;
                }
                yielded = sock.holds_input();
                continue;
            }
            let queued = self.out.queued_bytes();
            let flushed = self.out.flush(sock, &mut loan.ops.metrics.io.writes);
            let sent = queued - self.out.queued_bytes();
            loan.ops.metrics.sent_bytes += sent;
            if sent > 0 && self.protocol.data_moved() {
                // The client is taking our output: the send deadline moves.
                self.progress = loan.now;
            }
            if queued > 0 {
                let meaning = flushed.as_ref().map_or(" (error)", |f| f.meaning());
                log::trace!("connection {key}: wrote {sent} of {queued} bytes{meaning}");
            }
            match flushed {
                Ok(Flush::Blocked) => break,
                Ok(Flush::Again) => return Next::Again(self.wait(&loan.timeouts, sock)),
                Ok(Flush::Done) if self.wants_input() && !yielded => continue,
                Ok(Flush::Done) => {
                    // HTTP/2 cuts DATA frames as the queue empties and the
                    // windows allow; after a GOAWAY, the last stream's last
                    // DATA ends the connection.
                    self.protocol.on_writable(&mut self.out);
                    self.end_if_done(false);
                    if !self.out.is_empty() {
                        continue;
                    }
                    break;
                }
                Err(e) => {
                    log::debug!("connection {key}: write: {e}");
                    return Next::Close;
                }
            }
        }
        match self.next_step(sock, key, loan) {
            Next::Wait(wait) if yielded && self.wants_input() => Next::Again(wait),
            next => next,
        }
    }

    /// Whether to read now: the connection is open, the socket may have
    /// bytes, and the client has not run too far ahead of what it reads.
    fn wants_input(&self) -> bool {
        matches!(self.state, ConnState::Open(Ready { readable: true, .. }))
            && self.out.queued_bytes() < BACKLOG_BYTES
            && self.out.len() < BACKLOG_CHUNKS
    }

    /// One read, and answers to every complete request it completed.
    fn read_and_answer<S: Stream>(
        &mut self,
        sock: &mut S,
        key: usize,
        loan: &mut ConnLoan<'_>,
    ) -> io::Result<()> {
        let ConnState::Open(mut ready) = self.state else {
            return Ok(());
        };
        let owed = self.protocol.owes_data();
        let reads = &mut loan.ops.metrics.io.reads;
        let (n, unread) = if self.partial.is_empty() {
            // The common case: a whole request (or many) in the shared buffer.
            let got = read(sock, loan.buf, &mut ready, reads);
            self.state = ConnState::Open(ready);
            let n = match got? {
                Got::Data(n) => n,
                other => {
                    self.on_no_data(other, key);
                    return Ok(());
                }
            };
            let input = &loan.buf[..n];
            let used = self.answer(input, sock, key, loan.site, loan.ops);
            let rest = &input[used..];
            if self.protocol.reading() && !rest.is_empty() {
                // The head's deadline starts with its first byte.
                self.head_started = loan.now;
                self.partial.extend_from_slice(rest);
            }
            (n, !rest.is_empty())
        } else {
            // An incomplete request continues in its own buffer, so its
            // first bytes are not copied again on each read.
            let old = self.partial.len();
            self.partial.resize(old + PARTIAL_READ, 0);
            let got = read(sock, &mut self.partial[old..], &mut ready, reads);
            self.state = ConnState::Open(ready);
            let n = match got {
                Ok(Got::Data(n)) => n,
                _ => 0,
            };
            self.partial.truncate(old + n);
            match got? {
                Got::Data(_) => {}
                other => {
                    self.on_no_data(other, key);
                    return Ok(());
                }
            }
            let partial = std::mem::take(&mut self.partial);
            let used = self.answer(&partial, sock, key, loan.site, loan.ops);
            self.partial = partial;
            let unread = used < self.partial.len();
            if self.protocol.reading() {
                self.partial.drain(..used);
                if used > 0 && unread {
                    // What is left is the start of the next request.
                    self.head_started = loan.now;
                }
            } else {
                self.partial.clear();
            }
            (n, unread)
        };
        // Bytes came in: the idle and body deadlines move; but while HTTP/2
        // owes DATA, only DATA leaving moves the send deadline (PINGs are
        // no excuse for a shut window).
        if !owed {
            self.progress = loan.now;
        }
        self.end_if_done(unread);
        log::trace!(
            "connection {key}: read {n} bytes{}, {} bytes of answers queued",
            if ready.readable {
                " (buffer full: more may wait)"
            } else {
                " (short read: socket empty)"
            },
            self.out.queued_bytes()
        );
        Ok(())
    }

    /// Hands `input` to the protocol, lending it the site and the counters
    /// for this batch; returns the bytes used.
    fn answer<S: Stream>(
        &mut self,
        input: &[u8],
        sock: &S,
        key: usize,
        site: &mut Site,
        ops: &mut Ops,
    ) -> usize {
        let mut lent = SessionLoan {
            site,
            ops,
            client: key,
            secure: sock.secure(),
        };
        (self.protocol).on_input(input, &mut lent, &mut self.out, sock.alpn_h2())
    }

    /// Once the session wants no more input (RFC 9112 §9.6), the
    /// connection ends after its last answers: what it left `unread`
    /// decides whether closing must linger (always, for a peer that talks
    /// on after our end: [`Protocol::peer_talks_on`]).
    pub(super) fn end_if_done(&mut self, unread: bool) {
        if let ConnState::Open(ready) = self.state
            && !self.protocol.reading()
        {
            let unread = unread || self.protocol.peer_talks_on();
            self.state = ConnState::Ending { ready, unread };
            self.out.fin_follows();
        }
    }

    /// A read that brought no bytes: the socket is empty, or the client
    /// closed its side. Responses already queued still go out (it may have
    /// only half-closed); an incomplete request is dropped.
    fn on_no_data(&mut self, got: Got, key: usize) {
        if got == Got::WouldBlock {
            log::trace!("connection {key}: read: WouldBlock (empty)");
            return;
        }
        log::trace!("connection {key}: read: EOF (the client closed its side)");
        if !self.partial.is_empty() {
            log::debug!("client closed mid-request ({} bytes)", self.partial.len());
        }
        self.partial.clear();
        self.protocol.end();
        self.state = ConnState::PeerClosed;
        self.out.fin_follows();
    }

    /// Decides what follows once reading and writing have gone as far as
    /// they can: wait for more, start lingering, or close.
    pub(super) fn next_step<S: Stream>(
        &mut self,
        sock: &mut S,
        key: usize,
        loan: &mut ConnLoan<'_>,
    ) -> Next {
        if !self.out.is_empty() || sock.holds_output() {
            return Next::Wait(self.wait(&loan.timeouts, sock));
        }
        // Shutting down: a connection between requests is done once its
        // last response is out.
        if self.protocol.draining() && self.is_idle(Under::of(sock)) {
            return Next::Close;
        }
        let (ready, unread) = match self.state {
            ConnState::Open(_) | ConnState::Lingering { .. } => {
                return Next::Wait(self.wait(&loan.timeouts, sock));
            }
            ConnState::PeerClosed => return Next::Close,
            ConnState::Ending { ready, unread } => (ready, unread),
        };
        // The session has ended and everything is sent. Nothing more can
        // arrive that matters: close, unless the client may still be
        // sending, whose bytes would make our close a reset.
        if !(unread || ready.readable) {
            return Next::Close;
        }
        loan.ops.metrics.io.other += 1;
        if let Err(e) = sock.shutdown_write() {
            log::debug!("connection {key}: shutdown: {e}");
            return Next::Close;
        }
        log::trace!(
            "connection {key}: lingering close (RFC 9112 §9.6): our side shut, draining theirs"
        );
        let until = loan.now + loan.timeouts.linger;
        self.state = ConnState::Lingering { ready, until };
        // Whatever arrived already is read now: it may include the EOF.
        self.linger(sock, loan)
    }

    /// Reads and drops input until the client closes.
    fn linger<S: Stream>(&mut self, sock: &mut S, loan: &mut ConnLoan<'_>) -> Next {
        let ConnState::Lingering { mut ready, until } = self.state else {
            return Next::Close;
        };
        // A TLS layer's close_notify (and our FIN behind it) may still wait
        // for room: it goes on this event, WRITABLE or not.
        if sock.holds_output() {
            loan.ops.metrics.io.writes += 1;
            match sock.send_held() {
                Err(e) if !would_block(&e) => return Next::Close,
                _ => {}
            }
        }
        loop {
            match read(sock, loan.buf, &mut ready, &mut loan.ops.metrics.io.reads) {
                Ok(Got::Eof) | Err(_) => return Next::Close,
                Ok(Got::Data(_)) if ready.readable => continue,
                Ok(_) => break,
            }
        }
        self.state = ConnState::Lingering { ready, until };
        Next::Wait(self.wait(&loan.timeouts, sock))
    }
}
