//! Which protocol a connection speaks: chosen by ALPN or by its first bytes, then driven as a Session.
//!
//! A connection does not know HTTP/1.x from HTTP/2 but through this enum.
//! It starts [`Protocol::Choosing`]; the first input decides (RFC 9113
//! §3.2 and §3.3): HTTP/2 if TLS negotiated `h2` by ALPN or the bytes are
//! its preface (prior knowledge), HTTP/1.x otherwise. From then on every
//! call goes to the chosen [`Session`], one `match` per call and no
//! dynamic dispatch: the two sessions are the trait's only implementations,
//! and the arms inline.
//!
//! An HTTP/1.x connection's state goes back to the pool between requests,
//! so each request chooses again: a request that starts with the HTTP/2
//! preface switches even then (the client asked for it in so many words).

use crate::http::session::{Session, SessionLoan};
use crate::http1::session::{H1Session, H1State};
use crate::http2::frame::PREFACE;
use crate::http2::session::H2Session;
use crate::out::OutQueue;

/// The protocol on a connection, each state with its own session.
#[derive(Debug)]
pub enum Protocol {
    /// No byte has come in since the state was lent. `draining`: a
    /// shutdown came first, and the session chosen is told at once.
    Choosing { draining: bool },
    /// HTTP/1.0 or HTTP/1.1 (RFC 9112).
    H1(H1Session),
    /// HTTP/2 (RFC 9113); boxed, since its session (HPACK tables, streams)
    /// is ten times an HTTP/1.x one.
    H2(Box<H2Session>),
    /// The client closed its side: nothing more is read or answered.
    Ended,
}

impl Default for Protocol {
    fn default() -> Protocol {
        Protocol::Choosing { draining: false }
    }
}

/// Calls the chosen session, or answers `$none` before one is chosen and
/// after the end.
macro_rules! chosen {
    ($self:ident, $s:ident => $e:expr, $none:expr) => {
        match $self {
            Protocol::H1($s) => $e,
            Protocol::H2($s) => $e,
            Protocol::Choosing { .. } | Protocol::Ended => $none,
        }
    };
}

impl Protocol {
    /// Hands input to the session, choosing it with the first bytes.
    /// `alpn_h2`: TLS negotiated `h2`. Returns the bytes used.
    pub fn on_input(
        &mut self,
        input: &[u8],
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
        alpn_h2: bool,
    ) -> usize {
        if let Protocol::Choosing { draining } = *self {
            // Every HTTP/1.x request chooses again: no method starts with
            // the preface's first byte but PRI's, so one compare decides.
            let h2 = loan.site.http2 && (alpn_h2 || input.first() == Some(&PREFACE[0]));
            *self = if h2 {
                let n = input.len().min(PREFACE.len());
                if !alpn_h2 && input[..n] != PREFACE[..n] {
                    Protocol::H1(H1Session::default()) // `PUT`, `PATCH`, ...
                } else if !alpn_h2 && n < PREFACE.len() {
                    return 0; // a beginning of the preface: wait for the rest
                } else {
                    Self::h2(loan.client, out)
                }
            } else {
                Protocol::H1(H1Session::default())
            };
            if draining {
                self.drain(out);
            }
        }
        chosen!(self, s => s.on_input(input, loan, out), input.len())
    }

    /// HTTP/2 is chosen: its session sends its SETTINGS first (§3.4).
    #[inline(never)]
    fn h2(client: usize, out: &mut OutQueue) -> Protocol {
        log::trace!("connection {client}: HTTP/2");
        Protocol::H2(Box::new(H2Session::new(out)))
    }

    /// See [`Session::on_writable`].
    pub fn on_writable(&mut self, out: &mut OutQueue) {
        chosen!(self, s => s.on_writable(out), ())
    }

    /// See [`Session::reading`]: until a session is chosen, yes.
    pub fn reading(&self) -> bool {
        match self {
            Protocol::Choosing { .. } => true,
            Protocol::Ended => false,
            Protocol::H1(s) => s.reading(),
            Protocol::H2(s) => s.reading(),
        }
    }

    /// See [`Session::owes_data`].
    pub fn owes_data(&self) -> bool {
        chosen!(self, s => s.owes_data(), false)
    }

    /// See [`Session::data_moved`].
    pub fn data_moved(&self) -> bool {
        chosen!(self, s => s.data_moved(), true)
    }

    /// See [`Session::drain`]; before the choice, remembered for it.
    pub fn drain(&mut self, out: &mut OutQueue) {
        match self {
            Protocol::Choosing { draining } => *draining = true,
            Protocol::Ended => {}
            Protocol::H1(s) => s.drain(out),
            Protocol::H2(s) => s.drain(out),
        }
    }

    /// Whether a shutdown asked this connection to end.
    pub fn draining(&self) -> bool {
        match self {
            Protocol::Choosing { draining } => *draining,
            Protocol::H1(s) => s.draining(),
            Protocol::H2(_) | Protocol::Ended => false,
        }
    }

    /// See [`Session::give_back`].
    pub fn give_back(&mut self) -> bool {
        chosen!(self, s => s.give_back(), false)
    }

    /// Whether the exchange sits between requests, so the connection's
    /// state may go back to the pool: HTTP/1.x awaiting a head. HTTP/2
    /// never does: its session (the HPACK table, the settings) outlives
    /// each request.
    pub fn between_requests(&self) -> bool {
        match self {
            Protocol::Choosing { .. } => true,
            Protocol::H1(s) => s.state() == H1State::Head,
            Protocol::H2(_) | Protocol::Ended => false,
        }
    }

    /// Whether a close must always linger once this session has ended: an
    /// HTTP/2 client goes on sending (WINDOW_UPDATE for the last DATA,
    /// PING, its own GOAWAY) after ours, and closing with those bytes
    /// unread would be a reset that can destroy answers it has not read.
    pub fn peer_talks_on(&self) -> bool {
        matches!(self, Protocol::H2(_))
    }

    /// The client closed its side: the session ends where it stands.
    pub fn end(&mut self) {
        *self = Protocol::Ended;
    }
}
