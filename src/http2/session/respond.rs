//! One stream's answer, framed: decided as for HTTP/1.x, queued as HEADERS, its body left for DATA.
//!
//! The request is in the session's head ([`super::H2Session::head`]); the
//! answer is decided by [`crate::http::answer`] (or is a refusal decided
//! here, such as a header list past the limit), its head encoded with
//! HPACK into one HEADERS frame, and its body left on the stream for
//! [`super::H2Session::send_data`] to cut into DATA frames as the windows
//! allow. The access log gets its line now.

use crate::http::answer::{self, Answer, Ask};
use crate::http::session::{Session, SessionLoan};
use crate::http::site::Site;
use crate::http::status::{Refusal, Status};
use crate::http2::frame::{self, flag, kind};
use crate::out::OutQueue;

use super::{H2Session, H2Stream};

impl H2Session {
    /// Decides and queues the answer to the request in `self.head` on
    /// stream `id`, or `refusal` in its place: a stream just `opened`
    /// (the common case, added to the streams here), or one among them
    /// that held its request until its body ended.
    pub(super) fn answer(
        &mut self,
        id: u32,
        opened: Option<H2Stream>,
        refusal: Option<Refusal>,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) {
        let fields = self.head.fields();
        let max_body = loan.site.limits.max_body_bytes;
        let got = match &opened {
            Some(s) => s.got,
            None => (self.streams.iter())
                .find(|s| s.id == id)
                .map_or(0, |s| s.got),
        };
        let ask = Ask {
            method: self.head.method(),
            target: self.head.target(),
            fields: &fields,
            body_too_large: got > max_body
                || self.head.content_length.is_some_and(|n| n > max_body),
            secure: loan.secure,
            draining: !self.reading(),
        };
        let head_only = ask.head_only();
        let site: &mut Site = loan.site;
        let now = site.date.second().unwrap_or(0);
        let answer = match refusal {
            Some(why) => Answer::Refused(why),
            None => answer::decide(&ask, &mut site.files, &site.routes, &loan.ops.metrics, now),
        };
        let date = site.date.value();
        let mut block = std::mem::take(&mut self.block_bytes);
        block.clear();
        let secure = site.secure.on(loan.secure);
        self.heads.block(&answer, date, secure, &mut block);
        let len = answer.body_len();
        let status = answer.status();
        let no_body = head_only || len == 0 || status == Status::NotModified;
        let flags = flag::END_HEADERS | if no_body { flag::END_STREAM } else { 0 };
        log::trace!(
            "connection {}: HTTP/2 out: HEADERS stream {id} ({}){}",
            loan.client,
            status.code(),
            if no_body {
                " END_STREAM"
            } else {
                ", DATA to follow as windows allow"
            }
        );
        // One HEADERS frame: an answer's head is far under the 16 KiB
        // every peer takes.
        frame::write_header(&mut self.wire, block.len(), kind::HEADERS, flags, id);
        self.wire.extend_from_slice(&block);
        self.block_bytes = block;
        // Counted, and logged (`HTTP/2.0` in the request line). A stream's
        // DATA may leave interleaved with others', so where its response
        // ends in the output is taken as the head plus the body: close
        // enough for %b on a connection cut short.
        self.log_head.clear();
        self.log_head
            .extend_from_slice(self.head.method().as_bytes());
        self.log_head.push(b' ');
        self.log_head.extend_from_slice(self.head.target());
        self.log_head.extend_from_slice(b" HTTP/2.0");
        let body_bytes = if no_body { 0 } else { len };
        let end = out.pushed() + self.wire.len() as u64 + body_bytes;
        let body = (!no_body).then(|| answer.into_body());
        loan.record(&self.log_head, (status, body_bytes), end, &fields);
        match opened {
            Some(mut s) => {
                s.body = body;
                self.streams.push(s);
            }
            None => {
                if let Some(s) = self.streams.iter_mut().find(|s| s.id == id) {
                    s.body = body;
                }
            }
        }
        self.emit(out);
        self.streams.retain(|s| s.body.is_some() || s.receiving);
    }
}
