//! The last request head parsed whole, remembered as positions in its bytes: the same head again is not parsed again.
//!
//! A keep-alive client sends the same head with every request (the same
//! method, target, `Host`, `User-Agent`, `Accept`), and so do the clients
//! of one page. A head's parse depends on nothing but its bytes and the
//! limits, so when a buffer starts with the bytes of the last head parsed
//! whole, under the same limits, its parse is the one remembered: one
//! compare of the head's bytes instead of httparse and the field checks
//! (a third of a keep-alive request's instructions). The request is
//! remembered as positions, and given back as slices of the new buffer:
//! the bytes are the same, so are the places.
//!
//! Like the `Host` the site remembers ([`crate::http::grammar::KnownHost`]),
//! it remembers bytes, not a connection; one per thread (the loop is one
//! thread), as the TLS scratch buffer is.

use std::cell::RefCell;
use std::ops::Range;

use crate::config::Limits;
use crate::http::conditional::Conditions;
use crate::http::fields::Fields;
use crate::http1::request::{Framing, Parsed, Request};

/// Heads longer than this are parsed each time: the compare would cost
/// more, and the copy kept stays small.
const KEPT_MAX: usize = 1024;

thread_local! {
    static KNOWN: RefCell<KnownHead> = RefCell::new(KnownHead::default());
}

/// The parse of `buf`'s head under `limits`: the remembered one when
/// `buf` starts with the head remembered, else `parse`'s, remembered when
/// it is a whole head that can be.
pub fn parse_remembered<'b>(
    buf: &'b [u8],
    limits: &Limits,
    parse: impl FnOnce(&'b [u8]) -> Parsed<'b>,
) -> Parsed<'b> {
    KNOWN.with_borrow_mut(|known| match known.recall(buf, limits) {
        Some(parsed) => parsed,
        None => {
            let parsed = parse(buf);
            known.remember(buf, limits, &parsed);
            parsed
        }
    })
}

/// A head, and its parse as positions in it.
#[derive(Debug, Default)]
pub struct KnownHead {
    /// The head's bytes, its final blank line included; empty: none.
    bytes: Vec<u8>,
    limits: Option<Limits>,
    request: Option<Spans>,
}

/// A [`Request`] as positions in its head.
#[derive(Debug, Clone)]
struct Spans {
    method: &'static str,
    target: Range<usize>,
    minor: u8,
    keep_alive: bool,
    framing: Framing,
    expect_continue: bool,
    fields: [Option<Range<usize>>; FIELDS],
    repeated: bool,
}

/// The fields a request keeps, in the order [`fields_of`] lists them.
const FIELDS: usize = 11;

/// Every field slot of `f`, in one order: the one place that lists them,
/// both ways.
fn fields_of<'a, 'b>(f: &'a mut Fields<'b>) -> [&'a mut Option<&'b [u8]>; FIELDS] {
    let Fields {
        conditions:
            Conditions {
                if_match,
                if_none_match,
                if_modified_since,
                if_unmodified_since,
                range,
                if_range,
                repeated: _,
            },
        accept,
        accept_encoding,
        referer,
        user_agent,
        host,
    } = f;
    [
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
        range,
        if_range,
        accept,
        accept_encoding,
        referer,
        user_agent,
        host,
    ]
}

/// Where `part` lies in `head`, if it is a slice of it.
fn span(head: &[u8], part: &[u8]) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(head.as_ptr() as usize)?;
    let end = start + part.len();
    (end <= head.len()).then_some(start..end)
}

impl KnownHead {
    /// The remembered parse, when `buf` starts with the head remembered
    /// and `limits` are the same.
    fn recall<'b>(&self, buf: &'b [u8], limits: &Limits) -> Option<Parsed<'b>> {
        let spans = self.request.as_ref()?;
        let head = buf.get(..self.bytes.len())?;
        if head != self.bytes.as_slice() || self.limits.as_ref() != Some(limits) {
            return None;
        }
        let mut fields = Fields::default();
        fields.conditions.repeated = spans.repeated;
        for (slot, place) in fields_of(&mut fields).into_iter().zip(&spans.fields) {
            *slot = place.clone().map(|r| &head[r]);
        }
        let request = Request {
            method: spans.method,
            target: &head[spans.target.clone()],
            minor: spans.minor,
            keep_alive: spans.keep_alive,
            framing: spans.framing,
            expect_continue: spans.expect_continue,
            fields,
        };
        Some(Parsed::Complete(request, head.len()))
    }

    /// Remembers `parsed`, the parse of `buf` under `limits`, if it is a
    /// whole head short enough, of a method with a static name, whose
    /// parts all lie in it; else forgets what it held.
    fn remember(&mut self, buf: &[u8], limits: &Limits, parsed: &Parsed<'_>) {
        self.request = None;
        let Parsed::Complete(request, len) = parsed else {
            return;
        };
        let head = &buf[..*len];
        let method = match request.method {
            "GET" => "GET",
            "HEAD" => "HEAD",
            _ => return,
        };
        let mut copy = request.fields;
        let mut fields: [Option<Range<usize>>; FIELDS] = Default::default();
        for (place, slot) in fields.iter_mut().zip(fields_of(&mut copy)) {
            if let Some(value) = *slot {
                let Some(r) = span(head, value) else {
                    return;
                };
                *place = Some(r);
            }
        }
        let Some(target) = span(head, request.target) else {
            return; // an absolute-form target, reduced to a static "/"
        };
        if head.len() > KEPT_MAX {
            return;
        }
        self.bytes.clear();
        self.bytes.extend_from_slice(head);
        self.limits = Some(*limits);
        self.request = Some(Spans {
            method,
            target,
            minor: request.minor,
            keep_alive: request.keep_alive,
            framing: request.framing,
            expect_continue: request.expect_continue,
            fields,
            repeated: request.fields.conditions.repeated,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::request::parse;

    /// Parses `inputs` one after another through one KnownHead, and
    /// requires each parse to be what a fresh parse says.
    fn same_as_fresh(inputs: &[&[u8]], limits: &Limits) -> usize {
        let mut known = KnownHead::default();
        let mut recalled = 0;
        for &input in inputs {
            let fresh = parse(input, limits);
            let got = match known.recall(input, limits) {
                Some(parsed) => {
                    recalled += 1;
                    parsed
                }
                None => {
                    let parsed = parse(input, limits);
                    known.remember(input, limits, &parsed);
                    parsed
                }
            };
            assert_eq!(got, fresh, "{:?}", String::from_utf8_lossy(input));
        }
        recalled
    }

    #[test]
    fn the_same_head_again_is_recalled_and_equals_a_fresh_parse() {
        let head: &[u8] = b"GET /hello.txt?x=1 HTTP/1.1\r\nHost: a:8080\r\nUser-Agent: u\r\nAccept: */*\r\nRange: bytes=0-1\r\nIf-None-Match: \"x\"\r\n\r\n";
        let two = [head, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
        let limits = Limits::default();
        let recalled = same_as_fresh(&[head, head, &two, head, &two[..head.len() - 1]], &limits);
        // The second, the third (a pipelined pair starts with it), the
        // fourth; not the cut one.
        assert_eq!(recalled, 3);
    }

    #[test]
    fn what_may_not_be_recalled_is_parsed_each_time() {
        let limits = Limits::default();
        let cases: &[&[u8]] = &[
            // Not whole, refused, another method, an absolute-form target
            // reduced to a static "/", a head with a body.
            b"GET / HTTP/1.1\r\nHost: a\r\n",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://a HTTP/1.1\r\nHost: a\r\n\r\n",
        ];
        for case in cases {
            assert_eq!(same_as_fresh(&[case, case], &limits), 0, "{case:?}");
        }
        let body: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(same_as_fresh(&[body, body], &limits), 1);
        // Other limits: parsed again (here, refused).
        let mut known = KnownHead::default();
        let ok: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        known.remember(ok, &limits, &parse(ok, &limits));
        let tight = Limits {
            max_head_bytes: 8,
            ..limits
        };
        assert!(known.recall(ok, &tight).is_none());
        assert!(known.recall(ok, &limits).is_some());
    }

    /// Seeded mutations of a few heads (bytes changed, cut, repeated,
    /// pipelined), fed in turn through one KnownHead: every parse is what
    /// a fresh parse says, recalled or not.
    #[test]
    fn under_ten_thousand_mutated_heads_a_recall_is_a_fresh_parse() {
        let bases: [&[u8]; 3] = [
            b"GET /a/b.txt HTTP/1.1\r\nHost: x:1\r\nAccept-Encoding: gzip\r\nIf-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT\r\n\r\n",
            b"HEAD /?q HTTP/1.0\r\nConnection: keep-alive\r\nReferer: r\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ];
        let bytes = b" :\r\n/aGHT0-";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let limits = Limits::default();
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for _ in 0..10_000 {
            let mut head = bases[next() as usize % bases.len()].to_vec();
            match next() % 5 {
                0 => {} // the same again
                1 => {
                    let at = next() as usize % head.len();
                    head[at] = bytes[next() as usize % bytes.len()];
                }
                2 => head.truncate(next() as usize % head.len()),
                3 => {
                    let again = head.clone();
                    head.extend_from_slice(&again);
                }
                _ => {
                    let at = next() as usize % head.len();
                    head.insert(at, bytes[next() as usize % bytes.len()]);
                }
            }
            inputs.push(head);
        }
        let refs: Vec<&[u8]> = inputs.iter().map(Vec::as_slice).collect();
        let recalled = same_as_fresh(&refs, &limits);
        assert!(recalled > 300, "only {recalled} recalled");
    }
}
