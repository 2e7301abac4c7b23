//! HTTPS: rustls between the socket and the connection, on the same loop.
//!
//! rustls is sans-IO: it takes the bytes that arrived and hands back the
//! bytes to send, and never touches a socket. So TLS fits a readiness loop
//! as one more [`crate::stream::Stream`]: [`TlsStream`] reads records from
//! the socket and gives the connection plaintext, and encrypts what the
//! connection writes into records it sends. The HTTP session above it does
//! not know whether its bytes were encrypted.
//!
//! This module holds what all TLS connections share: the certificates
//! (chosen by SNI, reloaded on SIGHUP) and the rustls configuration: TLS
//! 1.2 and 1.3 only, ALPN `http/1.1` (or `http/1.0`), resumption by tickets (keys rotated
//! in memory) and a bounded session cache, no 0-RTT, and only the ring
//! provider's suites (AES-GCM and ChaCha20-Poly1305 with ECDHE: no CBC, RC4,
//! 3DES or RSA key exchange). After a TLS 1.3 handshake the records
//! themselves are sealed and opened in `records.rs`, with the keys rustls
//! hands over (its kernel-TLS interface).

mod certs;
#[doc(hidden)]
pub mod hook;
mod records;
mod stream;

use std::io;
use std::rc::Rc;
use std::sync::Arc;

use rustls::server::{ServerConfig, ServerSessionMemoryCache, UnbufferedServerConnection};

use crate::metrics::TlsCounts;
use crate::stream::Stream;
use certs::Certs;
pub use certs::Pair;
pub use stream::TlsStream;

/// TLS 1.2 sessions remembered for resumption (by session id); 1.3 and
/// ticket-capable 1.2 clients resume from tickets and cost nothing here.
const SESSION_CACHE: usize = 1024;

/// What every HTTPS connection shares.
#[derive(Debug)]
pub struct Tls {
    config: Arc<ServerConfig>,
    certs: Arc<Certs>,
    /// Handshakes, counted by each stream as its own ends.
    counts: Rc<TlsCounts>,
}

impl Tls {
    /// Loads every pair (the first is the default) and builds the
    /// configuration; each stream counts its handshake in `counts`. Errors
    /// name the file and what is wrong with it.
    pub fn new(pairs: &[Pair], http2: bool, counts: Rc<TlsCounts>) -> io::Result<Tls> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = Arc::new(Certs::load(pairs, &provider)?);
        let tls_err = |e: rustls::Error| io::Error::other(format!("TLS configuration: {e}"));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_cert_resolver(certs.clone());
        // HTTP/2 first (RFC 9113 §3.2), when it is on. A client that
        // offers only `http/1.0` (`curl --http1.0`) is served HTTP/1.0, as
        // nginx does, rather than refused.
        config.alpn_protocols = vec![b"http/1.1".to_vec(), b"http/1.0".to_vec()];
        if http2 {
            config.alpn_protocols.insert(0, b"h2".to_vec());
        }
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(tls_err)?;
        // One ticket is enough for a client to resume once; each costs an
        // encryption and a record in every full handshake.
        config.send_tls13_tickets = 1;
        config.max_early_data_size = 0;
        // After a TLS 1.3 handshake the stream seals and opens records
        // itself (records.rs): rustls hands it the traffic keys.
        config.enable_secret_extraction = true;
        Ok(Tls {
            config: Arc::new(config),
            certs,
            counts,
        })
    }

    /// The configuration for QUIC (HTTP/3): the same certificates and
    /// tickets, TLS 1.3 alone (QUIC has no other), ALPN `h3`, no 0-RTT.
    pub fn for_quic(&self) -> io::Result<Arc<ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls_err = |e: rustls::Error| io::Error::other(format!("TLS configuration: {e}"));
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_cert_resolver(self.certs.clone());
        config.alpn_protocols = vec![b"h3".to_vec()];
        config.ticketer = self.config.ticketer.clone();
        config.send_tls13_tickets = 1;
        config.max_early_data_size = 0;
        Ok(Arc::new(config))
    }

    /// A TLS stream for a freshly accepted socket.
    /// (Any [`Stream`] can be beneath: the fixture tests put a scripted
    /// socket there.)
    pub fn accept<S: Stream>(&self, io: S) -> io::Result<TlsStream<S>> {
        let conn = UnbufferedServerConnection::new(self.config.clone())
            .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
        Ok(TlsStream::new(io, conn, self.counts.clone()))
    }

    /// The handshakes counted so far.
    pub fn counts(&self) -> &TlsCounts {
        &self.counts
    }

    /// Reads every pair again (SIGHUP): new handshakes get the new
    /// certificates, open connections keep theirs. A pair that fails to
    /// load keeps the old set in place, and the error names the file.
    pub fn reload(&self) -> io::Result<()> {
        self.certs.reload()
    }
}
