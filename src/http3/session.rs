//! One QUIC connection's HTTP/3 (RFC 9114): its control and QPACK streams, requests read and answered; stream bytes in, stream writes out, no socket.
//!
//! QUIC carries what HTTP/2 had to build itself: each request is a
//! bidirectional stream of its own, with its own flow control, and its
//! end is the stream's end. What is left to HTTP/3 is a few frames. The
//! client's request stream carries HEADERS (a QPACK field section) and
//! perhaps DATA; the answer goes back on the same stream as HEADERS and
//! one DATA frame, and the stream is finished. Each side also opens a
//! control stream, which starts with SETTINGS and lives as long as the
//! connection, and may open QPACK's encoder and decoder streams; this
//! server's dynamic table stays empty (`super::qpack`), so on those a
//! client may only say that.
//!
//! The session is driven by the connection above it (`crate::quic`),
//! through [`Streams`]: each stream the peer opens is announced
//! ([`H3Session::on_open`]), the bytes that arrive on it come in through
//! [`H3Session::on_data`], and the answer is written into the stream as
//! far as QUIC's flow control takes it, the rest when the stream is
//! writable again ([`H3Session::on_writable`]). A body is never held
//! whole: a file is read 64 KiB at a time as the stream takes it.
//!
//! What a peer can get wrong is answered as the RFC names it: a frame
//! where it may not be (H3_FRAME_UNEXPECTED), a critical stream closed
//! (H3_CLOSED_CRITICAL_STREAM), SETTINGS missing or wrong, a QPACK
//! reference to the empty table: each closes the connection with its code.
//! A malformed request resets its stream (H3_MESSAGE_ERROR); a head too
//! large is answered 431; the other streams go on.

use bytes::{Bytes, BytesMut};

use crate::http::answer::{self, Answer, Ask};
use crate::http::grammar::KnownHost;
use crate::http::head::Head;
use crate::http::session::SessionLoan;
use crate::http::status::{Refusal, Status};
use crate::http3::frame::{self, code, kind};
use crate::http3::qpack::{self, QpackError};
use crate::http3::response;
use crate::out::Chunk;

/// What the connection beneath does for the session: QUIC's streams.
pub trait Streams {
    /// Writes as much of `data`, in order, as stream `id` takes now,
    /// advancing each past what was taken; `Err` when the stream is gone
    /// (the peer stopped it, or it was reset).
    fn write(&mut self, id: u64, data: &mut [Bytes]) -> Result<(), Gone>;
    /// Ends stream `id` after what was written.
    fn finish(&mut self, id: u64);
    /// Abandons sending on stream `id` with `code` (RESET_STREAM).
    fn reset(&mut self, id: u64, code: u64);
    /// Asks the peer to stop sending on stream `id` (STOP_SENDING).
    fn stop(&mut self, id: u64, code: u64);
    /// Closes the connection with `code` (CONNECTION_CLOSE).
    fn close(&mut self, code: u64, reason: &'static str);
}

/// A stream the peer stopped, or that is otherwise closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// How much of a body is read into one write.
const PIECE: usize = 64 * 1024;

/// One request stream.
#[derive(Debug)]
struct H3Stream {
    id: u64,
    state: StreamState,
}

/// Where a request stream is.
#[derive(Debug)]
enum StreamState {
    /// Reading frames until HEADERS is whole: the bytes of a frame that is
    /// not yet, and how much of an unknown frame is still to be skipped.
    Reading { partial: Vec<u8>, skip: u64 },
    /// Answering: the bytes the stream has not taken yet (the head, and
    /// the DATA frame's head with what of the body is in memory), then
    /// the rest of the body.
    Sending {
        pending: [Bytes; 2],
        body: Option<Chunk>,
    },
}

/// A unidirectional stream the peer opened, by what its type says.
#[derive(Debug)]
enum Uni {
    /// Its type has not arrived whole.
    Untyped(Vec<u8>),
    /// The control stream: frames, the first of them SETTINGS.
    Control { partial: Vec<u8>, skip: u64 },
    /// QPACK's encoder stream: at most "capacity 0".
    Encoder(Vec<u8>),
    /// QPACK's decoder stream: at most stream cancellations.
    Decoder(Vec<u8>),
    /// A type this server does not read: stopped, its bytes dropped.
    Ignored,
}

/// One QUIC connection's HTTP/3 exchange.
#[derive(Debug)]
pub struct H3Session {
    /// The largest field section a request may have, decoded.
    limit: usize,
    /// The peer's unidirectional streams.
    unis: Vec<(u64, Uni)>,
    /// Which critical streams the peer has opened: control, encoder,
    /// decoder (a second of any is an error).
    opened: [bool; 3],
    /// The peer's SETTINGS arrived.
    settings: bool,
    /// Requests being read or answered.
    streams: Vec<H3Stream>,
    /// The next request stream id not yet seen: GOAWAY names it.
    next_id: u64,
    /// A drain began: GOAWAY sent, new requests refused.
    draining: bool,
    /// The connection was closed with an error: nothing more is read.
    closed: bool,
    /// Scratch: the request's head, Huffman-decoded strings, a field
    /// section, the log line.
    head: Head,
    scratch: Vec<u8>,
    block: Vec<u8>,
    log_head: Vec<u8>,
    /// The host value last found valid.
    known_host: KnownHost,
    /// The last field section decoded whole into a well-formed request
    /// (in `head` still): the same bytes again are the same request, with
    /// no table to change what they mean.
    known: Vec<u8>,
    /// The last cached file's HEADERS frame.
    heads: response::Heads,
    /// The control stream, once opened.
    control: Option<u64>,
}

/// Whether a stream id is the peer's unidirectional one (RFC 9000 §2.1:
/// bit 0x2 unidirectional, bit 0x1 server-initiated).
fn is_uni(id: u64) -> bool {
    id & 0x2 != 0
}

impl H3Session {
    /// A session whose requests' field sections may decode to `limit`
    /// bytes at most.
    pub fn new(limit: usize) -> H3Session {
        H3Session {
            limit,
            unis: Vec::new(),
            opened: [false; 3],
            settings: false,
            streams: Vec::new(),
            next_id: 0,
            draining: false,
            closed: false,
            head: Head::default(),
            scratch: Vec::new(),
            block: Vec::new(),
            log_head: Vec::new(),
            known_host: KnownHost::default(),
            known: Vec::new(),
            heads: response::Heads::default(),
            control: None,
        }
    }

    /// The handshake is done and `control` is this side's new
    /// unidirectional stream: it opens as the control stream, with
    /// SETTINGS (§6.2.1).
    pub fn start(&mut self, control: u64, streams: &mut impl Streams) {
        self.control = Some(control);
        let mut opening = [Bytes::from(frame::control_stream_opening(
            self.limit as u64,
        ))];
        // A new stream takes its first bytes: the peer allows at least
        // 1,024 on each (§6.2), and these are a dozen.
        if streams.write(control, &mut opening).is_err() || !opening[0].is_empty() {
            self.fail(
                code::CLOSED_CRITICAL_STREAM,
                "control stream refused",
                streams,
            );
        }
    }

    /// Whether requests are still being answered.
    pub fn is_busy(&self) -> bool {
        !self.streams.is_empty()
    }

    /// Whether the connection failed and closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests in progress.
    pub fn requests(&self) -> usize {
        self.streams.len()
    }

    /// Once a second, with no request in progress: gives back the room
    /// requests took (the last head and its memos, the scratch), as an
    /// idle HTTP/2 session does; the next request decodes afresh. Returns
    /// whether it did.
    pub fn give_back(&mut self) -> bool {
        if !self.streams.is_empty() {
            return false;
        }
        self.streams = Vec::new();
        self.head = Head::default();
        self.scratch = Vec::new();
        self.block = Vec::new();
        self.log_head = Vec::new();
        self.known = Vec::new();
        self.heads = response::Heads::default();
        self.unis.shrink_to_fit();
        for (_, uni) in &mut self.unis {
            if let Uni::Control { partial, .. } | Uni::Encoder(partial) | Uni::Decoder(partial) =
                uni
                && partial.is_empty()
            {
                *partial = Vec::new();
            }
        }
        true
    }

    /// Shutdown: GOAWAY on the control stream naming the first request
    /// not taken (§5.2); the requests taken are finished, later ones
    /// refused.
    pub fn drain(&mut self, streams: &mut impl Streams) {
        if self.draining || self.closed {
            return;
        }
        self.draining = true;
        if let Some(control) = self.control {
            let mut goaway = [Bytes::from(frame::goaway(self.next_id))];
            if streams.write(control, &mut goaway).is_err() {
                self.fail(code::CLOSED_CRITICAL_STREAM, "control stream gone", streams);
            }
        }
    }

    /// The peer opened stream `id` (QUIC hands streams over in order).
    pub fn on_open(&mut self, id: u64, streams: &mut impl Streams) {
        if self.closed {
            return;
        }
        if is_uni(id) {
            self.unis.push((id, Uni::Untyped(Vec::new())));
            return;
        }
        self.next_id = self.next_id.max(id + 4);
        if self.draining {
            // After GOAWAY: not processed, safe to retry (§5.2).
            streams.reset(id, code::REQUEST_REJECTED);
            streams.stop(id, code::REQUEST_REJECTED);
            return;
        }
        self.streams.push(H3Stream {
            id,
            state: StreamState::Reading {
                partial: Vec::new(),
                skip: 0,
            },
        });
    }

    /// `data` arrived on stream `id`, the last of it if `fin`.
    pub fn on_data(
        &mut self,
        id: u64,
        data: &[u8],
        fin: bool,
        loan: &mut SessionLoan<'_>,
        streams: &mut impl Streams,
    ) {
        if self.closed {
            return;
        }
        if is_uni(id) {
            self.on_uni(id, data, fin, streams);
        } else {
            self.on_request(id, data, fin, loan, streams);
        }
    }

    /// Stream `id` takes more: the answer goes on.
    pub fn on_writable(&mut self, id: u64, streams: &mut impl Streams) {
        if let Some(i) = self.streams.iter().position(|s| s.id == id) {
            self.send(i, streams);
        }
    }

    /// The peer reset stream `id`, or asked that nothing more be sent on
    /// it: its answer is dropped; a critical stream closes the connection.
    pub fn on_gone(&mut self, id: u64, streams: &mut impl Streams) {
        if is_uni(id) {
            if let Some(i) = self.unis.iter().position(|(u, _)| *u == id) {
                let (_, uni) = self.unis.swap_remove(i);
                if matches!(uni, Uni::Control { .. } | Uni::Encoder(_) | Uni::Decoder(_)) {
                    self.fail(
                        code::CLOSED_CRITICAL_STREAM,
                        "critical stream reset",
                        streams,
                    );
                }
            }
            return;
        }
        self.streams.retain(|s| s.id != id);
    }

    /// Closes the connection with a connection error.
    fn fail(&mut self, code: u64, why: &'static str, streams: &mut impl Streams) {
        if !self.closed {
            log::debug!("HTTP/3 connection error {code:#x}: {why}");
            self.closed = true;
            self.streams.clear();
            streams.close(code, why);
        }
    }

    /// Bytes on a request stream.
    fn on_request(
        &mut self,
        id: u64,
        data: &[u8],
        fin: bool,
        loan: &mut SessionLoan<'_>,
        streams: &mut impl Streams,
    ) {
        // A stream not among them was answered (or refused) already.
        let Some(i) = self.streams.iter().position(|s| s.id == id) else {
            return;
        };
        let StreamState::Reading { partial, skip } = &mut self.streams[i].state else {
            // Answered: what follows (a body, trailers) is not read; the
            // peer was asked to stop sending it.
            return;
        };
        let mut joined = std::mem::take(partial);
        let input: &[u8] = match joined.is_empty() {
            true => data,
            false => {
                joined.extend_from_slice(data);
                &joined
            }
        };
        let mut skip_left = *skip;
        let mut at = frame::pass_over(input, 0, &mut skip_left);
        while skip_left == 0 {
            let Some(head) = frame::read_head(&input[at..]) else {
                break;
            };
            match head.kind {
                kind::HEADERS => {
                    if head.len > self.limit as u64 {
                        // Too large to hold: answered 431 unread, and the
                        // rest of it not sent.
                        self.answer(i, id, None, true, loan, streams);
                        return;
                    }
                    let end = at + head.size + head.len as usize;
                    if input.len() < end {
                        break;
                    }
                    let payload = &input[at + head.size..end];
                    let more = !(fin && end == input.len());
                    self.answer(i, id, Some(payload), more, loan, streams);
                    return;
                }
                kind::DATA => {
                    return self.fail(code::FRAME_UNEXPECTED, "DATA before HEADERS", streams);
                }
                k if k == kind::SETTINGS
                    || k == kind::GOAWAY
                    || k == kind::MAX_PUSH_ID
                    || k == kind::CANCEL_PUSH
                    || k == kind::PUSH_PROMISE
                    || kind::is_http2_only(k) =>
                {
                    return self.fail(
                        code::FRAME_UNEXPECTED,
                        "frame not for a request stream",
                        streams,
                    );
                }
                _ => {
                    // Unknown types are passed over (§9), however long.
                    skip_left = head.len;
                    at = frame::pass_over(input, at + head.size, &mut skip_left);
                }
            }
        }
        if fin {
            // The stream ended before its HEADERS did (§4.1).
            streams.reset(id, code::REQUEST_INCOMPLETE);
            self.streams.swap_remove(i);
            return;
        }
        let rest = input[at..].to_vec();
        if let StreamState::Reading { partial, skip } = &mut self.streams[i].state {
            *partial = rest;
            *skip = skip_left;
        }
    }

    /// Answers request stream `id` (index `i`) whose HEADERS payload is
    /// `payload` (`None`: too large to read, answered 431); `more` when
    /// the peer has not finished the stream (it is asked to stop).
    fn answer(
        &mut self,
        i: usize,
        id: u64,
        payload: Option<&[u8]>,
        more: bool,
        loan: &mut SessionLoan<'_>,
        streams: &mut impl Streams,
    ) {
        let mut refusal = None;
        match payload {
            None => {
                self.head.clear();
                self.known.clear();
                refusal = Some(Refusal::HeadTooLarge);
            }
            // The request last decoded, again (a client asks for the same
            // file with the same fields): `head` holds it, checked.
            Some(payload) if !self.known.is_empty() && payload == self.known => {}
            Some(payload) => {
                self.head.clear();
                self.known.clear();
                let head = &mut self.head;
                let decoded = qpack::decode(payload, self.limit, &mut self.scratch, |n, v| {
                    head.field(n, v)
                });
                match decoded {
                    Ok(()) => {
                        if let Err(why) = self.head.finish_knowing(&mut self.known_host) {
                            log::debug!("HTTP/3 stream {id}: malformed request: {why}");
                            streams.reset(id, code::MESSAGE_ERROR);
                            streams.stop(id, code::MESSAGE_ERROR);
                            self.streams.swap_remove(i);
                            return;
                        }
                        self.known.extend_from_slice(payload);
                    }
                    Err(QpackError::TooLarge) => refusal = Some(Refusal::HeadTooLarge),
                    Err(e) => {
                        log::debug!("HTTP/3 stream {id}: {e}");
                        return self.fail(code::QPACK_DECOMPRESSION_FAILED, "QPACK", streams);
                    }
                }
            }
        }
        if more {
            // The answer does not wait for a body it would not read
            // (§4.1.2: STOP_SENDING with H3_NO_ERROR).
            streams.stop(id, code::NO_ERROR);
        }
        let fields = self.head.fields();
        let max_body = loan.site.limits.max_body_bytes;
        let ask = Ask {
            method: self.head.method(),
            target: self.head.target(),
            fields: &fields,
            body_too_large: self.head.content_length.is_some_and(|n| n > max_body),
            secure: true,
            draining: self.draining,
        };
        let head_only = ask.head_only();
        let site = &mut *loan.site;
        let now = site.date.second().unwrap_or(0);
        let answer = match refusal {
            Some(why) => Answer::Refused(why),
            None => answer::decide(&ask, &mut site.files, &site.routes, &loan.ops.metrics, now),
        };
        let status = answer.status();
        let len = answer.body_len();
        let no_body = head_only || len == 0 || status == Status::NotModified;
        let (date, secure) = (site.date.value(), site.secure.on(true));
        let head = self.heads.headers(&answer, date, secure, &mut self.block);
        let (data, body) = match no_body {
            true => (Bytes::new(), None),
            false => data(answer),
        };
        self.log_head.clear();
        self.log_head
            .extend_from_slice(self.head.method().as_bytes());
        self.log_head.push(b' ');
        self.log_head.extend_from_slice(self.head.target());
        self.log_head.extend_from_slice(b" HTTP/3.0");
        let body_bytes = if no_body { 0 } else { len };
        log::trace!(
            "HTTP/3 stream {id}: {} -> HEADERS ({}){}",
            String::from_utf8_lossy(&self.log_head),
            status.code(),
            match no_body {
                true => ", stream finished".to_string(),
                false => format!(", {body_bytes} bytes of DATA to follow as flow control allows"),
            }
        );
        loan.ops.metrics.h3.streams += 1;
        loan.record(&self.log_head, (status, body_bytes), body_bytes, &fields);
        self.streams[i].state = StreamState::Sending {
            pending: [head, data],
            body,
        };
        self.send(i, streams);
    }

    /// Writes stream `i`'s answer as far as the stream takes it; finishes
    /// the stream and forgets it once all is written.
    fn send(&mut self, i: usize, streams: &mut impl Streams) {
        let s = &mut self.streams[i];
        let StreamState::Sending { pending, body } = &mut s.state else {
            return;
        };
        loop {
            if pending.iter().all(Bytes::is_empty) {
                match next_piece(body) {
                    Ok(Some(piece)) => pending[0] = piece,
                    Ok(None) => {
                        streams.finish(s.id);
                        self.streams.swap_remove(i);
                        return;
                    }
                    Err(e) => {
                        log::warn!("HTTP/3 stream {}: reading the body: {e}", s.id);
                        streams.reset(s.id, code::INTERNAL_ERROR);
                        self.streams.swap_remove(i);
                        return;
                    }
                }
            }
            if streams.write(s.id, pending).is_err() {
                self.streams.swap_remove(i);
                return;
            }
            if !pending.iter().all(Bytes::is_empty) {
                // The stream's or the connection's window is full: on
                // when it is writable again.
                return;
            }
        }
    }
}

/// An answer's DATA frame as far as memory holds it, and the rest of its
/// body to read: a cached file's whole frame is its entry's, shared (no
/// copy, no allocation); another small body is copied behind the frame's
/// head; a file's body is read as the stream takes it.
fn data(answer: Answer<'_>) -> (Bytes, Option<Chunk>) {
    if let Answer::File { entry, range: None } = &answer
        && let Some(frame) = response::data_frame(entry)
    {
        return (frame, None);
    }
    let len = answer.body_len();
    let mut head = Vec::with_capacity(16);
    frame::write_head(&mut head, kind::DATA, len);
    let body = answer.into_body();
    match body.bytes() {
        Some(bytes) if bytes.len() <= PIECE => {
            head.extend_from_slice(bytes);
            (Bytes::from(head), None)
        }
        _ => (Bytes::from(head), Some(body)),
    }
}

/// The next piece of a body to write, advancing it: a file read 64 KiB at
/// a time, bytes in memory as they are; `None` once it is all out.
fn next_piece(body: &mut Option<Chunk>) -> std::io::Result<Option<Bytes>> {
    let Some(chunk) = body.as_mut() else {
        return Ok(None);
    };
    let piece = match &mut *chunk {
        Chunk::File { file, pos, end } => {
            let want = (*end - *pos).min(PIECE as u64) as usize;
            // Not zeroed first: pread overwrites it, and zeroing 64 KiB a
            // piece was one more pass over every byte of a download.
            let mut buf = BytesMut::with_capacity(want);
            let got = crate::sys::pread_uninit(file, &mut buf.spare_capacity_mut()[..want], *pos)?;
            // SAFETY: pread wrote the first `got` bytes of the spare room.
            unsafe { buf.set_len(got) };
            if got == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file is shorter than when it was opened",
                ));
            }
            *pos += got as u64;
            buf.freeze()
        }
        Chunk::Static(bytes) => Bytes::from_static(bytes),
        other => Bytes::copy_from_slice(other.bytes().unwrap_or_default()),
    };
    let done = match &*chunk {
        Chunk::File { pos, end, .. } => pos >= end,
        _ => true,
    };
    if done {
        *body = None;
    }
    Ok(Some(piece))
}

mod uni;

#[cfg(test)]
mod tests;
