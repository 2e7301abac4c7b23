//! Narration for `RUST_LOG=oneloop=trace`: what the loop saw and did.
//!
//! Every wakeup is logged with its events, every connection's change of
//! state in the words of RFC 9112, and the syscall results that steer the
//! loop (a short read means the socket is empty, WouldBlock means wait for an edge, a
//! short write means ask for WRITABLE). Read it beside `src/server/mod.rs`:
//!
//! ```text
//! TRACE wakeup: 1 event: listener 0 (HTTP) readable
//! TRACE connection 0: accepted from 127.0.0.1:57518; its request is read at once
//! TRACE connection 0: awaiting request (RFC 9112 §2.1) -> reading message body (RFC 9112 §6)
//! TRACE connection 0: reading message body (RFC 9112 §6) -> awaiting request (RFC 9112 §2.1)
//! TRACE connection 0: read 86 bytes (short read: socket empty), 486 bytes of answers queued
//! TRACE connection 0: wrote 486 of 486 bytes, all sent
//! TRACE connection 0: idle, kept open (persistence, RFC 9112 §9.3)
//! TRACE connection 0: registered for READABLE (epoll_ctl ADD)
//! TRACE wakeup: 1 event: connection 0 readable hup
//! TRACE connection 0: read: EOF (the client closed its side)
//! TRACE connection 0: closed (close)
//! ```
//!
//! An HTTP/2 connection narrates its frames, both ways, and what its
//! streams wait for:
//!
//! ```text
//! TRACE connection 0: HTTP/2
//! TRACE connection 0: HTTP/2 in: SETTINGS, 2 values
//! TRACE connection 0: HTTP/2 in: HEADERS stream 13, 41 bytes of block END_STREAM END_HEADERS
//! TRACE connection 0: HTTP/2 out: HEADERS stream 13 (200), DATA to follow as windows allow
//! TRACE HTTP/2: 1 stream(s) owe DATA; connection window 0, 65772 bytes queued: waiting for WINDOW_UPDATE (§6.9)
//! TRACE connection 0: HTTP/2 in: WINDOW_UPDATE stream 0 +32768
//! ```
//!
//! HTTP/3 narrates QUIC's datagrams by the syscall, its connections by
//! quinn's handle, and each request on its stream:
//!
//! ```text
//! TRACE wakeup: 1 event: HTTP/3 readable
//! TRACE HTTP/3: 1 datagram in one recvmmsg
//! TRACE QUIC connection 0: an Initial from 127.0.0.1:38253 taken, the handshake begins
//! TRACE QUIC connection 0: 1 datagram queued
//! TRACE HTTP/3: 1 send (1200 bytes) in 1 syscall
//! TRACE QUIC connection 0: handshake done (ALPN h3), round trip 2.72ms; the control stream opens
//! TRACE QUIC connection 0: the client opened stream 0 (a request)
//! TRACE HTTP/3 stream 0: GET /hello.txt HTTP/3.0 -> HEADERS (200), 6 bytes of DATA to follow as flow control allows
//! TRACE QUIC connection 0: closed and drained; 6 packets sent, 0 lost, round trip 2.57ms
//! ```
//!
//! Off, it costs nothing that matters: `log::trace!` compares the level
//! with a global maximum before it formats anything, so the arguments here
//! (walking the events, say) are never evaluated. The types below only
//! exist to be formatted lazily inside such a call.

use std::fmt;

use mio::event::Event;
use mio::{Events, Token};

/// How the loop names a token, for the narration.
pub trait NameToken {
    /// Writes the token's name ("connection 3", "listener 0 (HTTP)").
    fn name(&self, token: Token, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// The events of one wakeup, formatted only when trace is on.
pub struct Wakeup<'a, N> {
    /// The events `poll` returned.
    pub events: &'a Events,
    /// Names their tokens.
    pub names: &'a N,
}

impl<N: NameToken> fmt::Display for Wakeup<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.events.iter().count();
        if count == 0 {
            return f.write_str("wakeup: timeout (a deadline or a retry is due)");
        }
        write!(
            f,
            "wakeup: {count} event{}",
            if count == 1 { "" } else { "s" }
        )?;
        for (i, event) in self.events.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { ", " })?;
            self.names.name(event.token(), f)?;
            readiness(event, f)?;
        }
        Ok(())
    }
}

/// " readable writable hup error", as the event says.
fn readiness(event: &Event, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (on, word) in [
        (event.is_readable(), " readable"),
        (event.is_writable(), " writable"),
        (event.is_read_closed(), " hup"),
        (event.is_error(), " error"),
    ] {
        if on {
            f.write_str(word)?;
        }
    }
    Ok(())
}

/// `1 connection`, `2 connections`: log lines say what they count in
/// words that agree with the number.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(super::plural(0, "reply", "replies"), "0 replies");
        assert_eq!(super::plural(1, "reply", "replies"), "1 reply");
        assert_eq!(
            super::plural(2, "connection", "connections"),
            "2 connections"
        );
    }
}
