//! How HTTP/3 frames a request and its answer (RFC 9114, RFC 9204): frames and QPACK pure, the session over QUIC's streams.
//!
//! HTTP/3 (RFC 9114) is HTTP over QUIC's streams: [`frame`] (variable-
//! length integers, frame heads, SETTINGS and GOAWAY), [`qpack`] (RFC
//! 9204 with the static table only: no table is kept per connection),
//! [`response`] (an answer's head as one HEADERS frame) and [`session`]
//! (a connection's control and QPACK streams and its requests: bytes in
//! per stream, writes out per stream, through a trait the QUIC connection
//! implements). The request's fields are checked by [`crate::http::head`],
//! as HTTP/2's are, and answered by [`crate::http::answer`], as every
//! framing's are. QUIC itself is in [`crate::quic`].

pub mod frame;
pub mod qpack;
pub mod response;
pub mod session;
