//! The pure parsers on arbitrary bytes: the request head, the path
//! normalizer and the chunked body decoder must never panic, and what they
//! accept must be consistent (a complete head's length is within the input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oneloop::Limits;
use oneloop::http::body::BodySkip;
use oneloop::http::files::normalize;
use oneloop::http::request::{Parsed, parse};

fuzz_target!(|data: &[u8]| {
    if let Parsed::Complete(req, len) = parse(data, &Limits::default()) {
        assert!(len <= data.len());
        assert!(!req.target.is_empty());
    }
    let mut path = Vec::new();
    if normalize(data, &mut path).is_ok() {
        assert!(!path.starts_with(b"/") && !path.split(|&b| b == b'/').any(|s| s == b".."));
    }
    let mut body = BodySkip::chunked();
    if let Ok(progress) = body.advance(data, 1 << 20) {
        assert!(progress.consumed <= data.len());
    }
});
