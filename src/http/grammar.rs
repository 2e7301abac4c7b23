//! RFC 9110/9112/3986 grammar the parsers share: digits, tokens, chunk lines, host and port (pure).
//!
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

/// A set of bytes as a 256-entry table, built at compile time: one load
/// per byte where `extra.contains(&b)` would loop over the punctuation.
/// Every request's `Host` and path go through these.
pub struct ByteClass([bool; 256]);

impl ByteClass {
    /// ASCII letters and digits, plus the bytes of `extra`.
    const fn alphanumeric_and(extra: &[u8]) -> ByteClass {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            table[b] = (b as u8).is_ascii_alphanumeric();
            b += 1;
        }
        let mut i = 0;
        while i < extra.len() {
            table[extra[i] as usize] = true;
            i += 1;
        }
        ByteClass(table)
    }

    /// Every byte from space up, bar DEL and the bytes of `excluded`.
    pub const fn printable_except(excluded: &[u8]) -> ByteClass {
        let mut table = [false; 256];
        let mut b = 0x20;
        while b < 256 {
            table[b] = b != 0x7f;
            b += 1;
        }
        let mut i = 0;
        while i < excluded.len() {
            table[excluded[i] as usize] = false;
            i += 1;
        }
        ByteClass(table)
    }

    /// Whether `b` is in the set.
    #[inline]
    pub fn has(&self, b: u8) -> bool {
        self.0[usize::from(b)]
    }
}

/// `tchar` (RFC 9110 §5.6.2).
static TCHAR: ByteClass = ByteClass::alphanumeric_and(b"!#$%&'*+-.^_`|~");
/// `unreserved / sub-delims` (RFC 3986 §2.2, §2.3): a reg-name's bytes
/// besides percent-escapes.
static REG_NAME: ByteClass = ByteClass::alphanumeric_and(b"-._~!$&'()*+,;=");

/// `tchar` (RFC 9110 §5.6.2): the characters of a token.
pub fn is_tchar(b: u8) -> bool {
    TCHAR.has(b)
}

/// `token = 1*tchar`.
pub fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Bytes allowed in a field value (RFC 9110 §5.5): visible characters,
/// space, tab and obs-text; no other control byte.
fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || b == b' ' || (b >= 0x21 && b != 0x7f)
}

/// A field line without its line end: `field-name ":" OWS field-value OWS`
/// (RFC 9112 §5). No whitespace before the colon, no obs-fold.
pub fn is_field_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    is_token(&line[..colon]) && line[colon + 1..].iter().all(|&b| is_field_vchar(b))
}

/// Why a chunk line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLineError {
    /// `chunk-size` is not `1*HEXDIG`, or does not fit 64 bits.
    Size,
    /// A `chunk-ext` that is not `;` name [ `=` token / quoted-string ].
    Extension,
}

/// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1), a chunk line without its
/// CRLF: the size, or why the line is refused.
///
/// ```text
/// chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
/// chunk-ext-val = token / quoted-string
/// ```
pub fn chunk_line(line: &[u8]) -> Result<u64, ChunkLineError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkLineError::Size);
    }
    let significant = line[..digits].iter().skip_while(|&&b| b == b'0');
    if significant.clone().count() > 16 {
        return Err(ChunkLineError::Size);
    }
    let size = significant.fold(0u64, |n, &b| (n << 4) | hex_value(b));
    let mut rest = &line[digits..];
    if rest
        .first()
        .is_some_and(|&b| b != b';' && b != b' ' && b != b'\t')
    {
        return Err(ChunkLineError::Size); // "5g", "0x5"
    }
    while !rest.is_empty() {
        // Whitespace is allowed only before a ";" (BWS), never at the end.
        match skip_bws(rest).split_first() {
            Some((b';', after)) => rest = chunk_ext(skip_bws(after))?,
            _ => return Err(ChunkLineError::Extension),
        }
    }
    Ok(size)
}

/// One `chunk-ext-name [ BWS "=" BWS chunk-ext-val ]`; returns the rest.
fn chunk_ext(s: &[u8]) -> Result<&[u8], ChunkLineError> {
    let name = s.iter().take_while(|&&b| is_tchar(b)).count();
    if name == 0 {
        return Err(ChunkLineError::Extension);
    }
    let after = skip_bws(&s[name..]);
    let Some(value) = after.strip_prefix(b"=") else {
        return Ok(&s[name..]);
    };
    let value = skip_bws(value);
    if value.first() == Some(&b'"') {
        return quoted_string(value).ok_or(ChunkLineError::Extension);
    }
    let len = value.iter().take_while(|&&b| is_tchar(b)).count();
    if len == 0 {
        return Err(ChunkLineError::Extension);
    }
    Ok(&value[len..])
}

/// A `quoted-string` at the start of `s` (RFC 9110 §5.6.4); returns what
/// follows it.
fn quoted_string(s: &[u8]) -> Option<&[u8]> {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Some(&s[i + 1..]),
            b'\\' if s.get(i + 1).is_some_and(|&b| is_field_vchar(b)) => i += 2,
            b if is_field_vchar(b) && b != b'\\' => i += 1,
            _ => return None,
        }
    }
    None
}

/// Skips `BWS` (optional spaces and tabs).
fn skip_bws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

fn hex_value(b: u8) -> u64 {
    match b {
        b'0'..=b'9' => u64::from(b - b'0'),
        b'a'..=b'f' => u64::from(b - b'a' + 10),
        _ => u64::from(b - b'A' + 10),
    }
}

/// `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2): the form of a
/// `Host` value and of an absolute-form target's authority. The host is an
/// IP-literal in brackets (an IPv6 address, or `v` HEXDIG "." ...), or a
/// reg-name (unreserved, sub-delims and percent-escapes, which covers
/// IPv4 addresses and may be empty); the port is at most 65535.
pub fn is_host_port(value: &[u8]) -> bool {
    if value.first() == Some(&b'[') {
        let Some(close) = value.iter().position(|&b| b == b']') else {
            return false;
        };
        return is_ip_literal(&value[1..close])
            && match &value[close + 1..] {
                [] => true,
                [b':', port @ ..] => is_port(port),
                _ => false,
            };
    }
    // A reg-name (`*( unreserved / pct-encoded / sub-delims )`) up to the
    // colon, in the same pass that finds the colon: every request has a
    // Host.
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b if REG_NAME.has(b) => i += 1,
            b'%' if value.len() > i + 2
                && value[i + 1].is_ascii_hexdigit()
                && value[i + 2].is_ascii_hexdigit() =>
            {
                i += 3
            }
            b':' => return is_port(&value[i + 1..]),
            _ => return false,
        }
    }
    true
}

/// The last `Host` value [`is_host_port`] accepted, kept so that the same
/// value is not checked again: a connection sends the same one with every
/// request, and a pipelined batch of sixteen checked it sixteen times. It
/// remembers bytes, not a connection, so it holds across connections.
#[derive(Debug, Clone)]
pub struct KnownHost {
    /// `u8::MAX` until a value is known.
    len: u8,
    bytes: [u8; KnownHost::MAX],
}

impl Default for KnownHost {
    fn default() -> Self {
        KnownHost {
            len: u8::MAX,
            bytes: [0; KnownHost::MAX],
        }
    }
}

impl KnownHost {
    /// The longest value remembered (longer ones are checked each time).
    const MAX: usize = 46;

    /// [`is_host_port`], skipped when `value` is the one last accepted.
    pub fn is_host_port(&mut self, value: &[u8]) -> bool {
        if usize::from(self.len) == value.len() && self.bytes[..value.len()] == *value {
            return true;
        }
        let ok = is_host_port(value);
        if ok && value.len() <= Self::MAX {
            self.bytes[..value.len()].copy_from_slice(value);
            self.len = value.len() as u8;
        }
        ok
    }
}

/// `port = *DIGIT`, at most 65535 here.
fn is_port(port: &[u8]) -> bool {
    port.len() <= 5
        && port.iter().all(u8::is_ascii_digit)
        && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65_535
}

/// The inside of `[...]`: an IPv6 address or `IPvFuture`.
fn is_ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let Some(tail) = rest[digits..].strip_prefix(b".") else {
            return false;
        };
        return digits > 0
            && !tail.is_empty()
            && tail.iter().all(|&b| b == b':' || REG_NAME.has(b));
    }
    std::str::from_utf8(s).is_ok_and(|s| s.parse::<std::net::Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_host_is_the_one_accepted_and_nothing_else() {
        let mut known = KnownHost::default();
        // A value that is no host is refused, and not remembered.
        assert!(!known.is_host_port(b"a b"));
        assert!(known.is_host_port(b"example.com:8080"));
        assert!(known.is_host_port(b"example.com:8080"));
        // Same length, other bytes: checked, and refused.
        assert!(!known.is_host_port(b"example com:8080"));
        assert!(!known.is_host_port(b"example.com:808x"));
        // A refused value never becomes the known one.
        assert!(known.is_host_port(b"example.com:8080"));
        // Longer than it keeps: checked every time, both ways.
        let long = [b'a'; 60];
        assert!(known.is_host_port(&long));
        let mut bad = long;
        bad[59] = b' ';
        assert!(!known.is_host_port(&bad));
        for value in [&b"[::1]:80"[..], b"", b"h:", b"h:65536", b"%zz"] {
            assert_eq!(
                KnownHost::default().is_host_port(value),
                is_host_port(value),
                "{value:?}"
            );
        }
    }

    #[test]
    fn chunk_lines() {
        for (line, want) in [
            (&b"0"[..], Ok(0)),
            (b"1a", Ok(26)),
            (b"FF;a", Ok(255)),
            (b"5 ; a = b ; c", Ok(5)),
            (b"5;a=\"x \\\" y\"", Ok(5)),
            (b"0000000000000000000000005", Ok(5)),
            (b"ffffffffffffffff", Ok(u64::MAX)),
            (b"", Err(ChunkLineError::Size)),
            (b" 5", Err(ChunkLineError::Size)),
            (b";a", Err(ChunkLineError::Size)),
            (b"0x5", Err(ChunkLineError::Size)),
            (b"5g", Err(ChunkLineError::Size)),
            (b"10000000000000000", Err(ChunkLineError::Size)),
            (b"5 ", Err(ChunkLineError::Extension)),
            (b"5;", Err(ChunkLineError::Extension)),
            (b"5;=b", Err(ChunkLineError::Extension)),
            (b"5;a=", Err(ChunkLineError::Extension)),
            (b"5;a b", Err(ChunkLineError::Extension)),
            (b"5;a\n", Err(ChunkLineError::Extension)),
            (b"5;a\0", Err(ChunkLineError::Extension)),
            (b"5;a=\"open", Err(ChunkLineError::Extension)),
            (b"5;a=\"x\"y", Err(ChunkLineError::Extension)),
        ] {
            assert_eq!(
                chunk_line(line),
                want,
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            &b"example.com"[..],
            b"example.com:80",
            b"",
            b":",
            b"1.2.3.4",
            b"[::1]:8080",
            b"[v1.a:b]",
            b"%41",
        ] {
            assert!(is_host_port(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b"../x"[..],
            b":asd",
            b":-1",
            b"a:1.2",
            b"1.2.3.4:1:2",
            b"[ab..cd::]",
            b"[::1",
            b"[::1]x",
            b"a b",
            b"a@b",
            b"%zz",
            b"a:65536",
            b"[]",
            b"[v.x]",
        ] {
            assert!(!is_host_port(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn field_lines() {
        assert!(is_field_line(b"X-A: 1"));
        assert!(is_field_line(b"X-A:"));
        assert!(is_field_line(b"X-A:\tv\t"));
        for bad in [
            &b"X-A : 1"[..],
            b" X: 1",
            b": v",
            b"X A: 1",
            b"no colon",
            b"X: \x00",
        ] {
            assert!(!is_field_line(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
