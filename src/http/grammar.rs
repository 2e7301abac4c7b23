//! Pieces of HTTP's grammar (RFC 9110 §5.6) that more than one parser
//! reads: kept apart so that the parsers depend on it, never on each other.

/// `1*DIGIT` (RFC 9110's grammar for lengths and byte positions): no sign,
/// no spaces, no overflow.
pub fn decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}
