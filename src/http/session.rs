//! The HTTP/1.x exchange on one connection, without the socket.
//!
//! A [`Session`] takes the bytes a connection received and queues the
//! responses they call for; it never reads or writes a socket, so every
//! path through it is tested with plain byte strings. It is a small state
//! machine over RFC 9112's message grammar:
//!
//! ```text
//!            head complete, no body            head complete, body follows
//!   Head ───────────────────────────► Head     Head ─────────────► Body ──► Head
//!     │  invalid head, or the response says "close"                │
//!     └──────────────────────────────► Closed ◄────────────────────┘ bad chunk / too large
//! ```
//!
//! Every complete request already received is answered, in order, before
//! the caller flushes: that is what makes pipelining cost one write.

use std::fs::File;

use crate::config::Limits;
use crate::http::body::BodySkip;
use crate::http::date::DateLine;
use crate::http::files::{Body, Files, Found};
use crate::http::request::{self, Framing, Parsed, Request};
use crate::http::response::{self, Canned, Persist};
use crate::http::status::Status;
use crate::out::{Chunk, OutQueue};

/// What every session shares: the files, the pre-rendered responses, the
/// current `Date` line and the limits.
#[derive(Debug)]
pub struct HttpCtx {
    /// The document root and its cache.
    pub files: Files,
    /// Error response heads.
    pub canned: Canned,
    /// The `Date` line of the current second.
    pub date: DateLine,
    /// Request size limits.
    pub limits: Limits,
    /// The current Unix second (for cache revalidation).
    pub now_secs: u64,
}

/// Where the exchange stands (RFC 9112 §2.1: a connection carries a
/// sequence of request/response exchanges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Expecting a request head (the bytes kept so far, if any, start one).
    Head,
    /// Consuming the body of a request already answered.
    Body(BodySkip),
    /// The response that ends the connection is queued; nothing more is read.
    Closed,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::Head => "awaiting-head",
            Phase::Body(_) => "discarding-body",
            Phase::Closed => "closed",
        })
    }
}

/// One connection's HTTP state.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
    /// The server is shutting down: the next response says `close`.
    draining: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            phase: Phase::Head,
            draining: false,
        }
    }
}

/// Methods RFC 9110 defines (§9.3) plus PATCH: answered 405, not 501.
const KNOWN_METHODS: &[&str] = &[
    "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

impl Session {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether more request bytes are wanted.
    pub fn reading(&self) -> bool {
        self.phase != Phase::Closed
    }

    /// Asks the session to end after the request in progress (shutdown).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Ends the session at once: nothing more will be answered.
    pub fn close(&mut self) {
        self.set_phase(Phase::Closed);
    }

    /// Consumes requests from `input`, queuing a response for each complete
    /// one, and returns how many bytes were used. The unused rest is an
    /// incomplete head or chunk line to keep and present again with more
    /// bytes appended, unless the session is now [`Phase::Closed`].
    pub fn on_input(&mut self, input: &[u8], ctx: &mut HttpCtx, out: &mut OutQueue) -> usize {
        let mut pos = 0;
        while pos < input.len() {
            match self.phase {
                Phase::Closed => break,
                Phase::Body(mut skip) => {
                    match skip.advance(&input[pos..], ctx.limits.max_body_bytes) {
                        Ok(progress) => {
                            pos += progress.consumed;
                            if progress.done {
                                self.set_phase(Phase::Head);
                            } else {
                                self.phase = Phase::Body(skip);
                                break;
                            }
                        }
                        // The response is already queued; the rest of the
                        // connection cannot be framed. RFC 9112 §7.1: close.
                        Err(status) => {
                            log::debug!("request body: {status}");
                            self.set_phase(Phase::Closed);
                        }
                    }
                }
                Phase::Head => match request::parse(&input[pos..], &ctx.limits) {
                    Parsed::Partial => break,
                    Parsed::Invalid(status) => {
                        // RFC 9112 §2.2 and §6.3: after an unparseable or
                        // unframeable request, answer and close.
                        let head_only = input[pos..].starts_with(b"HEAD ");
                        ctx.canned
                            .error(out, status, ctx.date.line(), Persist::Close, head_only);
                        self.set_phase(Phase::Closed);
                    }
                    Parsed::Complete(req, len) => {
                        pos += len;
                        self.respond(&req, ctx, out);
                    }
                },
            }
        }
        pos
    }

    /// Queues the response to one well-formed request and moves to the phase
    /// that follows it.
    fn respond(&mut self, req: &Request<'_>, ctx: &mut HttpCtx, out: &mut OutQueue) {
        let has_body = req.framing != Framing::None;
        let head_only = req.method == "HEAD";
        let serves = req.method == "GET" || head_only;
        let status = if let Framing::Length(n) = req.framing
            && n > ctx.limits.max_body_bytes
        {
            Some(Status::ContentTooLarge)
        } else if serves {
            None
        } else if KNOWN_METHODS.contains(&req.method) {
            Some(Status::MethodNotAllowed)
        } else {
            Some(Status::NotImplemented)
        };
        // A client that sent `Expect: 100-continue` waits before sending its
        // body. We never need the body, so instead of a 100 we send the final
        // answer and close: the client then never sends the body, and no
        // body can be mistaken for the next request (RFC 9110 §10.1.1).
        let close = !req.keep_alive
            || self.draining
            || (has_body && req.expect_continue)
            || status == Some(Status::ContentTooLarge);
        let persist = match (close, req.minor) {
            (true, _) => Persist::Close,
            (false, 0) => Persist::KeepAlive10,
            (false, _) => Persist::KeepAlive,
        };
        let date = ctx.date.line();
        match status {
            Some(status) => ctx.canned.error(out, status, date, persist, head_only),
            None => match ctx.files.lookup(req.target, ctx.now_secs) {
                Found::File(entry) => {
                    let body = if head_only {
                        Ok(None)
                    } else {
                        match &entry.body {
                            Body::Static(bytes) => Ok(Some(Chunk::Static(bytes))),
                            Body::Shared(bytes) => Ok(Some(Chunk::shared(bytes))),
                            Body::Disk(path) => File::open(path)
                                .map(|file| {
                                    Some(Chunk::File {
                                        file,
                                        pos: 0,
                                        end: entry.len,
                                    })
                                })
                                .map_err(|e| {
                                    log::warn!("open {}: {e}", path.display());
                                    Status::NotFound
                                }),
                        }
                    };
                    match body {
                        Ok(body) => {
                            response::head(out, &entry.head, date, persist);
                            if let Some(chunk) = body {
                                out.push(chunk);
                            }
                        }
                        Err(status) => ctx.canned.error(out, status, date, persist, head_only),
                    }
                }
                Found::Redirect(location) => {
                    response::redirect(out, &location, date, persist, head_only)
                }
                Found::Error(status) => ctx.canned.error(out, status, date, persist, head_only),
            },
        }
        let next = match req.framing {
            _ if close => Phase::Closed,
            Framing::None => Phase::Head,
            Framing::Length(n) => Phase::Body(BodySkip::length(n)),
            Framing::Chunked => Phase::Body(BodySkip::chunked()),
        };
        self.set_phase(next);
    }

    /// The one place a phase changes, so `RUST_LOG=trace` narrates them all.
    fn set_phase(&mut self, next: Phase) {
        if std::mem::discriminant(&self.phase) != std::mem::discriminant(&next) {
            log::trace!("http: {} -> {}", self.phase, next);
        }
        self.phase = next;
    }
}
