//! The connection: a protocol's session on a stream; reads, flushes, lingering close.
//!
//! One HTTP connection: its stream, its [`Session`], and the edge-triggered
//! discipline between them.
//!
//! mio reports readiness edges, so the connection remembers the one fact an
//! edge carries: "the socket may have bytes" ([`Ready::readable`]). A
//! readable event sets it; a read that would block, or that came back
//! shorter than the buffer (the kernel had no more), clears it. Reading
//! only while it is set is what keeps a keep-alive request at two syscalls:
//! one `read`, one write, and no `read` that answers EAGAIN.
//!
//! Bytes are read into the loop's one shared buffer; only the tail of an
//! incomplete request is copied into the connection's own `partial`, and
//! while it is non-empty reads go straight into it. Everything a busy
//! connection needs (session, partial head, output queue, state) lives in a
//! [`Work`] lent by the loop's [`WorkPool`]: an idle connection holds its
//! stream, nothing else.
//!
//! The connection never touches the poller or the timer wheel. After every
//! event it says what it needs in a [`Next`]: the interest to register and
//! the deadline by which it must close, both derived from its state, and
//! the loop registers and arms. The stream is any [`Stream`]: a TCP socket
//! in the server, a scripted fake in the tests below.
//!
//! Closing: when the session says the connection ends, the queued output is
//! flushed first. If the client might still be sending (unread bytes), the
//! write side is shut and input is read and dropped for a short while
//! ("lingering close", RFC 9112 §9.6, as nginx and Apache do): closing a
//! socket with unread input makes the kernel send a reset, which can
//! destroy the response before the client reads it.

use std::io;
use std::time::Instant;

use mio::Interest;

use crate::config::Timeouts;
use crate::http::edge::{Got, Ready, read};
use crate::http::pool::{Pool, Pooled};
use crate::http::site::{SessionLoan, Site};
use crate::http1::session::{Session, SessionState};
use crate::http2::frame::PREFACE;
use crate::http2::session::H2Session;
use crate::metrics::{ConnStates, Waiting};
use crate::ops::Ops;
use crate::out::{Flush, OutQueue};
use crate::stream::Stream;
use crate::sys::would_block;

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
/// the connection lends its session a [`SessionLoan`] cut from this one.
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

    /// Before an idle connection is closed at its deadline: an HTTP/2
    /// client is told so with GOAWAY (RFC 9113 §6.8), as far as the socket
    /// takes it at once.
    pub fn farewell(&mut self) {
        if let Some(work) = self.work.as_mut()
            && let Some(h2) = work.h2.as_mut()
        {
            h2.drain(&mut work.out);
            let _ = work.out.flush(&mut self.sock, &mut 0);
        }
    }

    /// Once a second: an HTTP/2 connection with nothing in flight gives
    /// back its per-request buffers and its output queue's room. (An
    /// HTTP/1.x connection between requests has given its whole state back
    /// to the pool already; HTTP/2's state, the HPACK table and the
    /// settings, must stay.) Once a second, not after every batch: a busy
    /// connection would only allocate them again.
    pub fn rest(&mut self) {
        if let Some(work) = self.work.as_mut()
            && let Some(h2) = work.h2.as_mut()
            && work.out.is_empty()
            && h2.rest()
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
                work.session.drain();
                if let Some(h2) = work.h2.as_mut() {
                    // GOAWAY with the last stream taken; those finish,
                    // and with none in flight the connection ends once
                    // the GOAWAY is out.
                    h2.drain(&mut work.out);
                    work.end_if_done(false);
                }
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

/// What the stream under the connection says about itself: a TLS layer
/// may hold records of its own, or still be shaking hands.
#[derive(Debug, Clone, Copy, Default)]
struct Under {
    /// Output waits in the stream, beyond the queue.
    held: bool,
    /// The stream is setting up (under the head deadline).
    handshaking: bool,
}

impl Under {
    fn of<S: Stream>(sock: &S) -> Under {
        Under {
            held: sock.holds_output(),
            handshaking: sock.handshaking(),
        }
    }
}

/// Spare [`Work`] states, lent to connections while they have work.
pub type WorkPool = Pool<Work>;

/// The connection at the socket level (the exchange's own state is the
/// session's [`SessionState`]).
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
    session: Session,
    /// The connection speaks HTTP/2 (chosen by ALPN or by the preface);
    /// then `session` is unused.
    h2: Option<Box<H2Session>>,
    /// Bytes have come in since this state was lent: the protocol is
    /// chosen. (An HTTP/1.x connection's state goes back to the pool
    /// between requests, so a request that starts with the HTTP/2 preface
    /// switches even then: the client asked for it in so many words.)
    began: bool,
    /// HTTP/2: how many DATA frames had been queued when the output queue
    /// last ran empty (see [`Work::data_moved`]).
    data_mark: u64,
    /// An incomplete request head (or chunk line) awaiting more bytes.
    partial: Vec<u8>,
    out: OutQueue,
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
            session: Session::default(),
            h2: None,
            began: false,
            data_mark: 0,
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
        self.session = Session::default();
        self.h2 = None;
        self.began = false;
        self.data_mark = 0;
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
    fn waiting(&self, under: Under) -> Waiting {
        match self.state {
            ConnState::Lingering { .. } => Waiting::Linger,
            // The client is not taking our output, or (HTTP/2) not opening
            // the windows that let it leave.
            _ if !self.out.is_empty() || under.held || self.owes_data() => Waiting::Send,
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
    fn interest(&self, under: Under) -> Interest {
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
    fn is_idle(&self, under: Under) -> bool {
        !under.held
            && !under.handshaking
            && matches!(
                self.state,
                ConnState::Open(Ready {
                    readable: false,
                    ..
                })
            )
            && self.session.state() == SessionState::Head
            && self.h2.is_none()
            && self.partial.is_empty()
            && self.out.is_empty()
    }

    /// See [`Conn::on_event`].
    fn on_event<S: Stream>(
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
            if sent > 0 && self.data_moved() {
                // The client is taking our output: the send deadline moves.
                self.progress = loan.now;
            }
            if queued > 0 {
                let meaning = flushed.as_ref().map_or(" (error)", |f| f.meaning());
                log::trace!("connection {key}: wrote {sent} of {queued} bytes{meaning}");
            }
            match flushed {
                Ok(Flush::Blocked) => break,
                Ok(Flush::Yield) => return Next::Again(self.wait(&loan.timeouts, sock)),
                Ok(Flush::Done) if self.wants_input() && !yielded => continue,
                Ok(Flush::Done) => {
                    // HTTP/2 cuts DATA frames as the queue empties and the
                    // windows allow.
                    if let Some(h2) = self.h2.as_mut() {
                        self.data_mark = h2.data_frames();
                        h2.on_writable(&mut self.out);
                        // After a GOAWAY, the last stream's last DATA
                        // ends the connection.
                        self.end_if_done(false);
                        if !self.out.is_empty() {
                            continue;
                        }
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

    /// Hands input to the connection's protocol, choosing it with the
    /// first bytes: HTTP/2 if the stream negotiated it (ALPN) or the bytes
    /// are its preface (prior knowledge, RFC 9113 §3.3), HTTP/1.x
    /// otherwise. Returns the bytes used.
    fn feed(&mut self, input: &[u8], loan: &mut SessionLoan<'_>, alpn_h2: bool) -> usize {
        if !self.began && self.h2.is_none() && loan.site.http2 {
            let n = input.len().min(PREFACE.len());
            if alpn_h2 || (n >= 1 && input[..n] == PREFACE[..n]) {
                if !alpn_h2 && n < PREFACE.len() {
                    return 0; // a beginning of the preface: wait for the rest
                }
                log::trace!("connection {}: HTTP/2", loan.client);
                self.h2 = Some(Box::new(H2Session::new(&mut self.out)));
            }
        }
        self.began = true;
        match self.h2.as_mut() {
            Some(h2) => h2.on_input(input, loan, &mut self.out),
            None => self.session.on_input(input, loan, &mut self.out),
        }
    }

    /// Whether HTTP/2 has DATA its streams' windows hold back.
    fn owes_data(&self) -> bool {
        self.h2.as_ref().is_some_and(|h2| h2.owes_data())
    }

    /// Whether the output just written counts as the client taking its
    /// answers: always, but while HTTP/2 owes DATA, only if DATA was
    /// queued since the queue last ran empty (else it was PING ACKs and
    /// the like, answers to a client that keeps its windows shut).
    fn data_moved(&self) -> bool {
        match &self.h2 {
            Some(h2) if h2.owes_data() => h2.data_frames() != self.data_mark,
            _ => true,
        }
    }

    /// Whether the protocol wants more input.
    fn reading(&self) -> bool {
        match &self.h2 {
            Some(h2) => h2.reading(),
            None => self.session.reading(),
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
        let owed = self.owes_data();
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
            let mut lent = SessionLoan {
                site: &mut *loan.site,
                ops: &mut *loan.ops,
                client: key,
                secure: sock.secure(),
            };
            let used = self.feed(input, &mut lent, sock.alpn_h2());
            let rest = &input[used..];
            if self.reading() && !rest.is_empty() {
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
            let mut lent = SessionLoan {
                site: &mut *loan.site,
                ops: &mut *loan.ops,
                client: key,
                secure: sock.secure(),
            };
            let partial = std::mem::take(&mut self.partial);
            let used = self.feed(&partial, &mut lent, sock.alpn_h2());
            self.partial = partial;
            let unread = used < self.partial.len();
            if self.reading() {
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

    /// Once the session wants no more input (RFC 9112 §9.6), the
    /// connection ends after its last answers: what it left `unread`
    /// decides whether closing must linger. An HTTP/2 client goes on
    /// sending (WINDOW_UPDATE for the last DATA, PING, its own GOAWAY)
    /// after ours, so its close always lingers: a close with those bytes
    /// unread would be a reset that can destroy the answers it has not
    /// read yet.
    fn end_if_done(&mut self, unread: bool) {
        if let ConnState::Open(ready) = self.state
            && !self.reading()
        {
            let unread = unread || self.h2.is_some();
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
        self.session.close();
        self.h2 = None;
        self.state = ConnState::PeerClosed;
        self.out.fin_follows();
    }

    /// Decides what follows once reading and writing have gone as far as
    /// they can: wait for more, start lingering, or close.
    fn next_step<S: Stream>(&mut self, sock: &mut S, key: usize, loan: &mut ConnLoan<'_>) -> Next {
        if !self.out.is_empty() || sock.holds_output() {
            return Next::Wait(self.wait(&loan.timeouts, sock));
        }
        // Shutting down: a connection between requests is done once its
        // last response is out.
        if self.session.draining() && self.is_idle(Under::of(sock)) {
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

#[cfg(test)]
mod schedules;

#[cfg(test)]
mod tests {
    //! Fixtures, one per state and edge: a scripted stream stands in for
    //! the socket, the clock is pinned, and each test checks what the
    //! connection asks of the loop (interest, deadline, close) and what it
    //! did to the stream (reads, bytes written, shutdown).

    use super::*;
    use std::collections::VecDeque;
    use std::fs::File;
    use std::io::IoSlice;

    use crate::fixture::World;

    /// What the fake stream's next `read` does.
    #[derive(Debug, Clone)]
    enum Step {
        Bytes(Vec<u8>),
        /// Bytes, after which the stream still holds input of its own
        /// (as TLS does past its per-read bound) until the next read.
        Held(Vec<u8>),
        Eof,
    }

    /// A scripted stream: reads follow `steps` (then WouldBlock); writes
    /// take at most `room` bytes, then WouldBlock.
    #[derive(Debug, Default)]
    struct Fake {
        steps: VecDeque<Step>,
        reads: usize,
        written: Vec<u8>,
        room: usize,
        shut: bool,
        holding: bool,
    }

    impl Fake {
        fn with(steps: &[Step]) -> Fake {
            Fake {
                steps: steps.iter().cloned().collect(),
                room: usize::MAX,
                ..Fake::default()
            }
        }
    }

    impl Stream for Fake {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            self.holding = false;
            match self.steps.pop_front() {
                None => Err(io::ErrorKind::WouldBlock.into()),
                Some(Step::Eof) => Ok(0),
                Some(Step::Held(bytes)) => {
                    self.holding = true;
                    buf[..bytes.len()].copy_from_slice(&bytes);
                    Ok(bytes.len())
                }
                Some(Step::Bytes(bytes)) => {
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    if n < bytes.len() {
                        self.steps.push_front(Step::Bytes(bytes[n..].to_vec()));
                    }
                    Ok(n)
                }
            }
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.room);
                self.written.extend_from_slice(&b[..take]);
                self.room -= take;
                n += take;
            }
            Ok(n)
        }
        fn send_file(&mut self, _: &File, _: u64, _: usize) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.shut = true;
            Ok(())
        }
        fn holds_input(&self) -> bool {
            self.holding
        }
    }

    const GET: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n";
    const R: Interest = Interest::READABLE;

    fn rw() -> Interest {
        Interest::READABLE | Interest::WRITABLE
    }

    fn wait(interest: Interest, deadline: Instant) -> Next {
        Next::Wait(Wait { interest, deadline })
    }

    fn responses(written: &[u8]) -> usize {
        written.windows(9).filter(|w| w == b"HTTP/1.1 ").count()
    }

    #[test]
    fn open_a_whole_request_is_answered_and_the_connection_goes_idle() {
        let mut w = World::new(4096);
        let t = Timeouts::default();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert_eq!(next, wait(R, w.time(0, t.idle)));
        let sock = conn.socket();
        assert_eq!(responses(&sock.written), 1);
        assert!(sock.written.ends_with(b"\r\n\r\nHello\n"));
        assert_eq!(sock.reads, 1, "a short read proves the socket empty");
        assert!(conn.work.is_none(), "idle: the work state went back");
        assert_eq!(w.pool.spare(), 1);
        assert_eq!(conn.waiting(), Waiting::Idle);
        assert_eq!(w.ops.metrics.io.reads, 1);
        assert_eq!(w.ops.metrics.io.writes, 1);
    }

    #[test]
    fn partial_read_waits_with_the_head_deadline_fixed_at_its_first_byte() {
        let mut w = World::new(4096);
        let t = Timeouts::default();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET[..10].to_vec())]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert_eq!(next, wait(R, w.time(0, t.head)));
        assert_eq!(conn.waiting(), Waiting::Head);
        assert!(conn.socket().written.is_empty());
        // More bytes a second later, still not the whole head: the
        // deadline stays where the first byte put it.
        conn.socket()
            .steps
            .push_back(Step::Bytes(GET[10..20].to_vec()));
        let next = conn.on_event(0, true, false, &mut w.at(1000));
        assert_eq!(next, wait(R, w.time(0, t.head)));
        // The rest: answered, and idle from then on.
        conn.socket()
            .steps
            .push_back(Step::Bytes(GET[20..].to_vec()));
        let next = conn.on_event(0, true, false, &mut w.at(2000));
        assert_eq!(next, wait(R, w.time(2000, t.idle)));
        assert_eq!(responses(&conn.socket().written), 1);
    }

    #[test]
    fn eof_behind_data_is_read_when_the_poller_said_hup() {
        let mut w = World::new(4096);
        // With the FIN reported, a short read does not prove the socket
        // empty: the EOF is read in the same wakeup, the answer still
        // goes out, and the connection closes.
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec()), Step::Eof]));
        assert_eq!(conn.on_event(0, true, true, &mut w.at(0)), Next::Close);
        assert_eq!(conn.socket().reads, 2);
        assert_eq!(responses(&conn.socket().written), 1);
        // Without it, the short read ends reading until the next edge.
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec()), Step::Eof]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert!(matches!(next, Next::Wait(_)), "{next:?}");
        assert_eq!(conn.socket().reads, 1);
    }

    #[test]
    fn a_stream_that_holds_input_is_answered_then_read_again_on_its_next_turn() {
        let mut w = World::new(4096);
        // The first read is short but the stream holds more (TLS records
        // past its bound): what came is answered, and the connection
        // yields instead of waiting for an edge that will not come.
        let mut conn = Conn::new(Fake::with(&[
            Step::Held(GET.to_vec()),
            Step::Bytes(GET.to_vec()),
        ]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert!(matches!(next, Next::Again(_)), "{next:?}");
        assert_eq!(conn.socket().reads, 1, "one read a turn");
        assert_eq!(responses(&conn.socket().written), 1);
        // Its next turn (no event): the rest is read and answered, and the
        // short read that holds nothing ends reading until an edge.
        let next = conn.on_event(0, false, false, &mut w.at(0));
        assert!(matches!(next, Next::Wait(_)), "{next:?}");
        assert_eq!(conn.socket().reads, 2);
        assert_eq!(responses(&conn.socket().written), 2);
    }

    #[test]
    fn epollrdhup_alone_on_an_idle_connection_reads_the_eof_and_closes() {
        let mut w = World::new(4096);
        let mut conn = Conn::new(Fake::with(&[Step::Eof]));
        assert_eq!(conn.on_event(0, false, true, &mut w.at(0)), Next::Close);
        assert_eq!(conn.socket().reads, 1);
        assert!(!conn.socket().shut, "nothing unread: a plain close");
    }

    #[test]
    fn short_write_asks_for_writable_under_the_send_deadline() {
        let mut w = World::new(4096);
        let t = Timeouts::default();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
        conn.socket().room = 10;
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert_eq!(next, wait(rw(), w.time(0, t.send)));
        assert_eq!(conn.waiting(), Waiting::Send);
        assert_eq!(conn.socket().written.len(), 10);
        // Room again, five seconds later: the rest goes, and it is idle.
        conn.socket().room = usize::MAX;
        let next = conn.on_event(0, false, false, &mut w.at(5000));
        assert_eq!(next, wait(R, w.time(5000, t.idle)));
        assert!(conn.socket().written.ends_with(b"Hello\n"));
        assert_eq!(w.ops.metrics.sent_bytes, conn.socket().written.len() as u64);
    }

    #[test]
    fn backpressure_stops_reading_at_the_bound_and_resumes_when_the_client_reads() {
        // Requests of 64 bytes, 64 to a 4 KiB read; each answer is two
        // chunks, so the 1,024-chunk bound is reached after 8 reads.
        let mut one = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
        one.resize(60, b'x');
        one.extend_from_slice(b"\r\n\r\n");
        assert_eq!(one.len(), 64);
        let read = one.repeat(64);
        let mut w = World::new(4096);
        let steps: Vec<Step> = (0..12).map(|_| Step::Bytes(read.clone())).collect();
        let mut conn = Conn::new(Fake::with(&steps));
        conn.socket().room = 0;
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert!(matches!(next, Next::Wait(Wait { interest, .. }) if interest == rw()));
        assert_eq!(
            conn.socket().reads,
            BACKLOG_CHUNKS / 128,
            "stopped at the bound"
        );
        // Another readable edge: still nothing read while the client reads nothing.
        conn.on_event(0, true, false, &mut w.at(10));
        assert_eq!(conn.socket().reads, 8);
        // The client reads: everything goes, and reading resumes.
        conn.socket().room = usize::MAX;
        conn.on_event(0, false, false, &mut w.at(20));
        assert_eq!(responses(&conn.socket().written), 12 * 64);
        assert!(conn.socket().steps.is_empty());
    }

    #[test]
    fn a_refusal_with_bytes_unread_lingers_then_closes() {
        let mut w = World::new(4096);
        let t = Timeouts::default();
        let bad = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\nmore".to_vec();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(bad)]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert_eq!(next, wait(R, w.time(0, t.linger)), "lingering close");
        assert_eq!(conn.waiting(), Waiting::Linger);
        let sock = conn.socket();
        assert!(sock.shut, "our side is shut first");
        assert!(sock.written.starts_with(b"HTTP/1.1 400 "));
        // What the client still sends is read and dropped, until its FIN.
        sock.steps
            .extend([Step::Bytes(b"junk".to_vec()), Step::Eof]);
        assert_eq!(conn.on_event(0, true, true, &mut w.at(100)), Next::Close);
        assert_eq!(w.ops.metrics.io.other, 1, "one shutdown");
    }

    #[test]
    fn connection_close_with_nothing_unread_closes_at_once() {
        let mut w = World::new(4096);
        let last = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(last)]));
        assert_eq!(conn.on_event(0, true, false, &mut w.at(0)), Next::Close);
        assert!(!conn.socket().shut, "no lingering: nothing can follow");
        assert!(conn.socket().written.ends_with(b"Hello\n"));
    }

    #[test]
    fn deadlines_follow_what_the_connection_waits_for() {
        let mut w = World::new(4096);
        let t = Timeouts::default();
        // A body arriving slowly is under the idle rule, counted from the
        // last bytes.
        let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab".to_vec();
        let mut conn = Conn::new(Fake::with(&[Step::Bytes(head)]));
        let next = conn.on_event(0, true, false, &mut w.at(0));
        assert_eq!(next, wait(R, w.time(0, t.idle)));
        assert_eq!(conn.waiting(), Waiting::Idle);
        conn.socket().steps.push_back(Step::Bytes(b"cd".to_vec()));
        let next = conn.on_event(0, true, false, &mut w.at(3000));
        assert_eq!(next, wait(R, w.time(3000, t.idle)));
        assert!(conn.work.is_some(), "a body in progress is not idle");
    }

    #[test]
    fn drain_closes_the_idle_and_lets_the_busy_finish_with_close() {
        let mut w = World::new(4096);
        let mut idle = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
        idle.on_event(0, true, false, &mut w.at(0));
        assert_eq!(idle.drain(0, &mut w.at(10)), Next::Close);

        let mut busy = Conn::new(Fake::with(&[Step::Bytes(GET[..10].to_vec())]));
        busy.on_event(1, true, false, &mut w.at(0));
        assert!(matches!(busy.drain(1, &mut w.at(10)), Next::Wait(_)));
        busy.socket()
            .steps
            .push_back(Step::Bytes(GET[10..].to_vec()));
        assert_eq!(busy.on_event(1, true, false, &mut w.at(20)), Next::Close);
        let text = String::from_utf8_lossy(&busy.socket().written).into_owned();
        assert!(text.contains("Connection: close\r\n"), "{text}");
    }
}
