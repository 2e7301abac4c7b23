//! QUIC's settings: rustls's configuration made QUIC's, and transport limits sized for a small host.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use quinn_proto::crypto::rustls::QuicServerConfig;
use quinn_proto::{
    AckFrequencyConfig, EndpointConfig, IdleTimeout, ServerConfig, TransportConfig, VarInt,
};

/// Requests a connection may have open at once; a client waits for room
/// beyond them (QUIC's stream limit). quinn keeps a table entry for each
/// stream a peer may open, from the start: 1,000 idle connections held
/// 28.3 KiB each at 100, 25.7 at 32. But at 32 the limit is raised
/// (MAX_STREAMS) so often that a busy connection sends 17% more datagrams
/// a request (h3-ka, 10 requests in flight: 0.30 against 0.256), which
/// the client pays for too: 100, as for HTTP/2.
const STREAMS: u32 = 100;

/// What a request stream may send before it is read: a request's head.
const STREAM_WINDOW: u32 = 64 * 1024;

/// What a connection may send before it is read, all streams together.
const CONNECTION_WINDOW: u32 = 256 * 1024;

/// Bytes of answers a connection keeps unacknowledged (quinn holds them
/// until the peer acknowledges): 100 Mbit/s over 80 ms, and a thousand
/// downloading connections within a gigabyte.
const SEND_WINDOW: u64 = 1024 * 1024;

/// Packets a client that knows the ACK frequency extension (draft-ietf-
/// quic-ack-frequency; quinn does, aioquic and Chromium do not) is asked
/// to take before it must acknowledge, instead of QUIC's two (RFC 9000
/// §13.2.2). A packet out of order is still acknowledged at once, so a
/// loss is seen as soon as before, and a connection that goes quiet gets
/// its acknowledgement after the client's own ACK delay. Side by side
/// against gtlsserver (h3-ka, 2 rounds, three pairs): 0.88-0.89x its
/// requests a second at 2.20-2.46 µs a request without, 0.97-1.03x at
/// 2.03-2.11 with; the client sends fewer datagrams (0.12 to 0.08-0.09
/// syscalls a request on the server), and h3load, the bound, answers
/// more. 1 MiB downloads did not move.
const ACK_AFTER: u32 = 10;

/// quinn's endpoint and server configurations for HTTP/3 over `tls` (the
/// HTTPS certificates, ALPN `h3`, TLS 1.3 only); connections idle longer
/// than `idle` are closed.
pub fn quic_configs(
    tls: Arc<rustls::ServerConfig>,
    idle: Duration,
) -> io::Result<(Arc<EndpointConfig>, Arc<ServerConfig>)> {
    let crypto = QuicServerConfig::try_from(tls)
        .map_err(|e| io::Error::other(format!("QUIC's TLS configuration: {e}")))?;
    let mut transport = TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(STREAMS.into())
        // The client's control, QPACK encoder and decoder streams, and a
        // few it may open to grease (RFC 9114 §6.2.3).
        .max_concurrent_uni_streams(8u32.into())
        .max_idle_timeout(IdleTimeout::try_from(idle).ok())
        .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
        .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
        .send_window(SEND_WINDOW)
        // No unreliable datagrams (RFC 9221): nothing here would read them.
        .datagram_receive_buffer_size(None);
    let mut acks = AckFrequencyConfig::default();
    acks.ack_eliciting_threshold(VarInt::from_u32(ACK_AFTER - 1));
    transport.ack_frequency_config(Some(acks));
    let mut server = ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(Arc::new(transport));
    let mut endpoint = EndpointConfig::default();
    // Peers send datagrams no larger than a receive slot holds.
    endpoint
        .max_udp_payload_size(super::io::PAYLOAD_MAX)
        .map_err(|e| io::Error::other(format!("QUIC's endpoint configuration: {e}")))?;
    Ok((Arc::new(endpoint), Arc::new(server)))
}

// A stream's window within the connection's, and what is kept unacknowledged
// at least what one connection may be sent at once.
const _: () = assert!(STREAM_WINDOW <= CONNECTION_WINDOW);
const _: () = assert!(SEND_WINDOW >= CONNECTION_WINDOW as u64);
