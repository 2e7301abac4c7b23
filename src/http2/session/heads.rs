//! HEADERS and CONTINUATION, and a stream's header block once whole: decoded, checked, and the stream opened, held for its body, answered or refused.
//!
//! The block is decoded whatever becomes of its stream, so that the HPACK
//! tables stay in step (RFC 9113 §4.3): a list past the limit is read to
//! its end and answered 431, one whose priority names its own stream is
//! refused after it is decoded. A block on a stream already open is its
//! trailers. A request with a body waits on its stream until the body
//! ends ([`super::H2Stream::request`]).

use super::*;

impl H2Session {
    /// HEADERS (§6.2): a block begins on a new odd stream (or trailers on
    /// one still sending its body); with END_HEADERS it is whole.
    /// `flags`: END_STREAM, END_HEADERS, and whether its priority names
    /// the stream itself (§5.3.1).
    pub(super) fn on_headers(
        &mut self,
        stream: u32,
        block: &[u8],
        (end_stream, end_headers, on_itself): (bool, bool, bool),
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        if stream.is_multiple_of(2) {
            return Err(conn_error("even stream id from a client"));
        }
        if stream <= self.last_stream {
            // Trailers on a stream still sending its body are checked and
            // ignored; anything else reuses a stream.
            let trailers = self.streams.iter().any(|s| s.id == stream && s.receiving);
            if !trailers {
                let why = "HEADERS on a used stream";
                return Err(H2Error::Connection(ErrorCode::StreamClosed, why));
            }
        }
        self.block = Some(Block {
            stream,
            end_stream,
            on_itself,
        });
        self.block_bytes.clear();
        self.block_bytes.extend_from_slice(block);
        if end_headers {
            self.end_block(loan, out)?;
        }
        Ok(())
    }

    /// CONTINUATION (§6.10): more of the block its HEADERS began, at most
    /// [`MAX_BLOCK`] in all.
    pub(super) fn on_continuation(
        &mut self,
        stream: u32,
        block: &[u8],
        end_headers: bool,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        if self.block.map(|b| b.stream) != Some(stream) {
            return Err(conn_error("CONTINUATION without HEADERS"));
        }
        if self.block_bytes.len() + block.len() > MAX_BLOCK {
            let why = "header block too large";
            return Err(H2Error::Connection(ErrorCode::EnhanceYourCalm, why));
        }
        self.block_bytes.extend_from_slice(block);
        if end_headers {
            self.end_block(loan, out)?;
        }
        Ok(())
    }

    /// Decodes the block into `self.head`, unless it is the block the head
    /// already holds, at the table's same generation; returns whether the
    /// list was past the limit. A list past the limit is decoded whole all
    /// the same (the tables stay in step): that request alone is refused,
    /// with 431.
    fn decode_block(&mut self) -> Result<bool, H2Error> {
        let generation = self.decoder.generation();
        if let Some(too_large) = self.known.recall(&self.block_bytes, generation) {
            return Ok(too_large);
        }
        self.head.clear();
        let head = &mut self.head;
        let too_large = match (self.decoder)
            .decode(&self.block_bytes, MAX_HEADER_LIST, |n, v| head.field(n, v))
        {
            Ok(()) => false,
            Err(HpackError::TooLarge) => true,
            Err(e) => {
                log::debug!("HTTP/2 header block: {e}");
                return Err(H2Error::Connection(
                    ErrorCode::Compression,
                    "header block does not decode",
                ));
            }
        };
        let unchanged = self.decoder.generation() == generation;
        self.known
            .note(&self.block_bytes, generation, unchanged, too_large);
        Ok(too_large)
    }

    /// A whole header block: decode it, and answer a new stream.
    pub(super) fn end_block(
        &mut self,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        let Some(Block {
            stream: id,
            end_stream,
            on_itself,
        }) = self.block.take()
        else {
            return Ok(());
        };
        let too_large = self.decode_block()?;
        if id <= self.last_stream {
            return self.trailers(id, end_stream, on_itself, loan, out);
        }
        if self.phase != Phase::Frames {
            // After our GOAWAY, new streams are ignored (§6.8); the block
            // was decoded all the same, to keep the table in step.
            return Ok(());
        }
        self.last_stream = id;
        // A priority sent ahead applies to its stream; those for streams
        // skipped over (now closed, §5.1.1) go.
        let ahead = (self.ahead.iter())
            .find(|p| p.0 == id)
            .map(|&(_, urgency, incremental)| (urgency, incremental));
        self.ahead.retain(|p| p.0 > id);
        if on_itself {
            let why = "stream depends on itself";
            return Err(H2Error::Stream(id, ErrorCode::Protocol, why));
        }
        if self.streams.len() >= MAX_STREAMS {
            // Answers whose DATA the windows allow end their streams:
            // whether a stream is refused must not depend on how many
            // requests came in one read.
            self.send_data(out);
        }
        if self.streams.len() >= MAX_STREAMS {
            return Err(H2Error::Stream(
                id,
                ErrorCode::RefusedStream,
                "too many streams",
            ));
        }
        self.opened += 1;
        self.counts.streams += 1;
        self.chatter = self.chatter.saturating_sub(CHATTER_PER_STREAM);
        let (urgency, incremental) = ahead.unwrap_or_else(|| self.head.priority());
        let refusal = if too_large {
            Some(Refusal::HeadTooLarge)
        } else {
            let checked = match self.known.checked {
                Some(checked) => checked,
                None => self.head.finish_knowing(&mut loan.site.known_host),
            };
            self.known.checked = Some(checked);
            if let Err(why) = checked {
                return Err(H2Error::Stream(id, ErrorCode::Protocol, why));
            }
            if end_stream && self.head.content_length.is_some_and(|n| n > 0) {
                // The head ends the stream, so the body its content-length
                // announces can never come (§8.1.1).
                let why = "content-length on a request without DATA";
                return Err(H2Error::Stream(id, ErrorCode::Protocol, why));
            }
            None
        };
        let body_too_large =
            (self.head.content_length).is_some_and(|n| n > loan.site.limits.max_body_bytes);
        let hold = !end_stream && refusal.is_none() && !body_too_large;
        if hold && self.streams.iter().filter(|s| s.request.is_some()).count() >= HELD_REQUESTS {
            let why = "too many requests waiting for their bodies";
            return Err(H2Error::Stream(id, ErrorCode::RefusedStream, why));
        }
        let mut stream = H2Stream {
            id,
            receiving: !end_stream,
            body: None,
            window: self.peer_initial_window,
            expect: self.head.content_length,
            got: 0,
            urgency,
            incremental,
            request: None,
        };
        if hold {
            // Answered once its body has ended (see `H2Stream::request`).
            stream.request = Some(Box::new(std::mem::take(&mut self.head)));
            self.known.forget();
            self.streams.push(stream);
            return Ok(());
        }
        self.answer(id, Some(stream), refusal, loan, out);
        Ok(())
    }

    /// A header block on a stream already open: trailers, decoded to keep
    /// the table in step, checked, then dropped. They end the stream's
    /// input (§8.1), and a request held for its body is answered.
    fn trailers(
        &mut self,
        id: u32,
        end_stream: bool,
        on_itself: bool,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        let why = if on_itself {
            Some("stream depends on itself")
        } else if !end_stream {
            Some("trailers without END_STREAM")
        } else {
            self.head.finish_trailers().err()
        };
        if let Some(why) = why {
            return Err(H2Error::Stream(id, ErrorCode::Protocol, why));
        }
        let Some(s) = self.streams.iter_mut().find(|s| s.id == id) else {
            return Ok(());
        };
        s.receiving = false;
        if s.expect.is_some_and(|n| s.got != n) {
            let why = "DATA disagrees with content-length";
            return Err(H2Error::Stream(id, ErrorCode::Protocol, why));
        }
        if let Some(head) = s.request.take() {
            self.head = *head;
            self.known.forget();
            self.answer(id, None, None, loan, out);
        }
        Ok(())
    }
}

/// The header block the session's head was decoded from, while it can be
/// recalled: a client sends the same block for each request once its
/// fields are in the table (h2load, a browser fetching a page's assets
/// sends much the same), and a block that changed no table decodes the
/// same way again at the same generation. Then neither HPACK nor the
/// head's checks run again: both depend on nothing but the block and the
/// table.
#[derive(Debug, Default)]
pub(super) struct KnownBlock {
    bytes: Vec<u8>,
    generation: u64,
    /// Whether `head` holds this block's decoding now.
    live: bool,
    too_large: bool,
    /// What the head's checks said of it, once asked.
    pub(super) checked: Option<Result<(), crate::http::head::Malformed>>,
}

impl KnownBlock {
    /// Whether the list was too large, when `block` at `generation` is
    /// the block the head holds; `None` when it must be decoded.
    fn recall(&self, block: &[u8], generation: u64) -> Option<bool> {
        (self.live && self.generation == generation && self.bytes == block)
            .then_some(self.too_large)
    }

    /// `block` was just decoded into the head at `generation`; it may be
    /// recalled only if it left the table `unchanged`.
    fn note(&mut self, block: &[u8], generation: u64, unchanged: bool, too_large: bool) {
        self.checked = None;
        self.live = unchanged;
        if unchanged {
            self.bytes.clear();
            self.bytes.extend_from_slice(block);
            self.generation = generation;
            self.too_large = too_large;
        }
    }

    /// The head was taken or replaced: nothing is recalled.
    pub(super) fn forget(&mut self) {
        self.live = false;
        self.checked = None;
    }
}
