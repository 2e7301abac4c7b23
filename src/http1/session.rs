//! The HTTP/1.x exchange on one connection, without the socket.
//!
//! A [`H1Session`] takes the bytes a connection received and queues the
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

use std::rc::Rc;

use crate::http::answer::{self, Answer, Ask};
use crate::http::fields::Fields;
use crate::http::session::{Session, SessionLoan};
use crate::http::site::Site;
use crate::http::status::Status;
use crate::http1::body::BodySkip;
use crate::http1::heads::Persist;
use crate::http1::known;
use crate::http1::request::{self, Framing, Parsed, Request};
use crate::http1::response::{self, Envelope};
use crate::out::OutQueue;

/// How an HTTP/1.x answer is framed on a connection (`secure`: HTTPS):
/// this second's Date line, with HTTPS's field lines after it when the
/// site's [`Secure`](crate::http::status::Secure) has any.
fn envelope(site: &Site, secure: bool, persist: Persist, head_only: bool) -> Envelope {
    let extra = site.secure.on(secure);
    let date = match extra {
        None => Rc::clone(site.date.line()),
        Some(fields) => site.date_secure.get(0, site.date.line(), || {
            let mut line = site.date.line().to_vec();
            for (name, value) in fields.fields() {
                let name = match name {
                    "strict-transport-security" => "Strict-Transport-Security",
                    _ => "Alt-Svc",
                };
                line.extend_from_slice(name.as_bytes());
                line.extend_from_slice(b": ");
                line.extend_from_slice(value);
                line.extend_from_slice(b"\r\n");
            }
            line
        }),
    };
    Envelope {
        date,
        secure: extra.is_some(),
        persist,
        head_only,
    }
}

/// The head at the start of `input`: the head last parsed whole, if this
/// is it again ([`known`]); else parsed, knowing the last valid `Host`.
fn parse_head<'b>(input: &'b [u8], site: &mut Site) -> Parsed<'b> {
    let (limits, host) = (&site.limits, &mut site.known_host);
    known::parse_remembered(input, limits, |head| {
        request::parse_knowing(head, limits, host)
    })
}

/// Queues the HTTP/1.x framing of `answer`; returns its status and the
/// body bytes queued.
fn queue(
    answer: Answer<'_>,
    site: &Site,
    (secure, persist, head_only): (bool, Persist, bool),
    out: &mut OutQueue,
) -> (Status, u64) {
    response::queue(answer, &envelope(site, secure, persist, head_only), out)
}

/// Where the exchange stands (RFC 9112 §2.1: a connection carries a
/// sequence of request/response exchanges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H1State {
    /// Expecting a request head (the bytes kept so far, if any, start one).
    Head,
    /// Consuming the body of a request already answered.
    Body(BodySkip),
    /// The response that ends the connection is queued; nothing more is read.
    Closed,
}

impl std::fmt::Display for H1State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            H1State::Head => "awaiting request (RFC 9112 §2.1)",
            H1State::Body(_) => "reading message body (RFC 9112 §6)",
            H1State::Closed => "closing: no further requests (RFC 9112 §9.6)",
        })
    }
}

/// One connection's HTTP state.
#[derive(Debug)]
pub struct H1Session {
    state: H1State,
    /// The server is shutting down: the next response says `close`.
    draining: bool,
    /// The response to a request whose chunked body is still arriving. Its
    /// size is unknown until the end, so the answer waits: a body over the
    /// limit or badly framed then gets a 413 or 400 instead, with a close.
    /// Boxed and made only then: the session is made anew for every
    /// request on a keep-alive connection, and this one is rare.
    after_body: Option<Box<OutQueue>>,
}

impl Default for H1Session {
    fn default() -> Self {
        H1Session {
            state: H1State::Head,
            draining: false,
            after_body: None,
        }
    }
}

impl H1Session {
    /// Where the exchange stands.
    pub fn state(&self) -> H1State {
        self.state
    }

    /// Whether [`Session::drain`] was called.
    pub fn draining(&self) -> bool {
        self.draining
    }

    /// Ends the session at once: nothing more will be answered.
    pub fn close(&mut self) {
        self.state = H1State::Closed;
    }

    /// Queues the response to one well-formed request and moves to the state
    /// that follows it. Returns the status and the body bytes queued.
    fn respond(
        &mut self,
        req: &Request<'_>,
        loan: &mut SessionLoan<'_>,
        out: &mut OutQueue,
    ) -> (Status, u64) {
        let has_body = req.framing != Framing::None;
        let ask = Ask {
            method: req.method,
            target: req.target,
            fields: &req.fields,
            body_too_large: matches!(req.framing, Framing::Length(n) if n > loan.site.limits.max_body_bytes),
            secure: loan.secure,
            draining: self.draining,
        };
        // A client that sent `Expect: 100-continue` waits before sending its
        // body. We never need the body, so instead of a 100 we send the final
        // answer and close: the client then never sends the body, and no
        // body can be mistaken for the next request (RFC 9110 §10.1.1).
        // A refused CONNECT closes: its client may go on to send tunnel
        // bytes, which must not be read as requests.
        let close = !req.keep_alive
            || req.method == "CONNECT"
            || self.draining
            || (has_body && req.expect_continue)
            || ask.body_too_large;
        let persist = match (close, req.minor) {
            (true, _) => Persist::Close,
            (false, 0) => Persist::KeepAliveHeader,
            (false, _) => Persist::KeepAlive,
        };
        // A chunked body's size is known only at its end: the answer waits.
        let out = if req.framing == Framing::Chunked && !close {
            self.after_body.get_or_insert_default()
        } else {
            out
        };
        let site = &mut *loan.site;
        let now = site.now();
        let wrapped = envelope(site, loan.secure, persist, ask.head_only());
        let answer = answer::decide(&ask, &mut site.files, &site.routes, &loan.ops.metrics, now);
        let answer = response::queue(answer, &wrapped, out);
        let next = match req.framing {
            _ if close => H1State::Closed,
            Framing::None => H1State::Head,
            Framing::Length(n) => H1State::Body(BodySkip::length(n)),
            Framing::Chunked => H1State::Body(BodySkip::chunked()),
        };
        self.set_state(next, loan.client);
        answer
    }

    /// The one place a request moves the state, so `RUST_LOG=trace`
    /// narrates them all (`client` names the connection).
    fn set_state(&mut self, next: H1State, client: usize) {
        if std::mem::discriminant(&self.state) != std::mem::discriminant(&next) {
            log::trace!("connection {client}: {} -> {}", self.state, next);
        }
        self.state = next;
    }
}

/// What the connection asks of an HTTP/1.x exchange.
impl Session for H1Session {
    /// Consumes requests from `input`, queuing a response for each complete
    /// one, and returns how many bytes were used. The unused rest is an
    /// incomplete head or chunk line to keep and present again with more
    /// bytes appended, unless the session is now [`H1State::Closed`].
    fn on_input(&mut self, input: &[u8], loan: &mut SessionLoan<'_>, out: &mut OutQueue) -> usize {
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                H1State::Closed => break,
                H1State::Body(mut skip) => {
                    match skip.advance(&input[pos..], loan.site.limits.max_body_bytes) {
                        Ok(progress) => {
                            pos += progress.consumed;
                            if progress.done {
                                if let Some(mut waiting) = self.after_body.take() {
                                    out.take_all(&mut waiting);
                                }
                                self.set_state(H1State::Head, loan.client);
                            } else {
                                self.state = H1State::Body(skip);
                                break;
                            }
                        }
                        // The rest of the connection cannot be framed (RFC
                        // 9112 §7.1): an answer waiting for the body is replaced by the error,
                        // and the connection closes. (A Content-Length body
                        // was answered already; it can only end early.)
                        Err(why) => {
                            log::debug!("request body: {why}");
                            if self.after_body.take().is_some_and(|w| !w.is_empty()) {
                                let how = (loan.secure, Persist::Close, false);
                                let answer = queue(Answer::Refused(why), loan.site, how, out);
                                loan.record(b"-", answer, out.pushed(), &Fields::default());
                            }
                            self.set_state(H1State::Closed, loan.client);
                        }
                    }
                }
                H1State::Head => match parse_head(&input[pos..], loan.site) {
                    Parsed::Partial => break,
                    Parsed::Invalid(why) => {
                        // RFC 9112 §2.2 and §6.3: after an unparseable or
                        // unframeable request, answer and close.
                        log::debug!("connection {}: {why}", loan.client);
                        let head_only = input[pos..].starts_with(b"HEAD ");
                        let how = (loan.secure, Persist::Close, head_only);
                        let answer = queue(Answer::Refused(why), loan.site, how, out);
                        loan.record(&input[pos..], answer, out.pushed(), &Fields::default());
                        self.set_state(H1State::Closed, loan.client);
                    }
                    Parsed::Complete(req, len) => {
                        let answer = self.respond(&req, loan, out);
                        // (An answer waiting for a chunked body goes out after
                        // all that is queued now.)
                        let waiting = self.after_body.as_ref().map_or(0, |w| w.queued_bytes());
                        let end = out.pushed() + waiting;
                        loan.record(&input[pos..pos + len], answer, end, &req.fields);
                        pos += len;
                    }
                },
            }
        }
        pos
    }

    /// Nothing waits on the peer's windows: an answer is queued whole.
    fn on_writable(&mut self, _: &mut OutQueue) {}

    /// Whether more request bytes are wanted.
    fn reading(&self) -> bool {
        self.state != H1State::Closed
    }

    fn owes_data(&self) -> bool {
        false
    }

    fn data_moved(&self) -> bool {
        true
    }

    /// Ends the session after the request in progress: its answer says
    /// `Connection: close`.
    fn drain(&mut self, _: &mut OutQueue) {
        self.draining = true;
    }

    /// Between requests its whole state goes back to the pool; with a
    /// request in progress there is nothing to give.
    fn give_back(&mut self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::Ops;

    /// A context on the embedded site with the clock pinned to
    /// 2001-09-09 01:46:40 UTC.
    use crate::fixture::site;

    fn loan<'a>(site: &'a mut Site, ops: &'a mut Ops) -> SessionLoan<'a> {
        SessionLoan {
            site,
            ops,
            client: 0,
            secure: false,
        }
    }

    fn take(out: &mut OutQueue) -> String {
        crate::out::text_of(out)
    }

    /// Feeds `input` in pieces cut at `cuts`, keeping unused bytes the way
    /// the connection does; returns everything queued and the final state.
    fn run(input: &[u8], cuts: &[usize]) -> (String, H1State) {
        let (mut site, mut ops) = (site(), Ops::default());
        let mut loan = loan(&mut site, &mut ops);
        let mut session = H1Session::default();
        let mut out = OutQueue::default();
        let mut kept = Vec::new();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            kept.extend_from_slice(&input[last..cut]);
            last = cut;
            let used = session.on_input(&kept, &mut loan, &mut out);
            kept.drain(..used);
        }
        (take(&mut out), session.state())
    }

    fn statuses(text: &str) -> Vec<&str> {
        text.match_indices("HTTP/1.1 ")
            .map(|(i, _)| &text[i + 9..i + 12])
            .collect()
    }

    #[test]
    fn responses_carry_the_pinned_date() {
        let (text, phase) = run(b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", &[]);
        assert!(
            text.contains("\r\nDate: Sun, 09 Sep 2001 01:46:40 GMT\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\nHello\n"), "{text}");
        assert_eq!(phase, H1State::Head);
    }

    #[test]
    fn a_version_cut_before_its_line_ends_waits_for_the_line() {
        // Found by the session fuzz target: sent whole, the head is
        // incomplete (HTTP/1.4 is served as 1.1, and `TTP4Q4` is the
        // start of a field); cut after the version, it was refused at
        // once. Every cut must give what the whole gives.
        let inputs: [&[u8]; 4] = [
            b"Q A HTTP/1.4\nTTP4Q4",
            b"GET / HTTP/1.4\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.4x\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
        ];
        for input in inputs {
            let whole = run(input, &[]);
            for cut in 1..input.len() {
                assert_eq!(run(input, &[cut]), whole, "{input:?} cut at {cut}");
            }
        }
        assert_eq!(run(inputs[0], &[]), (String::new(), H1State::Head));
        assert_eq!(statuses(&run(inputs[1], &[]).0), ["200"]);
        assert_eq!(statuses(&run(inputs[2], &[]).0), ["400"]);
        assert_eq!(statuses(&run(inputs[3], &[]).0), ["505"]);
    }

    #[test]
    fn any_cut_of_a_pipelined_stream_gives_the_same_responses() {
        let stream: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n\
            POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody\
            PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n\
            HEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n\
            GET / HTTP/1.0\r\n\r\n\
            GET /never HTTP/1.1\r\nHost: a\r\n\r\n";
        let (whole, phase) = run(stream, &[]);
        assert_eq!(statuses(&whole), ["200", "405", "405", "404", "200"]);
        assert_eq!(
            phase,
            H1State::Closed,
            "HTTP/1.0 without keep-alive ends it"
        );
        for cut in 1..stream.len() {
            assert_eq!(run(stream, &[cut]).0, whole, "cut at {cut}");
        }
        for cut in 1..stream.len() - 7 {
            assert_eq!(
                run(stream, &[cut, cut + 3, cut + 7]).0,
                whole,
                "cuts at {cut}"
            );
        }
    }

    #[test]
    fn invalid_heads_close_and_nothing_after_is_answered() {
        let (text, phase) = run(
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            &[],
        );
        assert_eq!(statuses(&text), ["400"]);
        assert!(text.contains("Connection: close\r\n"));
        assert_eq!(phase, H1State::Closed);
    }

    #[test]
    fn draining_says_close_on_the_next_response() {
        let (mut site, mut ops) = (site(), Ops::default());
        let mut session = H1Session::default();
        let mut out = OutQueue::default();
        session.drain(&mut OutQueue::default());
        session.on_input(
            b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n",
            &mut loan(&mut site, &mut ops),
            &mut out,
        );
        let text = take(&mut out);
        assert!(text.contains("Connection: close\r\n"), "{text}");
        assert_eq!(session.state(), H1State::Closed);
    }

    /// A small deterministic generator (xorshift64*), so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Well-formed requests and the status each must get, in order.
    const UNITS: &[(&str, &str)] = &[
        ("GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", "200"),
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", "200"),
        ("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", "404"),
        ("HEAD /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n", "200"),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nGET /",
            "405",
        ),
        (
            "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nGET\r\n0\r\n\r\n",
            "405",
        ),
        (
            "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            "200",
        ),
    ];

    /// Random cut points of a stream of `len` bytes.
    fn random_cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
        let mut cuts: Vec<usize> = (0..rng.below(8))
            .map(|_| 1 + rng.below(len as u64 - 1) as usize)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }

    #[test]
    fn property_well_formed_streams_are_answered_in_order_whatever_the_cuts() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let units: Vec<usize> = (0..1 + rng.below(12))
                .map(|_| rng.below(UNITS.len() as u64) as usize)
                .collect();
            let stream: String = units.iter().map(|&u| UNITS[u].0).collect();
            let want: Vec<&str> = units.iter().map(|&u| UNITS[u].1).collect();
            let cuts = random_cuts(&mut rng, stream.len());
            let (text, phase) = run(stream.as_bytes(), &cuts);
            assert_eq!(statuses(&text), want, "{stream:?} cut at {cuts:?}");
            assert_ne!(phase, H1State::Closed);
        }
    }

    #[test]
    fn property_garbage_never_panics_reorders_or_over_answers() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..500 {
            // Well-formed units with random bytes spliced in somewhere.
            let units: Vec<usize> = (0..1 + rng.below(8))
                .map(|_| rng.below(UNITS.len() as u64) as usize)
                .collect();
            let mut stream: Vec<u8> = units.iter().flat_map(|&u| UNITS[u].0.bytes()).collect();
            let at = rng.below(stream.len() as u64 + 1) as usize;
            let junk: Vec<u8> = (0..1 + rng.below(40)).map(|_| rng.next() as u8).collect();
            stream.splice(at..at, junk.iter().copied());
            let cuts = random_cuts(&mut rng, stream.len());
            let (text, _) = run(&stream, &cuts);
            let got = statuses(&text);
            // Never more answers than requests (the junk may make one more
            // request, answered with an error, at most).
            assert!(
                got.len() <= units.len() + 1,
                "{} answers for {} requests",
                got.len(),
                units.len()
            );
            // The requests wholly before the junk are answered first, in order.
            let mut before = 0;
            let mut pos = 0;
            for &u in &units {
                pos += UNITS[u].0.len();
                if pos > at {
                    break;
                }
                before += 1;
            }
            let want: Vec<&str> = units[..before].iter().map(|&u| UNITS[u].1).collect();
            assert!(
                got.len() >= before,
                "answers lost before the junk: {got:?} vs {want:?}"
            );
            assert_eq!(
                &got[..before],
                &want[..],
                "out of order before the junk in {:?}",
                String::from_utf8_lossy(&stream)
            );
        }
    }
}
