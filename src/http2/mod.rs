//! How HTTP/2 frames a request and its answer (RFC 9113, RFC 7541): frames, HPACK and responses pure, the session beside the file cache.
//!
//! HTTP/2 (RFC 9113): [`frame`] (one checked frame from
//! bytes, and the frames a server writes), [`hpack`] (RFC 7541, its
//! integers and Huffman code in [`crate::field_coding`], which QPACK
//! shares), [`response`] (an
//! answer's head as an HPACK block) and [`session`] (a connection's
//! frames, streams, flow control and priorities: bytes in, frames queued).
//! A request's fields are checked by [`crate::http::head`] (the same
//! rules for HTTP/3). Frames, HPACK and responses are pure: bytes in, bytes out.
//! The session is not quite: it asks the file cache for answers (whose
//! misses `stat` and `open` files), and over TLS it reads a file's DATA
//! with one `preadv` straight between its frame headers.
//! The connection (`crate::conn`) chooses it by ALPN or by the
//! preface and owns the socket; lesson 7 (`examples/lesson7_http2.rs`) is
//! the same idea in one file.

pub mod frame;
pub mod hpack;
pub mod response;
pub mod session;

/// Bytes from hex digits, spaces ignored: how the RFCs print examples
/// (tests only).
#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
