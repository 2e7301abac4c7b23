//! Fields: the request fields an answer or its log line reads, filled by either protocol.
//!
//! The request header fields that shape an answer or its log line, as any
//! protocol's request carries them: HTTP/1.x's head
//! (`crate::http1::request`) and HTTP/2's decoded block
//! (`crate::http::head`) both fill a [`Fields`] through
//! [`Fields::take`], and [`crate::http::answer`] reads it.

use crate::http::conditional::Conditions;

/// Header fields that shape the response (or its log line), kept as sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fields<'b> {
    /// Validators and ranges.
    pub conditions: Conditions<'b>,
    /// `Accept`, to choose a directory listing's format.
    pub accept: Option<&'b [u8]>,
    /// `Accept-Encoding`, to choose a pre-compressed sibling.
    pub accept_encoding: Option<&'b [u8]>,
    /// `Referer`, for the access log.
    pub referer: Option<&'b [u8]>,
    /// `User-Agent`, for the access log.
    pub user_agent: Option<&'b [u8]>,
    /// `Host`, checked to be `host[:port]`: for a redirect to HTTPS.
    pub host: Option<&'b [u8]>,
}

impl<'b> Fields<'b> {
    /// Keeps `value` if `name` is a field the answer or its log line reads
    /// (any case); returns whether it was one. HTTP/1.x and HTTP/2 heads
    /// both go through here.
    pub fn take(&mut self, name: &[u8], value: &'b [u8]) -> bool {
        if self.conditions.take(name, value) {
            return true;
        }
        let slot = match name.len() {
            6 if name.eq_ignore_ascii_case(b"accept") => &mut self.accept,
            7 if name.eq_ignore_ascii_case(b"referer") => &mut self.referer,
            10 if name.eq_ignore_ascii_case(b"user-agent") => &mut self.user_agent,
            15 if name.eq_ignore_ascii_case(b"accept-encoding") => &mut self.accept_encoding,
            _ => return false,
        };
        *slot = Some(value);
        true
    }
}
