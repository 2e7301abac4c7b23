//! HTTP/3's connections: one UDP socket, quinn-proto's QUIC state machines fed datagrams and the time, each with its HTTP/3 session.
//!
//! QUIC runs in user space over one UDP socket: every client's packets
//! arrive on the same descriptor, and the connection each belongs to is
//! found by the connection ID in its header, not by the kernel. quinn-proto
//! does that and the rest of QUIC (handshake, loss recovery, congestion
//! control, flow control) without touching a socket or a clock: like
//! rustls under HTTPS, it is handed the bytes that arrived and the time,
//! and hands back datagrams to send and when it next wants the time. So
//! HTTP/3 sits on the same loop as everything else, on one thread:
//!
//! - the socket is readable: each datagram goes to quinn's [`Endpoint`],
//!   which names the connection it is for (or a new one, or answers it
//!   itself: version negotiation, a retry, a stateless reset);
//! - each connection touched is then driven ([`Quic::drive`]): its events
//!   handed to the HTTP/3 session (streams opened, readable, writable),
//!   what it has to send sent, its next deadline noted;
//! - the loop wakes for the soonest deadline ([`Quic::next_timeout`]), as
//!   for TCP connections' deadlines.
//!
//! New connections are bounded (`--max-conns` counts them beside TCP's),
//! and when many handshakes are in flight at once, an Initial that has
//! not proved its address is sent a Retry first (RFC 9000 §8.1): a flood
//! of spoofed Initials then costs one small datagram each and no state.

mod config;
mod io;
mod watch;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use mio::net::UdpSocket;
use quinn_proto::{
    ConnectionHandle, DatagramEvent, Dir, Endpoint, Event, StreamEvent, StreamId, VarInt,
};

use crate::http::session::SessionLoan;
use crate::http3::frame::code;
use crate::http3::session::{Gone, H3Session, Streams};
use crate::metrics::H3Counts;
use crate::trace::plural;
pub use config::quic_configs;

/// Handshakes in flight above which an Initial without a token is sent a
/// Retry before any state is kept for it.
const RETRY_ABOVE: usize = 64;

/// Batches of datagrams read per turn of the loop (each up to
/// [`io::SLOTS`]), so that other sockets get theirs.
const BATCHES_PER_TURN: usize = 8;

/// One QUIC connection and its HTTP/3 session.
struct QuicConn {
    conn: quinn_proto::Connection,
    session: H3Session,
    /// The deadline last handed to the heap.
    timeout: Option<Instant>,
    /// Counted in `Quic::handshaking` (until its handshake is done).
    handshaking: bool,
    /// How much of quinn's counts the metrics hold.
    folded: watch::Folded,
}

/// The HTTP/3 side of the server: the UDP socket, quinn's endpoint, the
/// connections by quinn's handle, and their deadlines.
pub struct Quic {
    endpoint: Endpoint,
    /// By `ConnectionHandle`'s index (quinn keeps them dense). Boxed: a
    /// connection is 6 KiB, which a growing vector would move and leave
    /// room for twice over.
    conns: Vec<Option<Box<QuicConn>>>,
    /// How many of `conns` are there, and how many of those are still in
    /// their handshake (kept as they change, not counted per Initial).
    open: usize,
    handshaking: usize,
    /// Deadlines: (when, handle); stale ones are skipped when they come up.
    deadlines: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Datagrams in by the batch; out by the train, into `send` first.
    inbox: io::Inbox,
    outbox: io::Outbox,
    send: Vec<u8>,
    /// Scratch kept between wakeups: the connections a batch touched, and
    /// a stream's chunks as quinn hands them over.
    touched: Vec<usize>,
    chunks: Vec<Bytes>,
    /// The largest request field section, decoded.
    limit: usize,
    /// A drain began: sessions said GOAWAY.
    draining: bool,
    /// The access log's keys for QUIC connections start here (above every
    /// TCP connection's slab key): this plus quinn's handle.
    client_base: usize,
}

impl Quic {
    /// HTTP/3 with quinn's configurations; request field sections decode
    /// to `limit` bytes at most. Its socket is the listener's, lent to each
    /// call that reads or sends.
    pub fn new(
        endpoint_config: Arc<quinn_proto::EndpointConfig>,
        server_config: Arc<quinn_proto::ServerConfig>,
        limit: usize,
        client_base: usize,
    ) -> Quic {
        let endpoint = Endpoint::new(endpoint_config, Some(server_config), true, None);
        Quic {
            endpoint,
            conns: Vec::new(),
            open: 0,
            handshaking: 0,
            deadlines: BinaryHeap::new(),
            inbox: io::Inbox::default(),
            outbox: io::Outbox::default(),
            send: Vec::with_capacity(io::TRAIN * usize::from(io::PAYLOAD_MAX)),
            touched: Vec::new(),
            chunks: Vec::new(),
            limit,
            draining: false,
            client_base,
        }
    }

    /// Open connections.
    pub fn open(&self) -> usize {
        self.open
    }

    /// Once a second: idle sessions give back their requests' room, and
    /// quinn's counts and round trips go to the metrics.
    pub fn every_second(&mut self, h3: &mut H3Counts) {
        let mut rtts = watch::RoundTrips::default();
        for c in self.conns.iter_mut().flatten() {
            c.session.give_back();
            let rtt = c.folded.fold(&c.conn, h3);
            if !c.handshaking {
                rtts.add(rtt);
            }
        }
        h3.rtt_micros = rtts.mean_micros();
    }

    /// The socket is readable: datagrams in, each connection they touched
    /// driven. `below_cap` says whether a new connection may be taken.
    /// Returns `true` if a turn's worth was read and more may wait.
    pub fn on_readable(
        &mut self,
        socket: &UdpSocket,
        now: Instant,
        below_cap: bool,
        loan: &mut SessionLoan<'_>,
    ) -> bool {
        let fd = socket.as_raw_fd();
        let mut touched = std::mem::take(&mut self.touched);
        touched.clear();
        for _ in 0..BATCHES_PER_TURN {
            let n = match self.inbox.recv(fd) {
                Ok(n) => n,
                Err(e) => {
                    log::warn!("HTTP/3 recvmmsg: {e}");
                    0
                }
            };
            if n == 0 {
                return self.drive_all(socket, touched, now, loan, false);
            }
            log::trace!(
                "HTTP/3: {} in one recvmmsg",
                plural(n as u64, "datagram", "datagrams")
            );
            loan.ops.metrics.h3.recv_calls += 1;
            for i in 0..n {
                let Some((datagram, from)) = self.inbox.get(i) else {
                    continue;
                };
                loan.ops.metrics.h3.datagrams_in += 1;
                let data = BytesMut::from(datagram);
                self.send.clear();
                let event = self
                    .endpoint
                    .handle(now, from, None, None, data, &mut self.send);
                match event {
                    Some(DatagramEvent::NewConnection(incoming)) => {
                        if let Some(ch) = self.take(socket, incoming, now, below_cap, loan) {
                            touched.push(ch);
                        }
                    }
                    Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                        if let Some(Some(c)) = self.conns.get_mut(ch.0) {
                            c.conn.handle_event(event);
                            if !touched.contains(&ch.0) {
                                touched.push(ch.0);
                            }
                        }
                    }
                    Some(DatagramEvent::Response(transmit)) => {
                        loan.ops.metrics.h3.send_calls +=
                            self.outbox.queue(fd, &transmit, &self.send);
                        loan.ops.metrics.h3.datagrams_out += 1;
                    }
                    None => {}
                }
            }
            if n < io::SLOTS {
                return self.drive_all(socket, touched, now, loan, false);
            }
        }
        self.drive_all(socket, touched, now, loan, true)
    }

    /// A new connection's first datagram: refused at the cap, sent a Retry
    /// when many handshakes are in flight and its address is unproven,
    /// taken otherwise.
    fn take(
        &mut self,
        socket: &UdpSocket,
        incoming: quinn_proto::Incoming,
        now: Instant,
        below_cap: bool,
        loan: &mut SessionLoan<'_>,
    ) -> Option<usize> {
        self.send.clear();
        let from = incoming.remote_address();
        if !below_cap || self.draining {
            log::trace!("QUIC: an Initial from {from} refused (at --max-conns, or draining)");
            loan.ops.metrics.h3.refused += 1;
            let transmit = self.endpoint.refuse(incoming, &mut self.send);
            loan.ops.metrics.h3.send_calls +=
                self.outbox.queue(socket.as_raw_fd(), &transmit, &self.send);
            return None;
        }
        if self.handshaking >= RETRY_ABOVE
            && !incoming.remote_address_validated()
            && incoming.may_retry()
        {
            log::trace!(
                "QUIC: an Initial from {from} sent a Retry: its address is not proven and {} are in flight (RFC 9000 §8.1)",
                self.handshaking
            );
            loan.ops.metrics.h3.retries += 1;
            match self.endpoint.retry(incoming, &mut self.send) {
                Ok(transmit) => {
                    loan.ops.metrics.h3.send_calls +=
                        self.outbox.queue(socket.as_raw_fd(), &transmit, &self.send);
                }
                Err(e) => self.endpoint.ignore(e.into_incoming()),
            }
            return None;
        }
        match self.endpoint.accept(incoming, now, &mut self.send, None) {
            Ok((ch, conn)) => {
                loan.ops.metrics.h3.connections += 1;
                if self.conns.len() <= ch.0 {
                    self.conns.resize_with(ch.0 + 1, || None);
                }
                loan.ops.metrics.h3.open += 1;
                let peer = conn.remote_address().ip();
                loan.ops.connected(self.client_base + ch.0, peer);
                log::trace!(
                    "QUIC connection {}: an Initial from {from} taken, the handshake begins",
                    ch.0
                );
                self.conns[ch.0] = Some(Box::new(QuicConn {
                    conn,
                    session: H3Session::new(self.limit),
                    timeout: None,
                    handshaking: true,
                    folded: watch::Folded::default(),
                }));
                self.open += 1;
                self.handshaking += 1;
                Some(ch.0)
            }
            Err(e) => {
                log::debug!("HTTP/3: a connection not taken: {}", e.cause);
                if let Some(transmit) = e.response {
                    loan.ops.metrics.h3.send_calls +=
                        self.outbox.queue(socket.as_raw_fd(), &transmit, &self.send);
                }
                None
            }
        }
    }

    fn drive_all(
        &mut self,
        socket: &UdpSocket,
        touched: Vec<usize>,
        now: Instant,
        loan: &mut SessionLoan<'_>,
        more: bool,
    ) -> bool {
        for &ch in &touched {
            self.drive(socket, ch, now, loan);
        }
        self.touched = touched;
        // What every connection had to send this turn, in one go.
        loan.ops.metrics.h3.send_calls += self.outbox.flush(socket.as_raw_fd());
        more
    }

    /// The soonest deadline of any connection.
    pub fn next_timeout(&mut self) -> Option<Instant> {
        // Stale entries (a connection's deadline moved, or it closed) are
        // dropped as they reach the top.
        while let Some(&Reverse((at, ch))) = self.deadlines.peek() {
            match self.conns.get(ch) {
                Some(Some(c)) if c.timeout == Some(at) => return Some(at),
                _ => {
                    self.deadlines.pop();
                }
            }
        }
        None
    }

    /// Every connection whose deadline has come is told the time, and
    /// driven.
    pub fn expire(&mut self, socket: &UdpSocket, now: Instant, loan: &mut SessionLoan<'_>) {
        // Each connection at most twice a wakeup, whatever quinn asks next.
        let mut budget = 2 * self.open + 16;
        while let Some(at) = self.next_timeout() {
            if budget == 0 || at > now {
                break;
            }
            budget -= 1;
            let Some(Reverse((_, ch))) = self.deadlines.pop() else {
                break;
            };
            if let Some(Some(c)) = self.conns.get_mut(ch) {
                log::trace!(
                    "QUIC connection {ch}: its deadline came (an ACK delay, a loss timer, pacing or the idle timeout)"
                );
                c.timeout = None;
                c.conn.handle_timeout(now);
            }
            self.drive(socket, ch, now, loan);
        }
        loan.ops.metrics.h3.send_calls += self.outbox.flush(socket.as_raw_fd());
    }

    /// Shutdown: each session says GOAWAY, and each connection closes once
    /// the requests it took are answered.
    pub fn drain(&mut self, socket: &UdpSocket, now: Instant, loan: &mut SessionLoan<'_>) {
        self.draining = true;
        for ch in 0..self.conns.len() {
            if let Some(Some(c)) = self.conns.get_mut(ch) {
                let mut streams = Quinn {
                    conn: &mut c.conn,
                    now,
                };
                c.session.drain(&mut streams);
            }
            self.drive(socket, ch, now, loan);
        }
        loan.ops.metrics.h3.send_calls += self.outbox.flush(socket.as_raw_fd());
    }

    /// Connection `ch` after anything happened to it: its events to the
    /// session, its datagrams out, its deadline noted; forgotten once
    /// quinn is done with it.
    fn drive(&mut self, socket: &UdpSocket, ch: usize, now: Instant, loan: &mut SessionLoan<'_>) {
        let Some(Some(c)) = self.conns.get_mut(ch) else {
            return;
        };
        loan.client = self.client_base + ch;
        loop {
            // Events for the endpoint (connection IDs issued and retired,
            // the connection drained), and what the endpoint answers.
            while let Some(event) = c.conn.poll_endpoint_events() {
                if let Some(back) = self.endpoint.handle_event(ConnectionHandle(ch), event) {
                    c.conn.handle_event(back);
                }
            }
            let Some(event) = c.conn.poll() else {
                break;
            };
            on_event(c, ch, event, now, loan, &mut self.chunks);
        }
        // An answer is logged whole once handed to its stream: QUIC
        // carries it from there, sending again what is lost, and a stream
        // cut short says so to the client with its own reset.
        if let Some(log) = loan.ops.access_log.as_mut() {
            log.settle(loan.client, u64::MAX, false);
        }
        if self.draining && !c.session.is_busy() && !c.conn.is_closed() {
            c.conn
                .close(now, VarInt::from_u32(code::NO_ERROR as u32), Bytes::new());
        }
        // Datagrams out, a train at a time.
        let mut queued = 0;
        loop {
            self.send.clear();
            let train = self.outbox.train();
            let Some(transmit) = c.conn.poll_transmit(now, train, &mut self.send) else {
                break;
            };
            loan.ops.metrics.h3.send_calls +=
                self.outbox.queue(socket.as_raw_fd(), &transmit, &self.send);
            let datagrams = transmit
                .segment_size
                .map_or(1, |seg| transmit.size.div_ceil(seg)) as u64;
            loan.ops.metrics.h3.datagrams_out += datagrams;
            queued += datagrams;
        }
        if queued > 0 {
            log::trace!(
                "QUIC connection {ch}: {} queued",
                plural(queued, "datagram", "datagrams")
            );
        }
        while let Some(event) = c.conn.poll_endpoint_events() {
            if let Some(back) = self.endpoint.handle_event(ConnectionHandle(ch), event) {
                c.conn.handle_event(back);
            }
        }
        if c.handshaking && (!c.conn.is_handshaking() || c.conn.is_drained()) {
            c.handshaking = false;
            self.handshaking -= 1;
        }
        if c.conn.is_drained() {
            let rtt = c.folded.fold(&c.conn, &mut loan.ops.metrics.h3);
            let (sent, lost) = c.folded.counts();
            log::trace!(
                "QUIC connection {ch}: closed and drained; {sent} packets sent, {lost} lost, round trip {rtt:?}"
            );
            self.conns[ch] = None;
            self.open -= 1;
            loan.ops.metrics.h3.open -= 1;
            return;
        }
        let timeout = c.conn.poll_timeout();
        if timeout != c.timeout {
            c.timeout = timeout;
            if let Some(at) = timeout {
                self.deadlines.push(Reverse((at, ch)));
            }
        }
    }
}

/// One of a connection's events, handed on to its session.
fn on_event(
    c: &mut QuicConn,
    ch: usize,
    event: Event,
    now: Instant,
    loan: &mut SessionLoan<'_>,
    chunks: &mut Vec<Bytes>,
) {
    match event {
        Event::Connected => {
            log::trace!(
                "QUIC connection {ch}: handshake done (ALPN h3), round trip {:?}; the control stream opens",
                c.conn.rtt()
            );
            // The handshake is done: the control stream opens.
            match c.conn.streams().open(Dir::Uni) {
                Some(id) => {
                    let mut streams = Quinn {
                        conn: &mut c.conn,
                        now,
                    };
                    c.session.start(id.into(), &mut streams);
                }
                None => c.conn.close(
                    now,
                    VarInt::from_u32(code::STREAM_CREATION_ERROR as u32),
                    Bytes::from_static(b"no unidirectional stream allowed"),
                ),
            }
        }
        Event::ConnectionLost { reason } => {
            log::debug!("QUIC connection {ch}: closing: {reason}")
        }
        Event::Stream(StreamEvent::Opened { dir }) => {
            while let Some(id) = c.conn.streams().accept(dir) {
                log::trace!(
                    "QUIC connection {ch}: the client opened stream {} ({})",
                    u64::from(id),
                    match dir {
                        Dir::Bi => "a request",
                        Dir::Uni => "unidirectional",
                    }
                );
                let mut streams = Quinn {
                    conn: &mut c.conn,
                    now,
                };
                c.session.on_open(id.into(), &mut streams);
                read(c, id, now, loan, chunks);
            }
        }
        Event::Stream(StreamEvent::Readable { id }) => read(c, id, now, loan, chunks),
        Event::Stream(StreamEvent::Writable { id }) => {
            let mut streams = Quinn {
                conn: &mut c.conn,
                now,
            };
            c.session.on_writable(id.into(), &mut streams);
        }
        Event::Stream(StreamEvent::Stopped { id, .. }) => {
            let mut streams = Quinn {
                conn: &mut c.conn,
                now,
            };
            c.session.on_gone(id.into(), &mut streams);
        }
        Event::Stream(StreamEvent::Finished { .. } | StreamEvent::Available { .. })
        | Event::HandshakeDataReady
        | Event::DatagramReceived
        | Event::DatagramsUnblocked => {}
    }
}

/// Everything stream `id` has for the session now, and its end.
fn read(
    c: &mut QuicConn,
    id: StreamId,
    now: Instant,
    loan: &mut SessionLoan<'_>,
    got: &mut Vec<Bytes>,
) {
    got.clear();
    let mut fin = false;
    let mut reset = false;
    {
        let mut recv = c.conn.recv_stream(id);
        let Ok(mut chunks) = recv.read(true) else {
            return;
        };
        loop {
            match chunks.next(usize::MAX) {
                Ok(Some(chunk)) => got.push(chunk.bytes),
                Ok(None) => {
                    fin = true;
                    break;
                }
                Err(quinn_proto::ReadError::Blocked) => break,
                Err(quinn_proto::ReadError::Reset(_)) => {
                    reset = true;
                    break;
                }
            }
        }
        let _ = chunks.finalize();
    }
    let mut streams = Quinn {
        conn: &mut c.conn,
        now,
    };
    let id = u64::from(id);
    if reset {
        c.session.on_gone(id, &mut streams);
        return;
    }
    let last = got.len();
    for (i, bytes) in got.iter().enumerate() {
        c.session
            .on_data(id, bytes, fin && i + 1 == last, loan, &mut streams);
    }
    if fin && last == 0 {
        c.session.on_data(id, &[], true, loan, &mut streams);
    }
    // The chunks go back to quinn's buffers now, not at the next read.
    got.clear();
}

/// quinn's connection as the session's [`Streams`].
struct Quinn<'a> {
    conn: &'a mut quinn_proto::Connection,
    now: Instant,
}

fn stream_id(id: u64) -> Option<StreamId> {
    VarInt::from_u64(id).ok().map(StreamId::from)
}

fn varint(code: u64) -> VarInt {
    VarInt::from_u64(code).unwrap_or(VarInt::from_u32(code::INTERNAL_ERROR as u32))
}

impl Streams for Quinn<'_> {
    fn write(&mut self, id: u64, data: &mut [Bytes]) -> Result<(), Gone> {
        let id = stream_id(id).ok_or(Gone)?;
        // Until all is taken or quinn says Blocked: a write that takes
        // part returns Ok, and only a Blocked one has quinn tell the
        // stream when it is writable again.
        while data.iter().any(|b| !b.is_empty()) {
            let at = data.iter().position(|b| !b.is_empty()).unwrap_or(0);
            match self.conn.send_stream(id).write_chunks(&mut data[at..]) {
                Ok(_) => {}
                Err(quinn_proto::WriteError::Blocked) => break,
                Err(_) => return Err(Gone),
            }
        }
        Ok(())
    }

    fn finish(&mut self, id: u64) {
        if let Some(id) = stream_id(id) {
            let _ = self.conn.send_stream(id).finish();
        }
    }

    fn reset(&mut self, id: u64, code: u64) {
        if let Some(id) = stream_id(id) {
            let _ = self.conn.send_stream(id).reset(varint(code));
        }
    }

    fn stop(&mut self, id: u64, code: u64) {
        if let Some(id) = stream_id(id) {
            let _ = self.conn.recv_stream(id).stop(varint(code));
        }
    }

    fn close(&mut self, code: u64, reason: &'static str) {
        self.conn.close(
            self.now,
            varint(code),
            Bytes::from_static(reason.as_bytes()),
        );
    }
}
