//! Lesson 7: multiplexing in a readiness loop. HTTP/2 on the same loop.
//!
//! ```text
//! cargo run --example lesson7_http2               # h2c on 127.0.0.1:8087
//! curl --http2-prior-knowledge http://127.0.0.1:8087/
//! nghttp -ns http://127.0.0.1:8087/ http://127.0.0.1:8087/big   # two streams, one connection
//! h2load -n 1000 -c 1 -m 10 http://127.0.0.1:8087/              # ten at a time
//! ```
//!
//! (nghttp and h2load: `apt-get install nghttp2-client`. One URL per curl:
//! curl 7.88, Debian 12's, fails to reuse a prior-knowledge connection,
//! curl issue 10634, fixed in 8.0.)
//!
//! Lessons 3 and 4 answered requests one after another on a connection:
//! a second request waited for the first answer (pipelining only lets it
//! be *sent* early). HTTP/2 puts many requests on one connection at once.
//! Each is a *stream* with an odd number chosen by the client; every
//! frame says which stream it belongs to, so answers can be cut into
//! frames and interleaved: a large download no longer holds back the
//! small answers behind it.
//!
//! What this adds to the loop, and what it does not change:
//!
//! 1. **The preface.** The client opens with 24 fixed bytes and a SETTINGS
//!    frame; the server's first frame is its own SETTINGS. Each side
//!    acknowledges the other's SETTINGS. On a plain port this is "prior
//!    knowledge" (h2c): the client knows the server speaks HTTP/2.
//! 2. **One stream table per connection.** The slab holds connections as
//!    before; each connection holds its streams, looked up by id. A
//!    request is a HEADERS frame whose field block is HPACK-compressed
//!    (here decoded with oneloop's `hpack` module: this lesson is about
//!    the loop, not the bits); the answer is a HEADERS frame and DATA
//!    frames on the same stream, the last with END_STREAM.
//! 3. **Flow control is backpressure you can see.** The client grants a
//!    window per stream and one for the connection (65,535 bytes each to
//!    begin with); DATA spends them, WINDOW_UPDATE frames give them back.
//!    A stream without window simply waits in the table: no busy loop,
//!    because the only thing that can open a window is input, and input
//!    comes with a READABLE event. The same holds for our own buffer: DATA
//!    is cut only while less than [`OUT_HIGH`] bytes wait for the socket,
//!    and WRITABLE brings the loop back to cut more.
//! 4. **Turns.** Streams that can send take turns one frame each, so ten
//!    streams share the connection fairly.
//!
//! Interest still follows state: WRITABLE only while output waits.
//! Everything edge-triggered still reads until WouldBlock.
//!
//! Left to the server: CONTINUATION frames, padding rules, stream limits
//! and resets, priorities, and every error the RFC names
//! (`src/http2/session.rs`, tested frame by frame by `tests/h2_frames.py`).
//!
//! Grown into: `src/http2/` (`frame.rs`, `hpack.rs`, `session.rs`: this
//! file's `Conn::on_frame` and `send_data`, made complete), chosen per
//! connection in `src/conn/protocol.rs` by ALPN or by the preface.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use oneloop::http2::frame::{self, ErrorCode, Frame, Parsed, flag, kind, setting};
use oneloop::http2::hpack::{Decoder, Encoder, Indexing};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

/// The largest frame payload either side may send until told otherwise.
const MAX_FRAME: usize = 16_384;

/// The window both sides start with, per stream and per connection.
const INITIAL_WINDOW: i64 = 65_535;

/// DATA is cut only while less than this waits in `out`.
const OUT_HIGH: usize = 64 << 10;

/// `/big`: 1 MiB, a byte pattern a client can check; made once and shared
/// by every stream that sends it (as the server shares cached files).
fn big() -> Rc<[u8]> {
    (0..1u32 << 20).map(|i| (i % 251) as u8).collect()
}

/// One request being answered: what is left of its body, and its window.
struct Stream {
    id: u32,
    body: Rc<[u8]>,
    sent: usize,
    window: i64,
}

/// One connection: the socket, bytes in and out, HPACK both ways, the
/// stream table and the windows.
struct Conn {
    sock: TcpStream,
    input: Vec<u8>,
    out: Vec<u8>,
    preface_seen: bool,
    decoder: Decoder,
    encoder: Encoder,
    streams: Vec<Stream>,
    /// Our connection window, and the window each new stream starts with.
    window: i64,
    initial_window: i64,
    /// The highest stream the client opened (stream ids only grow).
    last_stream: u32,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson7_http2: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:8087")?;
    let big = big();
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
            if event.token() == LISTENER {
                loop {
                    let (mut sock, _) = match listener.accept() {
                        Ok(pair) => pair,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    };
                    let entry = conns.vacant_entry();
                    // Point 1: our SETTINGS go first, before anything is
                    // read; so the connection starts out wanting WRITABLE.
                    let mut out = Vec::new();
                    frame::write_settings(&mut out, &[(setting::MAX_CONCURRENT_STREAMS, 100)]);
                    poll.registry().register(
                        &mut sock,
                        Token(entry.key()),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    entry.insert(Conn {
                        sock,
                        input: Vec::new(),
                        out,
                        preface_seen: false,
                        decoder: Decoder::new(4096),
                        encoder: Encoder::new(4096),
                        streams: Vec::new(),
                        window: INITIAL_WINDOW,
                        initial_window: INITIAL_WINDOW,
                        last_stream: 0,
                    });
                }
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let open = conn.on_event(event.is_readable(), &big);
            if !open {
                conns.remove(key);
                continue;
            }
            // Interest from state, as in every lesson since the third.
            let interest = if conn.out.is_empty() {
                Interest::READABLE
            } else {
                Interest::READABLE | Interest::WRITABLE
            };
            poll.registry()
                .reregister(&mut conn.sock, Token(key), interest)?;
        }
    }
}

impl Conn {
    /// Reads, handles every whole frame, cuts DATA, writes; returns
    /// whether the connection stays open.
    fn on_event(&mut self, readable: bool, big: &Rc<[u8]>) -> bool {
        if readable {
            let mut buf = [0u8; 16 << 10];
            loop {
                match self.sock.read(&mut buf) {
                    Ok(0) => return false,
                    Ok(n) => self.input.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return false,
                }
            }
            if !self.on_input(big) {
                // A connection error: GOAWAY is queued; send what we can
                // of it, then close.
                let _ = self.sock.write_all(&self.out);
                return false;
            }
        }
        loop {
            // Point 3: cut DATA while the windows and our buffer allow...
            self.send_data();
            if self.out.is_empty() {
                return true;
            }
            // ...and write until the socket is full.
            match self.sock.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// The preface, then whole frames; the rest waits for more bytes.
    /// Returns false after a connection error.
    fn on_input(&mut self, big: &Rc<[u8]>) -> bool {
        let mut pos = 0;
        if !self.preface_seen {
            if self.input.len() < frame::PREFACE.len() {
                return self.input[..] == frame::PREFACE[..self.input.len()];
            }
            if self.input[..frame::PREFACE.len()] != frame::PREFACE[..] {
                return false; // not HTTP/2
            }
            pos = frame::PREFACE.len();
            self.preface_seen = true;
        }
        let input = std::mem::take(&mut self.input);
        let ok = loop {
            match frame::parse(&input[pos..], MAX_FRAME) {
                Ok(Parsed::Partial) => break true,
                Ok(Parsed::Frame(f, n)) => {
                    pos += n;
                    if let Err(code) = self.on_frame(f, big) {
                        frame::write_goaway(&mut self.out, self.last_stream, code);
                        break false;
                    }
                }
                // A stream error in a frame of its own (a PRIORITY of the
                // wrong length, say): that stream is reset, and the frame
                // after it read as usual.
                Ok(Parsed::Refused(e, n)) => {
                    pos += n;
                    if let frame::H2Error::Stream(id, code, _) = e {
                        self.streams.retain(|s| s.id != id);
                        frame::write_rst_stream(&mut self.out, id, code);
                    }
                }
                Err(e) => {
                    let code = match e {
                        frame::H2Error::Connection(code, _)
                        | frame::H2Error::Stream(_, code, _) => code,
                    };
                    frame::write_goaway(&mut self.out, self.last_stream, code);
                    break false;
                }
            }
        };
        self.input = input;
        self.input.drain(..pos);
        ok
    }

    /// One frame. An error here is a connection error.
    fn on_frame(&mut self, f: Frame<'_>, big: &Rc<[u8]>) -> Result<(), ErrorCode> {
        match f {
            // Point 1: the client's SETTINGS are applied and acknowledged.
            Frame::Settings { ack: false, params } => {
                for (id, value) in frame::settings(params) {
                    if id == setting::INITIAL_WINDOW_SIZE {
                        // A new initial window moves every stream's window
                        // by the difference (RFC 9113 §6.9.2).
                        let delta = i64::from(value) - self.initial_window;
                        self.initial_window = i64::from(value);
                        self.streams.iter_mut().for_each(|s| s.window += delta);
                    }
                    if id == setting::HEADER_TABLE_SIZE {
                        // The client's HPACK table for our fields: never
                        // fill more of it than it has.
                        self.encoder.set_max((value as usize).min(4096));
                    }
                }
                frame::write_settings_ack(&mut self.out);
            }
            Frame::Ping { ack: false, data } => frame::write_ping_ack(&mut self.out, data),
            // Point 3: windows given back.
            Frame::WindowUpdate {
                stream: 0,
                increment,
            } => self.window += i64::from(increment),
            Frame::WindowUpdate { stream, increment } => {
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) {
                    s.window += i64::from(increment);
                }
            }
            Frame::RstStream { stream, .. } => self.streams.retain(|s| s.id != stream),
            // Point 2: a request.
            Frame::Headers {
                stream,
                block,
                end_headers,
                ..
            } => {
                if !end_headers {
                    return Err(ErrorCode::Internal); // CONTINUATION: see the server
                }
                if stream % 2 == 0 || stream <= self.last_stream {
                    return Err(ErrorCode::Protocol);
                }
                self.last_stream = stream;
                let mut path = Vec::new();
                self.decoder
                    .decode(block, 16 << 10, |name, value| {
                        if name == b":path" {
                            path = value.to_vec();
                        }
                    })
                    .map_err(|_| ErrorCode::Compression)?;
                let (status, body): (_, Rc<[u8]>) = match &path[..] {
                    b"/" => ("200", Rc::from(&b"Hello over HTTP/2\n"[..])),
                    b"/big" => ("200", big.clone()),
                    _ => ("404", Rc::from(&b"Not found\n"[..])),
                };
                self.answer(stream, status, body);
            }
            Frame::GoAway { .. } => return Err(ErrorCode::NoError),
            // Request bodies, PRIORITY, ACKs and unknown frames: nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// The answer's HEADERS now; its body joins the table as a stream.
    fn answer(&mut self, id: u32, status: &str, body: Rc<[u8]>) {
        let mut block = Vec::new();
        self.encoder.begin(&mut block);
        let length = body.len().to_string();
        for (name, value) in [
            (&b":status"[..], status.as_bytes()),
            (b"content-type", b"text/plain"),
            (b"content-length", length.as_bytes()),
        ] {
            self.encoder
                .field(&mut block, name, value, Indexing::Incremental);
        }
        frame::write_header(
            &mut self.out,
            block.len(),
            kind::HEADERS,
            flag::END_HEADERS,
            id,
        );
        self.out.extend_from_slice(&block);
        self.streams.push(Stream {
            id,
            body,
            sent: 0,
            window: self.initial_window,
        });
    }

    /// Point 4: streams with window take turns, one frame each, while the
    /// connection's window and our buffer allow. A finished stream leaves
    /// the table.
    fn send_data(&mut self) {
        let mut progress = true;
        while progress && self.window > 0 && self.out.len() < OUT_HIGH {
            progress = false;
            for s in &mut self.streams {
                let left = s.body.len() - s.sent;
                let n = (left as i64)
                    .min(s.window)
                    .min(self.window)
                    .min(MAX_FRAME as i64);
                if n < 0 || (n == 0 && left > 0) {
                    continue; // no window: wait for WINDOW_UPDATE
                }
                let n = n as usize;
                let last = n == left;
                let flags = if last { flag::END_STREAM } else { 0 };
                frame::write_header(&mut self.out, n, kind::DATA, flags, s.id);
                self.out.extend_from_slice(&s.body[s.sent..s.sent + n]);
                s.sent += n;
                s.window -= n as i64;
                self.window -= n as i64;
                progress = true;
            }
            self.streams.retain(|s| s.sent < s.body.len());
        }
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
