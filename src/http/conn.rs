//! One HTTP connection: its socket, its [`Session`], and the edge-triggered
//! discipline between them.
//!
//! mio reports readiness edges, so the connection remembers the one fact an
//! edge carries: "the socket may have bytes" (`readable`). A readable event
//! sets it; a read that would block, or that came back shorter than the
//! buffer (the kernel had no more), clears it. Reading only while it is set
//! is what keeps a keep-alive request at two syscalls: one `read`, one
//! `writev`, and no `read` that answers EAGAIN.
//!
//! Bytes are read into the loop's one shared buffer; only the tail of an
//! incomplete request is copied into the connection's own `partial`, and
//! while it is non-empty reads go straight into it. Everything a busy
//! connection needs (session, partial head, output queue, flags) lives in an
//! [`Active`] lent by the loop's [`ActivePool`]: an idle connection holds
//! its socket and a deadline, nothing else.
//!
//! Deadlines: after every event the connection derives its deadline from
//! its state (a head arriving, output waiting, idle, lingering) and makes
//! sure the timer wheel will look at it by then; see `docs/ARCHITECTURE.md`.
//!
//! Closing: when the session says the connection ends, the queued output is
//! flushed first. If the client might still be sending (unread bytes), the
//! write side is shut and input is read and dropped for a short while
//! ("lingering close", as nginx and Apache do): closing a socket with unread
//! input makes the kernel send a reset, which can destroy the response
//! before the client reads it.

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Instant;

use mio::Interest;
use mio::net::TcpStream;

use crate::config::Timeouts;
use crate::http::session::{HttpCtx, Phase, Session};
use crate::metrics::{ConnStates, Timeout};
use crate::out::{Flush, OutQueue};
use crate::timers::Timers;

/// Stop reading a connection while this many response bytes wait for it,
/// so a client that pipelines without reading cannot grow our memory.
pub const BACKLOG_BYTES: u64 = 1 << 20;
/// The same bound in chunks (each response is about four).
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
    /// Keep it, registered for this interest.
    Keep(Interest),
    /// Keep it, and call it again in this turn of the loop, after the other
    /// events: it has more to write and the socket can take it.
    Again(Interest),
    /// Close it now.
    Close,
}

/// The connection's life at the socket level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Exchanging requests and responses.
    Open,
    /// Everything is sent and our side is shut; reading and dropping what
    /// the client still sends until it closes or `until` passes.
    Lingering { until: Instant },
}

/// Everything a connection borrows from the loop for one event.
pub struct Ctx<'a> {
    /// The loop's read buffer.
    pub buf: &'a mut [u8],
    /// What all HTTP sessions share.
    pub http: &'a mut HttpCtx,
    /// Deadlines.
    pub timers: &'a mut Timers,
    /// Connection state, lent while a connection has work.
    pub pool: &'a mut ActivePool,
    /// The loop's time for this wakeup.
    pub now: Instant,
    /// Deadlines.
    pub timeouts: Timeouts,
}

/// An HTTP connection: its socket, and its state while it has work.
///
/// An idle keep-alive connection (between requests, nothing to send) is
/// just its socket and the interest registered for it: its [`Active`] state
/// goes back to the loop's [`ActivePool`] and the next busy connection
/// reuses it. So ten thousand idle connections cost ten thousand slab
/// entries of a few words, and a request still allocates nothing.
#[derive(Debug)]
pub struct Conn {
    active: Option<Box<Active>>,
    sock: TcpStream,
    /// When the connection must close, as a wheel tick (see
    /// [`Timers::due_tick`]); derived from its state after every event.
    deadline: u32,
    /// The earliest tick the wheel holds an entry for this connection at,
    /// or 0. A later deadline needs no new entry: the old one fires early
    /// and is rescheduled. So re-arming on every request costs nothing.
    timer: u32,
    /// The interest the loop registered; kept by the loop to reregister only
    /// on change.
    pub registered: Interest,
}

impl Conn {
    /// Wraps a freshly accepted socket.
    pub fn new(sock: TcpStream) -> Conn {
        Conn {
            active: None,
            sock,
            deadline: 0,
            timer: 0,
            registered: Interest::READABLE,
        }
    }

    /// The socket, to register it.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.sock
    }

    /// A wheel entry for its key fired at `tick`: the deadline that passed,
    /// if one did (close it). An entry other than the one the connection
    /// counts on is stale and ignored; the counted one, if the deadline has
    /// moved later, is replaced by one at the new deadline.
    pub fn on_timer(
        &mut self,
        key: usize,
        tick: u32,
        timers: &mut Timers,
        now: Instant,
    ) -> Option<Timeout> {
        if tick != self.timer {
            return None;
        }
        if timers.is_due(self.deadline, now) {
            return Some(self.active.as_ref().map_or(Timeout::Idle, |a| a.waiting()));
        }
        self.timer = timers.schedule_tick(key, self.deadline);
        None
    }

    /// Adds this connection to the count of its state (for the metrics).
    pub fn count_state(&self, states: &mut ConnStates) {
        let count = match self.active.as_deref() {
            None => &mut states.idle,
            Some(a) if matches!(a.stage, Stage::Lingering { .. }) => &mut states.lingering,
            Some(a) if !a.out.is_empty() => &mut states.writing,
            Some(a) if a.is_idle() => &mut states.idle,
            Some(_) => &mut states.reading,
        };
        *count += 1;
    }

    /// Derives the deadline from the state the connection is now in and
    /// makes sure the wheel will look at it by then.
    fn arm(&mut self, key: usize, ctx: &mut Ctx<'_>) {
        let at = match &self.active {
            Some(active) => active.deadline(&ctx.timeouts),
            // Idle between requests (the state went back to the pool).
            None => ctx.now + ctx.timeouts.idle,
        };
        self.deadline = ctx.timers.due_tick(at);
        if self.timer == 0 || self.deadline < self.timer {
            self.timer = ctx.timers.schedule_tick(key, self.deadline);
        }
    }

    /// Graceful shutdown: an idle connection closes now; a busy one finishes
    /// the request in progress and its response says `Connection: close`.
    pub fn drain(&mut self, key: usize, ctx: &mut Ctx<'_>) -> Next {
        ctx.http.client = key;
        let next = match self.active.as_mut() {
            Some(active) if !active.is_idle() => active.drain(&mut self.sock, key, ctx),
            _ => Next::Close,
        };
        self.arm(key, ctx);
        next
    }

    /// Handles a readiness event. `readable` covers error events too (the
    /// next read reports them); `hup` says the peer's FIN has arrived.
    pub fn on_event(&mut self, key: usize, readable: bool, hup: bool, ctx: &mut Ctx<'_>) -> Next {
        ctx.http.client = key;
        let mut active = self.active.take().unwrap_or_else(|| ctx.pool.take(ctx.now));
        let next = active.on_event(&mut self.sock, key, readable, hup, ctx);
        // Idle or finished, the state goes back with the capacity it grew.
        if next == Next::Close || active.is_idle() {
            if next != Next::Close {
                log::trace!("connection {key}: idle, kept open (persistence, RFC 9112 §9.3)");
            }
            ctx.pool.give(active);
        } else {
            self.active = Some(active);
        }
        if next != Next::Close {
            self.arm(key, ctx);
        }
        next
    }
}

/// Spare [`Active`] states, with the capacity their queues grew to.
#[derive(Debug, Default)]
pub struct ActivePool {
    // Boxed on purpose: a state moves between a connection and the pool as
    // one pointer, never copied.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<Active>>,
}

/// Most spare states kept; beyond this they are freed. With the caps on
/// what each keeps, the pool never holds more than about 3.5 MiB however
/// large a burst was.
const POOL_MAX: usize = 256;

impl ActivePool {
    /// A state for a connection that has work as of `now`.
    fn take(&mut self, now: Instant) -> Box<Active> {
        let mut active = self.spare.pop().unwrap_or_default();
        // A pooled state's clocks are those of its last connection.
        active.progress = now;
        active
    }

    fn give(&mut self, mut active: Box<Active>) {
        if self.spare.len() < POOL_MAX {
            active.reset();
            self.spare.push(active);
        }
    }
}

/// A connection's state while it has work: a request in progress, output
/// to send, or a lingering close.
#[derive(Debug)]
pub struct Active {
    session: Session,
    /// An incomplete request head (or chunk line) awaiting more bytes.
    partial: Vec<u8>,
    out: OutQueue,
    stage: Stage,
    /// The socket may hold unread bytes (see the module docs).
    readable: bool,
    /// The client sent bytes that were never looked at (after an error
    /// response, say), so closing must linger.
    unread: bool,
    /// When the first byte of the request head now in `partial` arrived.
    head_started: Instant,
    /// When the connection last had an event (bytes came in, or room to
    /// write came back): the send and body deadlines count from here.
    progress: Instant,
    /// The client closed its side (a read returned 0).
    peer_closed: bool,
    /// The poller reported the peer's FIN (EPOLLRDHUP). Then a short read
    /// no longer proves the socket drained: the EOF behind the data must
    /// still be read, and no new edge will announce it.
    hup: bool,
}

impl Default for Active {
    fn default() -> Self {
        Active {
            session: Session::default(),
            partial: Vec::new(),
            out: OutQueue::default(),
            stage: Stage::Open,
            readable: false,
            unread: false,
            head_started: Instant::now(),
            progress: Instant::now(),
            peer_closed: false,
            hup: false,
        }
    }
}

impl Active {
    /// Makes an idle state as good as new for the next connection, keeping
    /// the output queue's capacity (that is the point of the pool).
    fn reset(&mut self) {
        self.session = Session::default();
        self.out.clear();
        self.out.shrink_to(OUT_KEEP);
        // A head split across reads is common under load; keep room for
        // one, but not what an oversized head grew to.
        self.partial.clear();
        if self.partial.capacity() > PARTIAL_KEEP {
            self.partial = Vec::new();
        }
        self.stage = Stage::Open;
        self.readable = false;
        self.unread = false;
        self.peer_closed = false;
        self.hup = false;
    }

    /// What the connection waits for, which names its deadline.
    fn waiting(&self) -> Timeout {
        match self.stage {
            Stage::Lingering { .. } => Timeout::Linger,
            // The client is not taking our output.
            Stage::Open if !self.out.is_empty() => Timeout::Send,
            // A request head is arriving.
            Stage::Open if !self.partial.is_empty() => Timeout::Head,
            // A body is arriving, or nothing is: idle rules.
            Stage::Open => Timeout::Idle,
        }
    }

    /// When the connection must close, by what it is waiting for.
    fn deadline(&self, t: &Timeouts) -> Instant {
        match (self.waiting(), self.stage) {
            (_, Stage::Lingering { until }) => until,
            (Timeout::Send, _) => self.progress + t.send,
            // A head's deadline is fixed at its first byte, never extended.
            (Timeout::Head, _) => self.head_started + t.head,
            _ => self.progress + t.idle,
        }
    }

    /// Whether the connection sits between requests with nothing to send
    /// (the socket is then drained: reading stops only at WouldBlock).
    fn is_idle(&self) -> bool {
        self.stage == Stage::Open
            && !self.readable
            && self.session.phase() == Phase::Head
            && self.partial.is_empty()
            && self.out.is_empty()
    }

    /// See [`Conn::drain`].
    fn drain(&mut self, sock: &mut TcpStream, key: usize, ctx: &mut Ctx<'_>) -> Next {
        self.session.drain();
        self.settle(sock, key, ctx)
    }

    /// See [`Conn::on_event`].
    fn on_event(
        &mut self,
        sock: &mut TcpStream,
        key: usize,
        readable: bool,
        hup: bool,
        ctx: &mut Ctx<'_>,
    ) -> Next {
        self.readable |= readable || hup;
        self.hup |= hup;
        if let Stage::Lingering { .. } = self.stage {
            return self.linger_read(sock, ctx.buf);
        }
        loop {
            // Readable before writable: requests read now are answered by the
            // flush below, in this same wakeup.
            if self.readable && self.wants_input() {
                if let Err(e) = self.read_and_answer(sock, ctx) {
                    log::debug!("read: {e}");
                    return Next::Close;
                }
                continue;
            }
            let queued = self.out.queued_bytes();
            let flushed = self.out.flush(sock);
            let sent = queued - self.out.queued_bytes();
            ctx.http.metrics.sent_bytes += sent;
            if sent > 0 {
                // The client is taking our output: the send deadline moves.
                self.progress = ctx.now;
            }
            if queued > 0 {
                log::trace!(
                    "connection {key}: wrote {sent} of {queued} bytes{}",
                    match flushed {
                        Ok(Flush::Done) => ", all sent",
                        Ok(Flush::Blocked) => " (short write: socket full, waiting for WRITABLE)",
                        Ok(Flush::Yield) => " (its turn is over: the others go first)",
                        Err(_) => " (error)",
                    }
                );
            }
            match flushed {
                Ok(Flush::Blocked) => break,
                Ok(Flush::Yield) => return Next::Again(Interest::READABLE | Interest::WRITABLE),
                Ok(Flush::Done) if self.readable && self.wants_input() => continue,
                Ok(Flush::Done) => break,
                Err(e) => {
                    log::debug!("writev: {e}");
                    return Next::Close;
                }
            }
        }
        self.settle(sock, key, ctx)
    }

    /// Whether to read now: the session wants requests and the client has
    /// not run too far ahead of what it reads back.
    fn wants_input(&self) -> bool {
        self.session.reading()
            && !self.peer_closed
            && self.out.queued_bytes() < BACKLOG_BYTES
            && self.out.len() < BACKLOG_CHUNKS
    }

    /// One read, and answers to every complete request it completed.
    fn read_and_answer(&mut self, sock: &mut TcpStream, ctx: &mut Ctx<'_>) -> io::Result<()> {
        let n = if self.partial.is_empty() {
            // The common case: a whole request (or many) in the shared buffer.
            let n = match read(sock, ctx.buf, self.hup, &mut self.readable)? {
                Got::Data(n) => n,
                Got::Eof => return self.on_eof(ctx.http.client),
                Got::Nothing => {
                    log::trace!("connection {}: read: WouldBlock (drained)", ctx.http.client);
                    return Ok(());
                }
            };
            let input = &ctx.buf[..n];
            let used = self.session.on_input(input, ctx.http, &mut self.out);
            self.keep_rest(&input[used..], ctx.now);
            n
        } else {
            // An incomplete request continues in its own buffer, so its
            // first bytes are not copied again on each read.
            let old = self.partial.len();
            self.partial.resize(old + PARTIAL_READ, 0);
            let got = read(sock, &mut self.partial[old..], self.hup, &mut self.readable);
            let n = match got {
                Ok(Got::Data(n)) => n,
                _ => 0,
            };
            self.partial.truncate(old + n);
            match got? {
                Got::Data(_) => {}
                Got::Eof => return self.on_eof(ctx.http.client),
                Got::Nothing => {
                    log::trace!("connection {}: read: WouldBlock (drained)", ctx.http.client);
                    return Ok(());
                }
            }
            let used = self
                .session
                .on_input(&self.partial, ctx.http, &mut self.out);
            if self.session.reading() {
                self.partial.drain(..used);
                if used > 0 && !self.partial.is_empty() {
                    // What is left is the start of the next request.
                    self.head_started = ctx.now;
                }
            } else {
                self.unread |= used < self.partial.len();
                self.partial.clear();
            }
            n
        };
        // Bytes came in: the idle and body deadlines move.
        self.progress = ctx.now;
        log::trace!(
            "connection {}: read {n} bytes{}, {} bytes of answers queued",
            ctx.http.client,
            if self.readable {
                " (buffer full: more may wait)"
            } else {
                " (short read: socket drained)"
            },
            self.out.queued_bytes()
        );
        Ok(())
    }

    /// Keeps the unused tail of the input: an incomplete request to finish
    /// later, or, if the session has ended, bytes we will never read.
    fn keep_rest(&mut self, rest: &[u8], now: Instant) {
        if rest.is_empty() {
            return;
        }
        if self.session.reading() {
            // The head's deadline starts with its first byte.
            self.head_started = now;
            self.partial.extend_from_slice(rest);
        } else {
            self.unread = true;
        }
    }

    /// The client closed its side. Responses already queued still go out
    /// (it may have only half-closed); an incomplete request is dropped.
    fn on_eof(&mut self, key: usize) -> io::Result<()> {
        log::trace!("connection {key}: read: EOF (the client closed its side)");
        if !self.partial.is_empty() {
            log::debug!("client closed mid-request ({} bytes)", self.partial.len());
        }
        self.peer_closed = true;
        self.partial.clear();
        self.session.close();
        Ok(())
    }

    /// Decides what follows once reading and writing have gone as far as
    /// they can: wait for more, start lingering, or close.
    fn settle(&mut self, sock: &mut TcpStream, key: usize, ctx: &mut Ctx<'_>) -> Next {
        if !self.out.is_empty() {
            return Next::Keep(Interest::READABLE | Interest::WRITABLE);
        }
        // Shutting down: a connection between requests is done once its
        // last response is out.
        if self.session.draining() && self.is_idle() {
            return Next::Close;
        }
        if self.session.reading() {
            return Next::Keep(Interest::READABLE);
        }
        // The session has ended and everything is sent.
        if self.peer_closed || !(self.unread || self.readable) {
            return Next::Close;
        }
        if let Err(e) = sock.shutdown(Shutdown::Write) {
            log::debug!("shutdown: {e}");
            return Next::Close;
        }
        let until = ctx.now + ctx.timeouts.linger;
        log::trace!(
            "connection {key}: lingering close (RFC 9112 §9.6): our side shut, draining theirs"
        );
        self.stage = Stage::Lingering { until };
        // Whatever arrived already is read now: it may include the EOF.
        self.linger_read(sock, ctx.buf)
    }

    /// Reads and drops input until the client closes.
    fn linger_read(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> Next {
        loop {
            match read(sock, buf, self.hup, &mut self.readable) {
                Ok(Got::Eof) | Err(_) => return Next::Close,
                Ok(Got::Data(_)) if self.readable => continue,
                Ok(_) => return Next::Keep(Interest::READABLE),
            }
        }
    }
}

/// What one `read` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// This many bytes (more than zero).
    Data(usize),
    /// The client closed its side.
    Eof,
    /// Nothing now (EAGAIN): the socket is drained.
    Nothing,
}

/// One `read`, keeping the `readable` flag honest: cleared when the read
/// would block or comes back shorter than the buffer (the kernel gave all
/// it had, so another read would only say EAGAIN), unless the peer's FIN is
/// known to be queued behind the data (`hup`).
fn read(sock: &mut TcpStream, buf: &mut [u8], hup: bool, readable: &mut bool) -> io::Result<Got> {
    loop {
        match sock.read(buf) {
            Ok(0) => {
                *readable = false;
                return Ok(Got::Eof);
            }
            Ok(n) => {
                if n < buf.len() && !hup {
                    *readable = false;
                }
                return Ok(Got::Data(n));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                *readable = false;
                return Ok(Got::Nothing);
            }
            Err(e) => return Err(e),
        }
    }
}
