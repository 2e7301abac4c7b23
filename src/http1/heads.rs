//! Heads rendered once: a file's 200 head per second, refusals and OPTIONS at start-up.
//!
//! Heads rendered once: a cached file's whole 200 head per second, the
//! refusals' and OPTIONS' heads at start-up, and what a head says about
//! the connection.
//!
//! These are the pieces [`crate::http1::response`] queues around a body.
//! They know nothing of what a request was answered with, so the file
//! cache (which keeps each file's [`FullHeads`]) and the site (which
//! keeps the [`Canned`] heads) hold them without importing the answer.

use std::cell::RefCell;
use std::rc::Rc;

use crate::http::status::{ALLOW, Refusal, SERVER, Status};
use crate::out::{Chunk, OutQueue};

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
    pub(crate) fn line(self) -> &'static [u8] {
        match self {
            Persist::KeepAlive => b"\r\n",
            Persist::KeepAliveHeader => b"Connection: keep-alive\r\n\r\n",
            Persist::Close => b"Connection: close\r\n\r\n",
        }
    }
}

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
pub(crate) fn head(out: &mut OutQueue, fields: &Rc<[u8]>, date: &Rc<[u8]>, persist: Persist) {
    out.push(Chunk::shared(fields));
    out.push(Chunk::shared(date));
    out.push(Chunk::Static(persist.line()));
}
