//! Lesson 8: QUIC on a readiness loop. HTTP/3 over one UDP socket.
//!
//! ```text
//! cargo run --example lesson8_quic                  # HTTP/3 on UDP 127.0.0.1:8088
//! python3 tests/h3_client.py 127.0.0.1 8088 - 'GET /'    # python3 -m pip install aioquic
//! gtlsclient -q --exit-on-all-streams-close 127.0.0.1 8088 https://localhost:8088/   # apt-get install ngtcp2-client
//! ```
//!
//! (The certificate is made at start for `localhost` and trusted by no
//! one: `-` tells the aioquic client not to check it, and gtlsclient does
//! not by default.)
//!
//! Every lesson so far had a socket per client: the kernel found the
//! connection a packet belonged to, and the loop found the connection by
//! its socket's token. QUIC runs over UDP, in user space: every client's
//! packets arrive on one socket, and what belongs to whom is in each
//! packet's header, as a *connection ID* the server chose. So:
//!
//! 1. **One socket, many connections.** One token, one READABLE event for
//!    all of them. Each datagram goes to quinn-proto's `Endpoint`, which
//!    reads the connection ID and says which connection it is for (or that
//!    it starts a new one). The table of connections is ours, keyed by
//!    quinn's handle, as the slab was keyed by token.
//! 2. **Time is an input.** QUIC does in user space what TCP did in the
//!    kernel: acknowledgments, retransmission, congestion control, idle
//!    timeouts. quinn-proto never reads a clock or sleeps: each
//!    connection says when it next wants the time (`poll_timeout`), the
//!    loop sleeps no longer than the soonest of them, and hands it the
//!    time (`handle_timeout`). As in lesson 5, deadlines drive the poll
//!    timeout; here they are quinn's.
//! 3. **Output is asked for.** Whatever happened (a datagram, a deadline,
//!    an answer written to a stream), the loop then asks each connection
//!    for datagrams to send (`poll_transmit`) until it has none. A
//!    connection never writes to the socket itself: the loop does, so it
//!    could batch them. This lesson sends one `sendto` per datagram: a 1
//!    MiB answer is some 750 of them. The server asks quinn for trains of
//!    32 same-sized datagrams and has the kernel cut them (UDP GSO, one
//!    `sendmsg` for 46 KiB), and sends every connection's trains of a turn
//!    in one `sendmmsg`: a few dozen syscalls a MiB.
//! 4. **HTTP/3 is small.** Each request is a QUIC stream: a HEADERS frame
//!    (its fields QPACK-coded, decoded here with oneloop's `qpack`) and
//!    the end of the stream; the answer is HEADERS and DATA on the same
//!    stream, then its end. Each side also opens a control stream that
//!    starts with SETTINGS.
//!
//! Interest never changes: the socket is always READABLE, and writing
//! never waits on WRITABLE (a full socket buffer drops a datagram, and
//! QUIC sends it again as it would one the network lost).
//!
//! Left to the server: the client's control and QPACK streams read and
//! held to the RFCs, files, flow control as streams take more, Retry under
//! a flood, limits, the drain (`src/quic/`, `src/http3/`).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use oneloop::http3::{frame, qpack};
use quinn_proto::{
    ConnectionHandle, DatagramEvent, Dir, Endpoint, EndpointConfig, Event, ServerConfig,
    StreamEvent, StreamId,
};

const SOCKET: Token = Token(0);

/// One connection: quinn's state machine and the requests being read.
struct Conn {
    quic: quinn_proto::Connection,
    /// Bytes of each request stream, until its end.
    requests: HashMap<StreamId, Vec<u8>>,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lesson8_quic: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|e| io::Error::other(format!("{a}: {e}")))?,
        None => SocketAddr::from(([127, 0, 0, 1], 8088)),
    };
    let mut socket = UdpSocket::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("bind {addr}: {e}; give another address as the first argument"),
        )
    })?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut socket, SOCKET, Interest::READABLE)?;
    let mut endpoint = Endpoint::new(
        Arc::new(EndpointConfig::default()),
        Some(server_config()?),
        false,
        None,
    );
    println!("listening on {} (UDP)", socket.local_addr()?);

    let mut conns: HashMap<ConnectionHandle, Conn> = HashMap::new();
    let mut events = Events::with_capacity(16);
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    loop {
        // Sleep until a datagram comes or the soonest connection wants
        // the time.
        let now = Instant::now();
        let soonest = conns
            .values_mut()
            .filter_map(|c| c.quic.poll_timeout())
            .min();
        let timeout = soonest.map(|t| t.saturating_duration_since(now));
        poll.poll(&mut events, timeout)?;
        let now = Instant::now();

        // Every datagram waiting, each to the connection its ID names.
        if !events.is_empty() {
            loop {
                let (len, from) = match socket.recv_from(&mut buf) {
                    Ok(got) => got,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                out.clear();
                let data = BytesMut::from(&buf[..len]);
                match endpoint.handle(now, from, None, None, data, &mut out) {
                    Some(DatagramEvent::NewConnection(incoming)) => {
                        out.clear();
                        match endpoint.accept(incoming, now, &mut out, None) {
                            Ok((ch, quic)) => {
                                let requests = HashMap::new();
                                conns.insert(ch, Conn { quic, requests });
                            }
                            Err(e) => {
                                if let Some(t) = e.response {
                                    socket.send_to(&out[..t.size], t.destination)?;
                                }
                            }
                        }
                    }
                    Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                        if let Some(c) = conns.get_mut(&ch) {
                            c.quic.handle_event(event);
                        }
                    }
                    // Version negotiation or a stateless reset: quinn
                    // answers without a connection.
                    Some(DatagramEvent::Response(t)) => {
                        socket.send_to(&out[..t.size], t.destination)?;
                    }
                    None => {}
                }
            }
        }

        // Each connection: the time if it asked for it, its events, then
        // everything it has to send.
        let mut gone = Vec::new();
        for (&ch, c) in conns.iter_mut() {
            if c.quic.poll_timeout().is_some_and(|t| t <= now) {
                c.quic.handle_timeout(now);
            }
            loop {
                while let Some(e) = c.quic.poll_endpoint_events() {
                    if let Some(back) = endpoint.handle_event(ch, e) {
                        c.quic.handle_event(back);
                    }
                }
                let Some(event) = c.quic.poll() else {
                    break;
                };
                on_event(c, event);
            }
            loop {
                out.clear();
                let Some(t) = c.quic.poll_transmit(now, 1, &mut out) else {
                    break;
                };
                socket.send_to(&out[..t.size], t.destination)?;
            }
            if c.quic.is_drained() {
                gone.push(ch);
            }
        }
        for ch in gone {
            conns.remove(&ch);
        }
    }
}

/// One event of a connection: open the control stream once connected,
/// take the client's streams, answer each request once it has all come.
fn on_event(c: &mut Conn, event: Event) {
    match event {
        Event::Connected => {
            if let Some(id) = c.quic.streams().open(Dir::Uni) {
                // The stream type, then SETTINGS (a QPACK table of 0).
                let opening = frame::control_stream_opening(16_384);
                let _ = c.quic.send_stream(id).write(&opening);
            }
        }
        Event::Stream(StreamEvent::Opened { dir }) => {
            while let Some(id) = c.quic.streams().accept(dir) {
                read(c, id);
            }
        }
        Event::Stream(StreamEvent::Readable { id }) => read(c, id),
        _ => {}
    }
}

/// What stream `id` has; a request stream that ended is answered. (The
/// client's own unidirectional streams, control and QPACK, are read and
/// passed over.)
fn read(c: &mut Conn, id: StreamId) {
    let mut recv = c.quic.recv_stream(id);
    let Ok(mut chunks) = recv.read(true) else {
        return;
    };
    let bytes = c.requests.entry(id).or_default();
    let mut ended = false;
    loop {
        match chunks.next(usize::MAX) {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk.bytes),
            Ok(None) => {
                ended = true;
                break;
            }
            Err(_) => break,
        }
    }
    let _ = chunks.finalize();
    if ended && id.dir() == Dir::Bi {
        let request = c.requests.remove(&id).unwrap_or_default();
        answer(c, id, &request);
    } else if id.dir() == Dir::Uni {
        c.requests.remove(&id);
    }
}

/// Answers the request whose stream carried `request`: `/` is a greeting,
/// anything else 404.
fn answer(c: &mut Conn, id: StreamId, request: &[u8]) {
    let mut path = Vec::new();
    if let Some(head) = frame::read_head(request)
        && head.kind == frame::kind::HEADERS
        && let Some(block) = request.get(head.size..head.size + head.len as usize)
    {
        let _ = qpack::decode(block, 16_384, &mut Vec::new(), |name, value| {
            if name == b":path" {
                path = value.to_vec();
            }
        });
    }
    let (status, body): (u16, &[u8]) = match &path[..] {
        b"/" => (200, b"Hello over HTTP/3\n"),
        _ => (404, b"Not found.\n"),
    };
    let mut block = Vec::new();
    qpack::begin(&mut block);
    qpack::status(&mut block, status);
    qpack::field(&mut block, b"content-type", b"text/plain");
    qpack::field(
        &mut block,
        b"content-length",
        body.len().to_string().as_bytes(),
    );
    let mut wire = Vec::new();
    frame::write_head(&mut wire, frame::kind::HEADERS, block.len() as u64);
    wire.extend_from_slice(&block);
    frame::write_head(&mut wire, frame::kind::DATA, body.len() as u64);
    wire.extend_from_slice(body);
    // A small answer fits the stream's first window whole.
    let mut send = c.quic.send_stream(id);
    let _ = send.write_chunks(&mut [Bytes::from(wire)]);
    let _ = send.finish();
}

/// QUIC's configuration: a certificate for `localhost` made now, TLS 1.3
/// with ALPN `h3`, and quinn's defaults otherwise.
fn server_config() -> io::Result<Arc<ServerConfig>> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .map_err(|e| io::Error::other(format!("certificate: {e}")))?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .map_err(io::Error::other)?;
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let crypto = quinn_proto::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| io::Error::other(format!("QUIC: {e}")))?;
    Ok(Arc::new(ServerConfig::with_crypto(Arc::new(crypto))))
}
