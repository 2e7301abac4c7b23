//! The frames that steer a connection, one handler each: SETTINGS, PING, GOAWAY, WINDOW_UPDATE, RST_STREAM, PRIORITY_UPDATE.
//!
//! [`super::H2Session`] checks what every frame must satisfy (a header
//! block in progress, the preface's SETTINGS, frames that do no work) and
//! hands each to its handler by type, as h2o's `FRAME_HANDLERS[type]`
//! does. DATA's is in `data.rs`, HEADERS' and CONTINUATION's in
//! `heads.rs`; these are the rest.

use super::*;

impl H2Session {
    /// SETTINGS (§6.5): applied and acknowledged; an ACK says nothing.
    pub(super) fn on_settings(&mut self, ack: bool, params: &[u8]) -> Result<(), H2Error> {
        if ack {
            return Ok(());
        }
        for (id, value) in frame::settings(params) {
            match id {
                setting::INITIAL_WINDOW_SIZE => {
                    // §6.9.2: every stream's window moves by the change.
                    let delta = i64::from(value) - self.peer_initial_window;
                    self.peer_initial_window = i64::from(value);
                    for s in &mut self.streams {
                        s.window += delta;
                        if s.window > i64::from(MAX_WINDOW) {
                            let why = "window past 2^31-1";
                            return Err(H2Error::Connection(ErrorCode::FlowControl, why));
                        }
                    }
                }
                setting::MAX_FRAME_SIZE => self.peer_max_frame = value as usize,
                setting::HEADER_TABLE_SIZE => self.heads.peer_table_size(value),
                _ => {}
            }
        }
        frame::write_settings_ack(&mut self.wire);
        Ok(())
    }

    /// PING (§6.7): answered with the same eight bytes; an ACK says nothing.
    pub(super) fn on_ping(&mut self, ack: bool, data: [u8; 8]) {
        if !ack {
            frame::write_ping_ack(&mut self.wire, data);
        }
    }

    /// GOAWAY (§6.8): the client is leaving; what it asked is finished,
    /// nothing more is taken.
    pub(super) fn on_goaway(&mut self, out: &mut OutQueue) {
        self.counts.goaways_received += 1;
        if !matches!(self.phase, Phase::Closing { .. }) {
            self.go_away(ErrorCode::NoError, false, out);
        }
    }

    /// WINDOW_UPDATE (§6.9): the connection's window, or a stream's, opens.
    pub(super) fn on_window_update(&mut self, stream: u32, increment: u32) -> Result<(), H2Error> {
        if stream == 0 {
            self.window += i64::from(increment);
            if self.window > i64::from(MAX_WINDOW) {
                let why = "connection window past 2^31-1";
                return Err(H2Error::Connection(ErrorCode::FlowControl, why));
            }
            return Ok(());
        }
        if stream > self.last_stream {
            return Err(conn_error("WINDOW_UPDATE on an idle stream"));
        }
        if let Some(s) = self.streams.iter_mut().find(|s| s.id == stream) {
            s.window += i64::from(increment);
            if s.window > i64::from(MAX_WINDOW) {
                let why = "stream window past 2^31-1";
                return Err(H2Error::Stream(stream, ErrorCode::FlowControl, why));
            }
        }
        Ok(())
    }

    /// RST_STREAM (§6.4): the stream is forgotten; resets are counted
    /// against a flood of them (rapid reset).
    pub(super) fn on_rst_stream(&mut self, stream: u32) -> Result<(), H2Error> {
        if stream > self.last_stream {
            return Err(conn_error("RST_STREAM on an idle stream"));
        }
        self.streams.retain(|s| s.id != stream);
        self.counts.resets_received += 1;
        self.count_reset()
    }

    /// PRIORITY_UPDATE (RFC 9218 §7.1): an open stream's priority changes
    /// for its next turn; one ahead of its HEADERS is kept for it.
    pub(super) fn on_priority_update(
        &mut self,
        prioritized: u32,
        value: &[u8],
    ) -> Result<(), H2Error> {
        let (urgency, incremental) = request::priority(value);
        if let Some(s) = self.streams.iter_mut().find(|s| s.id == prioritized) {
            // The order of DATA is decided afresh at each turn.
            (s.urgency, s.incremental) = (urgency, incremental);
        } else if prioritized > self.last_stream {
            // Idle streams so prioritized and open ones together may not
            // pass SETTINGS_MAX_CONCURRENT_STREAMS (§7.1).
            self.ahead.retain(|p| p.0 != prioritized);
            if self.ahead.len() + self.streams.len() >= MAX_STREAMS {
                return Err(conn_error(
                    "PRIORITY_UPDATE for more streams than the concurrent limit",
                ));
            }
            self.ahead.push((prioritized, urgency, incremental));
        }
        // A closed stream's is dropped, as §7.1 allows.
        Ok(())
    }
}
