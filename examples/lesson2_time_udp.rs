//! Lesson 2: two services, one loop. RFC 868 over TCP *and* UDP.
//!
//! ```text
//! cargo run --example lesson2_time_udp            # 127.0.0.1:3702, TCP and UDP
//! rdate -p -u -o 3702 127.0.0.1                   # ask over UDP (apt-get install rdate)
//! ```
//!
//! Lesson 1's loop had one token. Here a UDP socket joins it on the same
//! port, with a token of its own, and the loop dispatches on the token:
//! that is the whole trick of a readiness loop. One thread waits on every
//! socket at once and runs whichever is ready; nothing blocks, so nothing
//! waits for anything else.
//!
//! **UDP has no connections.** Each datagram carries its sender's address.
//! RFC 868 over UDP: any datagram (its content is ignored) gets one
//! four-byte datagram back. Like `accept` before, `recv_from` runs until
//! `WouldBlock`, because the readable edge came once for the whole queue.
//!
//! **Sending without waiting.** A UDP socket's send buffer is rarely full;
//! if it is, `send_to` says `WouldBlock` and the reply is dropped, which
//! UDP allows (the client asks again). Waiting for WRITABLE to send four
//! bytes of a time that is by then stale would be worse.
//!
//! **Don't answer services.** A datagram from a port below 1024 comes from
//! a service, not a client: answering one that answers back (an echo
//! service, another time server) would bounce forever. inetd drops them;
//! so do we.
//!
//! Grown into: `serve_udp` in `src/rfc868.rs`, which takes and answers up
//! to 64 datagrams per syscall (`recvmmsg`/`sendmmsg`, `src/batch.rs`).
//! Next: lesson 3 keeps connections open, and so needs state per connection.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token};

const TCP: Token = Token(0);
const UDP: Token = Token(1);

const UNIX_TO_1900: u64 = 2_208_988_800;

fn main() -> std::process::ExitCode {
    // Errors are printed for a person to read ("bind 127.0.0.1:3702:
    // Address in use"), not as the Debug form `main` returning a Result
    // would print.
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson2_time_udp: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:3702")?;
    let mut poll = Poll::new()?;
    let mut tcp = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    // UDP takes the port TCP got (it matters when asked for port 0).
    let bound = tcp.local_addr()?;
    let mut udp = UdpSocket::bind(bound).map_err(|e| bind_error(bound, e))?;
    poll.registry()
        .register(&mut tcp, TCP, Interest::READABLE)?;
    poll.registry()
        .register(&mut udp, UDP, Interest::READABLE)?;
    println!("listening on {} (TCP and UDP)", tcp.local_addr()?);

    let mut events = Events::with_capacity(128);
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        // Both may be ready in the same wakeup; each gets its turn.
        for event in events.iter() {
            match event.token() {
                TCP => accept_all(&tcp),
                UDP => answer_all(&udp),
                _ => {}
            }
        }
    }
}

/// Lesson 1, unchanged: accept, write four bytes, close.
fn accept_all(listener: &TcpListener) {
    let reply = time_bytes(SystemTime::now());
    loop {
        match listener.accept() {
            Ok((mut stream, _)) => {
                let _ = stream.write(&reply);
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

/// Answers every queued datagram with the time.
fn answer_all(socket: &UdpSocket) {
    let reply = time_bytes(SystemTime::now());
    // The content is ignored, so a tiny buffer will do: a longer datagram
    // is truncated, which is fine, and still gets exactly one reply.
    let mut buf = [0u8; 1];
    loop {
        match socket.recv_from(&mut buf) {
            Ok((_, from)) if from.port() < 1024 => {} // a service: never answer
            Ok((_, from)) => {
                // WouldBlock here means a full send buffer: drop the reply.
                let _ = socket.send_to(&reply, from);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // An ICMP error from an earlier reply surfaces on a later call
            // (ECONNREFUSED on Linux); it concerns that peer only.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                eprintln!("recvfrom: {e}");
                return;
            }
        }
    }
}

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

fn address(arg: Option<String>, default: &str) -> io::Result<SocketAddr> {
    arg.as_deref()
        .unwrap_or(default)
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("address: {e}")))
}
