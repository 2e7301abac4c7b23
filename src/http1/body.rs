//! Skipping request bodies (RFC 9112 §6.3, §7.1).
//!
//! The server serves files and takes no uploads, yet a client may send a
//! body with any request (a POST answered 405, a GET with a body). The body
//! must be consumed exactly, or the next pipelined request would be read
//! from the middle of it. [`BodySkip`] consumes a Content-Length body or
//! decodes a chunked one, counting toward a limit, and keeps no bytes.
//!
//! The chunked framing is read by its grammar and nothing looser: a
//! chunk-size is `1*HEXDIG`, an extension is `;` name [`=` token or
//! quoted-string] ([`grammar::chunk_line`]), a trailer line is a field line,
//! and every line ends in CRLF and is bounded. A lenient body parser behind
//! a strict proxy, or the reverse, is how smuggling starts: an empty size
//! line read as the last chunk, for one, turns the next pipelined request
//! into a "trailer".
//!
//! Like the head parser it is pure and resumable: feed it whatever arrived,
//! it says how much it took and whether the body is over.

use crate::http::grammar;
use crate::http::grammar::ChunkLineError;
use crate::http::status::Refusal;

/// Longest chunk-size line (with extensions) or trailer line accepted.
pub const MAX_CHUNK_LINE: usize = 1024;
/// Most trailer lines accepted after the last chunk.
pub const MAX_TRAILERS: u32 = 32;

/// Where in a body the decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySkip {
    /// `remaining` bytes of a Content-Length body to go.
    Length {
        /// Bytes still to consume.
        remaining: u64,
    },
    /// Inside a chunked body.
    Chunked {
        /// The decoder's position in the chunk grammar.
        at: ChunkAt,
        /// Chunk data bytes seen so far, against the limit.
        seen: u64,
    },
}

/// The chunked grammar's positions (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkAt {
    /// Expecting `chunk-size [ chunk-ext ] CRLF`.
    Size,
    /// Inside `chunk-data`, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer fields until an empty line; this
    /// many so far.
    Trailer(u32),
}

/// What one call to [`BodySkip::advance`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes of the input that belonged to the body.
    pub consumed: usize,
    /// Whether the body ended within them.
    pub done: bool,
}

impl BodySkip {
    /// A decoder for a Content-Length body.
    pub fn length(n: u64) -> BodySkip {
        BodySkip::Length { remaining: n }
    }

    /// A decoder for a chunked body.
    pub fn chunked() -> BodySkip {
        BodySkip::Chunked {
            at: ChunkAt::Size,
            seen: 0,
        }
    }

    /// Consumes body bytes from the start of `input`. When the result is not
    /// `done` and `consumed < input.len()`, the rest is an incomplete line:
    /// keep it and call again with more bytes appended. A malformed chunked
    /// body or one over `limit` is an error with the status to answer.
    pub fn advance(&mut self, input: &[u8], limit: u64) -> Result<Progress, Refusal> {
        match self {
            BodySkip::Length { remaining } => {
                let take = (*remaining).min(input.len() as u64);
                *remaining -= take;
                Ok(Progress {
                    consumed: take as usize,
                    done: *remaining == 0,
                })
            }
            BodySkip::Chunked { at, seen } => {
                let mut pos = 0;
                loop {
                    let rest = &input[pos..];
                    let step = match *at {
                        ChunkAt::Size => match line(rest)? {
                            None => 0,
                            Some((line, len)) => match grammar::chunk_line(line) {
                                Ok(0) => {
                                    *at = ChunkAt::Trailer(0);
                                    len
                                }
                                Ok(size) => {
                                    *seen = seen.saturating_add(size);
                                    if *seen > limit {
                                        return Err(Refusal::BodyTooLarge);
                                    }
                                    *at = ChunkAt::Data(size);
                                    len
                                }
                                Err(ChunkLineError::Size) => return Err(Refusal::BadChunkSize),
                                Err(ChunkLineError::Extension) => {
                                    return Err(Refusal::BadChunkExtension);
                                }
                            },
                        },
                        ChunkAt::Data(left) => {
                            let take = left.min(rest.len() as u64);
                            *at = if take == left {
                                ChunkAt::DataEnd
                            } else {
                                ChunkAt::Data(left - take)
                            };
                            take as usize
                        }
                        ChunkAt::DataEnd => match rest {
                            [b'\r', b'\n', ..] => {
                                *at = ChunkAt::Size;
                                2
                            }
                            [] | [b'\r'] => 0,
                            _ => return Err(Refusal::BadChunkLine),
                        },
                        ChunkAt::Trailer(count) => match line(rest)? {
                            None => 0,
                            Some((b"", len)) => {
                                return Ok(Progress {
                                    consumed: pos + len,
                                    done: true,
                                });
                            }
                            Some((line, len)) => {
                                if count >= MAX_TRAILERS || !grammar::is_field_line(line) {
                                    return Err(Refusal::BadTrailer);
                                }
                                *at = ChunkAt::Trailer(count + 1);
                                len
                            }
                        },
                    };
                    if step == 0 {
                        return Ok(Progress {
                            consumed: pos,
                            done: false,
                        });
                    }
                    pos += step;
                }
            }
        }
    }
}

/// The CRLF-ended line at the start of `input`, without its CRLF, and its
/// length with it; `None` while it is incomplete. A bare LF, or a line
/// over [`MAX_CHUNK_LINE`], is refused.
fn line(input: &[u8]) -> Result<Option<(&[u8], usize)>, Refusal> {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) if end > MAX_CHUNK_LINE => Err(Refusal::BadChunkLine),
        Some(end) => match input[..end].strip_suffix(b"\r") {
            Some(line) => Ok(Some((line, end + 1))),
            None => Err(Refusal::BadChunkLine),
        },
        None if input.len() > MAX_CHUNK_LINE => Err(Refusal::BadChunkLine),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `cut`, keeping unconsumed bytes like the
    /// connection does; returns total consumed or the error.
    fn feed(mut skip: BodySkip, input: &[u8], cut: usize) -> Result<(usize, bool), Refusal> {
        let mut kept = input[..cut].to_vec();
        let mut total = 0;
        let mut p = skip.advance(&kept, 100)?;
        total += p.consumed;
        if !p.done {
            kept.drain(..p.consumed);
            kept.extend_from_slice(&input[cut..]);
            p = skip.advance(&kept, 100)?;
            total += p.consumed;
        }
        Ok((total, p.done))
    }

    /// A chunk-size line whose extension is over the line limit.
    const LONG_EXT: &[u8] = &{
        let mut line = [b'e'; MAX_CHUNK_LINE + 8];
        line[0] = b'1';
        line[1] = b';';
        line[MAX_CHUNK_LINE + 6] = b'\r';
        line[MAX_CHUNK_LINE + 7] = b'\n';
        line
    };

    #[test]
    fn chunked_table_at_every_cut() {
        // (body followed by the next request, body length, or the error)
        let cases: &[(&[u8], Result<usize, u16>)] = &[
            (b"0\r\n\r\nGET", Ok(5)),
            (b"5\r\nhello\r\n0\r\n\r\nGET", Ok(15)),
            (b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\nGET", Ok(33)),
            (b"A\r\n0123456789\r\n0\r\n\r\nGET", Ok(20)),
            (b"A\r\n0123456789\n0\n\n", Err(400)), // chunked framing wants CRLF
            (b"0\r\nX: y\n\r\n", Err(400)),
            (b"5\r\nhelloXX0\r\n\r\n", Err(400)),
            (b"zz\r\n", Err(400)),
            (b"fffffffffffffffffff\r\n", Err(400)),
            (b"65\r\n", Err(413)), // 101 bytes > the limit of 100
            (LONG_EXT, Err(400)),
        ];
        for &(input, want) in cases {
            for cut in 0..=input.len() {
                let got = feed(BodySkip::chunked(), input, cut);
                match want {
                    Ok(n) => assert_eq!(got, Ok((n, true)), "{input:?} cut {cut}"),
                    Err(code) => {
                        assert_eq!(
                            got.map_err(|r| r.status().code()),
                            Err(code),
                            "{input:?} cut {cut}"
                        )
                    }
                }
            }
        }
    }

    #[test]
    fn length_bodies() {
        assert_eq!(feed(BodySkip::length(5), b"helloGET", 3), Ok((5, true)));
        let mut s = BodySkip::length(10);
        assert_eq!(
            s.advance(b"abc", 100),
            Ok(Progress {
                consumed: 3,
                done: false
            })
        );
        assert_eq!(s, BodySkip::length(7));
    }
}
