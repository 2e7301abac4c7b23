//! Heads rendered once: a file's heads from its fields, its 200 head per second, the refusals' and OPTIONS' once per process.
//!
//! Heads rendered once: a cached file's heads from its fields (kept in the
//! entry's [`Rendered`](crate::http::entry::Rendered) slots), its whole
//! 200 head once per second, the refusals' and OPTIONS' heads once per
//! process, and what a head says about the connection. These are the
//! pieces [`crate::http1::response`] queues around a body.

use std::rc::Rc;
use std::sync::LazyLock;

use crate::http::entry::{Entry, Field, H1Heads};
use crate::http::status::{ALLOW, Refusal, SERVER, Status};
use crate::out::{Chunk, OutQueue};

/// An entry's heads, rendered from its fields the first time HTTP/1.x
/// frames it.
pub fn of(entry: &Entry) -> &H1Heads {
    entry.rendered.h1.get_or_init(|| {
        let fields = lines(&entry.fields);
        let ok = format!(
            "HTTP/1.1 200 OK\r\nServer: {SERVER}\r\nContent-Length: {}\r\n",
            entry.len
        );
        let not_modified = format!("HTTP/1.1 304 Not Modified\r\nServer: {SERVER}\r\n");
        H1Heads {
            ok: [ok.as_bytes(), &fields].concat().into(),
            not_modified: [not_modified.as_bytes(), &lines(entry.not_modified_fields())]
                .concat()
                .into(),
            fields: fields.into(),
        }
    })
}

/// A file's whole 200 head (its fields, the Date line, the connection
/// line), rendered at most once per Date line for each [`Persist`] variant,
/// plain and HTTPS (whose Date line may carry `Strict-Transport-Security`):
/// a cached file's response is then two chunks, this head and the body,
/// instead of four.
pub fn ok_this_second(entry: &Entry, date: &Rc<[u8]>, persist: Persist, secure: bool) -> Rc<[u8]> {
    let slot = persist as usize + 3 * usize::from(secure);
    entry.rendered.h1_second.get(slot, date, || {
        [&of(entry).ok[..], date, persist.line()].concat()
    })
}

/// `Name: value` lines, each ending in CRLF.
fn lines(fields: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&f.value);
        out.extend_from_slice(b"\r\n");
    }
    out
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
/// every [`Refusal`], and the 204 that answers `OPTIONS`. They depend on
/// nothing the process is told, so they are made once per process and
/// queued as static slices.
#[derive(Debug)]
pub struct Canned {
    refusals: Vec<(Refusal, Box<[u8]>)>,
    options: Box<[u8]>,
}

/// The one set of canned heads.
pub static CANNED: LazyLock<Canned> = LazyLock::new(|| {
    let refusals = Refusal::ALL
        .iter()
        .map(|&r| (r, refusal_head(r).into_bytes().into()))
        .collect();
    // RFC 9110 §15.3.5: a 204 has no body and no Content-Length.
    let options = format!(
        "HTTP/1.1 {}\r\nServer: {SERVER}\r\nAllow: {ALLOW}\r\n",
        Status::NoContent
    );
    Canned {
        refusals,
        options: options.into_bytes().into(),
    }
});

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
        &'static self,
        out: &mut OutQueue,
        why: Refusal,
        date: &Rc<[u8]>,
        persist: Persist,
        head_only: bool,
    ) {
        if let Some((_, head)) = self.refusals.iter().find(|(r, _)| *r == why) {
            out.push(Chunk::Static(head));
        }
        out.push(Chunk::shared(date));
        out.push(Chunk::Static(persist.line()));
        if !head_only {
            out.push(Chunk::Static(why.message().as_bytes()));
        }
    }

    /// Queues the 204 that answers `OPTIONS`, with `Allow`.
    pub fn options(&'static self, out: &mut OutQueue, date: &Rc<[u8]>, persist: Persist) {
        out.push(Chunk::Static(&self.options));
        out.push(Chunk::shared(date));
        out.push(Chunk::Static(persist.line()));
    }
}

/// Queues a head: rendered fields, Date line, connection line.
pub(crate) fn head(out: &mut OutQueue, fields: &Rc<[u8]>, date: &Rc<[u8]>, persist: Persist) {
    out.push(Chunk::shared(fields));
    out.push(Chunk::shared(date));
    out.push(Chunk::Static(persist.line()));
}
