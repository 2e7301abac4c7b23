//! Lesson 3: connections that stay. An HTTP/1.1 "hello" with keep-alive.
//!
//! ```text
//! cargo run --example lesson3_http_hello          # listens on 127.0.0.1:8083
//! curl -v http://127.0.0.1:8083/ http://127.0.0.1:8083/   # two requests, one connection
//! ```
//!
//! Lessons 1 and 2 never kept a connection: one write and done. HTTP/1.1
//! connections stay open for request after request, and a request may
//! arrive in pieces, and a response may not fit in the socket at once. So
//! each connection now has **state**, and the loop needs three new things.
//!
//! **A slab of connections.** `slab::Slab` is a vector with a free list: an
//! insert returns a small integer key, reused after a remove. The key is
//! the connection's `Token`, so an event leads straight to its state with
//! no hashing. The listener's token sits at `usize::MAX`, far above any key.
//!
//! **Partial reads.** A read returns what has arrived, which may be half a
//! request, or three. Bytes are appended to `input`; every complete head in
//! it is answered; an incomplete tail waits for the next read. Reading goes
//! on until `WouldBlock` (edge-triggered: lesson 1).
//!
//! **Partial writes, and interest derived from state.** A write may take
//! only part of the output. What is left waits in `output`, and only then
//! does the connection ask for WRITABLE: a socket with room is almost
//! always writable, so asking while there is nothing to write would wake
//! the loop for nothing. The interest is *computed from the state*
//! (`Conn::wanted`) after every event and re-registered only when it
//! changes, so there is one place that decides it and no flag to forget.
//!
//! Keep-alive (RFC 9112 §9.3): HTTP/1.1 keeps the connection unless the
//! request says `Connection: close`; HTTP/1.0 closes unless it says
//! `Connection: keep-alive`. A closing response is written out in full
//! before the socket is closed.
//!
//! This lesson reads no request bodies (a request with one gets 400 and a
//! close); `src/http1/body.rs` skips them exactly. Grown into:
//! `src/conn/` (the socket side), `src/http1/session.rs` (the
//! exchange), `src/http1/request.rs` (parsing). Next: lesson 4 answers
//! pipelined requests with one vectored write and no copies.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

/// Longest request head we wait for.
const MAX_HEAD: usize = 8192;
/// Unsent output a client may leave waiting before we give up on it.
const MAX_OUTPUT: usize = 1 << 20;

fn main() -> std::process::ExitCode {
    // Errors are printed for a person to read ("bind 127.0.0.1:8083:
    // Address in use"), not as the Debug form `main` returning a Result
    // would print.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson3_http_hello: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:8083")?;
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);

    let mut conns: Slab<Conn> = Slab::new();
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
                    let next = conn.on_event(event.is_readable());
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

/// One connection's state.
struct Conn {
    socket: TcpStream,
    /// Bytes read and not yet used: the start of a request still arriving.
    input: Vec<u8>,
    /// Response bytes; `output[written..]` is still to be sent.
    output: Vec<u8>,
    written: usize,
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
            output: Vec::new(),
            written: 0,
            close_after: false,
            peer_closed: false,
            interest: Interest::READABLE,
        }
    }

    /// The interest this state needs: WRITABLE only while output waits.
    fn wanted(&self) -> Interest {
        if self.written < self.output.len() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// Handles one event. A WRITABLE event needs no branch of its own:
    /// every event ends by writing whatever is queued, and answers just
    /// queued usually fit in the socket at once, with no event at all.
    fn on_event(&mut self, readable: bool) -> Next {
        if readable && !self.close_after && !self.peer_closed {
            if let Err(e) = self.read_all() {
                eprintln!("read: {e}");
                return Next::Close;
            }
            self.answer_all();
            self.close_after |= self.peer_closed;
        }
        if let Err(e) = self.write_all() {
            eprintln!("write: {e}");
            return Next::Close;
        }
        let sent = self.written == self.output.len();
        if sent && self.close_after {
            return Next::Close;
        }
        if self.output.len() - self.written > MAX_OUTPUT {
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

    /// Answers every complete request in `input`, in order.
    fn answer_all(&mut self) {
        let mut used = 0;
        while !self.close_after {
            match parse(&self.input[used..]) {
                Parsed::Partial => break,
                Parsed::Request {
                    len,
                    keep_alive,
                    head_only,
                } => {
                    used += len;
                    self.respond(200, keep_alive, head_only);
                    self.close_after = !keep_alive;
                }
                Parsed::Bad => {
                    used = self.input.len();
                    self.respond(400, false, false);
                    self.close_after = true;
                }
            }
        }
        self.input.drain(..used);
    }

    /// Appends a response to the output (copying it: lesson 4 stops that).
    fn respond(&mut self, status: u16, keep_alive: bool, head_only: bool) {
        let (reason, body): (&str, &[u8]) = match status {
            200 => ("OK", b"hello\n"),
            _ => ("Bad Request", b"bad request\n"),
        };
        let connection = if keep_alive { "keep-alive" } else { "close" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        );
        self.output.extend_from_slice(head.as_bytes());
        if !head_only {
            self.output.extend_from_slice(body);
        }
    }

    /// Writes until everything is sent or the socket is full.
    fn write_all(&mut self) -> io::Result<()> {
        while self.written < self.output.len() {
            match self.socket.write(&self.output[self.written..]) {
                Ok(n) => self.written += n,
                // Full: the rest waits for a WRITABLE event (see `wanted`).
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(())
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
