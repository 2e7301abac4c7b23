//! Transport: the one stream type under a server connection, TCP or TLS over it, registered with the poller.
//!
//! The slab holds one type for HTTP and HTTPS alike: the TCP socket, or
//! TLS over it. The loop registers it with the poller (the TCP socket
//! under either kind); the connection sees only a [`Stream`].

use std::fs::File;
use std::io::{self, IoSlice};

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::stream::Stream;
#[cfg(feature = "tls")]
use crate::tls::TlsStream;

/// The stream under a server connection: plain TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Transport {
    /// HTTP: the socket itself.
    Plain(TcpStream),
    /// HTTPS: rustls between the socket and the connection (boxed: its
    /// state is a few hundred bytes, and a plain connection should not pay
    /// for it).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream>),
}

impl Transport {
    fn tcp(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.inner(),
        }
    }
}

/// Dispatches to the stream inside; each arm is one call, inlined.
macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Transport::Plain($s) => $e,
            #[cfg(feature = "tls")]
            Transport::Tls($s) => $e,
        }
    };
}

impl Stream for Transport {
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
    fn holds_input(&self) -> bool {
        each!(self, s => s.holds_input())
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
impl Source for Transport {
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

impl Transport {
    /// Whether the connection is HTTPS.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Transport::Plain(_))
    }

    /// The connection is closing: over TLS the client is told so with
    /// close_notify (RFC 8446 §6.1), as far as the socket takes it now,
    /// unless our last word was said already.
    pub fn close_notify(&mut self) {
        #[cfg(feature = "tls")]
        if let Transport::Tls(tls) = self {
            tls.close_notify();
        }
    }
}
