//! HTTP/2 (RFC 9113), as far as it is built: HPACK (RFC 7541) and its
//! Huffman code. Frames, streams and the connection come next, on the same
//! loop as HTTP/1.x.

pub mod frame;
pub mod hpack;
pub mod huffman;
