//! If-Match, If-None-Match, If-(Un)Modified-Since, If-Range -> 200/304/412/206/416 (pure).
//!
//! Conditional requests (RFC 9110 §13): whether to send the file, say it
//! has not changed, refuse, or send part of it.
//!
//! A file's validators are a strong `ETag` made from its size and
//! modification time, and its `Last-Modified` date. The request's
//! preconditions are evaluated in the order RFC 9110 §13.2.2 fixes:
//!
//! ```text
//! If-Match false (or, without it, If-Unmodified-Since false) -> 412
//! If-None-Match matches (or, without it, not If-Modified-Since) -> 304
//! GET with Range (and If-Range true, when present)            -> 206 or 416
//! otherwise                                                    -> 200
//! ```
//!
//! A condition with an unparseable date is ignored, as the RFC says. Pure:
//! header values and validators in, an [`Outcome`] out.

use crate::date;
use crate::http::range::{self, Ranged};

/// The request header fields that make a GET conditional or partial, as
/// sent. A field sent twice cannot be held without allocating; such a
/// request is [`Conditions::repeated`] and answered in full, which is always
/// a correct answer to a GET.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Conditions<'b> {
    /// `If-Match`.
    pub if_match: Option<&'b [u8]>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'b [u8]>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'b [u8]>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<&'b [u8]>,
    /// `Range`.
    pub range: Option<&'b [u8]>,
    /// `If-Range`.
    pub if_range: Option<&'b [u8]>,
    /// One of these fields came more than once.
    pub repeated: bool,
}

impl<'b> Conditions<'b> {
    /// Whether the request is unconditional (the common case, checked first).
    pub fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }

    /// Records the field `name: value` if it is one of ours; false if not.
    pub fn take(&mut self, name: &[u8], value: &'b [u8]) -> bool {
        let slot = match name.len() {
            5 if name.eq_ignore_ascii_case(b"range") => &mut self.range,
            8 if name.eq_ignore_ascii_case(b"if-match") => &mut self.if_match,
            8 if name.eq_ignore_ascii_case(b"if-range") => &mut self.if_range,
            13 if name.eq_ignore_ascii_case(b"if-none-match") => &mut self.if_none_match,
            17 if name.eq_ignore_ascii_case(b"if-modified-since") => &mut self.if_modified_since,
            19 if name.eq_ignore_ascii_case(b"if-unmodified-since") => {
                &mut self.if_unmodified_since
            }
            _ => return false,
        };
        self.repeated |= slot.is_some();
        *slot = Some(value);
        true
    }
}

/// What identifies the version of a file the client may hold.
#[derive(Debug, Clone, Copy)]
pub struct Validators<'a> {
    /// The strong entity tag, with its quotes.
    pub etag: &'a [u8],
    /// Last modification, Unix seconds.
    pub modified: Option<u64>,
}

/// How to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 200 with the whole file.
    Full,
    /// 304: the client's copy is current.
    NotModified,
    /// 412.
    PreconditionFailed,
    /// 206 with bytes `start..end`.
    Partial {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// 416.
    Unsatisfiable,
}

/// Evaluates the preconditions of a GET (`get`) or HEAD of a file of `len`
/// bytes.
pub fn evaluate(c: &Conditions<'_>, v: &Validators<'_>, get: bool, len: u64) -> Outcome {
    if c.repeated {
        return Outcome::Full;
    }
    // Step 1 and 2: the client's state-changing guard.
    if let Some(list) = c.if_match {
        if !matches_any(list, v.etag, Compare::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(since), Some(modified)) =
        (c.if_unmodified_since.and_then(date::parse), v.modified)
        && modified > since
    {
        return Outcome::PreconditionFailed;
    }
    // Step 3 and 4: the cache's revalidation.
    if let Some(list) = c.if_none_match {
        if matches_any(list, v.etag, Compare::Weak) {
            return Outcome::NotModified;
        }
    } else if let (Some(since), Some(modified)) =
        (c.if_modified_since.and_then(date::parse), v.modified)
        && modified <= since
    {
        return Outcome::NotModified;
    }
    // Step 5: a range, if its validator (when given) still holds.
    let Some(range) = c.range.filter(|_| get) else {
        return Outcome::Full;
    };
    if let Some(validator) = c.if_range
        && !if_range_holds(validator, v)
    {
        return Outcome::Full;
    }
    match range::parse(range, len) {
        Ranged::Whole => Outcome::Full,
        Ranged::Part { start, end } => Outcome::Partial { start, end },
        Ranged::Unsatisfiable => Outcome::Unsatisfiable,
    }
}

/// Entity-tag comparison (RFC 9110 §8.8.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Both tags strong and equal: If-Match, If-Range.
    Strong,
    /// Equal ignoring `W/`: If-None-Match.
    Weak,
}

/// Whether `list` (`*` or a comma-separated list of entity tags) matches
/// our strong tag. A malformed list matches nothing.
fn matches_any(list: &[u8], etag: &[u8], compare: Compare) -> bool {
    let list = list.trim_ascii();
    if list == b"*" {
        return true; // the file exists
    }
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            return false;
        }
        let (weak, tagged) = match rest.strip_prefix(b"W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let Some(body) = tagged.strip_prefix(b"\"") else {
            return false;
        };
        let Some(close) = body.iter().position(|&b| b == b'"') else {
            return false;
        };
        let tag = &tagged[..close + 2];
        if tag == etag && (compare == Compare::Weak || !weak) {
            return true;
        }
        rest = &tagged[close + 2..];
    }
}

/// `If-Range` (RFC 9110 §13.1.5): an entity tag that must match strongly,
/// or a date that must equal `Last-Modified` exactly.
fn if_range_holds(validator: &[u8], v: &Validators<'_>) -> bool {
    let validator = validator.trim_ascii();
    if validator.starts_with(b"\"") || validator.starts_with(b"W/") {
        return validator == v.etag;
    }
    matches!((date::parse(validator), v.modified), (Some(d), Some(m)) if d == m)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &[u8] = b"\"5f5e100-2a\"";
    /// Sun, 09 Sep 2001 01:46:40 GMT.
    const MODIFIED: u64 = 1_000_000_000;
    const AT: &str = "Sun, 09 Sep 2001 01:46:40 GMT";
    const BEFORE: &str = "Sun, 09 Sep 2001 01:46:39 GMT";
    const AFTER: &str = "Sun, 09 Sep 2001 01:46:41 GMT";

    fn eval(fields: &[(&'static str, &'static str)], get: bool) -> Outcome {
        let mut c = Conditions::default();
        for (name, value) in fields {
            assert!(c.take(name.as_bytes(), value.as_bytes()), "{name}");
        }
        let v = Validators {
            etag: ETAG,
            modified: Some(MODIFIED),
        };
        evaluate(&c, &v, get, 42)
    }

    #[test]
    fn precondition_table() {
        use Outcome::*;
        let part = |start, end| Partial { start, end };
        type Case = (&'static [(&'static str, &'static str)], Outcome);
        let cases: &[Case] = &[
            (&[], Full),
            (&[("If-None-Match", "\"5f5e100-2a\"")], NotModified),
            (&[("If-None-Match", "W/\"5f5e100-2a\"")], NotModified),
            (&[("If-None-Match", "\"x\", \"5f5e100-2a\"")], NotModified),
            (&[("If-None-Match", "\"x\",,\"y\"")], Full),
            (&[("If-None-Match", "*")], NotModified),
            (&[("If-None-Match", "\"other\"")], Full),
            (&[("If-None-Match", "5f5e100-2a")], Full),
            (&[("If-Modified-Since", AT)], NotModified),
            (&[("If-Modified-Since", AFTER)], NotModified),
            (&[("If-Modified-Since", BEFORE)], Full),
            (&[("If-Modified-Since", "garbage")], Full),
            // If-None-Match takes precedence over If-Modified-Since.
            (
                &[("If-None-Match", "\"other\""), ("If-Modified-Since", AT)],
                Full,
            ),
            (
                &[
                    ("If-None-Match", "\"5f5e100-2a\""),
                    ("If-Modified-Since", BEFORE),
                ],
                NotModified,
            ),
            (&[("If-Match", "\"5f5e100-2a\"")], Full),
            (&[("If-Match", "*")], Full),
            (&[("If-Match", "W/\"5f5e100-2a\"")], PreconditionFailed),
            (&[("If-Match", "\"other\"")], PreconditionFailed),
            (&[("If-Unmodified-Since", AT)], Full),
            (&[("If-Unmodified-Since", BEFORE)], PreconditionFailed),
            (&[("If-Unmodified-Since", "garbage")], Full),
            (
                &[
                    ("If-Match", "\"5f5e100-2a\""),
                    ("If-Unmodified-Since", BEFORE),
                ],
                Full,
            ),
            (&[("Range", "bytes=0-9")], part(0, 10)),
            (&[("Range", "bytes=-2")], part(40, 42)),
            (&[("Range", "bytes=42-")], Unsatisfiable),
            (&[("Range", "bytes=0-1,3-4")], Full),
            (
                &[("Range", "bytes=0-9"), ("If-Range", "\"5f5e100-2a\"")],
                part(0, 10),
            ),
            (
                &[("Range", "bytes=0-9"), ("If-Range", "W/\"5f5e100-2a\"")],
                Full,
            ),
            (&[("Range", "bytes=0-9"), ("If-Range", "\"old\"")], Full),
            (&[("Range", "bytes=0-9"), ("If-Range", AT)], part(0, 10)),
            (&[("Range", "bytes=0-9"), ("If-Range", AFTER)], Full),
            (&[("Range", "bytes=0-9"), ("If-Range", "nonsense")], Full),
            (&[("If-Range", "\"5f5e100-2a\"")], Full),
            // A 304 wins over a range: the client's copy is whole and current.
            (
                &[("Range", "bytes=0-9"), ("If-None-Match", "\"5f5e100-2a\"")],
                NotModified,
            ),
            (
                &[("Range", "bytes=0-9"), ("If-Match", "\"x\"")],
                PreconditionFailed,
            ),
            // Twice the same field: answered in full.
            (
                &[
                    ("If-None-Match", "\"5f5e100-2a\""),
                    ("If-None-Match", "\"x\""),
                ],
                Full,
            ),
        ];
        for &(fields, want) in cases {
            assert_eq!(eval(fields, true), want, "{fields:?}");
        }
    }

    #[test]
    fn head_ignores_range_but_not_validators() {
        assert_eq!(eval(&[("Range", "bytes=0-9")], false), Outcome::Full);
        assert_eq!(
            eval(&[("If-None-Match", "\"5f5e100-2a\"")], false),
            Outcome::NotModified
        );
    }

    #[test]
    fn without_last_modified_dates_are_ignored() {
        let mut c = Conditions::default();
        c.take(b"if-modified-since", AFTER.as_bytes());
        c.take(b"if-unmodified-since", BEFORE.as_bytes());
        let v = Validators {
            etag: ETAG,
            modified: None,
        };
        assert_eq!(evaluate(&c, &v, true, 42), Outcome::Full);
    }

    #[test]
    fn take_ignores_other_fields() {
        let mut c = Conditions::default();
        assert!(!c.take(b"Host", b"a"));
        assert!(!c.take(b"If-Something", b"a"));
        assert!(c.is_empty());
        assert!(c.take(b"IF-NONE-MATCH", b"*"));
        assert!(!c.is_empty());
    }
}
