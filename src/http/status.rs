//! Status codes and reasons; Refusal (why, status, one-line body); what every answer says.
//!
//! The status codes the server sends (RFC 9110 §15), with their reason
//! phrases, the one-line bodies of error responses, and the other words
//! every answer says whatever frames it (`Server`, `Allow`, the bodies of
//! redirects and of a 416).

use std::fmt;

/// The server's name in the `Server` field.
pub const SERVER: &str = concat!("oneloop/", env!("CARGO_PKG_VERSION"));

/// The body of a 416.
pub const UNSATISFIABLE: &str =
    "Range not satisfiable: the range starts past the end of the file.\n";

/// The body of a 301 to a directory's slash.
pub const MOVED: &str = "Moved permanently: add the trailing slash.\n";

/// The body of a 308 to HTTPS.
pub const TO_HTTPS: &str = "Permanent redirect: this site is served over HTTPS.\n";

/// The methods the server answers, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// A response status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 100: send the body (RFC 9110 §15.2.1).
    Continue,
    /// 200.
    Ok,
    /// 204: the answer to `OPTIONS` (its `Allow` field says it all).
    NoContent,
    /// 206: one byte range of the file (RFC 9110 §15.3.7).
    PartialContent,
    /// 301: a directory asked for without its trailing slash.
    MovedPermanently,
    /// 308: plain HTTP sent to HTTPS (`--redirect-https`).
    PermanentRedirect,
    /// 304: the client's copy is current (RFC 9110 §15.4.5).
    NotModified,
    /// 400: malformed or unframeable request.
    BadRequest,
    /// 403: the path exists but leaves the root (a symlink out of it).
    Forbidden,
    /// 404.
    NotFound,
    /// 405: a method the server knows but does not allow on files.
    MethodNotAllowed,
    /// 412: `If-Match` or `If-Unmodified-Since` was false.
    PreconditionFailed,
    /// 413: a body larger than the server will read.
    ContentTooLarge,
    /// 414: request line over the limit.
    UriTooLong,
    /// 416: the byte range asked for lies outside the file.
    RangeNotSatisfiable,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: head over the limit (RFC 6585 §5).
    HeaderFieldsTooLarge,
    /// 500: the file could not be read.
    InternalServerError,
    /// 501: an unknown method or transfer coding.
    NotImplemented,
    /// 503: shutting down (the health page during a drain).
    ServiceUnavailable,
    /// 505: an HTTP major version other than 1.
    VersionNotSupported,
}

impl Status {
    /// Every status, for building tables.
    pub const ALL: [Status; 21] = [
        Status::Continue,
        Status::Ok,
        Status::NoContent,
        Status::PartialContent,
        Status::MovedPermanently,
        Status::PermanentRedirect,
        Status::NotModified,
        Status::BadRequest,
        Status::Forbidden,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::PreconditionFailed,
        Status::ContentTooLarge,
        Status::UriTooLong,
        Status::RangeNotSatisfiable,
        Status::ExpectationFailed,
        Status::HeaderFieldsTooLarge,
        Status::InternalServerError,
        Status::NotImplemented,
        Status::ServiceUnavailable,
        Status::VersionNotSupported,
    ];

    /// The three-digit code.
    pub fn code(self) -> u16 {
        match self {
            Status::Continue => 100,
            Status::Ok => 200,
            Status::NoContent => 204,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::PermanentRedirect => 308,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PreconditionFailed => 412,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::ExpectationFailed => 417,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    /// The reason phrase RFC 9110 gives.
    pub fn reason(self) -> &'static str {
        match self {
            Status::Continue => "Continue",
            Status::Ok => "OK",
            Status::NoContent => "No Content",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::PermanentRedirect => "Permanent Redirect",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::PreconditionFailed => "Precondition Failed",
            Status::ContentTooLarge => "Content Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::ExpectationFailed => "Expectation Failed",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::ServiceUnavailable => "Service Unavailable",
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

/// Why a request is refused: each reason has its status and the one line
/// its response's body says, so a client (or whoever reads its logs) learns
/// what went wrong, not only that something did. Heads for every reason are
/// rendered once at start-up; refusing allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// 400: the request line or a field line does not parse.
    Malformed,
    /// 400: HTTP/1.1 without `Host` (RFC 9112 §3.2).
    NoHost,
    /// 400: more than one `Host`.
    TwoHosts,
    /// 400: a `Host`, or an absolute-form target's authority, that is not
    /// `uri-host [ ":" port ]`.
    BadHost,
    /// 400: a request target in no form the method allows.
    BadTarget,
    /// 400: `Content-Length` with `Transfer-Encoding` (RFC 9112 §6.1).
    LengthWithChunked,
    /// 400: `Content-Length` not one field holding one number.
    BadLength,
    /// 400: `Transfer-Encoding` not naming `chunked` once and last, or sent
    /// by HTTP/1.0.
    BadTransferEncoding,
    /// 400: a chunk size that is not `1*HEXDIG`.
    BadChunkSize,
    /// 400: a chunk extension outside its grammar.
    BadChunkExtension,
    /// 400: a chunked framing line not ended by CRLF, or too long.
    BadChunkLine,
    /// 400: a trailer that is not a field line, or too many.
    BadTrailer,
    /// 400: `%2F` in the path.
    EncodedSlash,
    /// 400: `..` above the root.
    AboveRoot,
    /// 400: NUL, a backslash or another control byte in the path.
    BadPathByte,
    /// 400: a `%` not followed by two hex digits.
    BadEscape,
    /// 403: the path's symlinks lead outside the document root.
    OutsideRoot,
    /// 403: the file may not be read.
    NoPermission,
    /// 404.
    NotFound,
    /// 405: a known method other than GET, HEAD, OPTIONS.
    MethodNotAllowed,
    /// 412: `If-Match` or `If-Unmodified-Since` was false.
    PreconditionFailed,
    /// 413: a body over `--max-body`.
    BodyTooLarge,
    /// 414: a request line over `--max-request-line`.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: a field line over `--max-field-line`.
    FieldTooLong,
    /// 431: a head over `--max-head`.
    HeadTooLarge,
    /// 431: more header fields than allowed.
    TooManyFields,
    /// 500: the file could not be read.
    ReadFailed,
    /// 501: a method nobody registered.
    UnknownMethod,
    /// 501: a transfer coding nobody registered.
    UnknownCoding,
    /// 503: the health page once a drain has begun.
    Draining,
    /// 505: an HTTP major version other than 1.
    VersionNotSupported,
}

impl Refusal {
    /// Every reason, for rendering their heads.
    pub const ALL: [Refusal; 32] = [
        Refusal::Malformed,
        Refusal::NoHost,
        Refusal::TwoHosts,
        Refusal::BadHost,
        Refusal::BadTarget,
        Refusal::LengthWithChunked,
        Refusal::BadLength,
        Refusal::BadTransferEncoding,
        Refusal::BadChunkSize,
        Refusal::BadChunkExtension,
        Refusal::BadChunkLine,
        Refusal::BadTrailer,
        Refusal::EncodedSlash,
        Refusal::AboveRoot,
        Refusal::BadPathByte,
        Refusal::BadEscape,
        Refusal::OutsideRoot,
        Refusal::NoPermission,
        Refusal::NotFound,
        Refusal::MethodNotAllowed,
        Refusal::PreconditionFailed,
        Refusal::BodyTooLarge,
        Refusal::UriTooLong,
        Refusal::ExpectationFailed,
        Refusal::FieldTooLong,
        Refusal::HeadTooLarge,
        Refusal::TooManyFields,
        Refusal::ReadFailed,
        Refusal::UnknownMethod,
        Refusal::UnknownCoding,
        Refusal::Draining,
        Refusal::VersionNotSupported,
    ];

    /// The status it is answered with.
    pub fn status(self) -> Status {
        use Refusal::*;
        match self {
            Malformed | NoHost | TwoHosts | BadHost | BadTarget | LengthWithChunked | BadLength
            | BadTransferEncoding | BadChunkSize | BadChunkExtension | BadChunkLine
            | BadTrailer | EncodedSlash | AboveRoot | BadPathByte | BadEscape => Status::BadRequest,
            OutsideRoot | NoPermission => Status::Forbidden,
            NotFound => Status::NotFound,
            MethodNotAllowed => Status::MethodNotAllowed,
            PreconditionFailed => Status::PreconditionFailed,
            BodyTooLarge => Status::ContentTooLarge,
            UriTooLong => Status::UriTooLong,
            ExpectationFailed => Status::ExpectationFailed,
            FieldTooLong | HeadTooLarge | TooManyFields => Status::HeaderFieldsTooLarge,
            ReadFailed => Status::InternalServerError,
            UnknownMethod | UnknownCoding => Status::NotImplemented,
            Draining => Status::ServiceUnavailable,
            VersionNotSupported => Status::VersionNotSupported,
        }
    }

    /// The body: one line saying what went wrong.
    pub fn message(self) -> &'static str {
        use Refusal::*;
        match self {
            Malformed => "Bad request: the request line or a header field does not parse.\n",
            NoHost => "Bad request: an HTTP/1.1 request must carry a Host field.\n",
            TwoHosts => "Bad request: more than one Host field.\n",
            BadHost => "Bad request: the Host (or the target's authority) is not host[:port].\n",
            BadTarget => "Bad request: the request target is in no form this method allows.\n",
            LengthWithChunked => "Bad request: Content-Length together with Transfer-Encoding.\n",
            BadLength => "Bad request: Content-Length must be one field holding one number.\n",
            BadTransferEncoding => {
                "Bad request: Transfer-Encoding must name chunked once, last, and only in HTTP/1.1.\n"
            }
            BadChunkSize => "Bad request: a chunk size is not hexadecimal digits.\n",
            BadChunkExtension => "Bad request: a chunk extension is malformed.\n",
            BadChunkLine => {
                "Bad request: a chunked framing line is not ended by CRLF, or too long.\n"
            }
            BadTrailer => "Bad request: a trailer is not a field line, or there are too many.\n",
            EncodedSlash => "Bad request: the path contains an encoded slash.\n",
            AboveRoot => "Bad request: the path leads above the document root.\n",
            BadPathByte => "Bad request: the path contains NUL, a backslash or a control byte.\n",
            BadEscape => "Bad request: the path contains a malformed percent-escape.\n",
            OutsideRoot => "Forbidden: the path leads outside the document root.\n",
            NoPermission => "Forbidden: the server may not read this file.\n",
            NotFound => "Not found.\n",
            MethodNotAllowed => "Method not allowed: this server serves GET, HEAD and OPTIONS.\n",
            PreconditionFailed => {
                "Precondition failed: the file does not match If-Match or If-Unmodified-Since.\n"
            }
            BodyTooLarge => "Content too large: the request body is over the limit.\n",
            UriTooLong => "URI too long: the request line is over the limit.\n",
            ExpectationFailed => "Expectation failed: only 100-continue is understood.\n",
            FieldTooLong => "Request header fields too large: a field line is over the limit.\n",
            HeadTooLarge => "Request header fields too large: the head is over the limit.\n",
            TooManyFields => "Request header fields too large: too many fields.\n",
            ReadFailed => "Internal server error: the file could not be read.\n",
            UnknownMethod => "Not implemented: unknown method.\n",
            UnknownCoding => "Not implemented: unknown transfer coding.\n",
            Draining => "Service unavailable: the server is shutting down.\n",
            VersionNotSupported => "HTTP version not supported: this server speaks HTTP/1.x.\n",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.message().trim_end())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// The fields HTTPS answers carry and plain ones never do:
/// `Strict-Transport-Security` (`--hsts`: RFC 6797 §7.2, never over plain
/// HTTP) and `Alt-Svc` naming HTTP/3's port (RFC 7838 and RFC 9114 §3.1.1:
/// a browser takes it from a secure origin only), each when set.
#[derive(Debug, Default)]
pub struct Secure {
    /// `Strict-Transport-Security`'s value (`max-age=N`).
    pub hsts: Option<Box<[u8]>>,
    /// `Alt-Svc`'s value (`h3=":PORT"; ma=86400`).
    pub alt_svc: Option<Box<[u8]>>,
}

impl Secure {
    /// The one decision, for every framing: what an answer carries, over
    /// HTTPS only, and nothing when neither field is set.
    pub fn on(&self, secure: bool) -> Option<&Secure> {
        (secure && (self.hsts.is_some() || self.alt_svc.is_some())).then_some(self)
    }

    /// Each field set, as a lowercase name and its value.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        let hsts = self
            .hsts
            .as_deref()
            .map(|v| ("strict-transport-security", v));
        let alt_svc = self.alt_svc.as_deref().map(|v| ("alt-svc", v));
        hsts.into_iter().chain(alt_svc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_says_its_own_one_line() {
        let mut seen = std::collections::HashSet::new();
        for r in Refusal::ALL {
            let m = r.message();
            assert!(m.ends_with('\n') && m.matches('\n').count() == 1, "{r:?}");
            assert!(seen.insert(m), "{r:?} says what another says");
            assert!(r.status().code() >= 400);
        }
        assert_eq!(seen.len(), Refusal::ALL.len());
    }
}
