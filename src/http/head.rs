//! A request head given as fields (HTTP/2 and HTTP/3): checked, and lent as Fields (pure).
//!
//! HTTP/2 (RFC 9113 §8.2, §8.3) and HTTP/3 (RFC 9114 §4.2, §4.3) carry the
//! request line as pseudo-header fields (`:method`, `:scheme`,
//! `:authority`, `:path`) before the ordinary ones, and forbid the same
//! things HTTP/1.x tolerated or needed: uppercase names, the fields that
//! describe one connection (`Connection`, `Keep-Alive`, `Transfer-Encoding`,
//! `Upgrade`, `Proxy-Connection`; `TE` other than `trailers`), a value with
//! NUL, CR or LF or with whitespace at either end, pseudo-fields after
//! ordinary ones, twice, unknown, or missing. Any of these makes the
//! request malformed: HTTP/2 resets the stream with PROTOCOL_ERROR
//! (§8.1.1), HTTP/3 with H3_MESSAGE_ERROR (§4.1.2); the connection goes on.
//! The rules are the meaning's, not a framing's, so both framings check
//! with this one [`Head`].
//!
//! [`Head`] keeps the decoded bytes (HPACK and QPACK hand each field over
//! only for the length of a call) and lends them as the same [`Fields`] an
//! HTTP/1.x request yields, so [`crate::http::answer`] sees no difference.

use crate::http::fields::Fields;
use crate::http::grammar::{self, KnownHost};

/// Why a request is malformed (for the log; the peer sees PROTOCOL_ERROR).
pub type Malformed = &'static str;

/// Where a field's bytes are in [`Head::bytes`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

/// A checked request head; its buffers are kept for the next one.
#[derive(Debug, Default)]
pub struct Head {
    /// Every field's name and value, as decoded.
    bytes: Vec<u8>,
    /// Ordinary fields: name, value.
    fields: Vec<(Span, Span)>,
    method: Option<Span>,
    scheme: Option<Span>,
    authority: Option<Span>,
    path: Option<Span>,
    host: Option<Span>,
    /// RFC 9218's `priority` field, as sent.
    priority: Option<Span>,
    /// `content-length`, which the DATA frames must then add up to (§8.1.1).
    pub content_length: Option<u64>,
    /// An ordinary field has been seen: no pseudo-field may follow.
    ordinary: bool,
    /// The first problem found; decoding goes on so that the HPACK table
    /// stays in step, and the stream is reset at the end.
    malformed: Option<Malformed>,
}

impl Head {
    /// Empties it for the next request, keeping its storage.
    pub fn clear(&mut self) {
        let (mut bytes, mut fields) = (
            std::mem::take(&mut self.bytes),
            std::mem::take(&mut self.fields),
        );
        bytes.clear();
        fields.clear();
        *self = Head {
            bytes,
            fields,
            ..Head::default()
        };
    }

    /// Takes one decoded field, in the order the block gave it.
    pub fn field(&mut self, name: &[u8], value: &[u8]) {
        if self.malformed.is_none()
            && let Err(why) = self.check(name, value)
        {
            self.malformed = Some(why);
        }
    }

    fn keep(&mut self, bytes: &[u8]) -> Span {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(bytes);
        Span {
            start,
            len: bytes.len() as u32,
        }
    }

    fn get(&self, span: Span) -> &[u8] {
        &self.bytes[span.start as usize..(span.start + span.len) as usize]
    }

    fn check(&mut self, name: &[u8], value: &[u8]) -> Result<(), Malformed> {
        // A fold, not `any`: no early exit, so it runs as vector code over
        // the whole value (every field of every request passes here).
        let forbidden = value.iter().fold(false, |bad, &b| {
            bad | (b == 0) | (b == b'\r') | (b == b'\n')
        });
        if forbidden {
            return Err("NUL, CR or LF in a field value");
        }
        if let Some(pseudo) = name.strip_prefix(b":") {
            if self.ordinary {
                return Err("pseudo-header field after an ordinary one");
            }
            let slot = match pseudo {
                b"method" => &mut self.method,
                b"scheme" => &mut self.scheme,
                b"authority" => &mut self.authority,
                b"path" => &mut self.path,
                _ => return Err("unknown or response pseudo-header field"),
            };
            if slot.is_some() {
                return Err("pseudo-header field given twice");
            }
            let span = self.keep(value);
            match pseudo {
                b"method" => self.method = Some(span),
                b"scheme" => self.scheme = Some(span),
                b"authority" => self.authority = Some(span),
                _ => self.path = Some(span),
            }
            return Ok(());
        }
        self.ordinary = true;
        if name.is_empty()
            || !name
                .iter()
                .all(|&b| grammar::is_tchar(b) && !b.is_ascii_uppercase())
        {
            return Err("field name not a lowercase token");
        }
        if value.first().is_some_and(|&b| b == b' ' || b == b'\t')
            || value.last().is_some_and(|&b| b == b' ' || b == b'\t')
        {
            return Err("whitespace at the start or end of a field value");
        }
        match name {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => {
                return Err("connection-specific field");
            }
            b"te" if value != b"trailers" => return Err("TE other than trailers"),
            b"content-length" => {
                let n = grammar::decimal(value).ok_or("content-length not a number")?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err("two different content-lengths");
                }
                self.content_length = Some(n);
            }
            b"priority" => {
                let span = self.keep(value);
                self.priority = Some(span);
                return Ok(());
            }
            b"host" => {
                if self.host.is_some() {
                    return Err("two Host fields");
                }
                let span = self.keep(value);
                self.host = Some(span);
                return Ok(());
            }
            _ => {}
        }
        let n = self.keep(name);
        let v = self.keep(value);
        self.fields.push((n, v));
        Ok(())
    }

    /// Once the whole block is in: whether it makes a request (§8.3.1).
    pub fn finish(&self) -> Result<(), Malformed> {
        self.finish_knowing(&mut KnownHost::default())
    }

    /// [`Head::finish`], with the host value last found valid (a session
    /// keeps it, as HTTP/1.x's does).
    pub fn finish_knowing(&self, known: &mut KnownHost) -> Result<(), Malformed> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        let method = self.method.map(|m| self.get(m)).ok_or(":method missing")?;
        if !grammar::is_token(method) {
            return Err(":method not a token");
        }
        if method == b"CONNECT" {
            // §8.5: :authority only; answered 405 as over HTTP/1.x.
            if self.scheme.is_some() || self.path.is_some() || self.authority.is_none() {
                return Err("CONNECT with :scheme or :path, or without :authority");
            }
            return Ok(());
        }
        let scheme = self.scheme.map(|s| self.get(s)).ok_or(":scheme missing")?;
        if scheme.is_empty() {
            return Err(":scheme empty");
        }
        let path = self.path.map(|p| self.get(p)).ok_or(":path missing")?;
        let origin = path.first() == Some(&b'/') && path.iter().all(|&b| b > b' ' && b != 0x7f);
        if !(origin || (path == b"*" && method == b"OPTIONS")) {
            return Err(":path neither origin-form nor * for OPTIONS");
        }
        for span in [self.authority, self.host].into_iter().flatten() {
            if !known.is_host_port(self.get(span)) {
                return Err(":authority or Host not host[:port]");
            }
        }
        // §8.3.1: a Host that names another origin than :authority.
        if let (Some(a), Some(h)) = (self.authority, self.host)
            && self.get(a) != self.get(h)
        {
            return Err("Host differs from :authority");
        }
        Ok(())
    }

    /// Once a trailer block is in: whether it is one (§8.1): ordinary
    /// fields only, each as well-formed as in a request's head.
    pub fn finish_trailers(&self) -> Result<(), Malformed> {
        if let Some(why) = self.malformed {
            return Err(why);
        }
        if [self.method, self.scheme, self.authority, self.path]
            .iter()
            .any(Option::is_some)
        {
            return Err("pseudo-header field in trailers");
        }
        Ok(())
    }

    /// The method (checked to be a token by [`Head::finish`]).
    pub fn method(&self) -> &str {
        let bytes = self.method.map_or(&b""[..], |m| self.get(m));
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// The target: `:path`, or the authority for CONNECT.
    pub fn target(&self) -> &[u8] {
        match self.path.or(self.authority) {
            Some(span) => self.get(span),
            None => b"",
        }
    }

    /// What RFC 9218's `priority` field asks for: the urgency, 0 (most
    /// urgent) to 7, 3 when it is absent or says nothing this server reads;
    /// and whether the response may be sent in pieces between others of
    /// its urgency (`i`, incremental; not by default).
    pub fn priority(&self) -> (u8, bool) {
        match self.priority {
            Some(span) => priority(self.get(span)),
            None => (3, false),
        }
    }

    /// The fields an answer reads, as an HTTP/1.x request would give them.
    pub fn fields(&self) -> Fields<'_> {
        let mut fields = Fields {
            host: self.authority.or(self.host).map(|s| self.get(s)),
            ..Fields::default()
        };
        for &(n, v) in &self.fields {
            fields.take(self.get(n), self.get(v));
        }
        fields
    }
}

/// A `priority` field value (RFC 9218 §4, in a HEADERS block or a
/// PRIORITY_UPDATE frame): the urgency, 0 (most urgent) to 7, 3 when it
/// says nothing this server reads; and whether the response is
/// incremental. Members it does not know, or values out of range, are
/// passed over, as §4 asks.
pub fn priority(value: &[u8]) -> (u8, bool) {
    let (mut urgency, mut incremental) = (3, false);
    for member in value.split(|&b| b == b',') {
        match member.trim_ascii() {
            [b'u', b'=', digit @ b'0'..=b'7'] => urgency = digit - b'0',
            b"i" | b"i=?1" => incremental = true,
            b"i=?0" => incremental = false,
            _ => {}
        }
    }
    (urgency, incremental)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(list: &[(&str, &str)]) -> Head {
        let mut h = Head::default();
        for &(n, v) in list {
            h.field(n.as_bytes(), v.as_bytes());
        }
        h
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.org"),
        (":path", "/hello.txt?x=1"),
    ];

    #[test]
    fn a_request_lends_the_fields_an_answer_reads() {
        let mut list = GET.to_vec();
        list.extend([
            ("accept-encoding", "br, gzip"),
            ("if-none-match", "\"abc\""),
            ("range", "bytes=0-1"),
            ("user-agent", "curl/8"),
            ("te", "trailers"),
            ("cookie", "a=b"),
        ]);
        let h = head(&list);
        assert_eq!(h.finish(), Ok(()));
        assert_eq!((h.method(), h.target()), ("GET", &b"/hello.txt?x=1"[..]));
        let f = h.fields();
        assert_eq!(f.host, Some(&b"example.org"[..]));
        assert_eq!(f.accept_encoding, Some(&b"br, gzip"[..]));
        assert_eq!(f.conditions.if_none_match, Some(&b"\"abc\""[..]));
        assert_eq!(f.conditions.range, Some(&b"bytes=0-1"[..]));
        assert_eq!(f.user_agent, Some(&b"curl/8"[..]));
        // Cleared, it starts over with nothing.
        let mut h = h;
        h.clear();
        assert_eq!(h.finish(), Err(":method missing"));
    }

    #[test]
    fn malformed_requests() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut list = GET.to_vec();
            list.extend_from_slice(extra);
            head(&list).finish()
        };
        let cases: &[&[(&str, &str)]] = &[
            &[("Accept", "*/*")],
            &[("connection", "keep-alive")],
            &[("keep-alive", "300")],
            &[("proxy-connection", "x")],
            &[("transfer-encoding", "chunked")],
            &[("upgrade", "h2c")],
            &[("te", "gzip")],
            &[("x", "a\0b")],
            &[("x", "a\rb")],
            &[("x", "a\nb")],
            &[("x", " padded")],
            &[("x", "padded\t")],
            &[("content-length", "x")],
            &[("content-length", "1"), ("content-length", "2")],
            &[("host", "other.example")],
            &[("host", "a"), ("host", "a")],
            &[("", "empty name")],
            &[("bad name", "v")],
        ];
        for extra in cases {
            assert!(with(extra).is_err(), "{extra:?}");
        }
        let pseudo: &[&[(&str, &str)]] = &[
            &[(":method", "GET"), (":scheme", "https"), (":path", "/")][..2],
            &[(":method", "GET"), (":path", "/")],
            &[(":scheme", "https"), (":path", "/")],
            &[(":method", "GET"), (":scheme", "https"), (":path", "")],
            &[(":method", "GET"), (":scheme", "https"), (":path", "x")],
            &[(":method", "GET"), (":scheme", "https"), (":path", "*")],
            &[(":method", "G T"), (":scheme", "https"), (":path", "/")],
            &[
                (":method", "GET"),
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
                (":status", "200"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
                (":protocol", "ws"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "https"),
                ("x", "y"),
                (":path", "/"),
            ],
            &[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/"),
                (":authority", "a b"),
            ],
            &[
                (":method", "CONNECT"),
                (":scheme", "https"),
                (":authority", "a:443"),
            ],
            &[(":method", "CONNECT")],
        ];
        for list in pseudo {
            assert!(head(list).finish().is_err(), "{list:?}");
        }
        // Well formed: OPTIONS *, CONNECT with :authority, no :authority at
        // all (a Host instead, or neither), equal Host and :authority, and
        // the same content-length twice.
        let fine: &[&[(&str, &str)]] = &[
            &[(":method", "OPTIONS"), (":scheme", "https"), (":path", "*")],
            &[(":method", "CONNECT"), (":authority", "a:443")],
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/"),
                ("host", "a"),
            ],
            &[(":method", "GET"), (":scheme", "http"), (":path", "/")],
            &[
                (":method", "GET"),
                (":scheme", "http"),
                (":authority", "a"),
                (":path", "/"),
                ("host", "a"),
            ],
            &[
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/"),
                ("content-length", "3"),
                ("content-length", "3"),
            ],
        ];
        for list in fine {
            assert_eq!(head(list).finish(), Ok(()), "{list:?}");
        }
        let post = head(fine[5]);
        assert_eq!(post.content_length, Some(3));
        // RFC 9218: read where well formed; urgency 3, not incremental,
        // otherwise.
        for (value, want) in [
            ("u=0", (0, false)),
            ("i, u=6", (6, true)),
            ("u=2, i=?1", (2, true)),
            ("i, i=?0", (3, false)),
            ("u=9", (3, false)),
            ("u=1;x", (3, false)),
            ("", (3, false)),
        ] {
            let mut list = GET.to_vec();
            list.push(("priority", value));
            assert_eq!(head(&list).priority(), want, "{value:?}");
        }
        assert_eq!(head(&GET).priority(), (3, false));
    }
}
