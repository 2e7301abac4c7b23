//! Tokens: whose event it is, read in one place (signals, the waker, listeners counted down, connections' slab keys).

use mio::Token;

use crate::listeners::Listener;
use crate::trace::NameToken;

/// Signals (SIGINT, SIGTERM, SIGHUP) arrive on this token.
pub(super) const SIGNALS: Token = Token(usize::MAX);
/// [`Handle::shutdown`] wakes the loop on this token.
pub(super) const WAKER: Token = Token(usize::MAX - 1);
/// HTTP/3's socket (not a listener: it outlives them in a drain).
pub(super) const HTTP3: Token = Token(usize::MAX - 2);
/// Listener `i` has token `LISTENER_BASE - i`; connections use their slab
/// key, which stays far below.
const LISTENER_BASE: usize = usize::MAX - 3;

/// Whose event it is: what a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Signals,
    Waker,
    /// HTTP/3's socket.
    Http3,
    /// Listener `i` (of `listeners` the server was bound with).
    Listener(usize),
    /// The connection with this slab key.
    Conn(usize),
}

/// The one place tokens are read, with `listeners` listeners open.
/// Listeners are numbered down from [`LISTENER_BASE`], so every token
/// below the last of them is a slab key. (Once shutdown has dropped the
/// listeners, a stale event of one names a key far above any in the slab,
/// and finds no connection.)
pub(super) fn owner(token: Token, listeners: usize) -> Owner {
    match token {
        SIGNALS => Owner::Signals,
        WAKER => Owner::Waker,
        HTTP3 => Owner::Http3,
        Token(t) if t > LISTENER_BASE - listeners => Owner::Listener(LISTENER_BASE - t),
        Token(key) => Owner::Conn(key),
    }
}

/// The token of listener `i`.
pub(super) fn listener_token(i: usize) -> Token {
    Token(LISTENER_BASE - i)
}

/// Names tokens for the trace narration.
pub(super) struct Tokens<'a>(pub(super) &'a [Listener]);

impl NameToken for Tokens<'_> {
    fn name(&self, token: Token, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match owner(token, self.0.len()) {
            Owner::Signals => f.write_str("signals"),
            Owner::Waker => f.write_str("waker"),
            Owner::Http3 => f.write_str("HTTP/3"),
            Owner::Listener(i) => {
                let kind = self.0.get(i).map_or("closed", Listener::service);
                write!(f, "listener {i} ({kind})")
            }
            Owner::Conn(key) => write!(f, "connection {key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_signals_the_waker_each_listener_and_every_key_below() {
        assert_eq!(owner(SIGNALS, 3), Owner::Signals);
        assert_eq!(owner(WAKER, 3), Owner::Waker);
        assert_eq!(owner(HTTP3, 3), Owner::Http3);
        for i in 0..3 {
            assert_eq!(owner(listener_token(i), 3), Owner::Listener(i));
        }
        // The first token below the listeners, and the keys a slab hands
        // out, are connections.
        assert_eq!(owner(listener_token(3), 3), Owner::Conn(LISTENER_BASE - 3));
        assert_eq!(owner(Token(0), 3), Owner::Conn(0));
        assert_eq!(owner(Token(1_000_000), 3), Owner::Conn(1_000_000));
        // Listeners dropped (shutdown): their tokens find no listener.
        assert_eq!(owner(listener_token(0), 0), Owner::Conn(LISTENER_BASE));
    }
}
