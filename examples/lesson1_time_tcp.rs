//! Lesson 1: the smallest mio server, RFC 868 over TCP.
//!
//! ```text
//! cargo run --example lesson1_time_tcp            # listens on 127.0.0.1:3701
//! rdate -p -o 3701 127.0.0.1                      # apt-get install rdate
//! python3 -c 'import socket; print(socket.create_connection(("127.0.0.1", 3701)).recv(4).hex())'
//! ```
//!
//! RFC 868 (the Time Protocol) is the simplest service there is: a client
//! connects, the server sends the time as four bytes (seconds since
//! 1900-01-01, big-endian) and closes. No request to read. That makes it the
//! right first server: everything here is about the *loop*.
//!
//! **Readiness, not completion.** A `mio::Poll` is epoll on Linux. We
//! register a socket with a `Token` (a number we choose) and an `Interest`
//! (readable, writable); `poll` then sleeps until one or more registered
//! sockets are *ready* and hands back their tokens. Ready means "a call
//! would not block now", not "here is your data": we still make the call.
//!
//! **Edge-triggered.** mio registers sockets edge-triggered: we hear once
//! that the listener became readable, not again while connections stay
//! queued. So on every event we `accept` until the kernel says
//! `WouldBlock`; stopping early would strand the rest until the next client
//! arrived. Every loop in the real server keeps this rule.
//!
//! **Nothing to register per connection.** A fresh socket's send buffer is
//! empty and holds far more than four bytes, so one non-blocking `write`
//! either sends them all or fails because the client is already gone. There
//! is no state to keep and nothing to wait for: write, drop (which closes),
//! next. A connection here costs `accept4`, `write`, `close`, and a share of
//! one `epoll_wait`.
//!
//! Grown into: `src/rfc868.rs` (`serve_tcp`, `encode`) and the listener
//! dispatch in `src/server/mod.rs`. Next: lesson 2 answers over UDP on the same
//! loop.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

/// The one thing registered: the listening socket.
const LISTENER: Token = Token(0);

/// Seconds from 1900-01-01 (RFC 868's epoch) to 1970-01-01 (Unix's).
const UNIX_TO_1900: u64 = 2_208_988_800;

fn main() -> std::process::ExitCode {
    // Errors are printed for a person to read ("bind 127.0.0.1:3701:
    // Address in use"), not as the Debug form `main` returning a Result
    // would print.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson1_time_tcp: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:3701")?;
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);

    let mut events = Events::with_capacity(128);
    loop {
        // Sleep until something is ready. No timeout: nothing here has a
        // deadline (lesson 5 adds one).
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&listener);
            }
        }
    }
}

/// Accepts every queued connection, answers it and closes it.
fn accept_all(listener: &TcpListener) {
    // One reading of the clock serves every connection of this wakeup.
    let reply = time_bytes(SystemTime::now());
    loop {
        match listener.accept() {
            Ok((mut stream, _peer)) => {
                // Four bytes into an empty send buffer: all or nothing.
                let _ = stream.write(&reply);
                // `stream` is dropped here, which closes the connection.
            }
            // The queue is empty: wait for the next edge.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            // A signal interrupted us, or the client gave up while queued.
            Err(e)
                if e.kind() == io::ErrorKind::Interrupted
                    || e.kind() == io::ErrorKind::ConnectionAborted =>
            {
                continue;
            }
            // Out of descriptors, say. The real server pauses accepting
            // (src/server/mod.rs); here we just wait for the next event.
            Err(e) => {
                eprintln!("accept: {e}");
                return;
            }
        }
    }
}

/// The RFC 868 value: seconds since 1900, modulo 2^32, big-endian.
fn time_bytes(now: SystemTime) -> [u8; 4] {
    let unix = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    ((unix + UNIX_TO_1900) as u32).to_be_bytes()
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
