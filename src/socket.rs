//! The socket under a server connection: plain TCP, or TLS over TCP, as
//! one type for the slab. The loop registers it with the poller (the TCP
//! socket under either kind) and counts how a TLS handshake ended.

use std::fs::File;
use std::io::{self, IoSlice};

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::metrics::Metrics;
use crate::stream::Stream;
#[cfg(feature = "tls")]
use crate::tls::{Handshake, TlsStream};

/// The stream under a server connection: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Socket {
    /// HTTP: the socket itself.
    Plain(TcpStream),
    /// HTTPS: rustls between the socket and the connection (boxed: its
    /// state is a few hundred bytes, and a plain connection should not pay
    /// for it).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Socket {
    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Socket::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Socket::Tls(tls) => tls.inner(),
        }
    }
}

/// Dispatches to the stream inside; each arm is one call, inlined.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Socket::Plain($s) => $e,
            #[cfg(feature = "tls")]
            Socket::Tls($s) => $e,
        }
    };
}

impl Stream for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => Stream::read(s, buf))
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each!(self, s => Stream::write_vectored(s, bufs))
    }
    fn write_vectored_more(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each!(self, s => s.write_vectored_more(bufs))
    }
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        each!(self, s => s.send_file(file, offset, count))
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        each!(self, s => s.shutdown_write())
    }
    fn holds_output(&self) -> bool {
        each!(self, s => s.holds_output())
    }
    fn send_held(&mut self) -> io::Result<()> {
        each!(self, s => s.send_held())
    }
    fn handshaking(&self) -> bool {
        each!(self, s => s.handshaking())
    }
    fn secure(&self) -> bool {
        each!(self, s => s.secure())
    }
    fn alpn_h2(&self) -> bool {
        each!(self, s => s.alpn_h2())
    }
}

/// The poller watches the TCP socket under either kind.
impl Source for Socket {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp().register(registry, token, interests)
    }
    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.tcp().reregister(registry, token, interests)
    }
    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.tcp().deregister(registry)
    }
}

impl Socket {
    /// Whether the connection is HTTPS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Socket::Plain(_))
    }

    /// Counts a TLS handshake that has just ended, once.
    pub fn count_handshake(&mut self, metrics: &mut Metrics) {
        #[cfg(feature = "tls")]
        if let Socket::Tls(tls) = self {
            match tls.take_handshake() {
                Some(Handshake::Full) => metrics.tls.handshake(false),
                Some(Handshake::Resumed) => metrics.tls.handshake(true),
                Some(Handshake::Failed(reason)) => metrics.tls.failed(reason),
                None => {}
            }
        }
        #[cfg(not(feature = "tls"))]
        let _ = metrics;
    }
}
