//! Responses as chunks: heads rendered once, bodies shared, nothing copied.
//!
//! An error response is queued as four pieces, in order:
//!
//! ```text
//! [ status line + fixed fields ]  Rc, rendered once per file or status
//! [ Date: ...\r\n              ]  Rc, rendered once per second
//! [ Connection line + CRLF      ]  &'static, one of three
//! [ body                        ]  Rc / &'static / sendfile range; absent for HEAD
//! ```
//!
//! and a cached file's 200 as two: the first three pieces rendered together
//! once a second ([`FullHeads`]), then the body. Queuing either allocates
//! nothing. A 304 is a file's pre-rendered 304 head with the Date and
//! connection lines. The rarer answers (206 with its `Content-Range`, 416,
//! 301, the metrics page) render their head per request.

use std::cell::RefCell;
use std::rc::Rc;

use crate::http::answer::{ALLOW, Answer, SERVER, UNSATISFIABLE};
use crate::http::status::{Refusal, Status};
use crate::out::{Chunk, OutQueue};

/// How an answer is framed on this connection, besides the answer itself.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// This second's `Date` line (with `Strict-Transport-Security` after it
    /// over HTTPS, when configured).
    pub date: &'a Rc<[u8]>,
    /// `date` is the HTTPS one (a cached head is kept for each).
    pub hsts: bool,
    /// What the head says about the connection.
    pub persist: Persist,
    /// HEAD: no body.
    pub head_only: bool,
}

/// Queues `answer` as an HTTP/1.x head and body; returns its status and
/// the body bytes queued. A cached file's 200 is two chunks (its head for
/// this second, then the body), an error four, and nothing is copied.
pub fn queue(
    answer: Answer<'_>,
    canned: &Canned,
    frame: &Frame<'_>,
    out: &mut OutQueue,
) -> (Status, u64) {
    let status = answer.status();
    let body = if frame.head_only {
        0
    } else {
        answer.body_len()
    };
    let Frame {
        date,
        hsts,
        persist,
        head_only,
    } = *frame;
    match answer {
        Answer::File { entry, range: None } => {
            out.push(Chunk::owned(entry.full.get(
                &entry.head,
                date,
                persist,
                hsts,
            )));
            if !head_only {
                out.push(entry.chunk(0, entry.len));
            }
        }
        Answer::File {
            entry,
            range: Some((start, end)),
        } => {
            let fields = format!(
                "HTTP/1.1 {status}\r\nServer: {SERVER}\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\n",
                end - 1,
                entry.len,
                end - start
            );
            let mut fields = fields.into_bytes();
            fields.extend_from_slice(&entry.fields);
            head(out, &Rc::from(fields), date, persist);
            if !head_only {
                out.push(entry.chunk(start, end));
            }
        }
        Answer::NotModified(entry) => head(out, &entry.not_modified, date, persist),
        Answer::Unsatisfiable { len } => {
            // RFC 9110 §15.5.17: the length in `Content-Range: bytes */len`.
            let fields = format!(
                "HTTP/1.1 {status}\r\nServer: {SERVER}\r\nContent-Range: bytes */{len}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
                UNSATISFIABLE.len()
            );
            head(out, &Rc::from(fields.into_bytes()), date, persist);
            if !head_only {
                out.push(Chunk::Static(UNSATISFIABLE.as_bytes()));
            }
        }
        Answer::Refused(why) => canned.refuse(out, why, date, persist, head_only),
        Answer::Options => canned.options(out, date, persist),
        Answer::Page { content_type, body } => {
            page(out, content_type, body, date, persist, head_only)
        }
        Answer::Redirect {
            status,
            message,
            location,
        } => redirect(out, (status, message), &location, date, persist, head_only),
    }
    (status, body)
}

/// A file's whole 200 head (its fields, the Date line, the connection
/// line), rendered at most once per Date line for each [`Persist`] variant:
/// a cached file's response is then two chunks, this head and the body,
/// instead of four. Keyed by the identity of the Date line it was rendered
/// with, which changes exactly when the second does.
#[derive(Debug, Default)]
pub struct FullHeads {
    /// One per [`Persist`] variant, plain and HTTPS (whose Date line may
    /// carry `Strict-Transport-Security`).
    rendered: RefCell<[Option<Rendered>; 6]>,
}

/// A rendered head and the Date line it was rendered with.
type Rendered = (Rc<[u8]>, Rc<[u8]>);

impl FullHeads {
    /// The head for `persist` under the current `date` line (`secure`: the
    /// HTTPS one).
    pub fn get(&self, fields: &[u8], date: &Rc<[u8]>, persist: Persist, secure: bool) -> Rc<[u8]> {
        let mut rendered = self.rendered.borrow_mut();
        let slot = &mut rendered[persist as usize + 3 * usize::from(secure)];
        if let Some((at, head)) = slot.as_ref()
            && Rc::ptr_eq(at, date)
        {
            return Rc::clone(head);
        }
        let line = persist.line();
        let mut head = Vec::with_capacity(fields.len() + date.len() + line.len());
        head.extend_from_slice(fields);
        head.extend_from_slice(date);
        head.extend_from_slice(line);
        let head: Rc<[u8]> = Rc::from(head);
        *slot = Some((Rc::clone(date), Rc::clone(&head)));
        head
    }
}

/// What the response says about the connection (RFC 9112 §9.3). It ends the
/// head: each variant's line carries the blank line after the fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Persist {
    /// HTTP/1.1 default: nothing to say.
    KeepAlive,
    /// HTTP/1.0 with `Connection: keep-alive`: say we keep it too.
    KeepAliveHeader,
    /// The connection closes after this response.
    Close,
}

impl Persist {
    fn line(self) -> &'static [u8] {
        match self {
            Persist::KeepAlive => b"\r\n",
            Persist::KeepAliveHeader => b"Connection: keep-alive\r\n\r\n",
            Persist::Close => b"Connection: close\r\n\r\n",
        }
    }
}

/// The interim response to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Pre-rendered heads of the responses that depend on nothing but why:
/// every [`Refusal`], and the 204 that answers `OPTIONS`.
#[derive(Debug)]
pub struct Canned {
    refusals: Vec<(Refusal, Rc<[u8]>)>,
    options: Rc<[u8]>,
}

impl Default for Canned {
    fn default() -> Self {
        let refusals = Refusal::ALL
            .iter()
            .map(|&r| (r, Rc::from(refusal_head(r).into_bytes())))
            .collect();
        // RFC 9110 §15.3.5: a 204 has no body and no Content-Length.
        let options = format!(
            "HTTP/1.1 {}\r\nServer: {SERVER}\r\nAllow: {ALLOW}\r\n",
            Status::NoContent
        );
        Canned {
            refusals,
            options: Rc::from(options.into_bytes()),
        }
    }
}

fn refusal_head(why: Refusal) -> String {
    let status = why.status();
    let allow = if status == Status::MethodNotAllowed {
        format!("Allow: {ALLOW}\r\n")
    } else {
        String::new()
    };
    format!(
        "HTTP/1.1 {status}\r\nServer: {SERVER}\r\n{allow}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
        why.message().len()
    )
}

impl Canned {
    /// Queues the refusal for `why`; its body is the reason's one line.
    pub fn refuse(
        &self,
        out: &mut OutQueue,
        why: Refusal,
        date: &Rc<[u8]>,
        persist: Persist,
        head_only: bool,
    ) {
        if let Some((_, head)) = self.refusals.iter().find(|(r, _)| *r == why) {
            out.push(Chunk::shared(head));
        }
        out.push(Chunk::shared(date));
        out.push(Chunk::Static(persist.line()));
        if !head_only {
            out.push(Chunk::Static(why.message().as_bytes()));
        }
    }

    /// Queues the 204 that answers `OPTIONS`, with `Allow`.
    pub fn options(&self, out: &mut OutQueue, date: &Rc<[u8]>, persist: Persist) {
        head(out, &self.options, date, persist);
    }
}

/// Queues a head: rendered fields, Date line, connection line.
fn head(out: &mut OutQueue, fields: &Rc<[u8]>, date: &Rc<[u8]>, persist: Persist) {
    out.push(Chunk::shared(fields));
    out.push(Chunk::shared(date));
    out.push(Chunk::Static(persist.line()));
}

/// Queues a 200 with a page of the server's own (the metrics and the live
/// page), which no cache should keep.
fn page(
    out: &mut OutQueue,
    content_type: &str,
    body: Chunk,
    date: &Rc<[u8]>,
    persist: Persist,
    head_only: bool,
) {
    let fields = format!(
        "HTTP/1.1 200 OK\r\nServer: {SERVER}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        body.len()
    );
    head(out, &Rc::from(fields.into_bytes()), date, persist);
    if !head_only {
        out.push(body);
    }
}

/// Queues a 301 or 308 to `location` (a rare response: rendered per
/// request).
fn redirect(
    out: &mut OutQueue,
    (status, message): (Status, &'static str),
    location: &[u8],
    date: &Rc<[u8]>,
    persist: Persist,
    head_only: bool,
) {
    let mut fields = format!("HTTP/1.1 {status}\r\nServer: {SERVER}\r\nLocation: ").into_bytes();
    fields.extend_from_slice(location);
    fields.extend_from_slice(
        format!(
            "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
            message.len()
        )
        .as_bytes(),
    );
    head(out, &Rc::from(fields), date, persist);
    if !head_only {
        out.push(Chunk::Static(message.as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::answer::MOVED;

    fn bytes(out: &mut OutQueue) -> String {
        crate::out::text_of(out)
    }

    #[test]
    fn error_responses_are_well_formed() {
        let canned = Canned::default();
        let date: Rc<[u8]> = Rc::from(&b"Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"[..]);
        let mut out = OutQueue::default();
        canned.refuse(
            &mut out,
            Refusal::MethodNotAllowed,
            &date,
            Persist::Close,
            false,
        );
        let text = bytes(&mut out);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nAllow: GET, HEAD, OPTIONS\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{head}"
        );

        canned.refuse(&mut out, Refusal::NotFound, &date, Persist::KeepAlive, true);
        let text = bytes(&mut out);
        assert!(text.ends_with("GMT\r\n\r\n"), "HEAD: no body: {text}");

        canned.options(&mut out, &date, Persist::KeepAlive);
        let text = bytes(&mut out);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(text.contains("\r\nAllow: GET, HEAD, OPTIONS\r\n"), "{text}");
        assert!(!text.contains("Content-Length"), "{text}");
        assert!(text.ends_with("GMT\r\n\r\n"), "no body: {text}");
    }

    #[test]
    fn full_heads_follow_the_date_line() {
        let heads = FullHeads::default();
        let d1: Rc<[u8]> = Rc::from(&b"Date: one\r\n"[..]);
        let a = heads.get(b"HTTP/1.1 200 OK\r\n", &d1, Persist::KeepAlive, false);
        assert_eq!(&a[..], b"HTTP/1.1 200 OK\r\nDate: one\r\n\r\n");
        let b = heads.get(b"HTTP/1.1 200 OK\r\n", &d1, Persist::KeepAlive, false);
        assert!(Rc::ptr_eq(&a, &b), "rendered once per Date line");
        let c = heads.get(b"HTTP/1.1 200 OK\r\n", &d1, Persist::Close, false);
        assert!(c.ends_with(b"Connection: close\r\n\r\n"));
        let d2: Rc<[u8]> = Rc::from(&b"Date: two\r\n"[..]);
        let e = heads.get(b"HTTP/1.1 200 OK\r\n", &d2, Persist::KeepAlive, false);
        assert_eq!(&e[..], b"HTTP/1.1 200 OK\r\nDate: two\r\n\r\n");
    }

    #[test]
    fn redirect_names_the_location() {
        let date: Rc<[u8]> = Rc::from(&b""[..]);
        let mut out = OutQueue::default();
        let moved = (Status::MovedPermanently, MOVED);
        redirect(
            &mut out,
            moved,
            b"/dir/?q",
            &date,
            Persist::KeepAliveHeader,
            false,
        );
        let text = bytes(&mut out);
        assert!(text.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
        assert!(text.contains("\r\nLocation: /dir/?q\r\n"));
        assert!(text.contains("\r\nConnection: keep-alive\r\n\r\nMoved"));
    }
}
