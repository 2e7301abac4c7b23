//! The pure parsers on arbitrary bytes: the request head, the path
//! normalizer, the chunked body decoder, and the field values behind
//! validators, ranges and content negotiation must never panic, and what
//! they accept must be consistent (a complete head's length is within the
//! input, a range lies within the file), and a head recalled
//! (`http1::known`) must be what a fresh parse says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::date;
use oneloop::http::conditional::{Conditions, Outcome, Validators, evaluate};
use oneloop::http::negotiate;
use oneloop::http::path::normalize;
use oneloop::http::range::{self, Ranged};
use oneloop::http1::body::BodySkip;
use oneloop::http1::known::parse_remembered;
use oneloop::http1::request::{Parsed, parse};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let fresh = parse(data, &limits);
    if let Parsed::Complete(req, len) = &fresh {
        assert!(*len <= data.len());
        assert!(!req.target.is_empty());
    }
    // The head remembered gives what a fresh parse gives: the whole input,
    // then its first half (which may start with the head just remembered).
    for input in [data, &data[..data.len() / 2], data] {
        let remembered = parse_remembered(input, &limits, |b| parse(b, &limits));
        assert_eq!(remembered, parse(input, &limits));
    }
    let mut path = Vec::new();
    if normalize(data, &mut path).is_ok() {
        assert!(!path.starts_with(b"/") && !path.split(|&b| b == b'/').any(|s| s == b".."));
    }
    let mut body = BodySkip::chunked();
    if let Ok(progress) = body.advance(data, 1 << 20) {
        assert!(progress.consumed <= data.len());
    }
    let len = data.first().map_or(0, |&b| u64::from(b) * 7);
    if let Ranged::Part { start, end } = range::parse(data, len) {
        assert!(start < end && end <= len);
    }
    if let Some(t) = date::parse(data) {
        assert_eq!(date::parse(date::format(t).as_bytes()), Some(t));
    }
    let _ = negotiate::choose(data, true, true);
    let mut c = Conditions::default();
    for name in [
        &b"if-match"[..],
        b"if-none-match",
        b"if-modified-since",
        b"range",
        b"if-range",
    ] {
        c.take(name, data);
    }
    let v = Validators {
        etag: b"\"1.2-3\"",
        modified: Some(1_000_000_000),
    };
    if let Outcome::Partial { start, end } = evaluate(&c, &v, true, len) {
        assert!(start < end && end <= len);
    }
});
