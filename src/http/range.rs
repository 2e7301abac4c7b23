//! The `Range` header (RFC 9110 §14.1.2): which bytes of a file to send.
//!
//! One range is served as a 206 from the same zero-copy body the whole file
//! uses (a slice of the shared buffer, or a `sendfile` window). A request
//! for several ranges is answered with the whole file, as RFC 9110 §14.2
//! allows ("a server MAY ignore the Range header field"): a multipart body
//! would have to be built per request, and the clients that ask for several
//! ranges (PDF readers, media players) all take the whole file too. The same
//! goes for a syntax we do not recognize. Pure: bytes in, a decision out.

use crate::http::grammar::decimal;

/// What a `Range` value asks for, given the file's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranged {
    /// Send the whole file (no usable range: malformed, another unit, or
    /// several ranges).
    Whole,
    /// Send bytes `start..end` (end exclusive, never empty).
    Part {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The range lies outside the file: 416.
    Unsatisfiable,
}

/// Interprets `value` for a file of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> Ranged {
    let Some(set) = strip_unit(value) else {
        return Ranged::Whole;
    };
    let mut specs = set
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|s| !s.is_empty());
    let (Some(spec), None) = (specs.next(), specs.next()) else {
        return Ranged::Whole; // none, or several
    };
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return Ranged::Whole;
    };
    let (first, last) = (&spec[..dash], &spec[dash + 1..]);
    match (decimal(first), decimal(last)) {
        // "-N": the last N bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || len == 0 {
                Ranged::Unsatisfiable
            } else {
                Ranged::Part {
                    start: len.saturating_sub(n),
                    end: len,
                }
            }
        }
        // "A-": from A to the end.
        (Some(start), None) if last.is_empty() => part(start, len, len),
        // "A-B", inclusive.
        (Some(start), Some(last)) if start <= last => part(start, last.saturating_add(1), len),
        _ => Ranged::Whole,
    }
}

/// `start..end` clamped to the file, or unsatisfiable if it starts past it.
fn part(start: u64, end: u64, len: u64) -> Ranged {
    if start >= len {
        Ranged::Unsatisfiable
    } else {
        Ranged::Part {
            start,
            end: end.min(len),
        }
    }
}

/// `bytes=` (the unit is case-insensitive) and what follows it.
fn strip_unit(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (unit, rest) = value.split_at_checked(6)?;
    unit.eq_ignore_ascii_case(b"bytes=").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_table() {
        use Ranged::*;
        let p = |start, end| Part { start, end };
        // (value, file length, outcome)
        let cases: &[(&str, u64, Ranged)] = &[
            ("bytes=0-0", 10, p(0, 1)),
            ("bytes=0-9", 10, p(0, 10)),
            ("bytes=2-5", 10, p(2, 6)),
            ("bytes=5-100", 10, p(5, 10)),
            ("bytes=5-", 10, p(5, 10)),
            ("bytes=9-", 10, p(9, 10)),
            ("bytes=-3", 10, p(7, 10)),
            ("bytes=-30", 10, p(0, 10)),
            ("BYTES=1-2", 10, p(1, 3)),
            (" bytes=1-2 ", 10, p(1, 3)),
            ("bytes= 1-2", 10, p(1, 3)),
            ("bytes=1-2,", 10, p(1, 3)),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-5", 0, Unsatisfiable),
            ("bytes=0-18446744073709551615", 10, p(0, 10)),
            ("bytes=5-2", 10, Whole),
            ("bytes=0-1,4-5", 10, Whole),
            ("bytes=-", 10, Whole),
            ("bytes=a-b", 10, Whole),
            ("bytes=+1-2", 10, Whole),
            ("bytes=1", 10, Whole),
            ("bytes=", 10, Whole),
            ("items=0-1", 10, Whole),
            ("bytes 0-1", 10, Whole),
            ("bytes=99999999999999999999-", 10, Whole),
            ("", 10, Whole),
        ];
        for &(value, len, want) in cases {
            assert_eq!(parse(value.as_bytes(), len), want, "{value:?} of {len}");
        }
    }
}
