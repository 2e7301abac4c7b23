//! HTTP/2 (RFC 9113), as far as it is built, all of it pure: [`frame`]
//! (one checked frame from bytes, and the frames a server writes),
//! [`hpack`] with its [`huffman`] code (RFC 7541), [`request`] (decoded
//! fields to a checked request head, lent as the same `Fields` an HTTP/1.x
//! request gives), [`response`] (an answer's head as an HPACK block) and
//! [`session`] (a connection's frames, streams and flow control: bytes in,
//! frames queued). Not yet on the loop: a connection does not choose
//! HTTP/2 by ALPN or preface yet, and the access log, metrics and
//! RFC 9218 priorities do not know it.

pub mod frame;
pub mod hpack;
pub mod huffman;
pub mod request;
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
