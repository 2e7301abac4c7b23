//! The peer's unidirectional streams (RFC 9114 §6.2, RFC 9204 §4.2): typed by their first bytes; the control stream's frames, and what QPACK's streams may say to an empty table.

use super::{H3Session, Streams, Uni};
use crate::http3::frame::{self, code, kind, stream as uni};

/// How long a frame this server reads whole on the control stream may be
/// (SETTINGS with a dozen settings is under a hundred bytes).
const CONTROL_FRAME_MAX: u64 = 4096;

impl H3Session {
    /// Bytes on one of the peer's unidirectional streams.
    pub(super) fn on_uni(&mut self, id: u64, data: &[u8], fin: bool, streams: &mut impl Streams) {
        let Some(i) = self.unis.iter().position(|(u, _)| *u == id) else {
            return;
        };
        let mut input = data;
        let typed: Vec<u8>;
        if let Uni::Untyped(partial) = &mut self.unis[i].1 {
            partial.extend_from_slice(input);
            let mut pos = 0;
            let Some(kind) = frame::read_varint(partial, &mut pos) else {
                if fin {
                    self.unis.swap_remove(i);
                }
                return;
            };
            typed = partial.split_off(pos);
            input = &typed;
            let slot = match kind {
                uni::CONTROL => Some(0),
                uni::QPACK_ENCODER => Some(1),
                uni::QPACK_DECODER => Some(2),
                _ => None,
            };
            if let Some(slot) = slot
                && std::mem::replace(&mut self.opened[slot], true)
            {
                return self.fail(
                    code::STREAM_CREATION_ERROR,
                    "a second critical stream",
                    streams,
                );
            }
            self.unis[i].1 = match kind {
                uni::CONTROL => Uni::Control {
                    partial: Vec::new(),
                    skip: 0,
                },
                uni::QPACK_ENCODER => Uni::Encoder(Vec::new()),
                uni::QPACK_DECODER => Uni::Decoder(Vec::new()),
                uni::PUSH => {
                    // Only a server pushes (§6.2.2).
                    return self.fail(
                        code::STREAM_CREATION_ERROR,
                        "a push stream from a client",
                        streams,
                    );
                }
                _ => {
                    // Reserved and unknown types: not read (§6.2, §9).
                    streams.stop(id, code::STREAM_CREATION_ERROR);
                    Uni::Ignored
                }
            };
        }
        let result = match &mut self.unis[i].1 {
            Uni::Untyped(_) | Uni::Ignored => Ok(()),
            Uni::Control { partial, skip } => {
                let settings = &mut self.settings;
                control(partial, skip, input, settings)
            }
            Uni::Encoder(partial) => encoder(partial, input),
            Uni::Decoder(partial) => decoder(partial, input),
        };
        if let Err((code, why)) = result {
            return self.fail(code, why, streams);
        }
        if fin {
            let (_, uni) = self.unis.swap_remove(i);
            if !matches!(uni, Uni::Ignored | Uni::Untyped(_)) {
                self.fail(
                    code::CLOSED_CRITICAL_STREAM,
                    "critical stream closed",
                    streams,
                );
            }
        }
    }
}

/// What a connection error is: its code and why.
type Failure = (u64, &'static str);

/// Frames on the peer's control stream (§6.2.1, §7.2): SETTINGS first and
/// once; GOAWAY, MAX_PUSH_ID and CANCEL_PUSH read and let be (this server
/// pushes nothing, and a client's GOAWAY only limits pushes); unknown
/// frames passed over; anything else is H3_FRAME_UNEXPECTED.
fn control(
    partial: &mut Vec<u8>,
    skip: &mut u64,
    data: &[u8],
    settings: &mut bool,
) -> Result<(), Failure> {
    partial.extend_from_slice(data);
    let mut at = frame::pass_over(partial, 0, skip);
    while *skip == 0 {
        let Some(head) = frame::read_head(&partial[at..]) else {
            break;
        };
        if !*settings && head.kind != kind::SETTINGS {
            return Err((
                code::MISSING_SETTINGS,
                "the control stream did not open with SETTINGS",
            ));
        }
        let known = [
            kind::SETTINGS,
            kind::GOAWAY,
            kind::MAX_PUSH_ID,
            kind::CANCEL_PUSH,
        ];
        if known.contains(&head.kind) {
            if head.len > CONTROL_FRAME_MAX {
                return Err((code::EXCESSIVE_LOAD, "control frame too long"));
            }
            let end = at + head.size + head.len as usize;
            if partial.len() < end {
                break;
            }
            let payload = &partial[at + head.size..end];
            if head.kind == kind::SETTINGS {
                if std::mem::replace(settings, true) {
                    return Err((code::FRAME_UNEXPECTED, "a second SETTINGS"));
                }
                frame::read_settings(payload).map_err(|c| (c, "SETTINGS"))?;
            } else {
                // One integer: a stream or push id.
                let mut pos = 0;
                if frame::read_varint(payload, &mut pos).is_none() || pos != payload.len() {
                    return Err((
                        code::FRAME_ERROR,
                        "a control frame's length and its id disagree",
                    ));
                }
            }
            at = end;
            continue;
        }
        if head.kind == kind::DATA
            || head.kind == kind::HEADERS
            || head.kind == kind::PUSH_PROMISE
            || kind::is_http2_only(head.kind)
        {
            return Err((code::FRAME_UNEXPECTED, "frame not for the control stream"));
        }
        *skip = head.len;
        at = frame::pass_over(partial, at + head.size, skip);
    }
    partial.drain(..at);
    Ok(())
}

/// The peer's QPACK encoder stream (RFC 9204 §4.3): with no dynamic table
/// allowed, the only instruction it may send is a capacity of zero.
fn encoder(partial: &mut Vec<u8>, data: &[u8]) -> Result<(), Failure> {
    const ERROR: u64 = code::QPACK_ENCODER_STREAM_ERROR;
    partial.extend_from_slice(data);
    let mut at = 0;
    while at < partial.len() {
        if partial[at] & 0xe0 != 0x20 {
            return Err((ERROR, "an insertion into a table of capacity 0"));
        }
        let mut pos = at;
        match crate::field_coding::read_int(partial, &mut pos, 5) {
            Ok(0) => at = pos,
            Ok(_) => return Err((ERROR, "a dynamic table capacity above 0")),
            Err(crate::field_coding::IntError::Truncated) => break,
            Err(_) => return Err((ERROR, "integer too large")),
        }
    }
    partial.drain(..at);
    Ok(())
}

/// The peer's QPACK decoder stream (RFC 9204 §4.4): a field section
/// that named no dynamic entry is never acknowledged, nor an insert count
/// raised; a stream cancellation is taken.
fn decoder(partial: &mut Vec<u8>, data: &[u8]) -> Result<(), Failure> {
    const ERROR: u64 = code::QPACK_DECODER_STREAM_ERROR;
    partial.extend_from_slice(data);
    let mut at = 0;
    while at < partial.len() {
        if partial[at] & 0xc0 != 0x40 {
            return Err((ERROR, "an acknowledgment of a table never used"));
        }
        let mut pos = at;
        match crate::field_coding::read_int(partial, &mut pos, 6) {
            Ok(_) => at = pos,
            Err(crate::field_coding::IntError::Truncated) => break,
            Err(_) => return Err((ERROR, "integer too large")),
        }
    }
    partial.drain(..at);
    Ok(())
}
