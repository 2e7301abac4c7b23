//! The codings HPACK and QPACK share: prefixed integers and the Huffman code.
//!
//! QPACK (RFC 9204 §4.1) takes both from HPACK (RFC 7541 §5): an integer
//! fills the low bits of a byte whose high bits say something else, and
//! continues seven bits a byte; a string may be Huffman-coded. So HTTP/2
//! and HTTP/3 read and write them here, and neither framing imports the
//! other.
//!
//! **Prefixed integers** (§5.1): [`read_int`], [`write_int`].
//!
//! **The Huffman code** (§5.2, Appendix B), both ways.
//! The code is canonical: within each length, codes are consecutive in
//! symbol order, and each length's first code follows the last of the one
//! before. So the table is its 257 code lengths (Appendix B's "len"
//! column); the codes themselves are derived from them at compile time,
//! and a test checks them against codes the RFC prints.
//!
//! Decoding walks the code a length at a time: for a length `n`, the first
//! `n` bits of the input are a code of that length if they fall between
//! the length's first code and its first code plus its count. At most 30
//! lengths are tried per symbol, with no table larger than the code itself.
//! Padding must be the most significant bits of EOS (all ones) and
//! shorter than a byte, and EOS itself may not appear (§5.2): either is a
//! decoding error.

/// Why a prefixed integer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntError {
    /// The bytes end before the integer does.
    Truncated,
    /// Past 28 bits: no length or index is plausible.
    Overflow,
}

/// Reads an integer with an `n`-bit prefix (§5.1) from `block` at `*pos`.
pub fn read_int(block: &[u8], pos: &mut usize, n: u32) -> Result<usize, IntError> {
    let first = *block.get(*pos).ok_or(IntError::Truncated)?;
    *pos += 1;
    let mask = ((1u16 << n) - 1) as u8;
    let mut value = usize::from(first & mask);
    if value < usize::from(mask) {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let byte = *block.get(*pos).ok_or(IntError::Truncated)?;
        *pos += 1;
        // Past 28 bits no field length or index is plausible; refusing
        // there also keeps the arithmetic inside `usize` on 32-bit targets.
        if shift > 21 {
            return Err(IntError::Overflow);
        }
        value += usize::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
}

/// Appends an integer with an `n`-bit prefix (§5.1); `flags` are the bits
/// above the prefix in the first byte.
pub fn write_int(out: &mut Vec<u8>, flags: u8, n: u32, mut value: usize) {
    let mask = (1usize << n) - 1;
    if value < mask {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | mask as u8);
    value -= mask;
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The bit length of each symbol's code: bytes 0 to 255, then EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240
    30, // EOS
];

/// The longest code (EOS and a few control bytes).
const MAX_LEN: usize = 30;

/// The canonical code, derived from [`LENGTHS`].
struct Code {
    /// Each symbol's code, right-aligned.
    codes: [u32; 257],
    /// For each length, its first code.
    first: [u32; MAX_LEN + 1],
    /// For each length, how many codes have it.
    count: [u16; MAX_LEN + 1],
    /// Symbols in canonical order (by length, then value); `offset[n]` is
    /// where length `n`'s symbols start.
    symbols: [u16; 257],
    offset: [u16; MAX_LEN + 1],
}

const fn build() -> Code {
    let mut count = [0u16; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut offset = [0u16; MAX_LEN + 1];
    let mut code = 0u32;
    let mut at = 0u16;
    let mut n = 1;
    while n <= MAX_LEN {
        code <<= 1;
        first[n] = code;
        offset[n] = at;
        code += count[n] as u32;
        at += count[n];
        n += 1;
    }
    let mut codes = [0u32; 257];
    let mut symbols = [0u16; 257];
    let mut next = first;
    let mut placed = offset;
    let mut s = 0;
    while s < 257 {
        let n = LENGTHS[s] as usize;
        codes[s] = next[n];
        next[n] += 1;
        symbols[placed[n] as usize] = s as u16;
        placed[n] += 1;
        s += 1;
    }
    Code {
        codes,
        first,
        count,
        symbols,
        offset,
    }
}

static CODE: Code = build();

/// A Huffman string that is not one (RFC 7541 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The bits name EOS, or no code at all.
    BadCode,
    /// The padding is longer than 7 bits or not all ones.
    BadPadding,
}

/// How many bytes `bytes` takes Huffman-coded.
pub fn encoded_len(bytes: &[u8]) -> usize {
    let bits: usize = bytes
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Appends `bytes` Huffman-coded to `out`, padded with ones.
pub fn encode(bytes: &[u8], out: &mut Vec<u8>) {
    // Bits wait in `acc` (right-aligned, `pending` of them) until a byte
    // is whole; 30-bit codes and under 8 pending bits fit in 64.
    let mut acc = 0u64;
    let mut pending = 0u32;
    for &b in bytes {
        let len = u32::from(LENGTHS[usize::from(b)]);
        acc = (acc << len) | u64::from(CODE.codes[usize::from(b)]);
        pending += len;
        while pending >= 8 {
            pending -= 8;
            out.push((acc >> pending) as u8);
        }
    }
    if pending > 0 {
        let pad = 8 - pending;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

/// Appends the decoding of `coded` to `out`.
pub fn decode(coded: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // Bits wait in `acc`, left to right (`have` of them, right-aligned);
    // a symbol is taken as soon as the bits in hand make a code.
    let mut acc = 0u64;
    let mut have = 0usize;
    for &byte in coded {
        acc = (acc << 8) | u64::from(byte);
        have += 8;
        // Take every symbol whose code is entirely in hand.
        while let Some((symbol, len)) = next_symbol(acc, have)? {
            out.push(symbol);
            have -= len;
            acc &= (1u64 << have) - 1;
        }
    }
    // What is left is padding: fewer than 8 bits, all ones (§5.2).
    if have > 7 {
        return Err(HuffmanError::BadPadding);
    }
    if acc != (1u64 << have) - 1 {
        return Err(HuffmanError::BadPadding);
    }
    Ok(())
}

/// The symbol whose code starts the `have` bits of `acc`, and its length;
/// `None` if no code is complete yet.
fn next_symbol(acc: u64, have: usize) -> Result<Option<(u8, usize)>, HuffmanError> {
    for n in 5..=MAX_LEN.min(have) {
        let bits = (acc >> (have - n)) as u32;
        let first = CODE.first[n];
        let count = u32::from(CODE.count[n]);
        if bits >= first && bits - first < count {
            let symbol = CODE.symbols[usize::from(CODE.offset[n]) + (bits - first) as usize];
            // EOS in the data is an error (§5.2), as is any code for it.
            return match u8::try_from(symbol) {
                Ok(byte) => Ok(Some((byte, n))),
                Err(_) => Err(HuffmanError::BadCode),
            };
        }
    }
    if have >= MAX_LEN {
        // 30 bits and no code: cannot happen with a complete code, but a
        // decoder must not loop on it.
        return Err(HuffmanError::BadCode);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http2::hex;

    #[test]
    fn the_derived_codes_are_the_rfcs() {
        // Appendix B, a few rows of each kind.
        let rows: &[(usize, u32, u8)] = &[
            (0, 0x1ff8, 13),
            (1, 0x7fffd8, 23),
            (10, 0x3ffffffc, 30),
            (b' ' as usize, 0x14, 6),
            (b'0' as usize, 0x0, 5),
            (b'a' as usize, 0x3, 5),
            (b'A' as usize, 0x21, 6),
            (b'~' as usize, 0x1ffd, 13),
            (255, 0x3ffffee, 26),
            (256, 0x3fffffff, 30),
        ];
        for &(symbol, code, len) in rows {
            assert_eq!(
                (CODE.codes[symbol], LENGTHS[symbol]),
                (code, len),
                "symbol {symbol}"
            );
        }
        // A complete prefix code: Kraft's sum is exactly one.
        let kraft: u64 = LENGTHS
            .iter()
            .map(|&n| 1u64 << (MAX_LEN - usize::from(n)))
            .sum();
        assert_eq!(kraft, 1 << MAX_LEN);
    }

    #[test]
    fn appendix_c_strings() {
        // RFC 7541 C.4 and C.6: the Huffman-coded literals.
        let cases = [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("private", "aec3 771a 4b"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            ),
            (
                "https://www.example.com",
                "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
            ),
        ];
        for (text, coded) in cases {
            let coded = hex(coded);
            let mut out = Vec::new();
            encode(text.as_bytes(), &mut out);
            assert_eq!(out, coded, "{text}");
            assert_eq!(encoded_len(text.as_bytes()), coded.len(), "{text}");
            let mut back = Vec::new();
            decode(&coded, &mut back).unwrap();
            assert_eq!(back, text.as_bytes());
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut rng = crate::fixture::Rng::new(7541);
        for len in 0..300 {
            let text: Vec<u8> = (0..len)
                .map(|i| all[(rng.below(256) as usize + i) % 256])
                .collect();
            let mut coded = Vec::new();
            encode(&text, &mut coded);
            let mut back = Vec::new();
            decode(&coded, &mut back).unwrap();
            assert_eq!(back, text);
        }
    }

    #[test]
    fn bad_padding_and_eos_are_refused() {
        let mut out = Vec::new();
        // "a" is 00011: padded with zeros instead of ones.
        assert_eq!(
            decode(&[0b0001_1000], &mut out),
            Err(HuffmanError::BadPadding)
        );
        // A whole byte of padding (eight ones) after a whole symbol.
        assert_eq!(
            decode(&[0b0001_1111, 0xff], &mut out),
            Err(HuffmanError::BadPadding)
        );
        // EOS itself: thirty ones.
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xfc], &mut out),
            Err(HuffmanError::BadCode)
        );
        // Any byte string decodes or is refused, never loops or panics.
        let mut rng = crate::fixture::Rng::new(5);
        for _ in 0..20_000 {
            let len = rng.below(12) as usize;
            let junk: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
            out.clear();
            let _ = decode(&junk, &mut out);
        }
    }
}
