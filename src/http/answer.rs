//! What a request is answered with, decided once, apart from how it is sent.
//!
//! [`decide`] reads a request's method, target and fields and returns an
//! [`Answer`]: a file's representation (whole or a range), a 304, a 416, a
//! refusal, the `OPTIONS` 204, a page of the server's own (metrics, the live
//! page, health), or a redirect. The answer is a value that names what is
//! sent, by reference to what is already rendered (a cached file's entry, a
//! canned refusal) and never as bytes: HTTP/1.x frames it as a head and a
//! body ([`crate::http1::response::queue`]), and a second protocol can frame the
//! same value its own way. So the static semantics (validators, ranges,
//! precompressed variants, the refusals, `--health-path`, the metrics pages,
//! `--redirect-https`) live here once, and a framing decides only the
//! bytes on the wire and whether the connection persists.
//!
//! Pure but for the file cache: bytes and the site in, a value out.

use std::rc::Rc;

use crate::http::conditional::{self, Outcome};
use crate::http::entry::{Entry, Field};
use crate::http::fields::Fields;
use crate::http::files::Files;
use crate::http::listing;
use crate::http::path::redirect_location;
use crate::http::resolve::Lookup;
use crate::http::status::{ALLOW, MOVED, Refusal, SERVER, Secure, Status, TO_HTTPS, UNSATISFIABLE};
use crate::metrics::Metrics;
use crate::out::Chunk;

/// A request, as far as its answer depends on it.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'r> {
    /// The method token.
    pub method: &'r str,
    /// The target in origin form (or `*`).
    pub target: &'r [u8],
    /// The fields the answer depends on.
    pub fields: &'r Fields<'r>,
    /// The request announced a body longer than the limit.
    pub body_too_large: bool,
    /// It came over HTTPS.
    pub secure: bool,
    /// Its connection is ending for a shutdown: the health page says 503.
    pub draining: bool,
}

impl Ask<'_> {
    /// HEAD: the answer's head alone.
    pub fn head_only(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Where a site routes targets that are not files.
#[derive(Debug, Default)]
pub struct Routes {
    /// Where the metrics page is served (`--metrics-path`), if anywhere.
    pub metrics_path: Option<Box<[u8]>>,
    /// Where the health page is served (`--health-path`), if anywhere.
    pub health_path: Option<Box<[u8]>>,
    /// The server is draining (shutting down): the health page says 503.
    pub draining: bool,
    /// `--redirect-https`: plain HTTP GET and HEAD get a 308 to this port.
    pub redirect_https: Option<u16>,
}

/// What is sent: the status, its fields and its body follow from it.
#[derive(Debug)]
pub enum Answer<'s> {
    /// A file's representation: whole (200), or bytes `start..end` (206).
    File {
        entry: &'s Entry,
        range: Option<(u64, u64)>,
    },
    /// 304: the client's copy is current.
    NotModified(&'s Entry),
    /// 416 for a file of this length.
    Unsatisfiable { len: u64 },
    /// A refusal: its status and one line saying why.
    Refused(Refusal),
    /// The 204 that answers `OPTIONS`, with `Allow`.
    Options,
    /// A 200 page of the server's own, never cached by clients.
    Page {
        content_type: &'static str,
        body: Chunk,
    },
    /// A redirect (301 to a directory's slash, 308 to HTTPS).
    Redirect {
        status: Status,
        message: &'static str,
        location: Vec<u8>,
    },
}

impl Answer<'_> {
    /// The status line's code.
    pub fn status(&self) -> Status {
        match self {
            Answer::File { range: None, .. } => Status::Ok,
            Answer::File { range: Some(_), .. } => Status::PartialContent,
            Answer::NotModified(_) => Status::NotModified,
            Answer::Unsatisfiable { .. } => Status::RangeNotSatisfiable,
            Answer::Refused(why) => why.status(),
            Answer::Options => Status::NoContent,
            Answer::Page { .. } => Status::Ok,
            Answer::Redirect { status, .. } => *status,
        }
    }

    /// The body's length in bytes (what `Content-Length` says).
    pub fn body_len(&self) -> u64 {
        match self {
            Answer::File { entry, range: None } => entry.len,
            Answer::File {
                range: Some((start, end)),
                ..
            } => end - start,
            Answer::NotModified(_) | Answer::Options => 0,
            Answer::Unsatisfiable { .. } => UNSATISFIABLE.len() as u64,
            Answer::Refused(why) => why.message().len() as u64,
            Answer::Page { body, .. } => body.len(),
            Answer::Redirect { message, .. } => message.len() as u64,
        }
    }

    /// The body as one chunk, without copying.
    pub fn into_body(self) -> Chunk {
        match self {
            Answer::File { entry, range } => {
                let (start, end) = range.unwrap_or((0, entry.len));
                entry.chunk(start, end)
            }
            Answer::NotModified(_) | Answer::Options => Chunk::Static(b""),
            Answer::Unsatisfiable { .. } => Chunk::Static(UNSATISFIABLE.as_bytes()),
            Answer::Refused(why) => Chunk::Static(why.message().as_bytes()),
            Answer::Page { body, .. } => body,
            Answer::Redirect { message, .. } => Chunk::Static(message.as_bytes()),
        }
    }
}

/// One field of an answer's head, for the framings that send fields as
/// names and values (HTTP/2, HTTP/3): a pair with its name lowercase, or
/// one of a cached file's own fields (named as RFC 9110 registers it),
/// which a framing may encode once per entry and keep.
#[derive(Debug, Clone, Copy)]
pub enum HeadField<'a> {
    /// A name, lowercase, and its value.
    Pair(&'static str, &'a [u8]),
    /// One of the entry's fields.
    Own(&'a Field),
    /// All of a cached file's own fields, in order.
    Entry(&'a Entry),
}

impl Answer<'_> {
    /// The head's fields after the status, in order, as both framings
    /// that send fields send them (nothing about the connection: RFC 9113
    /// §8.2.2, RFC 9114 §4.2); `date` is this second's HTTP-date (empty:
    /// no clock, no `date`), `secure` the fields an HTTPS answer carries.
    pub fn each_field(
        &self,
        date: &[u8],
        secure: Option<&Secure>,
        mut f: impl FnMut(HeadField<'_>),
    ) {
        use HeadField::Pair;
        f(Pair("server", SERVER.as_bytes()));
        if !date.is_empty() {
            f(Pair("date", date));
        }
        for (name, value) in secure.into_iter().flat_map(Secure::fields) {
            f(Pair(name, value));
        }
        let (digits, used) = decimal(self.body_len());
        let len = &digits[..used];
        let text_body = |f: &mut dyn FnMut(HeadField<'_>)| {
            f(Pair("content-type", b"text/plain; charset=utf-8"));
            f(Pair("content-length", len));
        };
        match self {
            Answer::File { entry, range: None } => {
                f(Pair("content-length", len));
                f(HeadField::Entry(entry));
            }
            Answer::File {
                entry,
                range: Some((start, end)),
            } => {
                let range = format!("bytes {start}-{}/{}", end - 1, entry.len);
                f(Pair("content-range", range.as_bytes()));
                f(Pair("content-length", len));
                f(HeadField::Entry(entry));
            }
            Answer::NotModified(entry) => {
                // The validators a 304 repeats (RFC 9110 §15.4.5).
                for own in entry.not_modified_fields() {
                    f(HeadField::Own(own));
                }
            }
            Answer::Unsatisfiable { len: file_len } => {
                let range = format!("bytes */{file_len}");
                f(Pair("content-range", range.as_bytes()));
                text_body(&mut f);
            }
            Answer::Refused(_) => {
                if self.status() == Status::MethodNotAllowed {
                    f(Pair("allow", ALLOW.as_bytes()));
                }
                text_body(&mut f);
            }
            Answer::Options => f(Pair("allow", ALLOW.as_bytes())),
            Answer::Page { content_type, .. } => {
                f(Pair("content-type", content_type.as_bytes()));
                f(Pair("content-length", len));
                f(Pair("cache-control", b"no-store"));
            }
            Answer::Redirect { location, .. } => {
                f(Pair("location", location));
                text_body(&mut f);
            }
        }
    }
}

/// A number's decimal digits, without allocating: the bytes and how many
/// of the 20 are used, from the start.
pub fn decimal(mut n: u64) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut at = 20;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = 20 - at;
    digits.copy_within(at.., 0);
    (digits, len)
}

/// Methods this server knows but does not allow on static files (405, not
/// 501). WebDAV's are in the registry too, but are "not implemented" here.
const KNOWN_METHODS: &[&str] = &["POST", "PUT", "DELETE", "CONNECT", "PATCH", "TRACE"];

/// Decides the answer to `ask` on a site of `files` routed by `routes`;
/// `metrics` renders the metrics page. Only the file cache changes (a miss
/// loads the file).
pub fn decide<'s>(
    ask: &Ask<'_>,
    files: &'s mut Files,
    routes: &Routes,
    metrics: &Metrics,
    now: u64,
) -> Answer<'s> {
    let method = ask.method;
    if ask.body_too_large {
        return Answer::Refused(Refusal::BodyTooLarge);
    }
    if method == "OPTIONS" {
        // With Allow: the same for every target.
        return Answer::Options;
    }
    if method != "GET" && method != "HEAD" {
        return Answer::Refused(if KNOWN_METHODS.contains(&method) {
            Refusal::MethodNotAllowed
        } else {
            Refusal::UnknownMethod
        });
    }
    // `--health-path`: ready while serving, 503 once draining, so a load
    // balancer's readiness probe stops sending traffic.
    if is_health(routes, ask.target) {
        if routes.draining || ask.draining {
            return Answer::Refused(Refusal::Draining);
        }
        return Answer::Page {
            content_type: "text/plain; charset=utf-8",
            body: Chunk::Static(b"ok\n"),
        };
    }
    // `--redirect-https`: the same target on the HTTPS port.
    if let Some(port) = routes.redirect_https
        && !ask.secure
    {
        return Answer::Redirect {
            status: Status::PermanentRedirect,
            message: TO_HTTPS,
            location: https_location(ask, port),
        };
    }
    match metrics_page(routes, ask.target) {
        Some(MetricsPage::Text) => Answer::Page {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: Chunk::owned(Rc::from(metrics.render().into_bytes())),
        },
        Some(MetricsPage::Live) => Answer::Page {
            content_type: "text/html; charset=utf-8",
            body: Chunk::Static(LIVE_PAGE),
        },
        None => file(ask, files, now),
    }
}

/// The answer for a file: the representation the client accepts, whole,
/// partial, or "not modified", as its conditions decide.
fn file<'s>(ask: &Ask<'_>, files: &'s mut Files, now: u64) -> Answer<'s> {
    let dotfiles = files.dotfiles();
    let resource = match files.lookup(ask.target, now) {
        Lookup::File(resource) => resource,
        Lookup::Directory => {
            return Answer::Redirect {
                status: Status::MovedPermanently,
                message: MOVED,
                location: redirect_location(ask.target),
            };
        }
        Lookup::Listing(dir) => return listing(ask, &dir, dotfiles),
        Lookup::Refused(why) => return Answer::Refused(why),
    };
    let entry = resource.select(ask.fields.accept_encoding);
    let conditions = &ask.fields.conditions;
    // The common case first: an unconditional request costs no evaluation.
    if conditions.is_empty() {
        return Answer::File { entry, range: None };
    }
    let ranges_apply = !ask.head_only();
    match conditional::evaluate(conditions, &entry.validators(), ranges_apply, entry.len) {
        Outcome::Full => Answer::File { entry, range: None },
        Outcome::NotModified => Answer::NotModified(entry),
        Outcome::Partial { start, end } => Answer::File {
            entry,
            range: Some((start, end)),
        },
        Outcome::Unsatisfiable => Answer::Unsatisfiable { len: entry.len },
        Outcome::PreconditionFailed => Answer::Refused(Refusal::PreconditionFailed),
    }
}

/// A directory's listing, in the format the client prefers; a directory
/// that cannot be read is 403, as a file would be. Out of line: a request
/// for a file should not pay for the code it never runs.
#[cold]
#[inline(never)]
fn listing(ask: &Ask<'_>, dir: &std::path::Path, dotfiles: bool) -> Answer<'static> {
    let format = listing::Format::of(ask.fields.accept);
    // The directory's path as the lookup decoded it, between slashes.
    let mut rel = Vec::new();
    let _ = crate::http::path::normalize(ask.target, &mut rel);
    let mut shown = Vec::with_capacity(rel.len() + 2);
    shown.push(b'/');
    if !rel.is_empty() {
        shown.extend_from_slice(&rel);
        shown.push(b'/');
    }
    match listing::render(dir, &shown, dotfiles, format) {
        Ok(page) => Answer::Page {
            content_type: format.content_type(),
            body: Chunk::owned(Rc::from(page)),
        },
        Err(e) => Answer::Refused(crate::http::resolve::io_status(&e)),
    }
}

/// Whether `target` (its path, without a query) is the health page.
fn is_health(routes: &Routes, target: &[u8]) -> bool {
    let Some(health) = routes.health_path.as_deref() else {
        return false; // the common case costs one test
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or(target);
    health == path
}

/// `https://HOST[:PORT]TARGET` for a request: its `Host` without the port
/// it came to (`localhost` without one), the HTTPS port unless it is 443.
fn https_location(ask: &Ask<'_>, port: u16) -> Vec<u8> {
    let host = ask.fields.host.unwrap_or(b"localhost");
    let name_end = if host.first() == Some(&b'[') {
        host.iter()
            .position(|&b| b == b']')
            .map_or(host.len(), |i| i + 1)
    } else {
        host.iter().position(|&b| b == b':').unwrap_or(host.len())
    };
    let mut location = b"https://".to_vec();
    location.extend_from_slice(&host[..name_end]);
    if port != 443 {
        location.extend_from_slice(format!(":{port}").as_bytes());
    }
    location.extend_from_slice(if ask.target == b"*" { b"/" } else { ask.target });
    location
}

/// The live page: polls the metrics once a second and draws them.
const LIVE_PAGE: &[u8] = include_bytes!("../site/live.html");

/// The pages under `--metrics-path`.
enum MetricsPage {
    /// `PATH`: the Prometheus text.
    Text,
    /// `PATH/live`: the page that draws it.
    Live,
}

/// Which metrics page the target names, if any.
fn metrics_page(routes: &Routes, target: &[u8]) -> Option<MetricsPage> {
    let base = routes.metrics_path.as_deref()?;
    let end = target
        .iter()
        .position(|&b| b == b'?')
        .unwrap_or(target.len());
    match target[..end].strip_prefix(base)? {
        b"" => Some(MetricsPage::Text),
        b"/live" => Some(MetricsPage::Live),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::conditional::Conditions;

    /// The embedded site, its clock pinned to 2001-09-09 01:46:40 UTC.
    fn files() -> (Files, u64) {
        let now = 1_000_000_000;
        let files = Files::new(None, 1 << 20, 1 << 20);
        (files.expect("embedded site"), now)
    }

    fn routes() -> Routes {
        Routes {
            metrics_path: Some(b"/metrics"[..].into()),
            health_path: Some(b"/healthz"[..].into()),
            ..Routes::default()
        }
    }

    /// The status, body length and body of the answer to `method target`.
    fn answer(
        method: &str,
        target: &str,
        fields: &Fields<'_>,
        routes: &Routes,
    ) -> (u16, u64, Vec<u8>) {
        let ask = Ask {
            method,
            target: target.as_bytes(),
            fields,
            body_too_large: false,
            secure: false,
            draining: false,
        };
        let (mut files, now) = files();
        let a = decide(&ask, &mut files, routes, &Metrics::default(), now);
        let (status, len) = (a.status().code(), a.body_len());
        let body = match a.into_body() {
            Chunk::Static(b) => b.to_vec(),
            Chunk::Shared { buf, start, end } => buf[start..end].to_vec(),
            Chunk::Inline { bytes, start, end } => {
                bytes[usize::from(start)..usize::from(end)].to_vec()
            }
            Chunk::File { .. } => panic!("the embedded site has no files on disk"),
        };
        (status, len, body)
    }

    #[test]
    fn each_request_gets_one_answer_whose_length_is_its_body() {
        let plain = Fields::default();
        let cases: &[(&str, &str, u16)] = &[
            ("GET", "/hello.txt", 200),
            ("HEAD", "/hello.txt", 200),
            ("GET", "/", 200),
            ("GET", "/nope", 404),
            ("GET", "/%2e%2e/x", 400),
            ("POST", "/hello.txt", 405),
            ("CONNECT", "a:443", 405),
            ("BREW", "/", 501),
            ("OPTIONS", "*", 204),
            ("GET", "/healthz", 200),
            ("GET", "/healthz?probe=1", 200),
            ("GET", "/metrics", 200),
            ("GET", "/metrics/live", 200),
            ("GET", "/metrics/other", 404),
        ];
        for &(method, target, want) in cases {
            let (status, len, body) = answer(method, target, &plain, &routes());
            assert_eq!(status, want, "{method} {target}");
            assert_eq!(len, body.len() as u64, "{method} {target}");
        }
        let (_, _, body) = answer("GET", "/hello.txt", &plain, &routes());
        assert_eq!(body, b"Hello\n");
        let (_, _, body) = answer("GET", "/healthz", &plain, &routes());
        assert_eq!(body, b"ok\n");
    }

    #[test]
    fn validators_and_ranges_pick_the_answer() {
        let (mut files, now) = files();
        let Lookup::File(resource) = files.lookup(b"/hello.txt", now) else {
            panic!("hello.txt is embedded");
        };
        let etag = String::from_utf8(resource.select(None).etag.to_vec()).expect("ascii tag");
        let with = |conditions: Conditions<'static>| Fields {
            conditions,
            ..Fields::default()
        };
        let etag: &'static str = Box::leak(etag.into_boxed_str());
        let cases: &[(Conditions<'static>, u16, &[u8])] = &[
            (
                Conditions {
                    if_none_match: Some(etag.as_bytes()),
                    ..Conditions::default()
                },
                304,
                b"",
            ),
            (
                Conditions {
                    range: Some(b"bytes=1-3"),
                    ..Conditions::default()
                },
                206,
                b"ell",
            ),
            (
                Conditions {
                    range: Some(b"bytes=-2"),
                    ..Conditions::default()
                },
                206,
                b"o\n",
            ),
            (
                Conditions {
                    range: Some(b"bytes=100-"),
                    ..Conditions::default()
                },
                416,
                UNSATISFIABLE.as_bytes(),
            ),
            (
                Conditions {
                    if_match: Some(b"\"other\""),
                    ..Conditions::default()
                },
                412,
                Refusal::PreconditionFailed.message().as_bytes(),
            ),
        ];
        for (conditions, want, body) in cases {
            let got = answer("GET", "/hello.txt", &with(*conditions), &routes());
            assert_eq!((got.0, &got.2[..]), (*want, *body), "{conditions:?}");
            assert_eq!(got.1, got.2.len() as u64);
        }
        // HEAD takes no ranges: the whole representation's head.
        let range = with(Conditions {
            range: Some(b"bytes=1-3"),
            ..Conditions::default()
        });
        assert_eq!(answer("HEAD", "/hello.txt", &range, &routes()).0, 200);
    }

    #[test]
    fn redirects_name_where_to_go() {
        let host = Fields {
            host: Some(b"example.org:8080"),
            ..Fields::default()
        };
        let to_https = Routes {
            redirect_https: Some(8443),
            ..routes()
        };
        let ask = Ask {
            method: "GET",
            target: b"/a?b",
            fields: &host,
            body_too_large: false,
            secure: false,
            draining: false,
        };
        let (mut files, now) = files();
        let got = decide(&ask, &mut files, &to_https, &Metrics::default(), now);
        let Answer::Redirect {
            status, location, ..
        } = got
        else {
            panic!("{got:?}");
        };
        assert_eq!(status.code(), 308);
        assert_eq!(location, b"https://example.org:8443/a?b");
        // Over HTTPS the same request is served.
        let secure = Ask {
            secure: true,
            ..ask
        };
        let got = decide(&secure, &mut files, &to_https, &Metrics::default(), now);
        assert_eq!(got.status().code(), 404);
    }

    #[test]
    fn draining_turns_health_to_503_and_a_large_body_to_413() {
        let plain = Fields::default();
        let ask = Ask {
            method: "GET",
            target: b"/healthz",
            fields: &plain,
            body_too_large: false,
            secure: false,
            draining: true,
        };
        let (mut files, now) = files();
        let metrics = Metrics::default();
        let got = decide(&ask, &mut files, &routes(), &metrics, now);
        assert_eq!(got.status().code(), 503);
        let server_draining = Routes {
            draining: true,
            ..routes()
        };
        let not_this_conn = Ask {
            draining: false,
            ..ask
        };
        let got = decide(&not_this_conn, &mut files, &server_draining, &metrics, now);
        assert_eq!(got.status().code(), 503);
        let big = Ask {
            method: "OPTIONS",
            body_too_large: true,
            ..not_this_conn
        };
        assert_eq!(
            decide(&big, &mut files, &routes(), &metrics, now)
                .status()
                .code(),
            413
        );
    }
}
