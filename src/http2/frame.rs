//! HTTP/2 frames: one checked frame from bytes, the frames a server writes (pure).
//!
//! HTTP/2 frames (RFC 9113 §4, §6): bytes to a checked [`Frame`], and the
//! frames a server sends back to bytes.
//!
//! Every frame is a 9-byte header (length, type, flags, stream) and a
//! payload. [`parse`] takes one whole frame from the front of a buffer and
//! applies every rule §6 states about a frame on its own: which frames
//! need a stream and which may not have one, fixed lengths, padding that
//! fits, SETTINGS values in range, a WINDOW_UPDATE of zero. What breaks a
//! rule is an [`H2Error`]: a connection error (GOAWAY, then close) or a
//! stream error (RST_STREAM on that stream alone), with the code the RFC
//! names. Rules about sequences of frames (CONTINUATION after HEADERS,
//! stream states, flow control) belong to the connection, which sees them.
//!
//! Pure: bytes in, a frame or an error out; nothing here keeps state.

/// What a client sends first on an HTTP/2 connection (§3.4), before its
/// SETTINGS: chosen to be an invalid HTTP/1.x request.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The frame header's size.
pub const HEADER_LEN: usize = 9;

/// The initial and smallest SETTINGS_MAX_FRAME_SIZE (§6.5.2).
pub const DEFAULT_MAX_FRAME: usize = 16_384;

/// The largest flow-control window (§6.9.1).
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Error codes (§7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    NoError = 0x0,
    Protocol = 0x1,
    Internal = 0x2,
    FlowControl = 0x3,
    SettingsTimeout = 0x4,
    StreamClosed = 0x5,
    FrameSize = 0x6,
    RefusedStream = 0x7,
    Cancel = 0x8,
    Compression = 0x9,
    Connect = 0xa,
    EnhanceYourCalm = 0xb,
    InadequateSecurity = 0xc,
    Http11Required = 0xd,
}

impl ErrorCode {
    /// The code a peer sent; unknown codes mean INTERNAL_ERROR to us
    /// (§7: "MUST NOT trigger any special behavior").
    pub fn from_u32(code: u32) -> ErrorCode {
        use ErrorCode::*;
        match code {
            0x0 => NoError,
            0x1 => Protocol,
            0x3 => FlowControl,
            0x4 => SettingsTimeout,
            0x5 => StreamClosed,
            0x6 => FrameSize,
            0x7 => RefusedStream,
            0x8 => Cancel,
            0x9 => Compression,
            0xa => Connect,
            0xb => EnhanceYourCalm,
            0xc => InadequateSecurity,
            0xd => Http11Required,
            _ => Internal,
        }
    }
}

/// A rule broken (§5.4): the whole connection's, or one stream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Error {
    /// GOAWAY with this code, then close; the text is for the log.
    Connection(ErrorCode, &'static str),
    /// RST_STREAM on this stream with this code; the connection goes on.
    Stream(u32, ErrorCode, &'static str),
}

/// Frame types (§6); others are ignored (§5.5).
pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
    /// RFC 9218 §7.1.
    pub const PRIORITY_UPDATE: u8 = 0x10;
}

/// Flags (§6).
pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// SETTINGS identifiers (§6.5.2, RFC 8441's is not offered).
pub mod setting {
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    pub const ENABLE_PUSH: u16 = 0x2;
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// RFC 9218: the peer will not use RFC 7540's priority signals.
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// The fixed part of every frame (§4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Payload length.
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    /// The stream, with the reserved bit cleared (§4.1: ignored on receipt).
    pub stream: u32,
}

impl Header {
    /// The header at the front of `buf`, if all 9 bytes are there.
    pub fn read(buf: &[u8]) -> Option<Header> {
        let h: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header {
            len: usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]),
            kind: h[3],
            flags: h[4],
            stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A checked frame; payload slices borrow the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'b> {
    Data {
        stream: u32,
        /// The data without padding.
        data: &'b [u8],
        /// What counts against flow control: the whole payload (§6.9.1).
        flow_len: usize,
        end_stream: bool,
    },
    Headers {
        stream: u32,
        /// A field block fragment (more may follow in CONTINUATION).
        block: &'b [u8],
        end_stream: bool,
        end_headers: bool,
        /// The RFC 7540 priority it carried: the stream it depends on.
        depends_on: Option<u32>,
    },
    Priority {
        stream: u32,
        depends_on: u32,
    },
    RstStream {
        stream: u32,
        code: ErrorCode,
    },
    Settings {
        ack: bool,
        /// Pairs of identifier and value, 6 bytes each, checked.
        params: &'b [u8],
    },
    Ping {
        ack: bool,
        data: [u8; 8],
    },
    GoAway {
        last_stream: u32,
        code: ErrorCode,
    },
    WindowUpdate {
        stream: u32,
        increment: u32,
    },
    Continuation {
        stream: u32,
        block: &'b [u8],
        end_headers: bool,
    },
    /// RFC 9218 §7.1: a new `priority` for a request stream, sent on
    /// stream 0 (the value is the field's, unparsed).
    PriorityUpdate {
        prioritized: u32,
        value: &'b [u8],
    },
    /// A frame of a type this server does not know (§5.5): ignored.
    Unknown {
        kind: u8,
    },
}

/// For the trace: the frame as RFC 9113 names it, with what steers the
/// connection (stream, flags, lengths, increments), never its bytes.
impl std::fmt::Display for Frame<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = |on: bool| if on { " END_STREAM" } else { "" };
        match *self {
            Frame::Data {
                stream,
                flow_len,
                end_stream,
                ..
            } => write!(
                f,
                "DATA stream {stream}, {flow_len} bytes{}",
                end(end_stream)
            ),
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                ..
            } => write!(
                f,
                "HEADERS stream {stream}, {} bytes of block{}{}",
                block.len(),
                end(end_stream),
                if end_headers { " END_HEADERS" } else { "" }
            ),
            Frame::Priority { stream, .. } => write!(f, "PRIORITY stream {stream} (ignored)"),
            Frame::RstStream { stream, code } => write!(f, "RST_STREAM stream {stream} {code:?}"),
            Frame::Settings { ack: true, .. } => write!(f, "SETTINGS ACK"),
            Frame::Settings { params, .. } => write!(f, "SETTINGS, {} values", params.len() / 6),
            Frame::Ping { ack, .. } => write!(f, "PING{}", if ack { " ACK" } else { "" }),
            Frame::GoAway { last_stream, code } => {
                write!(f, "GOAWAY {code:?}, last stream {last_stream}")
            }
            Frame::WindowUpdate { stream, increment } => {
                write!(f, "WINDOW_UPDATE stream {stream} +{increment}")
            }
            Frame::Continuation {
                stream,
                block,
                end_headers,
            } => write!(
                f,
                "CONTINUATION stream {stream}, {} bytes{}",
                block.len(),
                if end_headers { " END_HEADERS" } else { "" }
            ),
            Frame::PriorityUpdate { prioritized, .. } => {
                write!(f, "PRIORITY_UPDATE for stream {prioritized}")
            }
            Frame::Unknown { kind } => write!(f, "frame of unknown type {kind:#x} (ignored)"),
        }
    }
}

/// The outcome of [`parse`].
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'b> {
    /// A whole frame, and how many bytes it took.
    Frame(Frame<'b>, usize),
    /// Not all of it is here yet.
    Partial,
    /// A whole frame that is a stream error (§5.4.2), and how many bytes
    /// it took: the frames after it are read as usual.
    Refused(H2Error, usize),
}

fn connection(code: ErrorCode, why: &'static str) -> H2Error {
    H2Error::Connection(code, why)
}

/// Takes the frame at the front of `buf`, whose payload may be at most
/// `max_frame` bytes (the SETTINGS_MAX_FRAME_SIZE this side announced).
pub fn parse(buf: &[u8], max_frame: usize) -> Result<Parsed<'_>, H2Error> {
    let Some(h) = Header::read(buf) else {
        return Ok(Parsed::Partial);
    };
    // Checked before waiting for the payload: a length past the limit is
    // refused at once, not buffered (§4.2).
    if h.len > max_frame {
        return Err(connection(
            ErrorCode::FrameSize,
            "frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + h.len) else {
        return Ok(Parsed::Partial);
    };
    match frame(&h, payload) {
        Ok(f) => Ok(Parsed::Frame(f, HEADER_LEN + h.len)),
        Err(e @ H2Error::Stream(..)) => Ok(Parsed::Refused(e, HEADER_LEN + h.len)),
        Err(e) => Err(e),
    }
}

/// Checks a frame's header and payload against §6.
fn frame<'b>(h: &Header, payload: &'b [u8]) -> Result<Frame<'b>, H2Error> {
    let stream = h.stream;
    let needs_stream = |name: &'static str| {
        if stream == 0 {
            Err(connection(ErrorCode::Protocol, name))
        } else {
            Ok(())
        }
    };
    let no_stream = |name: &'static str| {
        if stream != 0 {
            Err(connection(ErrorCode::Protocol, name))
        } else {
            Ok(())
        }
    };
    match h.kind {
        kind::DATA => {
            needs_stream("DATA on stream 0")?;
            let data = unpad(h, payload)?;
            Ok(Frame::Data {
                stream,
                data,
                flow_len: payload.len(),
                end_stream: h.has(flag::END_STREAM),
            })
        }
        kind::HEADERS => {
            needs_stream("HEADERS on stream 0")?;
            let mut block = unpad(h, payload)?;
            let mut depends_on = None;
            if h.has(flag::PRIORITY) {
                let Some((prio, rest)) = block.split_first_chunk::<5>() else {
                    return Err(connection(
                        ErrorCode::FrameSize,
                        "HEADERS too short for its priority",
                    ));
                };
                // One that depends on itself is a stream error (§5.3.1),
                // found by the session once the block is decoded: the
                // block must be decoded all the same (§4.3).
                let dep = u32::from_be_bytes([prio[0], prio[1], prio[2], prio[3]]) & 0x7fff_ffff;
                depends_on = Some(dep);
                block = rest;
            }
            Ok(Frame::Headers {
                stream,
                block,
                end_stream: h.has(flag::END_STREAM),
                end_headers: h.has(flag::END_HEADERS),
                depends_on,
            })
        }
        kind::PRIORITY => {
            needs_stream("PRIORITY on stream 0")?;
            let Ok(p) = <&[u8; 5]>::try_from(payload) else {
                return Err(H2Error::Stream(
                    stream,
                    ErrorCode::FrameSize,
                    "PRIORITY not 5 bytes",
                ));
            };
            let depends_on = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
            if depends_on == stream {
                return Err(H2Error::Stream(
                    stream,
                    ErrorCode::Protocol,
                    "stream depends on itself",
                ));
            }
            Ok(Frame::Priority { stream, depends_on })
        }
        kind::RST_STREAM => {
            needs_stream("RST_STREAM on stream 0")?;
            let Ok(c) = <[u8; 4]>::try_from(payload) else {
                return Err(connection(ErrorCode::FrameSize, "RST_STREAM not 4 bytes"));
            };
            Ok(Frame::RstStream {
                stream,
                code: ErrorCode::from_u32(u32::from_be_bytes(c)),
            })
        }
        kind::SETTINGS => {
            no_stream("SETTINGS on a stream")?;
            let ack = h.has(flag::ACK);
            if ack && !payload.is_empty() {
                return Err(connection(
                    ErrorCode::FrameSize,
                    "SETTINGS ACK with a payload",
                ));
            }
            if !payload.len().is_multiple_of(6) {
                return Err(connection(
                    ErrorCode::FrameSize,
                    "SETTINGS not a multiple of 6 bytes",
                ));
            }
            for (id, value) in settings(payload) {
                check_setting(id, value)?;
            }
            Ok(Frame::Settings {
                ack,
                params: payload,
            })
        }
        kind::PUSH_PROMISE => Err(connection(
            ErrorCode::Protocol,
            "PUSH_PROMISE from a client",
        )),
        kind::PING => {
            no_stream("PING on a stream")?;
            let Ok(data) = <[u8; 8]>::try_from(payload) else {
                return Err(connection(ErrorCode::FrameSize, "PING not 8 bytes"));
            };
            Ok(Frame::Ping {
                ack: h.has(flag::ACK),
                data,
            })
        }
        kind::GOAWAY => {
            no_stream("GOAWAY on a stream")?;
            let Some((fixed, _debug)) = payload.split_first_chunk::<8>() else {
                return Err(connection(
                    ErrorCode::FrameSize,
                    "GOAWAY shorter than 8 bytes",
                ));
            };
            let last_stream =
                u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]) & 0x7fff_ffff;
            let code = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
            Ok(Frame::GoAway {
                last_stream,
                code: ErrorCode::from_u32(code),
            })
        }
        kind::WINDOW_UPDATE => {
            let Ok(w) = <[u8; 4]>::try_from(payload) else {
                return Err(connection(
                    ErrorCode::FrameSize,
                    "WINDOW_UPDATE not 4 bytes",
                ));
            };
            let increment = u32::from_be_bytes(w) & 0x7fff_ffff;
            if increment == 0 {
                // §6.9: a stream error on a stream, a connection error on 0.
                let why = "WINDOW_UPDATE of zero";
                return Err(match stream {
                    0 => connection(ErrorCode::Protocol, why),
                    s => H2Error::Stream(s, ErrorCode::Protocol, why),
                });
            }
            Ok(Frame::WindowUpdate { stream, increment })
        }
        kind::CONTINUATION => {
            needs_stream("CONTINUATION on stream 0")?;
            Ok(Frame::Continuation {
                stream,
                block: payload,
                end_headers: h.has(flag::END_HEADERS),
            })
        }
        kind::PRIORITY_UPDATE => {
            // RFC 9218 §7.1: on stream 0, at least the 4-byte stream id,
            // which names a stream the client may open (odd, not 0).
            no_stream("PRIORITY_UPDATE on a stream")?;
            let Some((id, value)) = payload.split_first_chunk::<4>() else {
                return Err(connection(
                    ErrorCode::FrameSize,
                    "PRIORITY_UPDATE shorter than 4 bytes",
                ));
            };
            let prioritized = u32::from_be_bytes(*id) & 0x7fff_ffff;
            if prioritized % 2 == 0 {
                return Err(connection(
                    ErrorCode::Protocol,
                    "PRIORITY_UPDATE for stream 0 or a pushed stream",
                ));
            }
            Ok(Frame::PriorityUpdate { prioritized, value })
        }
        kind => Ok(Frame::Unknown { kind }),
    }
}

/// A padded payload without its padding (§6.1): the pad length byte and
/// the padding must fit in the frame.
fn unpad<'b>(h: &Header, payload: &'b [u8]) -> Result<&'b [u8], H2Error> {
    if !h.has(flag::PADDED) {
        return Ok(payload);
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(connection(
            ErrorCode::FrameSize,
            "padded frame without a pad length",
        ));
    };
    let pad = usize::from(pad);
    if pad > rest.len() {
        return Err(connection(
            ErrorCode::Protocol,
            "padding longer than the frame",
        ));
    }
    Ok(&rest[..rest.len() - pad])
}

/// The identifier and value pairs of a SETTINGS payload.
pub fn settings(params: &[u8]) -> impl Iterator<Item = (u16, u32)> + '_ {
    params.chunks_exact(6).map(|p| {
        (
            u16::from_be_bytes([p[0], p[1]]),
            u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
        )
    })
}

/// The range rules of §6.5.2; unknown identifiers are ignored.
fn check_setting(id: u16, value: u32) -> Result<(), H2Error> {
    match id {
        setting::ENABLE_PUSH if value > 1 => Err(connection(
            ErrorCode::Protocol,
            "SETTINGS_ENABLE_PUSH not 0 or 1",
        )),
        setting::INITIAL_WINDOW_SIZE if value > MAX_WINDOW => Err(connection(
            ErrorCode::FlowControl,
            "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
        )),
        setting::MAX_FRAME_SIZE if !(DEFAULT_MAX_FRAME as u32..=(1 << 24) - 1).contains(&value) => {
            Err(connection(
                ErrorCode::Protocol,
                "SETTINGS_MAX_FRAME_SIZE out of range",
            ))
        }
        setting::NO_RFC7540_PRIORITIES if value > 1 => Err(connection(
            ErrorCode::Protocol,
            "SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1",
        )),
        _ => Ok(()),
    }
}

/// The 9-byte header of a frame, for a `writev` beside its payload.
pub fn header_bytes(len: usize, kind: u8, flags: u8, stream: u32) -> [u8; HEADER_LEN] {
    let l = len as u32;
    let s = (stream & 0x7fff_ffff).to_be_bytes();
    [
        (l >> 16) as u8,
        (l >> 8) as u8,
        l as u8,
        kind,
        flags,
        s[0],
        s[1],
        s[2],
        s[3],
    ]
}

/// Appends a frame header.
pub fn write_header(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    out.extend_from_slice(&header_bytes(len, kind, flags, stream));
}

/// Appends a SETTINGS frame with these pairs.
pub fn write_settings(out: &mut Vec<u8>, params: &[(u16, u32)]) {
    write_header(out, params.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, value) in params {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
    }
}

/// Appends the acknowledgement of the peer's SETTINGS.
pub fn write_settings_ack(out: &mut Vec<u8>) {
    write_header(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Appends the answer to a PING.
pub fn write_ping_ack(out: &mut Vec<u8>, data: [u8; 8]) {
    write_header(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(&data);
}

/// Appends a GOAWAY naming the last stream this side will process.
pub fn write_goaway(out: &mut Vec<u8>, last_stream: u32, code: ErrorCode) {
    write_header(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

/// Appends a RST_STREAM.
pub fn write_rst_stream(out: &mut Vec<u8>, stream: u32, code: ErrorCode) {
    write_header(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&(code as u32).to_be_bytes());
}

/// Appends a WINDOW_UPDATE (stream 0: the connection's window).
pub fn write_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    write_header(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

#[cfg(test)]
mod tests;
