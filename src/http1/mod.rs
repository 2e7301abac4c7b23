//! How HTTP/1.x frames a request and its answer (RFC 9112).
//!
//! HTTP/1.0 and HTTP/1.1 framing (RFC 9112): how requests arrive and
//! answers leave on an HTTP/1.x connection.
//!
//! From the bytes up: [`request`] parses heads and decides framing (and
//! [`known`] remembers the last head parsed, for when it comes again),
//! [`body`] skips bodies, [`heads`] renders the heads that do not
//! change per request once, [`response`] frames an answer as a head and a
//! body of shared chunks, and [`session`] is the per-connection exchange
//! (pure: bytes in, responses queued). What a request *means* is not here
//! but in [`crate::http`], shared with HTTP/2 ([`crate::http2`]).

pub mod body;
pub mod heads;
pub mod known;
pub mod request;
pub mod response;
pub mod session;
