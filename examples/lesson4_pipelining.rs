//! Lesson 4: pipelining and the write queue. Many answers, one write, no copies.
//!
//! ```text
//! cargo run --example lesson4_pipelining          # listens on 127.0.0.1:8084
//! wrk -t1 -c10 -d5s -s benches/compare/pipeline.lua http://127.0.0.1:8084/   # apt-get install wrk
//! curl http://127.0.0.1:8084/stats                # requests answered, writes made
//! ```
//!
//! An HTTP/1.1 client may send requests without waiting for answers
//! (*pipelining*, RFC 9112 §9.3.2); the answers must come back in order.
//! Lesson 3 already answered every complete request in its input, so
//! pipelining worked; this lesson makes it cheap.
//!
//! **One write per batch.** All the answers to what one read brought in are
//! queued first and written together: sixteen pipelined requests cost one
//! `read` and one `writev`, not sixteen writes. Syscalls, not bytes, are
//! what a small-response server spends its time on. `/stats` shows the
//! ratio: requests answered against writes made.
//!
//! **No copies: a queue of shared chunks.** Lesson 3 copied every response
//! into a byte vector. Here a response is two *chunks*: the head, rendered
//! once at start-up and shared through an `Rc<[u8]>` (cloning an `Rc` copies
//! a pointer, not the bytes), and a `&'static` body. `write_vectored`
//! (`writev(2)`) hands the kernel a list of slices, so the chunks go out as
//! they are, in one call.
//!
//! **Short writes across chunks.** When the socket takes only part, the
//! queue advances by that many bytes: whole chunks are popped, the first
//! remaining one is trimmed in place. Nothing moves; the rest waits for
//! WRITABLE, as in lesson 3.
//!
//! Grown into: `src/out.rs` (the chunk queue; files go out with `sendfile`
//! as another kind of chunk), `src/http1/heads.rs` (heads rendered once,
//! the `Date` line once a second) and `src/http1/response.rs` (an answer
//! queued as those chunks). Next: lesson 5 closes connections that
//! linger, with a timer wheel driving the poll timeout.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

/// Longest request head we wait for.
const MAX_HEAD: usize = 8192;
/// Unsent output a client may leave waiting before we give up on it.
const MAX_OUTPUT: usize = 1 << 20;

fn main() -> std::process::ExitCode {
    // Errors are printed for a person to read ("bind 127.0.0.1:8084:
    // Address in use"), not as the Debug form `main` returning a Result
    // would print.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson4_pipelining: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:8084")?;
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);

    let mut conns: Slab<Conn> = Slab::new();
    let heads = Heads::new();
    let mut stats = Stats::default();
    let mut events = Events::with_capacity(1024);
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => accept_all(&listener, &poll, &mut conns),
                Token(key) => {
                    // A connection closed earlier in this batch has no entry.
                    let Some(conn) = conns.get_mut(key) else {
                        continue;
                    };
                    let next = conn.on_event(event.is_readable(), &heads, &mut stats);
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
    }
}

/// Accepts every queued connection into the slab, registered for READABLE.
/// A request that is already there is not missed: registering reports the
/// socket's current readiness as an event.
fn accept_all(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) {
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
                    entry.insert(conn);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.kind() == io::ErrorKind::ConnectionAborted => {}
            Err(e) => {
                eprintln!("accept: {e}");
                return;
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
    fn on_event(&mut self, readable: bool, heads: &Heads, stats: &mut Stats) -> Next {
        if readable && !self.close_after && !self.peer_closed {
            if let Err(e) = self.read_all() {
                eprintln!("read: {e}");
                return Next::Close;
            }
            self.answer_all(heads, stats);
            self.close_after |= self.peer_closed;
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

/// The address from the command line, or the default.
fn address(arg: Option<String>, default: &str) -> io::Result<SocketAddr> {
    arg.as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))
}
