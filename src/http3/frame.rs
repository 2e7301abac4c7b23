//! HTTP/3 frames and stream types (RFC 9114 §6.2, §7): variable-length integers, frame heads, SETTINGS (pure).
//!
//! Everything in HTTP/3 is counted in QUIC's variable-length integers
//! (RFC 9000 §16): the two high bits of the first byte say whether it is
//! one, two, four or eight bytes long. A frame is a type, a length and
//! that many bytes of payload; a unidirectional stream starts with its
//! type. Unlike HTTP/2, frames carry no stream id and no flags: the QUIC
//! stream is the request, and its end is the end of the request.
//!
//! A frame's head is read here ([`read_head`]); what a frame may do on
//! which stream is the session's to decide (`super::session`), and what a
//! SETTINGS frame says is checked here ([`read_settings`]).

/// Frame types (RFC 9114 §7.2, §11.2.1).
pub mod kind {
    pub const DATA: u64 = 0x00;
    pub const HEADERS: u64 = 0x01;
    pub const CANCEL_PUSH: u64 = 0x03;
    pub const SETTINGS: u64 = 0x04;
    pub const PUSH_PROMISE: u64 = 0x05;
    pub const GOAWAY: u64 = 0x07;
    pub const MAX_PUSH_ID: u64 = 0x0d;

    /// HTTP/2's frame types that HTTP/3 reserves: receiving one is a
    /// connection error of type H3_FRAME_UNEXPECTED (§7.2.8).
    pub fn is_http2_only(kind: u64) -> bool {
        matches!(kind, 0x02 | 0x06 | 0x08 | 0x09)
    }
}

/// Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2).
pub mod stream {
    pub const CONTROL: u64 = 0x00;
    pub const PUSH: u64 = 0x01;
    pub const QPACK_ENCODER: u64 = 0x02;
    pub const QPACK_DECODER: u64 = 0x03;
}

/// Settings identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5).
pub mod setting {
    pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
}

/// Error codes (RFC 9114 §8.1, RFC 9204 §6).
pub mod code {
    pub const NO_ERROR: u64 = 0x100;
    pub const GENERAL_PROTOCOL_ERROR: u64 = 0x101;
    pub const INTERNAL_ERROR: u64 = 0x102;
    pub const STREAM_CREATION_ERROR: u64 = 0x103;
    pub const CLOSED_CRITICAL_STREAM: u64 = 0x104;
    pub const FRAME_UNEXPECTED: u64 = 0x105;
    pub const FRAME_ERROR: u64 = 0x106;
    pub const EXCESSIVE_LOAD: u64 = 0x107;
    pub const ID_ERROR: u64 = 0x108;
    pub const SETTINGS_ERROR: u64 = 0x109;
    pub const MISSING_SETTINGS: u64 = 0x10a;
    pub const REQUEST_REJECTED: u64 = 0x10b;
    pub const REQUEST_CANCELLED: u64 = 0x10c;
    pub const REQUEST_INCOMPLETE: u64 = 0x10d;
    pub const MESSAGE_ERROR: u64 = 0x10e;
    pub const QPACK_DECOMPRESSION_FAILED: u64 = 0x200;
    pub const QPACK_ENCODER_STREAM_ERROR: u64 = 0x201;
    pub const QPACK_DECODER_STREAM_ERROR: u64 = 0x202;
}

/// The largest value a variable-length integer holds (2^62 - 1).
pub const VARINT_MAX: u64 = (1 << 62) - 1;

/// Reads a variable-length integer (RFC 9000 §16) at `*pos`; `None` when
/// `buf` ends first (then `*pos` is left alone: read again with more).
pub fn read_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let first = *buf.get(*pos)?;
    let len = 1usize << (first >> 6);
    let bytes = buf.get(*pos..*pos + len)?;
    let mut value = u64::from(first & 0x3f);
    for &b in &bytes[1..] {
        value = (value << 8) | u64::from(b);
    }
    *pos += len;
    Some(value)
}

/// How many bytes `value` takes as a variable-length integer.
pub fn varint_len(value: u64) -> usize {
    match value {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 8,
    }
}

/// Appends `value` (at most [`VARINT_MAX`]) as a variable-length integer,
/// in the fewest bytes.
pub fn write_varint(out: &mut Vec<u8>, value: u64) {
    debug_assert!(value <= VARINT_MAX);
    match varint_len(value) {
        1 => out.push(value as u8),
        2 => out.extend_from_slice(&(value as u16 | 0x4000).to_be_bytes()),
        4 => out.extend_from_slice(&(value as u32 | 0x8000_0000).to_be_bytes()),
        _ => out.extend_from_slice(&(value | 0xc000_0000_0000_0000).to_be_bytes()),
    }
}

/// A frame's type and payload length, and how many bytes they took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub kind: u64,
    pub len: u64,
    /// Bytes of type and length: the payload starts this far in.
    pub size: usize,
}

/// Reads a frame's head from the start of `buf`; `None` until both of its
/// integers are in.
pub fn read_head(buf: &[u8]) -> Option<Head> {
    let mut pos = 0;
    let kind = read_varint(buf, &mut pos)?;
    let len = read_varint(buf, &mut pos)?;
    Some(Head {
        kind,
        len,
        size: pos,
    })
}

/// Appends a frame's head.
pub fn write_head(out: &mut Vec<u8>, kind: u64, len: u64) {
    write_varint(out, kind);
    write_varint(out, len);
}

/// Passes over what is left of a frame whose payload is not read (an
/// unknown type, §9): of the `skip` bytes still to pass, as many as
/// `input` holds from `at`. Returns where reading goes on; `skip` keeps
/// what the next bytes of the stream must still pass over.
pub fn pass_over(input: &[u8], at: usize, skip: &mut u64) -> usize {
    let here = (*skip).min((input.len() - at) as u64);
    *skip -= here;
    at + here as usize
}

/// What a peer's SETTINGS says that this server reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// The largest field section the peer takes (`None`: no limit).
    pub max_field_section_size: Option<u64>,
}

/// Reads a SETTINGS frame's payload (§7.2.4): pairs of identifier and
/// value. An identifier twice, or one of HTTP/2's that HTTP/3 reserves
/// (0x02 to 0x05), is H3_SETTINGS_ERROR; one cut short is H3_FRAME_ERROR;
/// unknown ones are passed over (§7.2.4.1, they are how peers grease).
pub fn read_settings(payload: &[u8]) -> Result<Settings, u64> {
    let mut settings = Settings::default();
    let mut seen: Vec<u64> = Vec::new();
    let mut pos = 0;
    while pos < payload.len() {
        let id = read_varint(payload, &mut pos).ok_or(code::FRAME_ERROR)?;
        let value = read_varint(payload, &mut pos).ok_or(code::FRAME_ERROR)?;
        if (0x02..=0x05).contains(&id) || seen.contains(&id) {
            return Err(code::SETTINGS_ERROR);
        }
        seen.push(id);
        if id == setting::MAX_FIELD_SECTION_SIZE {
            settings.max_field_section_size = Some(value);
        }
    }
    Ok(settings)
}

/// This server's control stream as it opens: the stream type, then
/// SETTINGS (§6.2.1) saying how large a request's field section may be.
/// The QPACK dynamic table stays at its default, zero: requests are read
/// with the static table and literals only, so no request ever waits for
/// an encoder stream (RFC 9204 §2.1.2).
pub fn control_stream_opening(max_field_section_size: u64) -> Vec<u8> {
    let mut payload = Vec::with_capacity(8);
    write_varint(&mut payload, setting::MAX_FIELD_SECTION_SIZE);
    write_varint(&mut payload, max_field_section_size);
    let mut out = Vec::with_capacity(16);
    write_varint(&mut out, stream::CONTROL);
    write_head(&mut out, kind::SETTINGS, payload.len() as u64);
    out.extend_from_slice(&payload);
    out
}

/// A GOAWAY frame (§5.2, §7.2.6): requests on streams from `id` on are
/// not processed.
pub fn goaway(id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    write_head(&mut out, kind::GOAWAY, varint_len(id) as u64);
    write_varint(&mut out, id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 Appendix A.1's examples, both ways.
    #[test]
    fn varints_read_and_write_as_rfc_9000_shows_them() {
        let examples: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in examples {
            let mut pos = 0;
            assert_eq!(read_varint(bytes, &mut pos), Some(value));
            assert_eq!(pos, bytes.len());
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(out, bytes);
        }
        // The same value in more bytes than it needs still reads (§16).
        let mut pos = 0;
        assert_eq!(read_varint(&[0x40, 0x25], &mut pos), Some(37));
        // Cut short: nothing read, the position kept.
        for cut in 0..8 {
            let mut pos = 0;
            assert_eq!(read_varint(&examples[0].0[..cut], &mut pos), None);
            assert_eq!(pos, 0);
        }
        for v in [
            0,
            63,
            64,
            16_383,
            16_384,
            (1 << 30) - 1,
            1 << 30,
            VARINT_MAX,
        ] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v));
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Some(v));
        }
    }

    #[test]
    fn a_frame_head_is_read_once_both_integers_are_in() {
        let mut frame = Vec::new();
        write_head(&mut frame, kind::HEADERS, 300);
        assert_eq!(frame, [0x01, 0x41, 0x2c]);
        for cut in 0..frame.len() {
            assert_eq!(read_head(&frame[..cut]), None);
        }
        assert_eq!(
            read_head(&frame),
            Some(Head {
                kind: kind::HEADERS,
                len: 300,
                size: 3
            })
        );
    }

    #[test]
    fn settings_are_checked_as_section_7_2_4_says() {
        let pairs = |list: &[(u64, u64)]| {
            let mut out = Vec::new();
            for &(id, v) in list {
                write_varint(&mut out, id);
                write_varint(&mut out, v);
            }
            out
        };
        let grease = 0x1f * 3 + 0x21;
        assert_eq!(
            read_settings(&pairs(&[
                (grease, 7),
                (setting::MAX_FIELD_SECTION_SIZE, 4096)
            ])),
            Ok(Settings {
                max_field_section_size: Some(4096)
            })
        );
        assert_eq!(read_settings(&[]), Ok(Settings::default()));
        for http2 in 2..=5 {
            assert_eq!(
                read_settings(&pairs(&[(http2, 0)])),
                Err(code::SETTINGS_ERROR)
            );
        }
        let twice = pairs(&[
            (setting::QPACK_BLOCKED_STREAMS, 0),
            (setting::QPACK_BLOCKED_STREAMS, 1),
        ]);
        assert_eq!(read_settings(&twice), Err(code::SETTINGS_ERROR));
        let whole = pairs(&[(setting::MAX_FIELD_SECTION_SIZE, 100_000)]);
        assert_eq!(
            read_settings(&whole[..whole.len() - 1]),
            Err(code::FRAME_ERROR)
        );
    }

    #[test]
    fn the_control_stream_opens_with_settings_and_goaway_names_a_stream() {
        let opening = control_stream_opening(16_384);
        let mut pos = 0;
        assert_eq!(read_varint(&opening, &mut pos), Some(stream::CONTROL));
        let head = read_head(&opening[pos..]).expect("a whole head");
        assert_eq!(head.kind, kind::SETTINGS);
        let payload = &opening[pos + head.size..];
        assert_eq!(payload.len() as u64, head.len);
        assert_eq!(
            read_settings(payload).map(|s| s.max_field_section_size),
            Ok(Some(16_384))
        );
        let g = goaway(404);
        let head = read_head(&g).expect("a whole head");
        assert_eq!((head.kind, head.len), (kind::GOAWAY, 2));
        let mut pos = head.size;
        assert_eq!(read_varint(&g, &mut pos), Some(404));
    }
}
