//! DATA both ways: request bodies counted and their windows given back, answers cut into frames as the windows allow.
//!
//! A request's body is not read, but its bytes count against the windows
//! (given back at once), against the stream's `content-length`, and
//! against the limit on bodies; a request held for its body is answered
//! when it ends. DATA on a stream that cannot take it is refused as RFC
//! 9113 §5.1 says for the stream's state.
//!
//! Answers' bodies: streams take turns by priority, and nothing is copied: a body is a chunk cut with `split_to` into frame
//! payloads, each behind a nine-byte header of its own; a file's DATA
//! leaves by `sendfile` on a plain connection, and over TLS four frames
//! are read at once laid out as they go on the wire, one record each.
//! No more than [`READ_AHEAD`] bytes wait in the connection's queue, on
//! any transport.

use super::*;

impl H2Session {
    /// A DATA frame of `len` bytes of body (`flow_len` with its padding)
    /// on `stream`.
    pub(super) fn receive_data(
        &mut self,
        stream: u32,
        len: usize,
        flow_len: usize,
        end_stream: bool,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> Result<(), H2Error> {
        // Bodies are not read, but their bytes count against the
        // windows, which are given back at once.
        self.received += flow_len as u64;
        if self.received >= (DEFAULT_WINDOW as u64) / 2 {
            frame::write_window_update(&mut self.wire, 0, self.received as u32);
            self.received = 0;
        }
        let max_body = loan.site.limits.max_body_bytes;
        let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) else {
            if stream > self.last_stream {
                return Err(H2Error::Connection(
                    ErrorCode::Protocol,
                    "DATA on an idle stream",
                ));
            }
            if self.reset_by_us.contains(&stream) {
                // Sent before our RST_STREAM reached the client
                // (§5.1): its bytes counted toward the window
                // above, and that is all.
                return Ok(());
            }
            // After END_STREAM both ways, or the client's own
            // RST_STREAM (§5.1).
            let why = "DATA on a closed stream";
            return Err(H2Error::Connection(ErrorCode::StreamClosed, why));
        };
        if !s.receiving {
            let why = "DATA after the request's END_STREAM";
            return Err(H2Error::Stream(stream, ErrorCode::StreamClosed, why));
        }
        s.got += len as u64;
        if s.expect
            .is_some_and(|n| s.got > n || (end_stream && s.got != n))
        {
            let why = "DATA disagrees with content-length";
            return Err(H2Error::Stream(stream, ErrorCode::Protocol, why));
        }
        s.receiving &= !end_stream;
        if flow_len > 0 && !end_stream {
            frame::write_window_update(&mut self.wire, stream, flow_len as u32);
        }
        // A request held for its body is answered at the body's
        // end, or as soon as the body is past the limit (413).
        if (end_stream || s.got > max_body)
            && let Some(head) = s.request.take()
        {
            self.head = *head;
            self.known.forget();
            self.answer(stream, None, None, loan, out);
        }
        Ok(())
    }

    /// Queues DATA frames while windows allow, streams taking turns. On a
    /// plain connection a file's frames are `sendfile` ranges between
    /// frame headers, one frame a turn. Over TLS a turn is up to four
    /// frames of a file read with one `preadv` (the bytes are encrypted
    /// from memory anyway), laid out header, payload, header, ... with
    /// each frame one TLS record (see [`SEALED_FRAME`]), so that they
    /// leave in one write; and no more
    /// than [`READ_AHEAD`] bytes are read ahead of the socket.
    pub(super) fn send_data(&mut self, out: &mut OutQueue) {
        // What was gathered (HEADERS, control frames) goes first.
        self.emit(out);
        let frame_max = self.peer_max_frame as i64;
        let mut progress = true;
        while progress && self.window > 0 {
            progress = false;
            // RFC 9218: the most urgent streams that can send go first;
            // the others wait until none of those can. Within the level,
            // a response that is not incremental is sent whole before the
            // next (the lowest stream first, §10); incremental ones take
            // turns, one frame each.
            let Some(level) = (self.streams.iter())
                .filter(|s| s.body.is_some() && s.window > 0)
                .map(|s| s.urgency)
                .min()
            else {
                break;
            };
            let whole = (self.streams.iter())
                .filter(|s| s.body.is_some() && s.window > 0)
                .filter(|s| s.urgency == level && !s.incremental)
                .map(|s| s.id)
                .min();
            for s in &mut self.streams {
                if out.queued_bytes() >= READ_AHEAD {
                    return;
                }
                if s.urgency != level || whole.is_some_and(|id| id != s.id) {
                    continue;
                }
                let Some(body) = s.body.as_mut() else {
                    continue;
                };
                // Over TLS a file is read into memory to be encrypted
                // anyway: up to four frames a turn, laid out as they go on
                // the wire, one record each.
                let sealed = self.secure && body.is_file();
                let frame = if sealed {
                    frame_max.min(SEALED_FRAME)
                } else {
                    frame_max
                };
                let turn = if sealed { 4 * frame } else { frame };
                let room = self.window.min(s.window).min(turn);
                if room <= 0 {
                    continue;
                }
                let mut piece = body.split_to(room as u64);
                let n = piece.len() as i64;
                let last = body.is_empty();
                let id = s.id;
                let end = |is_last: bool| {
                    if last && is_last { flag::END_STREAM } else { 0 }
                };
                if sealed {
                    let mut frames = 0;
                    let framed = piece.read_framed(frame as usize, |len, is_last| {
                        frames += 1;
                        frame::header_bytes(len, kind::DATA, end(is_last), id)
                    });
                    match framed {
                        Ok(framed) => out.push(framed),
                        Err(e) => {
                            // The file changed under us: this stream ends.
                            log::warn!("HTTP/2 stream {id}: {e}");
                            frame::write_rst_stream(&mut self.wire, id, ErrorCode::Internal);
                            s.body = None;
                            continue;
                        }
                    }
                    self.data_frames += frames;
                } else {
                    while !piece.is_empty() {
                        let part = piece.split_to(frame as u64);
                        // The frame header rides in the chunk: no allocation.
                        let header = frame::header_bytes(
                            part.len() as usize,
                            kind::DATA,
                            end(piece.is_empty()),
                            id,
                        );
                        out.push(Chunk::inline(&header));
                        out.push(part);
                        self.data_frames += 1;
                    }
                }
                self.window -= n;
                s.window -= n;
                if last {
                    s.body = None;
                }
                progress = true;
            }
            self.streams.retain(|s| s.body.is_some() || s.receiving);
        }
        if log::log_enabled!(log::Level::Trace) {
            let waiting = self.streams.iter().filter(|s| s.body.is_some()).count();
            if waiting > 0 {
                log::trace!(
                    "HTTP/2: {waiting} stream(s) owe DATA; connection window {}, {} bytes queued{}",
                    self.window,
                    out.queued_bytes(),
                    if self.window <= 0
                        || self
                            .streams
                            .iter()
                            .all(|s| s.body.is_none() || s.window <= 0)
                    {
                        ": waiting for WINDOW_UPDATE (§6.9)"
                    } else {
                        ": more when the socket takes these"
                    }
                );
            }
        }
        self.emit(out);
    }
}
