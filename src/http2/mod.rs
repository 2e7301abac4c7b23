//! HTTP/2 (RFC 9113), as far as it is built, all of it pure: [`frame`]
//! (one checked frame from bytes, and the frames a server writes),
//! [`hpack`] with its [`huffman`] code (RFC 7541), and [`request`] (decoded
//! fields to a checked request head, lent as the same `Fields` an HTTP/1.x
//! request gives). The streams, flow control and the connection on the loop
//! come next.

pub mod frame;
pub mod hpack;
pub mod huffman;
pub mod request;
