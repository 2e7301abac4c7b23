//! One connection's HTTP/2: preface, SETTINGS, streams, flow control; bytes in, frames queued, no socket.
//!
//! The HTTP/2 exchange on one connection, without the socket: bytes in,
//! frames queued. The twin of [`crate::http1::session`] for HTTP/1.x.
//!
//! ```text
//!   Preface ──24 bytes──► Frames ──GOAWAY sent (our error, or a drain)──► Closing
//! ```
//!
//! In `Frames`, each frame is checked ([`super::frame`]), then handed to
//! the handler for its type (`control.rs`: SETTINGS are applied and
//! acknowledged, PING answered, WINDOW_UPDATE opens windows, RST_STREAM
//! forgets a stream; `heads.rs`: HEADERS and CONTINUATION; `data.rs`:
//! DATA). A request is a HEADERS
//! frame and any CONTINUATIONs, decoded ([`super::hpack`]) and checked
//! ([`super::request`]); the answer is decided as for HTTP/1.x
//! ([`crate::http::answer`]) and queued as a HEADERS frame and DATA frames
//! cut from the same body chunk, never copied. DATA leaves only while both
//! the connection's and the stream's windows allow; what is left waits in
//! the stream for a WINDOW_UPDATE (flow control is backpressure: nothing
//! spins). Streams take turns, one frame each, so one large download does
//! not hold back the small ones (RFC 9218's `priority` field can ask for
//! an urgency, and for a response to be sent whole before the next).
//!
//! What this side announces: at most 100 concurrent streams, header lists
//! of at most 16 KiB, the default window and frame size. The limits that
//! hold a client to them: a header block (HEADERS and its CONTINUATIONs)
//! of at most 64 KiB, a stream past the limit refused (REFUSED_STREAM),
//! and output the client does not read bounded by the connection's queue.
//! A client that keeps its windows shut meets the send deadline: while a
//! stream owes DATA ([`H2Session::owes_data`]), only DATA leaving counts
//! as progress, not PINGs and their ACKs.

use std::rc::Rc;

use crate::http::head::{self as request, Head};
use crate::http::session::{Session, SessionLoan};
use crate::http::status::Refusal;
use crate::http2::frame::{
    self, DEFAULT_MAX_FRAME, ErrorCode, Frame, H2Error, MAX_WINDOW, Parsed, flag, kind, setting,
};
use crate::http2::hpack::{Decoder, HpackError};
use crate::http2::response::Heads;
use crate::metrics::H2Counts;
use crate::out::{Chunk, OutQueue};

/// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
pub const MAX_STREAMS: usize = 100;

/// The largest header list this side takes (SETTINGS_MAX_HEADER_LIST_SIZE).
pub const MAX_HEADER_LIST: usize = 16 << 10;

/// The largest header block, HEADERS and CONTINUATIONs together: past it,
/// a CONTINUATION flood (2024) ends the connection.
pub const MAX_BLOCK: usize = 64 << 10;

/// Bytes of DATA a connection may have queued ahead of the socket, on
/// every transport: a client that opens its windows wide and then reads
/// nothing holds this much of our memory (over TLS the bytes themselves,
/// read to be sealed; on a plain connection the chunks that name them),
/// not the files it asked for; and a GOAWAY waits behind no more.
pub const READ_AHEAD: u64 = 256 << 10;

/// A DATA frame's payload when a file goes over TLS: with its 9-byte
/// header it fills one TLS record (16 KiB of plaintext, RFC 8446 §5.1)
/// exactly. Under TLS 1.2 (rustls seals one slice at a time) each record
/// is then one slice of the turn's buffer, passed as it is instead of
/// gathered from a header and a payload; under TLS 1.3 the stream copies
/// each record's plaintext once whatever the slices (`tls/records.rs`),
/// and the layout keeps a turn one chunk.
const SEALED_FRAME: i64 = (16 << 10) - frame::HEADER_LEN as i64;

/// The default initial window (§6.9.2), both ways.
const DEFAULT_WINDOW: i64 = 65_535;

/// Frames that ask for work or carry nothing (PING, SETTINGS, PRIORITY,
/// unknown types, empty DATA and CONTINUATION) a client may send beyond
/// `CHATTER_PER_STREAM` (10) for each request: past it, ENHANCE_YOUR_CALM.
/// Browsers send a handful per connection.
pub const MAX_CHATTER: u32 = 1_000;

/// What each request earns back of the chatter budget.
const CHATTER_PER_STREAM: u32 = 10;

/// Streams that may be reset, either way, before the rule against rapid
/// resets applies: past it, a client whose streams were reset more often
/// than half the times it opened one is sent ENHANCE_YOUR_CALM. Resets
/// the client sends (CVE-2023-44487) and those its frames make this side
/// send (a DATA after END_STREAM, a bad content-length, a zero
/// WINDOW_UPDATE: "MadeYouReset", CVE-2025-8671) count alike.
pub const RESETS_ALLOWED: u32 = 100;

/// Requests with a body that may wait for its end at once: each keeps
/// its head (up to [`MAX_HEADER_LIST`]) until then; past it, REFUSED_STREAM.
pub const HELD_REQUESTS: usize = 8;

/// Streams this side reset, remembered so that what the client sent
/// before our RST_STREAM reached it is ignored (§5.1, "closed"), rather
/// than taken as a frame on a stream that closed normally.
const RESETS_REMEMBERED: usize = 32;

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the client's preface.
    Preface,
    /// The preface is in; its SETTINGS frame must come next (§3.4).
    Settings,
    /// Exchanging frames.
    Frames,
    /// GOAWAY is queued; nothing more is read. The connection closes once
    /// the streams it still serves are done (or at once, after an error).
    Closing { error: bool },
}

/// One stream this side still answers.
#[derive(Debug)]
struct H2Stream {
    id: u32,
    /// What the client may still send us (RFC 9113 §5.1): until END_STREAM.
    receiving: bool,
    /// The body left to send, and whether END_STREAM is still owed.
    body: Option<Chunk>,
    /// Our send window on this stream.
    window: i64,
    /// The request's `content-length`, and the DATA received so far: they
    /// must agree (RFC 9113 §8.1.1).
    expect: Option<u64>,
    got: u64,
    /// RFC 9218 urgency, 0 (first) to 7, and whether the response may be
    /// interleaved with others of its urgency.
    urgency: u8,
    incremental: bool,
    /// A request whose body has not ended: it is answered at its end,
    /// once it is known to be well formed (§8.1.1: a content-length the
    /// DATA do not add up to makes it malformed, and it gets no answer).
    request: Option<Box<Head>>,
}

/// A header block in progress (HEADERS, then CONTINUATIONs).
#[derive(Debug, Clone, Copy)]
struct Block {
    stream: u32,
    end_stream: bool,
    /// Its priority names its own stream (§5.3.1): refused once decoded.
    on_itself: bool,
}

/// One connection's HTTP/2 state.
#[derive(Debug)]
pub struct H2Session {
    phase: Phase,
    decoder: Decoder,
    head: Head,
    /// The block `head` was decoded from, when it can be recalled.
    known: heads::KnownBlock,
    /// A header block in progress, and its bytes.
    block: Option<Block>,
    block_bytes: Vec<u8>,
    streams: Vec<H2Stream>,
    /// The highest stream the client opened (for GOAWAY, §6.8).
    last_stream: u32,
    /// Our connection send window, and the peer's settings.
    window: i64,
    peer_initial_window: i64,
    peer_max_frame: usize,
    /// Bytes of DATA received since the last WINDOW_UPDATE we sent.
    received: u64,
    /// Control frames and heads to queue, gathered per call.
    wire: Vec<u8>,
    /// Response heads: the HPACK encoder and its dynamic table.
    heads: Heads,
    /// The request line the access log shows, rebuilt per request.
    log_head: Vec<u8>,
    /// Frames that did no work, less what requests earned back.
    chatter: u32,
    /// Streams opened, and streams reset (either way).
    opened: u32,
    resets: u32,
    /// The last streams this side reset (at most [`RESETS_REMEMBERED`]).
    reset_by_us: Vec<u32>,
    /// Frames received.
    pub frames_in: u64,
    /// DATA frames queued, ever: the connection watches it move to tell
    /// a client taking its download from one sent only PING ACKs.
    data_frames: u64,
    /// `data_frames` when the connection's queue last ran empty (see
    /// [`Session::data_moved`]).
    data_mark: u64,
    /// Counts not yet added to the server's metrics.
    counts: H2Counts,
    /// The connection is HTTPS: file bodies are read, not sent with
    /// `sendfile`.
    secure: bool,
    /// Priorities a client sent ahead of their streams (RFC 9218 §7.1,
    /// PRIORITY_UPDATE for an idle stream): stream id, urgency, incremental.
    ahead: Vec<(u32, u8, bool)>,
}

impl H2Session {
    /// A session for a connection that has just been accepted: the server's
    /// SETTINGS go first (§3.4), before the client's preface is read.
    pub fn new(out: &mut OutQueue) -> H2Session {
        let mut s = H2Session {
            phase: Phase::Preface,
            decoder: Decoder::new(4096),
            head: Head::default(),
            known: heads::KnownBlock::default(),
            block: None,
            block_bytes: Vec::new(),
            streams: Vec::new(),
            last_stream: 0,
            window: DEFAULT_WINDOW,
            peer_initial_window: DEFAULT_WINDOW,
            peer_max_frame: DEFAULT_MAX_FRAME,
            received: 0,
            wire: Vec::new(),
            heads: Heads::default(),
            log_head: Vec::new(),
            chatter: 0,
            opened: 0,
            resets: 0,
            reset_by_us: Vec::new(),
            frames_in: 0,
            data_frames: 0,
            data_mark: 0,
            counts: H2Counts {
                connections: 1,
                ..H2Counts::default()
            },
            secure: false,
            ahead: Vec::new(),
        };
        frame::write_settings(
            &mut s.wire,
            &[
                (setting::MAX_CONCURRENT_STREAMS, MAX_STREAMS as u32),
                (setting::MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST as u32),
                (setting::ENABLE_PUSH, 0),
            ],
        );
        s.emit(out);
        s
    }

    /// Where the connection stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the connection is done: closing, and no stream left to
    /// finish.
    pub fn finished(&self) -> bool {
        match self.phase {
            Phase::Closing { error: true } => true,
            Phase::Closing { error: false } => self.streams.iter().all(|s| s.body.is_none()),
            _ => false,
        }
    }

    /// DATA frames queued since the connection began.
    pub fn data_frames(&self) -> u64 {
        self.data_frames
    }

    fn fail(&mut self, e: H2Error, out: &mut OutQueue) {
        match e {
            H2Error::Connection(code, why) => {
                log::debug!("HTTP/2 connection error {code:?}: {why}");
                log::trace!("HTTP/2 out: GOAWAY {code:?} (§5.4.1), then close");
                self.go_away(code, true, out);
            }
            H2Error::Stream(id, code, why) => {
                log::debug!("HTTP/2 stream {id} error {code:?}: {why}");
                log::trace!("HTTP/2 out: RST_STREAM stream {id} {code:?} (§5.4.2)");
                self.streams.retain(|s| s.id != id);
                frame::write_rst_stream(&mut self.wire, id, code);
                self.counts.resets_sent += 1;
                if self.reset_by_us.len() == RESETS_REMEMBERED {
                    self.reset_by_us.remove(0);
                }
                self.reset_by_us.push(id);
                if let Err(e) = self.count_reset() {
                    self.fail(e, out);
                }
            }
        }
    }

    /// Counts a stream reset, either way: past [`RESETS_ALLOWED`], more
    /// resets than half the streams opened end the connection.
    fn count_reset(&mut self) -> Result<(), H2Error> {
        self.resets += 1;
        if self.resets > RESETS_ALLOWED && self.resets * 2 > self.opened {
            let why = "more than half the streams reset (rapid reset)";
            return Err(H2Error::Connection(ErrorCode::EnhanceYourCalm, why));
        }
        Ok(())
    }

    fn go_away(&mut self, code: ErrorCode, error: bool, out: &mut OutQueue) {
        frame::write_goaway(&mut self.wire, self.last_stream, code);
        self.counts.goaways_sent += 1;
        if error {
            self.streams.clear();
        }
        self.phase = Phase::Closing { error };
        self.emit(out);
    }

    /// Moves what `wire` gathered into the queue, as one chunk.
    fn emit(&mut self, out: &mut OutQueue) {
        if !self.wire.is_empty() {
            out.push(Chunk::owned(Rc::from(&self.wire[..])));
            self.wire.clear();
        }
    }

    fn apply(
        &mut self,
        f: Frame<'_>,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        let conn = |code, why| H2Error::Connection(code, why);
        // §6.10: once a block has begun, only its CONTINUATIONs may follow.
        if let Some(block) = self.block
            && !matches!(f, Frame::Continuation { stream, .. } if stream == block.stream)
        {
            return Err(conn(ErrorCode::Protocol, "frame inside a header block"));
        }
        // §3.4: the client's preface ends with a SETTINGS frame.
        if self.phase == Phase::Settings {
            if !matches!(f, Frame::Settings { ack: false, .. }) {
                return Err(conn_error("the preface's SETTINGS must come first"));
            }
            self.phase = Phase::Frames;
        }
        let idle = match f {
            Frame::Ping { .. }
            | Frame::Settings { .. }
            | Frame::Priority { .. }
            | Frame::PriorityUpdate { .. }
            | Frame::Unknown { .. } => true,
            Frame::Data {
                flow_len,
                end_stream,
                ..
            } => flow_len == 0 && !end_stream,
            Frame::Continuation {
                block, end_headers, ..
            } => block.is_empty() && !end_headers,
            _ => false,
        };
        if idle {
            self.chatter += 1;
            if self.chatter > MAX_CHATTER {
                return Err(conn(
                    ErrorCode::EnhanceYourCalm,
                    "too many frames that do no work",
                ));
            }
        }
        // One handler per frame type (h2o's FRAME_HANDLERS[type]); each
        // says which section of RFC 9113 it follows.
        match f {
            Frame::Data {
                stream,
                data,
                flow_len,
                end_stream,
            } => self.receive_data(stream, data.len(), flow_len, end_stream, loan, out),
            Frame::Headers {
                stream,
                block,
                end_stream,
                end_headers,
                depends_on,
            } => {
                let on_itself = depends_on == Some(stream);
                self.on_headers(
                    stream,
                    block,
                    (end_stream, end_headers, on_itself),
                    loan,
                    out,
                )
            }
            Frame::Continuation {
                stream,
                block,
                end_headers,
            } => self.on_continuation(stream, block, end_headers, loan, out),
            Frame::Settings { ack, params } => self.on_settings(ack, params),
            Frame::Ping { ack, data } => {
                self.on_ping(ack, data);
                Ok(())
            }
            Frame::GoAway { .. } => {
                self.on_goaway(out);
                Ok(())
            }
            Frame::WindowUpdate { stream, increment } => self.on_window_update(stream, increment),
            Frame::RstStream { stream, .. } => self.on_rst_stream(stream),
            Frame::PriorityUpdate { prioritized, value } => {
                self.on_priority_update(prioritized, value)
            }
            // §5.3.2: PRIORITY is deprecated and ignored; §4.1 and §5.5:
            // an unknown type is ignored.
            Frame::Priority { .. } | Frame::Unknown { .. } => Ok(()),
        }
    }
}

/// A connection error of the protocol's own (PROTOCOL_ERROR).
fn conn_error(why: &'static str) -> H2Error {
    H2Error::Connection(ErrorCode::Protocol, why)
}

mod control;
mod data;
mod heads;
mod respond;
/// What the connection asks of an HTTP/2 session.
impl Session for H2Session {
    /// Consumes frames from `input`, queuing what they call for; returns
    /// how many bytes were used (the rest is an incomplete frame).
    fn on_input(&mut self, input: &[u8], loan: &mut SessionLoan<'_>, out: &mut OutQueue) -> usize {
        self.secure = loan.secure;
        let mut pos = 0;
        if self.phase == Phase::Preface {
            let have = input.len().min(frame::PREFACE.len());
            if input[..have] != frame::PREFACE[..have] {
                // Not HTTP/2 at all: nothing to say in frames but GOAWAY.
                self.go_away(ErrorCode::Protocol, true, out);
                return input.len();
            }
            if have < frame::PREFACE.len() {
                return 0;
            }
            pos = have;
            self.phase = Phase::Settings;
        }
        while self.reading() && pos < input.len() {
            match frame::parse(&input[pos..], DEFAULT_MAX_FRAME) {
                Ok(Parsed::Partial) => break,
                Ok(Parsed::Frame(f, n)) => {
                    pos += n;
                    self.frames_in += 1;
                    log::trace!("connection {}: HTTP/2 in: {f}", loan.client);
                    self.counts.frames_received += 1;
                    if let Err(e) = self.apply(f, loan, out) {
                        self.fail(e, out);
                    }
                }
                // A stream error in a frame of its own: that stream is
                // reset, and the frames after it are read as usual (a
                // valid request may share the write).
                Ok(Parsed::Refused(e, n)) => {
                    pos += n;
                    self.frames_in += 1;
                    self.counts.frames_received += 1;
                    let e = match (self.block, self.phase) {
                        (Some(_), _) => conn_error("frame inside a header block"),
                        (_, Phase::Settings) => {
                            conn_error("the preface's SETTINGS must come first")
                        }
                        _ => e,
                    };
                    self.fail(e, out);
                }
                Err(e) => {
                    self.fail(e, out);
                    pos = input.len();
                }
            }
        }
        self.send_data(out);
        self.emit(out);
        loan.ops.metrics.h2.add(&self.counts);
        self.counts = H2Counts::default();
        if !self.reading() {
            return input.len();
        }
        pos
    }

    /// Queues more DATA after the connection's output was sent (windows
    /// may have opened meanwhile).
    fn on_writable(&mut self, out: &mut OutQueue) {
        self.data_mark = self.data_frames;
        self.send_data(out);
        self.emit(out);
    }

    /// Whether more input is wanted: until an error, or until the streams
    /// a GOAWAY left running are done (their WINDOW_UPDATEs still count).
    fn reading(&self) -> bool {
        !self.finished()
    }

    /// Whether a stream still has DATA to send: with the connection's
    /// queue empty, that means it waits for the client to open a window,
    /// and the connection's send deadline runs (a client that never opens
    /// its window, or keeps it shut while sending PINGs, is closed on
    /// time).
    fn owes_data(&self) -> bool {
        self.streams.iter().any(|s| s.body.is_some())
    }

    /// Output written since the queue last ran empty counts as the client
    /// taking its answers unless DATA is owed and none was queued since
    /// (then it was PING ACKs and the like).
    fn data_moved(&self) -> bool {
        !self.owes_data() || self.data_frames != self.data_mark
    }

    /// A shutdown: GOAWAY with the last stream taken; those streams are
    /// finished, no new one is.
    fn drain(&mut self, out: &mut OutQueue) {
        if !matches!(self.phase, Phase::Closing { .. }) {
            self.go_away(ErrorCode::NoError, false, out);
        }
    }

    /// Gives back the per-request buffers if no stream is left, and says
    /// whether it did: an idle HTTP/2 connection keeps its session (the
    /// HPACK decoder's table, the settings, the windows), but not room for
    /// requests it is not making, nor the table of heads it sent (the next
    /// head tells the client to empty its copy). Thousands of idle connections are the common case
    /// on a small host.
    fn give_back(&mut self) -> bool {
        if !self.streams.is_empty() || self.block.is_some() {
            return false;
        }
        if self.reset_by_us.is_empty() {
            self.reset_by_us = Vec::new();
        }
        self.streams = Vec::new();
        self.block_bytes = Vec::new();
        self.wire = Vec::new();
        self.log_head = Vec::new();
        self.head = Head::default();
        self.known = heads::KnownBlock::default();
        if self.ahead.is_empty() {
            self.ahead = Vec::new();
        }
        self.heads.give_back();
        true
    }
}

#[cfg(test)]
mod tests;
