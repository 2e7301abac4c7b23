//! The loop's HTTP/3 side: the QUIC socket's events, its connections' deadlines, and its part of a drain.
//!
//! HTTP/3's socket is not one of the listeners: a listener is dropped when
//! a drain begins, and QUIC connections finish their requests over the
//! same socket they came in on. So the socket and its [`Quic`] live here,
//! beside the listeners, under a token of their own.

use std::net::SocketAddr;
use std::time::Instant;

use mio::net::UdpSocket;

use super::Server;
use crate::http::session::SessionLoan;
use crate::quic::Quic;

/// The access log's key until QUIC names the connection (it sets each
/// connection's own before its session runs).
const CLIENT: usize = usize::MAX;

/// HTTP/3: its socket, where it is bound, and QUIC's connections.
pub(super) struct Http3 {
    pub(super) socket: UdpSocket,
    pub(super) addr: SocketAddr,
    pub(super) quic: Quic,
}

impl Server {
    /// Runs `f` on HTTP/3's side, if it is served, with the loan every
    /// session needs (the site, the counters and the log; always HTTPS).
    fn with_http3<T>(
        &mut self,
        f: impl FnOnce(&mut Quic, &UdpSocket, &mut SessionLoan<'_>) -> T,
    ) -> Option<T> {
        let h3 = self.http3.as_mut()?;
        let mut loan = SessionLoan {
            site: &mut self.shared.site,
            ops: &mut self.shared.ops,
            client: CLIENT,
            secure: true,
        };
        Some(f(&mut h3.quic, &h3.socket, &mut loan))
    }

    /// HTTP/3's socket is readable.
    pub(super) fn on_http3(&mut self, now: Instant) {
        let below_cap = self.conns.len() + self.http3_open() < self.max_conns;
        let more =
            self.with_http3(|quic, socket, loan| quic.on_readable(socket, now, below_cap, loan));
        if more == Some(true) {
            // A turn's worth read: the rest after everyone else.
            self.http3_again = true;
        }
    }

    /// QUIC connections whose deadline has come.
    pub(super) fn expire_http3(&mut self, now: Instant) {
        self.with_http3(|quic, socket, loan| quic.expire(socket, now, loan));
    }

    /// A drain begins: every HTTP/3 session says GOAWAY.
    pub(super) fn drain_http3(&mut self, now: Instant) {
        self.with_http3(|quic, socket, loan| quic.drain(socket, now, loan));
    }

    /// The soonest QUIC deadline.
    pub(super) fn http3_deadline(&mut self) -> Option<Instant> {
        self.http3.as_mut().and_then(|h3| h3.quic.next_timeout())
    }

    /// Open QUIC connections.
    pub(super) fn http3_open(&self) -> usize {
        self.http3.as_ref().map_or(0, |h3| h3.quic.open())
    }

    /// Where HTTP/3 is served (UDP), if it is.
    pub fn http3_addr(&self) -> Option<SocketAddr> {
        self.http3.as_ref().map(|h3| h3.addr)
    }
}
