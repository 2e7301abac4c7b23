//! Request heads: `httparse` for the syntax, RFC 9112 for the framing.
//!
//! [`parse`] has httparse's three outcomes: a complete head (with how many
//! bytes it took), a partial one (read more), or an invalid one carrying the
//! status to answer before closing. It never allocates and never looks past
//! the head; the body, if any, is described by [`Framing`] and skipped by
//! [`super::body`]. Pure: bytes in, a decision out.
//!
//! Framing is where request smuggling lives, so the rules are strict
//! (RFC 9112 §6): Content-Length must be one field holding one decimal
//! number; Transfer-Encoding must name `chunked` once, last, may not be
//! sent by HTTP/1.0 and may not come with Content-Length. Every violation is
//! answered and the connection closed, because after it nobody can know
//! where the next request starts. The authority is checked too: a `Host`
//! (and an absolute-form target's host) must be `uri-host [ ":" port ]`.
//!
//! Line endings: CRLF, and a bare LF is accepted as RFC 9112 §2.2 allows
//! ("MAY recognize a single LF"), as httparse does.

use std::mem::MaybeUninit;

use crate::config::Limits;
use crate::http::fields::Fields;
use crate::http::grammar::{self, KnownHost, decimal};
use crate::http::status::Refusal;

/// How the request's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
}

/// A complete, well-framed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'b> {
    /// The method token, case-sensitive (RFC 9110 §9.1).
    pub method: &'b str,
    /// The target in origin form: path and query (absolute-form targets are
    /// reduced to this), or `*` for `OPTIONS *`.
    pub target: &'b [u8],
    /// HTTP/1.`minor`.
    pub minor: u8,
    /// Whether the client wants the connection kept after the response.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub framing: Framing,
    /// `Expect: 100-continue`: the client may wait before sending the body.
    pub expect_continue: bool,
    /// The fields the response depends on beyond framing.
    pub fields: Fields<'b>,
}

/// The outcome of [`parse`].
#[derive(Debug, PartialEq, Eq)]
// The request is returned by value, once per request, on the stack: boxing
// it to shrink the enum would allocate on every request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'b> {
    /// A whole head, and its length in bytes.
    Complete(Request<'b>, usize),
    /// More bytes are needed.
    Partial,
    /// Answer with this refusal and close.
    Invalid(Refusal),
}

/// Parses the head at the start of `buf`.
pub fn parse<'b>(buf: &'b [u8], limits: &Limits) -> Parsed<'b> {
    parse_knowing(buf, limits, &mut KnownHost::default())
}

/// [`parse`], with the `Host` value last found valid (the site keeps it).
pub fn parse_knowing<'b>(buf: &'b [u8], limits: &Limits, known: &mut KnownHost) -> Parsed<'b> {
    // The size checks come first so that a client cannot make us rescan an
    // ever-growing partial head: past the limits the answer is fixed.
    // A buffer no longer than the limit cannot hold a line over it, so a
    // pipelined batch of short requests is not scanned twice.
    let max_line = limits.max_request_line;
    if buf.len() > max_line && !buf[..=max_line].contains(&b'\n') {
        return Parsed::Invalid(Refusal::UriTooLong);
    }
    // Uninitialized slots: zeroing 128 headers would cost more than
    // parsing a typical request.
    let mut storage = [const { MaybeUninit::<httparse::Header<'b>>::uninit() }; MAX_HEADERS];
    let headers = &mut storage[..limits.max_headers.min(MAX_HEADERS)];
    let mut req = httparse::Request::new(&mut []);
    let mut later;
    let (head_len, method, path, minor, headers) = match req.parse_with_uninit_headers(buf, headers)
    {
        Ok(httparse::Status::Complete(n)) => {
            // A complete parse always fills these three.
            let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version)
            else {
                return Parsed::Invalid(Refusal::Malformed);
            };
            (n, method, path, minor, &*req.headers)
        }
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head_bytes => {
            return Parsed::Invalid(Refusal::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Invalid(Refusal::HeadTooLarge);
        }
        // httparse judges the version as soon as its bytes are in, but
        // what the line means depends on the rest of it (a later minor
        // version is served as 1.1; `HTTP/1.4x` is malformed): wait for
        // its end, or the answer would depend on where TCP cut the bytes.
        Err(httparse::Error::Version) if !buf.contains(&b'\n') => return Parsed::Partial,
        Err(httparse::Error::Version) => {
            let Some((method, path, line)) = later_minor(buf) else {
                return Parsed::Invalid(version_error(buf));
            };
            // Rare: an initialized array just for this path.
            later = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let slots = &mut later[..limits.max_headers.min(MAX_HEADERS)];
            match httparse::parse_headers(&buf[line..], slots) {
                Ok(httparse::Status::Complete((n, fields))) => (line + n, method, path, 1, fields),
                Ok(httparse::Status::Partial) if buf.len() > limits.max_head_bytes => {
                    return Parsed::Invalid(Refusal::HeadTooLarge);
                }
                Ok(httparse::Status::Partial) => return Parsed::Partial,
                Err(httparse::Error::TooManyHeaders) => {
                    return Parsed::Invalid(Refusal::HeadTooLarge);
                }
                Err(_) => return Parsed::Invalid(Refusal::Malformed),
            }
        }
        Err(_) => return Parsed::Invalid(Refusal::Malformed),
    };
    if head_len > limits.max_head_bytes {
        return Parsed::Invalid(Refusal::HeadTooLarge);
    }
    let target = match origin_form(path.as_bytes(), method) {
        Ok(target) => target,
        Err(why) => return Parsed::Invalid(why),
    };
    let mut fields = Fields::default();
    match interpret_headers(headers, minor, limits, known, &mut fields) {
        Ok((keep_alive, framing, expect_continue)) => Parsed::Complete(
            Request {
                method,
                target,
                minor,
                keep_alive,
                framing,
                expect_continue,
                fields,
            },
            head_len,
        ),
        Err(status) => Parsed::Invalid(status),
    }
}

/// Hard cap on header fields, sizing the parser's stack array.
const MAX_HEADERS: usize = 128;

/// A request line that httparse refused for its version alone, when that
/// version is `HTTP/1.x` with x above 1: RFC 9110 §2.5 has a recipient
/// treat a later minor version as the highest it supports, so the request
/// is read as HTTP/1.1. Returns the method, the target and the line's
/// length with its line end; `None` when the version is not such, or the
/// rest of the line is malformed.
fn later_minor(buf: &[u8]) -> Option<(&str, &str, usize)> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let later = matches!(version, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', m] if (b'2'..=b'9').contains(m));
    let target_ok = !target.is_empty() && target.iter().all(|&b| b > b' ' && b != 0x7f);
    if !later || parts.next().is_some() || !grammar::is_token(method) || !target_ok {
        return None;
    }
    let method = std::str::from_utf8(method).ok()?;
    let target = std::str::from_utf8(target).ok()?;
    Some((method, target, end + 1))
}

/// httparse says "bad version": a well-formed `HTTP/x.y` with another major
/// version is 505 (RFC 9110 §15.6.6); anything else is just malformed.
fn version_error(buf: &[u8]) -> Refusal {
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(buf);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line.rsplit(|&b| b == b' ').next() {
        // A 1.x version here means the line itself was malformed (two
        // spaces, say): that is a 400, not a version problem.
        Some([b'H', b'T', b'T', b'P', b'/', major, b'.', minor])
            if major.is_ascii_digit() && *major != b'1' && minor.is_ascii_digit() =>
        {
            Refusal::VersionNotSupported
        }
        Some([b'H', b'T', b'T', b'P', b'/', major]) if major.is_ascii_digit() && *major != b'1' => {
            Refusal::VersionNotSupported
        }
        _ => Refusal::Malformed,
    }
}

/// Reduces a request target to origin form (RFC 9112 §3.2): `/path?query`
/// stays, `http://host/path` becomes `/path` (RFC 9112 §3.2.2: a server must
/// accept the absolute form), `OPTIONS *` stays `*`. Anything else is `None`.
fn origin_form<'b>(target: &'b [u8], method: &str) -> Result<&'b [u8], Refusal> {
    if method == "CONNECT" {
        // Authority-form, `host:port`, and only for CONNECT (RFC 9112
        // §3.2.3): the request is well formed and gets 405.
        let port = target.rsplit(|&b| b == b':').next().unwrap_or(b"");
        let has_port = target.len() > port.len() && !port.is_empty();
        let authority = has_port && grammar::is_host_port(target);
        return if authority {
            Ok(target)
        } else {
            Err(Refusal::BadTarget)
        };
    }
    if target.first() == Some(&b'/') {
        return Ok(target);
    }
    if target == b"*" && method == "OPTIONS" {
        return Ok(target);
    }
    let scheme_len = if starts_with_ignore_case(target, b"http://") {
        7
    } else if starts_with_ignore_case(target, b"https://") {
        8
    } else {
        return Err(Refusal::BadTarget);
    };
    let rest = &target[scheme_len..];
    let authority_end = rest
        .iter()
        .position(|&b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    // "http:///path" has no host; userinfo ("user@host") is deprecated in
    // http URIs (RFC 9110 §4.2.4) and a classic way to confuse which host
    // is meant, so it is refused with any other malformed authority.
    let authority = &rest[..authority_end];
    if authority.is_empty() || !grammar::is_host_port(authority) {
        return Err(Refusal::BadHost);
    }
    Ok(match &rest[authority_end..] {
        // "http://host" and "http://host?q" mean the root.
        [] => b"/",
        path if path[0] == b'?' => b"/",
        path => path,
    })
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Applies the header fields that decide framing and persistence:
/// Host (RFC 9112 §3.2), Connection (RFC 9112 §9.3), Content-Length and
/// Transfer-Encoding (RFC 9112 §6), Expect (RFC 9110 §10.1.1); and keeps
/// the [`Fields`] the response will look at.
fn interpret_headers<'b>(
    headers: &[httparse::Header<'b>],
    minor: u8,
    limits: &Limits,
    known: &mut KnownHost,
    fields: &mut Fields<'b>,
) -> Result<(bool, Framing, bool), Refusal> {
    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive = false;
    let mut length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut last_coding_chunked = false;
    let mut chunked = 0;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name.as_bytes();
        // "name: value" on one line, as the limit counts it.
        if name.len() + 2 + h.value.len() > limits.max_field_line {
            return Err(Refusal::FieldTooLong);
        }
        if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
            if !known.is_host_port(h.value) {
                return Err(Refusal::BadHost);
            }
            fields.host = Some(h.value);
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in list(h.value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // One field, one number: a second field or a list, even of
            // equal values, is refused (RFC 9110 §8.6 allows either; nginx
            // refuses, and a proxy in front may have picked another).
            if length.is_some() {
                return Err(Refusal::BadLength);
            }
            length = Some(parse_length(h.value.trim_ascii()).ok_or(Refusal::BadLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if list(h.value).next().is_none() {
                return Err(Refusal::BadTransferEncoding); // an empty one
            }
            for coding in list(h.value) {
                if !transfer_encoding_known(coding) {
                    return Err(Refusal::UnknownCoding);
                }
                transfer_encoding = true;
                last_coding_chunked = coding.eq_ignore_ascii_case(b"chunked");
                chunked += usize::from(last_coding_chunked);
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if h.value.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else {
                return Err(Refusal::ExpectationFailed);
            }
        } else {
            fields.take(name, h.value);
        }
    }
    match hosts {
        0 if minor == 1 => return Err(Refusal::NoHost),
        0 | 1 => {}
        _ => return Err(Refusal::TwoHosts),
    }
    let framing = match (transfer_encoding, length) {
        (false, None) => Framing::None,
        (false, Some(0)) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
        // HTTP/1.0 has no chunked coding; both headers at once is the classic
        // smuggling vector; a coding that does not end in chunked leaves the
        // body's end unknowable. All three: 400 and close (RFC 9112 §6.1, §6.3).
        // `chunked` may be applied once (RFC 9112 §7.1): twice, in one field
        // or two, is refused as nginx and lighttpd refuse it.
        (true, None) if minor == 1 && last_coding_chunked && chunked == 1 => Framing::Chunked,
        (true, Some(_)) => return Err(Refusal::LengthWithChunked),
        (true, None) => return Err(Refusal::BadTransferEncoding),
    };
    let keep_alive = !close && (minor == 1 || keep_alive);
    Ok((keep_alive, framing, expect_continue))
}

/// Splits a comma-separated field value into trimmed, non-empty items.
fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|item| item.trim_ascii())
        .filter(|item| !item.is_empty())
}

/// A Content-Length: a decimal of at most 19 digits.
fn parse_length(s: &[u8]) -> Option<u64> {
    if s.len() > 19 {
        return None;
    }
    decimal(s)
}

/// Transfer codings registered for HTTP/1.1 (RFC 9112 §7). Since every body
/// is discarded, only the framing (`chunked`, last) matters; an unknown
/// coding is still refused with 501 as RFC 9112 §6.1 asks.
fn transfer_encoding_known(coding: &[u8]) -> bool {
    [
        "chunked",
        "gzip",
        "x-gzip",
        "deflate",
        "compress",
        "x-compress",
    ]
    .iter()
    .any(|known| coding.eq_ignore_ascii_case(known.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_request_line: 64,
            max_head_bytes: 256,
            max_headers: 8,
            ..Limits::default()
        }
    }

    /// (target, minor version, keep-alive, framing), or the status (None: partial).
    type Expected = Result<(String, u8, bool, Framing), Option<u16>>;

    fn outcome(raw: &str) -> Expected {
        match parse(raw.as_bytes(), &limits()) {
            Parsed::Complete(r, n) => {
                assert_eq!(n, raw.find("\r\n\r\n").map_or(raw.len(), |i| i + 4));
                Ok((
                    String::from_utf8_lossy(r.target).into_owned(),
                    r.minor,
                    r.keep_alive,
                    r.framing,
                ))
            }
            Parsed::Partial => Err(None),
            Parsed::Invalid(why) => Err(Some(why.status().code())),
        }
    }

    fn ok(
        target: &str,
        minor: u8,
        keep: bool,
        framing: Framing,
    ) -> Result<(String, u8, bool, Framing), Option<u16>> {
        Ok((target.to_string(), minor, keep, framing))
    }

    #[test]
    fn table() {
        use Framing::{Chunked, Length};
        const NONE: Framing = Framing::None;
        let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(80));
        let long_head = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "b".repeat(40).repeat(7)
        );
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{}\r\n", "X: 1\r\n".repeat(8));
        let cases: Vec<(&str, Expected)> = vec![
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", ok("/", 1, true, NONE)),
            (
                "GET /x?y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                ok("/x?y", 1, false, NONE),
            ),
            ("GET / HTTP/1.0\r\n\r\n", ok("/", 0, false, NONE)),
            (
                "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                ok("/", 0, true, NONE),
            ),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                ok("/", 0, false, NONE),
            ),
            ("GET / HTTP/1.1\nHost: a\n\n", ok("/", 1, true, NONE)),
            (
                "GET http://h.example/p/q HTTP/1.1\r\nHost: h\r\n\r\n",
                ok("/p/q", 1, true, NONE),
            ),
            (
                "GET HTTP://h.example HTTP/1.1\r\nHost: h\r\n\r\n",
                ok("/", 1, true, NONE),
            ),
            (
                "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
                ok("*", 1, true, NONE),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
                ok("/", 1, true, Length(5)),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
                ok("/", 1, true, NONE),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok("/", 1, true, Chunked),
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                ok("/", 1, true, Chunked),
            ),
            ("GET / HTTP/1.1\r\nHost: a\r\n", Err(None)),
            ("GET / HTTP/1.1\r\n", Err(None)),
            ("GE", Err(None)),
            // Malformed or unframeable: 400.
            ("GET / HTTP/1.1\r\n\r\n", Err(Some(400))),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                Err(Some(400)),
            ),
            ("GET nohost HTTP/1.1\r\nHost: a\r\n\r\n", Err(Some(400))),
            ("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", Err(Some(400))),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(Some(400)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: rot13\r\n\r\n",
                Err(Some(501)),
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n",
                Err(Some(417)),
            ),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", Err(Some(400))),
            ("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", Err(Some(400))),
            ("GET / FTP/1.1\r\nHost: a\r\n\r\n", Err(Some(400))),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", Err(Some(505))),
            ("GET / HTTP/3\r\nHost: a\r\n\r\n", Err(Some(505))),
            ("GET /  HTTP/1.1\r\nHost: a\r\n\r\n", Err(Some(400))),
            // A later minor version is read as 1.1 (RFC 9110 §2.5).
            (
                "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
                ok("/", 1, true, Framing::None),
            ),
            ("GET / HTTP/1.2\r\n\r\n", Err(Some(400))),
            ("GET  / HTTP/1.2\r\nHost: a\r\n\r\n", Err(Some(400))),
            // Too big: 414 for the line, 431 for the head.
            (long_target.as_str(), Err(Some(414))),
            (long_head.as_str(), Err(Some(431))),
            (many.as_str(), Err(Some(431))),
        ];
        for (raw, want) in cases {
            assert_eq!(outcome(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn oversize_is_detected_before_the_head_ends() {
        let partial_line = format!("GET /{}", "a".repeat(100));
        assert_eq!(outcome(&partial_line), Err(Some(414)));
        let partial_head = format!("GET / HTTP/1.1\r\nX: {}", "b".repeat(300));
        assert_eq!(outcome(&partial_head), Err(Some(431)));
    }

    #[test]
    fn expect_continue_is_reported() {
        let raw =
            b"PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 9\r\n\r\n";
        match parse(raw, &limits()) {
            Parsed::Complete(r, _) => assert!(r.expect_continue),
            other => panic!("{other:?}"),
        }
    }
}
