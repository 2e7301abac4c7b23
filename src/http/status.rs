//! The status codes the server sends (RFC 9110 §15), with their reason
//! phrases and the one-line bodies of error responses.

use std::fmt;

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
    /// 505: an HTTP major version other than 1.
    VersionNotSupported,
}

impl Status {
    /// Every status, for building tables.
    pub const ALL: [Status; 19] = [
        Status::Continue,
        Status::Ok,
        Status::NoContent,
        Status::PartialContent,
        Status::MovedPermanently,
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
            Status::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// The body of an error response: one line saying what went wrong.
    pub fn message(self) -> &'static str {
        match self {
            Status::Continue
            | Status::Ok
            | Status::NoContent
            | Status::PartialContent
            | Status::NotModified => "",
            Status::MovedPermanently => "Moved permanently: add the trailing slash.\n",
            Status::BadRequest => "Bad request: the request could not be parsed or framed.\n",
            Status::Forbidden => "Forbidden: the path leads outside the document root.\n",
            Status::NotFound => "Not found.\n",
            Status::MethodNotAllowed => {
                "Method not allowed: this server serves GET, HEAD and OPTIONS.\n"
            }
            Status::PreconditionFailed => {
                "Precondition failed: the file does not match If-Match or If-Unmodified-Since.\n"
            }
            Status::ContentTooLarge => "Content too large: the request body is over the limit.\n",
            Status::UriTooLong => "URI too long: the request line is over the limit.\n",
            Status::RangeNotSatisfiable => {
                "Range not satisfiable: the range starts past the end of the file.\n"
            }
            Status::ExpectationFailed => "Expectation failed: only 100-continue is understood.\n",
            Status::HeaderFieldsTooLarge => {
                "Request header fields too large: the head is over the limit.\n"
            }
            Status::InternalServerError => "Internal server error: the file could not be read.\n",
            Status::NotImplemented => "Not implemented: unknown method or transfer coding.\n",
            Status::VersionNotSupported => {
                "HTTP version not supported: this server speaks HTTP/1.x.\n"
            }
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}
