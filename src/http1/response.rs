//! An Answer framed as HTTP/1.x: a head and a body of shared chunks, nothing copied.
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
//! once a second ([`crate::http1::heads::ok_this_second`]), then the body. Queuing either allocates
//! nothing. A 304 is a file's pre-rendered 304 head with the Date and
//! connection lines. The rarer answers (206 with its `Content-Range`, 416,
//! 301, the metrics page) render their head per request.

use std::rc::Rc;

use crate::http::answer::Answer;
use crate::http::status::{SERVER, Status, UNSATISFIABLE};
use crate::http1::heads::{self, CANNED, Persist, head};
use crate::out::{Chunk, OutQueue};

/// What wraps an answer on this connection, besides the answer itself:
/// the Date line, HSTS, the connection line, and whether a body follows.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// This second's `Date` line (with `Strict-Transport-Security` after it
    /// over HTTPS, when configured).
    pub date: Rc<[u8]>,
    /// `date` is the HTTPS one (a cached head is kept for each).
    pub secure: bool,
    /// What the head says about the connection.
    pub persist: Persist,
    /// HEAD: no body.
    pub head_only: bool,
}

/// Queues `answer` as an HTTP/1.x head and body; returns its status and
/// the body bytes queued. A cached file's 200 is two chunks (its head for
/// this second, then the body), an error four, and nothing is copied.
pub fn queue(answer: Answer<'_>, envelope: &Envelope, out: &mut OutQueue) -> (Status, u64) {
    let status = answer.status();
    let body = if envelope.head_only {
        0
    } else {
        answer.body_len()
    };
    let Envelope {
        ref date,
        secure,
        persist,
        head_only,
    } = *envelope;
    match answer {
        Answer::File { entry, range: None } => {
            out.push(Chunk::owned(heads::ok_this_second(
                entry, date, persist, secure,
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
            fields.extend_from_slice(&heads::of(entry).fields);
            head(out, &Rc::from(fields), date, persist);
            if !head_only {
                out.push(entry.chunk(start, end));
            }
        }
        Answer::NotModified(entry) => head(out, &heads::of(entry).not_modified, date, persist),
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
        Answer::Refused(why) => CANNED.refuse(out, why, date, persist, head_only),
        Answer::Options => CANNED.options(out, date, persist),
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
    use crate::http::status::{MOVED, Refusal};

    fn bytes(out: &mut OutQueue) -> String {
        crate::out::text_of(out)
    }

    #[test]
    fn error_responses_are_well_formed() {
        let canned = &*CANNED;
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
