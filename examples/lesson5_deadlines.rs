//! Lesson 5: deadlines. A timer wheel drives the poll timeout.
//!
//! ```text
//! cargo run --example lesson5_deadlines           # 127.0.0.1:8085, 5 s idle limit
//! cargo run --example lesson5_deadlines 127.0.0.1:8085 300   # 300 ms
//! python3 -c 'import socket; print(socket.create_connection(("127.0.0.1", 8085)).recv(1))'   # say nothing; b'' when it closes
//! ```
//!
//! Until now a client that connected and went quiet kept its connection
//! (and its descriptor, and its memory) forever, and one that sent a byte
//! of its request every few seconds ("slowloris") did too. Every server
//! needs deadlines. This lesson adds two, with one knob:
//!
//! - **idle**: a connection with no request in progress closes after the
//!   limit with nothing happening;
//! - **head**: a request head must be complete within the limit of its
//!   *first* byte. More bytes do not extend it, or a trickle would live
//!   forever.
//!
//! **The poll timeout is the clock.** The loop only wakes for events, so
//! `poll` is given a timeout: the time until the earliest deadline. When it
//! returns, with events or without, the loop expires what is due.
//!
//! **A timing wheel, not a sorted list.** Deadlines change on every event
//! (each request pushes the idle deadline out), so keeping them sorted
//! would cost a log-time update per event. A wheel is a ring of buckets, one
//! per tick of 100 ms: a deadline goes into the bucket of its tick, O(1).
//! Expiring walks the buckets whose ticks have passed. Deadlines are
//! rounded up to the tick: a connection may live 100 ms longer than its
//! limit, never shorter, and nobody needs finer for timeouts of seconds.
//!
//! **Stale entries are ignored, not removed.** When a deadline moves, the
//! old entry stays in its bucket; the connection remembers the tick of its
//! current one, and an entry that fires with another tick (or for a key the
//! slab has since given to a new connection) is skipped. Removing would
//! need a search; skipping costs nothing.
//!
//! Grown into: `src/timers.rs` (the wheel, 512 buckets), the deadline rules
//! in `src/conn/work.rs` (idle, head, send, lingering close; a connection
//! keeps one entry and moves it lazily), and `Server::expire` in
//! `src/server/mod.rs`. That is the whole shape of the real server: from here,
//! read `docs/ARCHITECTURE.md` and `src/server/mod.rs` top to bottom.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

/// Longest request head we wait for.
const MAX_HEAD: usize = 8192;
/// Unsent output a client may leave waiting before we give up on it.
const MAX_OUTPUT: usize = 1 << 20;

fn main() -> std::process::ExitCode {
    // Errors are printed for a person to read ("bind 127.0.0.1:8085:
    // Address in use"), not as the Debug form `main` returning a Result
    // would print.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson5_deadlines: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:8085")?;
    let limit = match std::env::args().nth(2) {
        Some(ms) => Duration::from_millis(ms.parse().map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("milliseconds: {e}"))
        })?),
        None => Duration::from_secs(5),
    };
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);

    let mut conns: Slab<Conn> = Slab::new();
    let heads = Heads::new();
    let mut stats = Stats::default();
    let mut wheel = Wheel::new(Instant::now());
    let mut expired = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        // Sleep until an event, or until the earliest deadline's tick.
        let timeout = wheel.timeout(Instant::now());
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // One reading of the clock per wakeup serves every event in it.
        let now = Instant::now();
        // Take what is due first, so the wheel has caught up with the clock
        // before events file new deadlines; close it after the events have
        // had their say (one may have moved its connection's deadline).
        wheel.expire(now, &mut expired);
        for event in events.iter() {
            match event.token() {
                LISTENER => {
                    for key in accept_all(&listener, &poll, &mut conns) {
                        if let Some(conn) = conns.get_mut(key) {
                            conn.arm(key, now, limit, &mut wheel);
                        }
                    }
                }
                Token(key) => {
                    // A connection closed earlier in this batch has no entry.
                    let Some(conn) = conns.get_mut(key) else {
                        continue;
                    };
                    let next = conn.on_event(event.is_readable(), &heads, &mut stats, now);
                    conn.arm(key, now, limit, &mut wheel);
                    let wanted = conn.wanted();
                    match next {
                        // Dropping the socket closes it, and a closed socket
                        // leaves the epoll set by itself.
                        Next::Close => drop(conns.remove(key)),
                        Next::Keep if wanted != conn.interest => {
                            let token = Token(key);
                            if poll
                                .registry()
                                .reregister(&mut conn.socket, token, wanted)
                                .is_err()
                            {
                                conns.remove(key);
                            } else {
                                conn.interest = wanted;
                            }
                        }
                        Next::Keep => {}
                    }
                }
            }
        }
        // Close whoever's deadline passed. An entry whose tick is not the
        // connection's current one is stale: its deadline moved since.
        for (key, tick) in expired.drain(..) {
            if conns
                .get(key)
                .is_some_and(|c| c.timer_tick == tick && now >= c.deadline)
            {
                conns.remove(key);
            }
        }
    }
}

/// Accepts every queued connection into the slab, registered for READABLE;
/// returns their keys, so their deadlines can be set.
fn accept_all(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) -> Vec<usize> {
    let mut accepted = Vec::new();
    loop {
        match listener.accept() {
            Ok((socket, _)) => {
                let entry = conns.vacant_entry();
                let mut conn = Conn::new(socket);
                let token = Token(entry.key());
                if poll
                    .registry()
                    .register(&mut conn.socket, token, conn.interest)
                    .is_ok()
                {
                    accepted.push(entry.key());
                    entry.insert(conn);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return accepted,
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                eprintln!("accept: {e}");
                return accepted;
            }
        }
    }
}

/// What the loop does with a connection after its event.
enum Next {
    Keep,
    Close,
}

/// Response heads, rendered once and shared by every response.
struct Heads {
    ok: Rc<[u8]>,
    ok_close: Rc<[u8]>,
    bad: Rc<[u8]>,
}

impl Heads {
    fn new() -> Heads {
        let head = |status: &str, len: usize, connection: &str| -> Rc<[u8]> {
            let text = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len}\r\nConnection: {connection}\r\n\r\n"
            );
            Rc::from(text.into_bytes())
        };
        Heads {
            ok: head("200 OK", HELLO.len(), "keep-alive"),
            ok_close: head("200 OK", HELLO.len(), "close"),
            bad: head("400 Bad Request", BAD.len(), "close"),
        }
    }
}

const HELLO: &[u8] = b"hello\n";
const BAD: &[u8] = b"bad request\n";

/// What `/stats` reports.
#[derive(Default)]
struct Stats {
    requests: u64,
    writes: u64,
}

/// A piece of output: shared or static bytes, from `start` on.
enum Bytes {
    Shared(Rc<[u8]>),
    Static(&'static [u8]),
    /// Made for one response (the `/stats` body).
    Owned(Vec<u8>),
}

struct Chunk {
    bytes: Bytes,
    /// First byte not yet written.
    start: usize,
}

impl Chunk {
    fn give_back(&self) -> &[u8] {
        let all: &[u8] = match &self.bytes {
            Bytes::Shared(b) => b,
            Bytes::Static(b) => b,
            Bytes::Owned(b) => b,
        };
        &all[self.start..]
    }
}

/// The output of one connection: chunks in order, written with `writev`.
#[derive(Default)]
struct OutQueue {
    chunks: VecDeque<Chunk>,
    bytes: usize,
}

impl OutQueue {
    fn push(&mut self, bytes: Bytes) {
        let chunk = Chunk { bytes, start: 0 };
        self.bytes += chunk.give_back().len();
        self.chunks.push_back(chunk);
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Writes as much as the socket takes, one `writev` per call.
    fn flush(&mut self, socket: &mut TcpStream, stats: &mut Stats) -> io::Result<()> {
        while !self.chunks.is_empty() {
            // Up to 64 slices at once, gathered on the stack; a longer
            // queue takes another call.
            let mut slices = [IoSlice::new(&[]); 64];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slot = IoSlice::new(chunk.give_back());
                count += 1;
            }
            let result = socket.write_vectored(&slices[..count]);
            stats.writes += 1;
            match result {
                Ok(n) => self.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Drops `n` written bytes from the front: whole chunks, then part of one.
    fn advance(&mut self, mut n: usize) {
        self.bytes -= n;
        while let Some(front) = self.chunks.front_mut() {
            let left = front.give_back().len();
            if n < left {
                front.start += n;
                return;
            }
            n -= left;
            self.chunks.pop_front();
        }
    }
}

/// One connection's state.
struct Conn {
    socket: TcpStream,
    /// Bytes read and not yet used: the start of a request still arriving.
    input: Vec<u8>,
    /// Responses not yet written.
    output: OutQueue,
    /// Close once the output is sent (`Connection: close`, or an error).
    close_after: bool,
    /// The client closed its side: answer what it sent, then close.
    peer_closed: bool,
    /// The interest registered for the socket now.
    interest: Interest,
    /// When the first byte of the request head in `input` arrived.
    head_started: Instant,
    /// When this connection closes unless something happens.
    deadline: Instant,
    /// The tick of this connection's current wheel entry.
    timer_tick: u64,
}

impl Conn {
    fn new(socket: TcpStream) -> Conn {
        Conn {
            socket,
            input: Vec::new(),
            output: OutQueue::default(),
            close_after: false,
            peer_closed: false,
            interest: Interest::READABLE,
            head_started: Instant::now(),
            deadline: Instant::now(),
            timer_tick: u64::MAX,
        }
    }

    /// Derives the deadline from the state after an event, and puts an
    /// entry in the wheel if its tick moved.
    fn arm(&mut self, key: usize, now: Instant, limit: Duration, wheel: &mut Wheel) {
        self.deadline = if self.input.is_empty() {
            now + limit // idle, or sending: the limit counts from now
        } else {
            self.head_started + limit // a head is arriving: fixed at its first byte
        };
        let tick = wheel.tick_of(self.deadline);
        if tick != self.timer_tick {
            self.timer_tick = wheel.schedule(key, tick);
        }
    }

    /// The interest this state needs: WRITABLE only while output waits.
    fn wanted(&self) -> Interest {
        if self.output.is_empty() {
            Interest::READABLE
        } else {
            Interest::READABLE | Interest::WRITABLE
        }
    }

    /// Reads everything, answers every complete request, then writes all
    /// the answers together.
    fn on_event(&mut self, readable: bool, heads: &Heads, stats: &mut Stats, now: Instant) -> Next {
        if readable && !self.close_after && !self.peer_closed {
            let had_partial_head = !self.input.is_empty();
            if let Err(e) = self.read_all() {
                eprintln!("read: {e}");
                return Next::Close;
            }
            self.answer_all(heads, stats);
            self.close_after |= self.peer_closed;
            // What is left is the start of a request: its clock starts now,
            // unless it was already running.
            if !self.input.is_empty() && !had_partial_head {
                self.head_started = now;
            }
        }
        if let Err(e) = self.output.flush(&mut self.socket, stats) {
            eprintln!("writev: {e}");
            return Next::Close;
        }
        if self.output.is_empty() && self.close_after {
            return Next::Close;
        }
        if self.output.bytes > MAX_OUTPUT {
            return Next::Close; // a client that never reads
        }
        Next::Keep
    }

    /// Reads until the kernel has nothing more (edge-triggered), or EOF.
    fn read_all(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.read(&mut buf) {
                Ok(0) => {
                    self.peer_closed = true;
                    return Ok(());
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Queues an answer to every complete request in `input`, in order.
    /// Nothing is written yet: that is the point.
    fn answer_all(&mut self, heads: &Heads, stats: &mut Stats) {
        let mut used = 0;
        while !self.close_after {
            match parse(&self.input[used..]) {
                Parsed::Partial => break,
                Parsed::Request {
                    len,
                    keep_alive,
                    head_only,
                    stats: wants_stats,
                } => {
                    used += len;
                    stats.requests += 1;
                    let head = if keep_alive {
                        &heads.ok
                    } else {
                        &heads.ok_close
                    };
                    if wants_stats {
                        self.queue_stats(stats, keep_alive);
                    } else {
                        self.output.push(Bytes::Shared(Rc::clone(head)));
                        if !head_only {
                            self.output.push(Bytes::Static(HELLO));
                        }
                    }
                    self.close_after = !keep_alive;
                }
                Parsed::Bad => {
                    used = self.input.len();
                    self.output.push(Bytes::Shared(Rc::clone(&heads.bad)));
                    self.output.push(Bytes::Static(BAD));
                    self.close_after = true;
                }
            }
        }
        self.input.drain(..used);
    }

    /// `/stats`: a body made for this request, with its own head.
    fn queue_stats(&mut self, stats: &Stats, keep_alive: bool) {
        let body = format!("requests {}\nwrites {}\n", stats.requests, stats.writes);
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        );
        self.output.push(Bytes::Owned(head.into_bytes()));
        self.output.push(Bytes::Owned(body.into_bytes()));
    }
}

/// Length of a tick.
const TICK: Duration = Duration::from_millis(100);
/// Buckets in the ring: 512 ticks, 51.2 s. A later deadline waits in its
/// bucket for another lap (each entry knows its tick).
const SLOTS: usize = 512;

/// A timing wheel of connection keys.
struct Wheel {
    /// Tick 0.
    start: Instant,
    /// `slots[t % SLOTS]` holds the entries (key, t) due at tick t.
    slots: Vec<Vec<(usize, u64)>>,
    /// The first tick not yet expired.
    next: u64,
    /// Entries in the wheel.
    len: usize,
}

impl Wheel {
    fn new(start: Instant) -> Wheel {
        Wheel {
            start,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            next: 0,
            len: 0,
        }
    }

    /// The tick a deadline falls in, rounded up: never early.
    fn tick_of(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.start).as_nanos();
        nanos.div_ceil(TICK.as_nanos()) as u64
    }

    /// Files `key` under `tick` (or the next tick to expire, if that has
    /// passed); returns the tick used.
    fn schedule(&mut self, key: usize, tick: u64) -> u64 {
        let tick = tick.max(self.next);
        self.slots[tick as usize % SLOTS].push((key, tick));
        self.len += 1;
        tick
    }

    /// How long `poll` may sleep: until the first tick holding an entry.
    fn timeout(&self, now: Instant) -> Option<Duration> {
        if self.len == 0 {
            return None; // nothing to wait for: sleep until an event
        }
        let first = (self.next..self.next + SLOTS as u64)
            .find(|&t| !self.slots[t as usize % SLOTS].is_empty())
            .unwrap_or(self.next);
        let at = self.start + TICK * first as u32;
        Some(at.saturating_duration_since(now))
    }

    /// Moves the entries of every tick that has passed into `out`.
    fn expire(&mut self, now: Instant, out: &mut Vec<(usize, u64)>) {
        let passed =
            (now.saturating_duration_since(self.start).as_nanos() / TICK.as_nanos()) as u64;
        if self.len == 0 {
            // Nothing to walk: just catch up with the clock.
            self.next = self.next.max(passed + 1);
            return;
        }
        let before = out.len();
        while self.next <= passed {
            let slot = &mut self.slots[self.next as usize % SLOTS];
            let tick = self.next;
            // Entries for later laps stay.
            slot.retain(|&(key, t)| {
                if t == tick {
                    out.push((key, t));
                    false
                } else {
                    true
                }
            });
            self.next += 1;
        }
        self.len -= out.len() - before;
    }
}

/// What the front of the input holds.
enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A whole request head of `len` bytes.
    Request {
        len: usize,
        keep_alive: bool,
        head_only: bool,
        /// The target is `/stats`.
        stats: bool,
    },
    /// Not HTTP we accept: answer 400 and close.
    Bad,
}

fn parse(input: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(input) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if input.len() <= MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Bad,
    };
    let mut close = false;
    let mut keep = false;
    for h in req.headers.iter() {
        let value = String::from_utf8_lossy(h.value).to_ascii_lowercase();
        if h.name.eq_ignore_ascii_case("connection") {
            close |= value.contains("close");
            keep |= value.contains("keep-alive");
        }
        let body = (h.name.eq_ignore_ascii_case("content-length") && value.trim() != "0")
            || h.name.eq_ignore_ascii_case("transfer-encoding");
        if body {
            return Parsed::Bad; // no bodies in this lesson
        }
    }
    let keep_alive = match req.version {
        Some(1) => !close,
        _ => keep && !close,
    };
    Parsed::Request {
        len,
        keep_alive,
        head_only: req.method == Some("HEAD"),
        stats: req.path == Some("/stats"),
    }
}

/// A bind error that says which address, and what to do about it.
fn bind_error(addr: SocketAddr, e: io::Error) -> io::Error {
    let hint = if e.kind() == io::ErrorKind::AddrInUse {
        " (another server has this port: give another address as the first argument)"
    } else {
        ""
    };
    io::Error::new(e.kind(), format!("bind {addr}: {e}{hint}"))
}

fn address(arg: Option<String>, default: &str) -> io::Result<SocketAddr> {
    arg.as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))
}
