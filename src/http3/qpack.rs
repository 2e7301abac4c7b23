//! QPACK (RFC 9204) with the static table only: field sections to fields and back (pure).
//!
//! QPACK is HPACK remade for streams that arrive out of order: a field
//! section may name entries of a dynamic table that the peer fills on a
//! stream of its own, and a request that names an entry not yet arrived
//! waits for it. This server keeps its dynamic table at the default
//! capacity, zero (it never sends SETTINGS_QPACK_MAX_TABLE_CAPACITY), so a
//! client may use only the static table (99 fields, Appendix A) and
//! literals: no request ever waits, no table is kept per connection, and a
//! field section decodes on its own. Any reference to the dynamic table,
//! or a Required Insert Count other than zero, is then an error the RFC
//! names: QPACK_DECOMPRESSION_FAILED (§2.2.3, §4.5.1.1), a connection
//! error. Integers and the Huffman code are HPACK's
//! ([`crate::field_coding`]).
//!
//! The decoded size of a section is bounded (each field's name and value
//! plus 32, as SETTINGS_MAX_FIELD_SECTION_SIZE counts it): past the bound
//! decoding stops, and the request is answered 431.
//!
//! Responses are written with the static table's indexes where a field is
//! there whole, its name's index where only the name is, and literals
//! otherwise, values as they are (no Huffman: the bytes saved cost more
//! CPU than they are worth here, as for HTTP/2).

use crate::field_coding::{self, HuffmanError, IntError, read_int, write_int};

/// The static table (Appendix A): index 0 is the first entry.
pub const STATIC: [(&str, &str); 99] = [
    (":authority", ""),
    (":path", "/"),
    ("age", "0"),
    ("content-disposition", ""),
    ("content-length", "0"),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("referer", ""),
    ("set-cookie", ""),
    (":method", "CONNECT"),
    (":method", "DELETE"),
    (":method", "GET"),
    (":method", "HEAD"),
    (":method", "OPTIONS"),
    (":method", "POST"),
    (":method", "PUT"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "103"),
    (":status", "200"),
    (":status", "304"),
    (":status", "404"),
    (":status", "503"),
    ("accept", "*/*"),
    ("accept", "application/dns-message"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-ranges", "bytes"),
    ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"),
    ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"),
    ("cache-control", "max-age=2592000"),
    ("cache-control", "max-age=604800"),
    ("cache-control", "no-cache"),
    ("cache-control", "no-store"),
    ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"),
    ("content-encoding", "gzip"),
    ("content-type", "application/dns-message"),
    ("content-type", "application/javascript"),
    ("content-type", "application/json"),
    ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "image/gif"),
    ("content-type", "image/jpeg"),
    ("content-type", "image/png"),
    ("content-type", "text/css"),
    ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"),
    ("content-type", "text/plain;charset=utf-8"),
    ("range", "bytes=0-"),
    ("strict-transport-security", "max-age=31536000"),
    (
        "strict-transport-security",
        "max-age=31536000; includesubdomains",
    ),
    (
        "strict-transport-security",
        "max-age=31536000; includesubdomains; preload",
    ),
    ("vary", "accept-encoding"),
    ("vary", "origin"),
    ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"),
    (":status", "100"),
    (":status", "204"),
    (":status", "206"),
    (":status", "302"),
    (":status", "400"),
    (":status", "403"),
    (":status", "421"),
    (":status", "425"),
    (":status", "500"),
    ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"),
    ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"),
    ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"),
    ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"),
    ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"),
    ("access-control-request-method", "post"),
    ("alt-svc", "clear"),
    ("authorization", ""),
    (
        "content-security-policy",
        "script-src 'none'; object-src 'none'; base-uri 'none'",
    ),
    ("early-data", "1"),
    ("expect-ct", ""),
    ("forwarded", ""),
    ("if-range", ""),
    ("origin", ""),
    ("purpose", "prefetch"),
    ("server", ""),
    ("timing-allow-origin", "*"),
    ("upgrade-insecure-requests", "1"),
    ("user-agent", ""),
    ("x-forwarded-for", ""),
    ("x-frame-options", "deny"),
    ("x-frame-options", "sameorigin"),
];

/// What a field section can get wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QpackError {
    /// It ends mid-representation.
    Truncated,
    /// An integer past 28 bits.
    IntegerOverflow,
    /// A static index past the table.
    BadIndex,
    /// A reference to the dynamic table, whose capacity is zero, or a
    /// Required Insert Count other than zero.
    DynamicReference,
    /// A Huffman-coded string that does not decode.
    Huffman(HuffmanError),
    /// Larger decoded than the bound (a 431, not a connection error).
    TooLarge,
    /// The prefix and nothing after it: ls-qpack, the reference decoder,
    /// refuses a section without a field line, and so does this one.
    NoFields,
    /// A literal name of no bytes (ls-qpack refuses it too).
    EmptyName,
}

impl std::fmt::Display for QpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            QpackError::Truncated => "field section ends mid-representation",
            QpackError::IntegerOverflow => "integer too large",
            QpackError::BadIndex => "static index outside the table",
            QpackError::DynamicReference => "reference to the dynamic table, which is empty",
            QpackError::Huffman(HuffmanError::BadCode) => "Huffman code not in the table, or EOS",
            QpackError::Huffman(HuffmanError::BadPadding) => "Huffman padding not EOS's bits",
            QpackError::TooLarge => "field section larger than allowed",
            QpackError::NoFields => "field section without a field line",
            QpackError::EmptyName => "field with an empty name",
        })
    }
}

impl From<IntError> for QpackError {
    fn from(e: IntError) -> QpackError {
        match e {
            IntError::Truncated => QpackError::Truncated,
            IntError::Overflow => QpackError::IntegerOverflow,
        }
    }
}

/// What a field costs against the bound (RFC 9114 §4.2.2).
const FIELD_OVERHEAD: usize = 32;

/// A static entry, by index.
fn entry(index: usize) -> Result<(&'static [u8], &'static [u8]), QpackError> {
    let (name, value) = STATIC.get(index).ok_or(QpackError::BadIndex)?;
    Ok((name.as_bytes(), value.as_bytes()))
}

/// A string literal at `*pos` whose length has an `n`-bit prefix and
/// whose Huffman flag is the bit just above it; decoded into `scratch`
/// from `start` if it is Huffman-coded. Returns the bytes' place: in the
/// section (`false`) or in `scratch` (`true`), and their range there.
fn read_string(
    block: &[u8],
    pos: &mut usize,
    n: u32,
    scratch: &mut Vec<u8>,
) -> Result<(bool, usize, usize), QpackError> {
    let huffman = block.get(*pos).ok_or(QpackError::Truncated)? & (1 << n) != 0;
    let len = read_int(block, pos, n)?;
    let end = pos.checked_add(len).ok_or(QpackError::Truncated)?;
    let raw = block.get(*pos..end).ok_or(QpackError::Truncated)?;
    *pos = end;
    if !huffman {
        return Ok((false, end - len, end));
    }
    let start = scratch.len();
    field_coding::decode(raw, scratch).map_err(QpackError::Huffman)?;
    Ok((true, start, scratch.len()))
}

/// Decodes a request's field section, handing each field to `field` in
/// order; at most `limit` bytes decoded (names and values plus 32 each).
/// `scratch` holds Huffman-decoded strings for the length of a call.
pub fn decode(
    block: &[u8],
    limit: usize,
    scratch: &mut Vec<u8>,
    mut field: impl FnMut(&[u8], &[u8]),
) -> Result<(), QpackError> {
    let mut pos = 0;
    // The prefix (§4.5.1): Required Insert Count, then the Base's sign and
    // delta. With no dynamic table the count must be zero; the Base then
    // means nothing.
    if read_int(block, &mut pos, 8)? != 0 {
        return Err(QpackError::DynamicReference);
    }
    read_int(block, &mut pos, 7)?;
    if pos == block.len() {
        return Err(QpackError::NoFields);
    }
    let mut size = 0usize;
    while pos < block.len() {
        scratch.clear();
        let first = block[pos];
        let (name, value): (&[u8], &[u8]);
        let (name_at, value_at);
        if first & 0x80 != 0 {
            // Indexed field line (§4.5.2): `1T` and a 6-bit index.
            if first & 0x40 == 0 {
                return Err(QpackError::DynamicReference);
            }
            (name, value) = entry(read_int(block, &mut pos, 6)?)?;
            size = grow(size, name.len() + value.len(), limit)?;
            field(name, value);
            continue;
        } else if first & 0x40 != 0 {
            // Literal with name reference (§4.5.4): `01NT`, a 4-bit index.
            if first & 0x10 == 0 {
                return Err(QpackError::DynamicReference);
            }
            let (n, _) = entry(read_int(block, &mut pos, 4)?)?;
            name_at = None;
            value_at = read_string(block, &mut pos, 7, scratch)?;
            name = n;
        } else if first & 0x20 != 0 {
            // Literal with literal name (§4.5.6): `001N`, H, a 3-bit length.
            name_at = Some(read_string(block, &mut pos, 3, scratch)?);
            value_at = read_string(block, &mut pos, 7, scratch)?;
            name = b"";
        } else {
            // Post-base references (§4.5.3, §4.5.5) name the dynamic table.
            return Err(QpackError::DynamicReference);
        }
        let place = |(huffman, start, end): (bool, usize, usize)| -> &[u8] {
            match huffman {
                true => &scratch[start..end],
                false => &block[start..end],
            }
        };
        let name = name_at.map_or(name, place);
        if name.is_empty() {
            return Err(QpackError::EmptyName);
        }
        value = place(value_at);
        size = grow(size, name.len() + value.len(), limit)?;
        field(name, value);
    }
    Ok(())
}

/// The decoded size with one more field of `len` bytes, if within `limit`.
fn grow(size: usize, len: usize, limit: usize) -> Result<usize, QpackError> {
    let size = size + len + FIELD_OVERHEAD;
    match size <= limit {
        true => Ok(size),
        false => Err(QpackError::TooLarge),
    }
}

/// Appends the prefix of a section that names no dynamic entry (§4.5.1):
/// Required Insert Count 0, Base 0.
pub fn begin(out: &mut Vec<u8>) {
    out.extend_from_slice(&[0x00, 0x00]);
}

/// Appends one field: indexed when the static table has it whole, by its
/// name's index when only the name, literal otherwise (`name` lowercase).
pub fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    let mut by_name = None;
    for i in named(name) {
        let (n, v) = STATIC[i];
        if n.as_bytes() == name {
            if v.as_bytes() == value {
                write_int(out, 0xc0, 6, i);
                return;
            }
            by_name = by_name.or(Some(i));
        }
    }
    match by_name {
        Some(i) => write_int(out, 0x50, 4, i),
        None => {
            write_int(out, 0x20, 3, name.len());
            out.extend_from_slice(name);
        }
    }
    write_int(out, 0x00, 7, value.len());
    out.extend_from_slice(value);
}

/// Where in the static table the names a response carries are (every
/// entry with that name is in the range), so a head is not a scan of all
/// 99 entries a field; any other name, the whole table.
fn named(name: &[u8]) -> std::ops::Range<usize> {
    match name {
        b"server" => 92..93,
        b"date" => 6..7,
        b"content-length" => 4..5,
        b"content-type" => 44..55,
        b"etag" => 7..8,
        b"last-modified" => 10..11,
        b"accept-ranges" => 32..33,
        b"vary" => 59..61,
        b"cache-control" => 36..42,
        b"content-encoding" => 42..44,
        b"location" => 12..13,
        b"strict-transport-security" => 56..59,
        b"alt-svc" => 83..84,
        b"content-range" | b"allow" => 0..0,
        _ => 0..STATIC.len(),
    }
}

/// Appends `:status`: indexed for the codes the static table has.
pub fn status(out: &mut Vec<u8>, code: u16) {
    let index = match code {
        103 => 24,
        200 => 25,
        304 => 26,
        404 => 27,
        503 => 28,
        100 => 63,
        204 => 64,
        206 => 65,
        302 => 66,
        400 => 67,
        403 => 68,
        421 => 69,
        425 => 70,
        500 => 71,
        _ => {
            let digits = [
                b'0' + (code / 100 % 10) as u8,
                b'0' + (code / 10 % 10) as u8,
                b'0' + (code % 10) as u8,
            ];
            // `:status`'s name is index 24's.
            write_int(out, 0x50, 4, 24);
            write_int(out, 0x00, 7, 3);
            out.extend_from_slice(&digits);
            return;
        }
    };
    write_int(out, 0xc0, 6, index);
}

#[cfg(test)]
mod tests;
