//! Lesson 6: TLS in a readiness loop. rustls over a mio socket.
//!
//! ```text
//! cargo run --example lesson6_tls                 # https://localhost:8446
//! curl --cacert /tmp/oneloop-lesson6.pem https://localhost:8446/
//! ```
//!
//! Lesson 3 answered "hello" over plain HTTP. This lesson answers it over
//! TLS, with the same loop, and shows what changes when a protocol sits
//! between the socket and the application.
//!
//! rustls is *sans-IO*: it never touches a socket. The loop moves bytes:
//!
//! ```text
//!   socket --read_tls--> rustls --process_new_packets--> plaintext --reader()-->  the app
//!   socket <--write_tls-- rustls <-------------------------------- writer() <--  the app
//! ```
//!
//! Three things readiness no longer means:
//!
//! 1. **Readable does not mean there is plaintext.** The first bytes are a
//!    ClientHello: reading them yields nothing for the application, only
//!    handshake messages rustls wants to send back. Half a record yields
//!    nothing either. So a readable event may end with no request at all.
//! 2. **The application is not the only writer.** rustls has its own things
//!    to say (the handshake's flight, session tickets, alerts), so the
//!    interest a connection needs comes from `wants_write()`, not only from
//!    whether the application has a response queued.
//! 3. **Edge-triggered still means "until WouldBlock".** `read_tls` reads a
//!    bounded amount; if the socket held more, no new edge will say so, so
//!    the loop calls it again until the socket says WouldBlock.
//!
//! The certificate is made at start (rcgen) for `localhost` and written
//! where the first line printed says, so curl can trust it.
//!
//! Grown into: `src/tls/` (`TlsStream` is this connection's reading and
//! writing made into a `Stream`, so the HTTP session does not know TLS is
//! there; it drives rustls's unbuffered API, the same steps with the
//! buffers in the caller's hands, so an idle connection keeps none),
//! `holds_output` and `handshaking` in `src/stream.rs`, and the HTTPS
//! listener in `src/accept.rs`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use rustls::ServerConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nContent-Type: text/plain\r\n\r\nHello over TLS\n";

/// One connection: the socket, rustls's state for it, and the request
/// bytes seen so far.
struct Conn {
    sock: TcpStream,
    tls: ServerConnection,
    request: Vec<u8>,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson6_tls: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr = address(std::env::args().nth(1), "127.0.0.1:8446")?;
    let cert_path = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "/tmp/oneloop-lesson6.pem".into());
    let config = Arc::new(tls_config(&cert_path)?);

    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr).map_err(|e| bind_error(addr, e))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!(
        "listening on {} (certificate in {cert_path})",
        listener.local_addr()?
    );

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
                // As in lesson 3, but each connection gets its own rustls
                // state. Nothing is read yet: the ClientHello comes with
                // the next readable event.
                loop {
                    let (mut sock, _) = match listener.accept() {
                        Ok(pair) => pair,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    };
                    let Ok(tls) = ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    let entry = conns.vacant_entry();
                    poll.registry()
                        .register(&mut sock, Token(entry.key()), Interest::READABLE)?;
                    entry.insert(Conn {
                        sock,
                        tls,
                        request: Vec::new(),
                    });
                }
                continue;
            }
            let key = event.token().0;
            let Some(conn) = conns.get_mut(key) else {
                continue;
            };
            let open = conn.on_event(event.is_readable());
            // Interest from state: WRITABLE only while rustls has records
            // the socket has not taken.
            let interest = if conn.tls.wants_write() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if !open {
                conns.remove(key); // dropping the socket closes it
            } else {
                poll.registry()
                    .reregister(&mut conn.sock, Token(key), interest)?;
            }
        }
    }
}

impl Conn {
    /// Moves bytes both ways; returns whether the connection stays open.
    fn on_event(&mut self, readable: bool) -> bool {
        if readable {
            // Point 3: until WouldBlock, since read_tls reads a bounded
            // amount and no new edge would announce the rest.
            loop {
                match self.tls.read_tls(&mut self.sock) {
                    Ok(0) => return false, // the client closed
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                }
                // Point 1: this may advance the handshake and produce no
                // plaintext at all.
                if self.tls.process_new_packets().is_err() {
                    // rustls has written an alert: send it, then close.
                    let _ = self.tls.write_tls(&mut self.sock);
                    return false;
                }
            }
            let mut plain = [0u8; 4096];
            loop {
                match self.tls.reader().read(&mut plain) {
                    Ok(0) => return false, // close_notify
                    Ok(n) => self.request.extend_from_slice(&plain[..n]),
                    Err(_) => break, // WouldBlock: no plaintext (yet)
                }
            }
            // Every complete request head gets the answer; the rest waits.
            while let Some(end) = find(&self.request, b"\r\n\r\n") {
                self.request.drain(..end + 4);
                if self.tls.writer().write_all(RESPONSE).is_err() {
                    return false;
                }
            }
        }
        // Point 2: rustls may have things to send whatever the app did.
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A self-signed certificate for `localhost`, written to `cert_path`, and
/// the rustls configuration that serves it: TLS 1.2 and 1.3, ALPN
/// `http/1.1`.
fn tls_config(cert_path: &str) -> io::Result<rustls::ServerConfig> {
    let other = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(|e| other(&e))?;
    let params = rcgen::CertificateParams::new(vec!["localhost".into()]).map_err(|e| other(&e))?;
    let cert = params.self_signed(&key).map_err(|e| other(&e))?;
    std::fs::write(cert_path, cert.pem())?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| other(&e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| other(&e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
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
