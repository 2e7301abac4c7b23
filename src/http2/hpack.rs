//! HPACK (RFC 7541): header blocks to fields and back.
//!
//! A header block is a sequence of representations (§6): an index into
//! the static table (61 fields every peer knows) or the dynamic one (fields
//! this connection sent before, newest first), or a literal name and value,
//! which may be added to the dynamic table, and size updates of that table.
//! Each direction of a connection has its own dynamic table, bounded by the
//! size its decoder allows (SETTINGS_HEADER_TABLE_SIZE): an entry costs its
//! name and value plus 32 bytes, and adding one evicts the oldest until it
//! fits (§4.4).
//!
//! [`Decoder`] is what the server reads requests with. Everything a client
//! can get wrong is a [`HpackError`], which the connection answers with
//! COMPRESSION_ERROR (RFC 9113 §4.3): an index past both tables, a size
//! update above the limit or after the first field, a truncated integer
//! or string, bad Huffman. The decoded size of a block is bounded too, the
//! defence against a "bomb" of small indexes naming large entries.
//! [`Encoder`] writes responses, with or without the dynamic table.
//!
//! Pure: bytes in, fields out; nothing here reads a socket or a clock.

use std::collections::VecDeque;

use crate::field_coding;
pub use crate::field_coding::write_int;
use crate::field_coding::{self as huffman, HuffmanError, IntError};

/// The static table (Appendix A): index 1 is the first entry.
pub const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// What each entry costs beyond its name and value (§4.1).
const ENTRY_OVERHEAD: usize = 32;

/// Why a header block cannot be decoded: a COMPRESSION_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HpackError {
    /// The block ends inside a representation.
    Truncated,
    /// An integer past what any field could need (and past `usize`).
    IntegerOverflow,
    /// Index 0, or past the end of both tables (§2.3.3).
    BadIndex,
    /// A table size update above the limit (§6.3), or after a field
    /// (§4.2: only at the start of a block).
    BadSizeUpdate,
    /// A Huffman string that is not one (§5.2).
    Huffman(HuffmanError),
    /// The decoded fields exceed the limit on a header list.
    TooLarge,
}

impl std::fmt::Display for HpackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HpackError::Truncated => "header block ends mid-representation",
            HpackError::IntegerOverflow => "integer too large",
            HpackError::BadIndex => "index outside the tables",
            HpackError::BadSizeUpdate => "table size update not allowed here",
            HpackError::Huffman(HuffmanError::BadCode) => "Huffman code not in the table, or EOS",
            HpackError::Huffman(HuffmanError::BadPadding) => "Huffman padding not EOS's bits",
            HpackError::TooLarge => "header list larger than allowed",
        })
    }
}

/// A dynamic table (§2.3.2): newest first, bounded by `max` bytes.
#[derive(Debug)]
pub struct Table {
    /// Entries, oldest at the back: name and value in one buffer each.
    entries: VecDeque<(Box<[u8]>, usize)>,
    /// Their size, as §4.1 counts it.
    size: usize,
    /// The most it may hold now.
    max: usize,
}

impl Table {
    /// An empty table that may hold `max` bytes.
    pub fn new(max: usize) -> Table {
        Table {
            entries: VecDeque::new(),
            size: 0,
            max,
        }
    }

    /// The size of what it holds (§4.1).
    pub fn size(&self) -> usize {
        self.size
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entry `i`, newest first, from 0.
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries
            .get(i)
            .map(|(both, name_len)| both.split_at(*name_len))
    }

    /// Changes the limit, evicting what no longer fits (§4.3).
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
        self.evict_to(max);
    }

    /// Adds a field, evicting the oldest until it fits; one larger than the
    /// whole table empties it and is not added (§4.4).
    pub fn insert(&mut self, name: &[u8], value: &[u8]) {
        let cost = name.len() + value.len() + ENTRY_OVERHEAD;
        if cost > self.max {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(self.max - cost);
        let mut both = Vec::with_capacity(name.len() + value.len());
        both.extend_from_slice(name);
        both.extend_from_slice(value);
        self.entries
            .push_front((both.into_boxed_slice(), name.len()));
        self.size += cost;
    }

    fn evict_to(&mut self, room: usize) {
        while self.size > room {
            let Some((both, _)) = self.entries.pop_back() else {
                self.size = 0;
                return;
            };
            self.size -= both.len() + ENTRY_OVERHEAD;
        }
    }
}

/// Reads an integer with an `n`-bit prefix (§5.1) from `block` at `*pos`.
pub fn read_int(block: &[u8], pos: &mut usize, n: u32) -> Result<usize, HpackError> {
    field_coding::read_int(block, pos, n).map_err(|e| match e {
        IntError::Truncated => HpackError::Truncated,
        IntError::Overflow => HpackError::IntegerOverflow,
    })
}

/// A string literal (§5.2) at `*pos`, decoded into `scratch` if it is
/// Huffman-coded; returns where its bytes are: in the block or in
/// `scratch` (from `start`).
fn read_string(block: &[u8], pos: &mut usize, scratch: &mut Vec<u8>) -> Result<Text, HpackError> {
    let huffman = block.get(*pos).ok_or(HpackError::Truncated)? & 0x80 != 0;
    let len = read_int(block, pos, 7)?;
    let end = pos.checked_add(len).ok_or(HpackError::Truncated)?;
    let raw = block.get(*pos..end).ok_or(HpackError::Truncated)?;
    *pos = end;
    if !huffman {
        return Ok(Text::Block(end - len, end));
    }
    let start = scratch.len();
    huffman::decode(raw, scratch).map_err(HpackError::Huffman)?;
    Ok(Text::Scratch(start, scratch.len()))
}

/// Where a decoded string's bytes are.
#[derive(Debug, Clone, Copy)]
enum Text {
    /// `block[start..end]`, as sent.
    Block(usize, usize),
    /// `scratch[start..end]`, decoded from Huffman.
    Scratch(usize, usize),
    /// The name of an entry in one of the tables, by absolute index.
    Indexed(usize),
}

/// The server's side of a connection's request headers.
#[derive(Debug)]
pub struct Decoder {
    table: Table,
    /// The limit this side announced (SETTINGS_HEADER_TABLE_SIZE): size
    /// updates may not exceed it.
    limit: usize,
    /// Huffman-decoded strings of the block being decoded.
    scratch: Vec<u8>,
    /// How many times a block changed the table (an entry added, a size
    /// updated): a block decoded at one generation that leaves it as it
    /// was decodes the same way again at that generation.
    generation: u64,
}

impl Decoder {
    /// A decoder whose dynamic table may hold `limit` bytes (the peer may
    /// shrink it with size updates, never grow it past `limit`).
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            table: Table::new(limit),
            limit,
            scratch: Vec::new(),
            generation: 0,
        }
    }

    /// The dynamic table, for tests and traces.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// See the field: equal generations, equal tables.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Decodes one whole header block, calling `field` with each name and
    /// value in order. The fields' size (name, value and 32 bytes each,
    /// as SETTINGS_MAX_HEADER_LIST_SIZE counts) may not pass `max_list`:
    /// past it `field` is called no more, but the block is decoded to its
    /// end, so the table stays in step with the peer's and only the
    /// request is refused ([`HpackError::TooLarge`]). On any other error
    /// the connection must end: the table may have changed in ways the
    /// peer does not know.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list: usize,
        mut field: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), HpackError> {
        let mut pos = 0;
        let mut listed = 0usize;
        let mut fields_seen = false;
        while pos < block.len() {
            self.scratch.clear();
            let first = block[pos];
            let (name, value, index) = if first & 0x80 != 0 {
                // Indexed field (§6.1).
                let i = read_int(block, &mut pos, 7)?;
                (Text::Indexed(i), None, false)
            } else if first & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3): only before the fields.
                let max = read_int(block, &mut pos, 5)?;
                if fields_seen || max > self.limit {
                    return Err(HpackError::BadSizeUpdate);
                }
                self.table.set_max(max);
                self.generation += 1;
                continue;
            } else {
                // Literal (§6.2): with incremental indexing (01), without
                // (0000) or never indexed (0001); a name index or a string.
                let (prefix, index) = if first & 0x40 != 0 {
                    (6, true)
                } else {
                    (4, false)
                };
                let i = read_int(block, &mut pos, prefix)?;
                let name = if i == 0 {
                    read_string(block, &mut pos, &mut self.scratch)?
                } else {
                    Text::Indexed(i)
                };
                let value = read_string(block, &mut pos, &mut self.scratch)?;
                (name, Some(value), index)
            };
            fields_seen = true;
            let (n, v) = self.resolve(block, name, value)?;
            // (No overflow: a block of 64 KiB naming a 4 KiB entry at every byte
            // lists 270 MB, within even a 32-bit usize.)
            listed += n.len() + v.len() + ENTRY_OVERHEAD;
            if listed <= max_list {
                field(n, v);
            }
            if index {
                let (n, v) = (n.to_vec(), v.to_vec());
                self.table.insert(&n, &v);
                self.generation += 1;
            }
        }
        if pos > 0 && !fields_seen {
            // Size updates and no field: a change announced for a block
            // that never came (loona-hpack refuses it too; a request has
            // fields anyway).
            return Err(HpackError::BadSizeUpdate);
        }
        if listed > max_list {
            return Err(HpackError::TooLarge);
        }
        Ok(())
    }

    /// The bytes of a decoded name and value (an indexed field's come from
    /// its entry).
    fn resolve<'a>(
        &'a self,
        block: &'a [u8],
        name: Text,
        value: Option<Text>,
    ) -> Result<(&'a [u8], &'a [u8]), HpackError> {
        let text = |t: Text| -> Result<&'a [u8], HpackError> {
            match t {
                Text::Block(a, b) => Ok(&block[a..b]),
                Text::Scratch(a, b) => Ok(&self.scratch[a..b]),
                Text::Indexed(i) => Ok(self.entry(i)?.0),
            }
        };
        match (name, value) {
            (Text::Indexed(i), None) => self.entry(i),
            (name, Some(value)) => Ok((text(name)?, text(value)?)),
            (_, None) => Err(HpackError::BadIndex),
        }
    }

    /// Entry `i` of the static then the dynamic table (§2.3.3).
    fn entry(&self, i: usize) -> Result<(&[u8], &[u8]), HpackError> {
        match i {
            0 => Err(HpackError::BadIndex),
            1..=61 => {
                let (n, v) = STATIC[i - 1];
                Ok((n.as_bytes(), v.as_bytes()))
            }
            _ => self.table.get(i - 62).ok_or(HpackError::BadIndex),
        }
    }
}

/// How a literal field is written (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    /// Added to both sides' dynamic tables.
    Incremental,
    /// Not added.
    Without,
    /// Not added, here or by any intermediary (for secrets).
    Never,
}

/// The server's side of a connection's response headers.
#[derive(Debug)]
pub struct Encoder {
    table: Table,
    /// Size updates owed at the start of the next block: the smallest
    /// size since the last block, and the size now (§4.2: the smallest
    /// first when it was smaller, then the final one).
    pending: Option<(usize, usize)>,
    /// Counts every change to the table: a block of indexes made at one
    /// generation means the same fields at the same generation.
    generation: u64,
}

impl Encoder {
    /// An encoder whose dynamic table may hold `max` bytes (4,096 until
    /// the peer's SETTINGS say otherwise).
    pub fn new(max: usize) -> Encoder {
        Encoder {
            table: Table::new(max),
            pending: None,
            generation: 0,
        }
    }

    /// How many times the table has changed (see [`Encoder::generation`]'s
    /// field): equal generations, equal tables.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The most the table may hold now.
    pub fn max(&self) -> usize {
        self.table.max
    }

    /// The peer's decoder allows `max` bytes from now on: the next block
    /// starts with a size update (§4.2).
    pub fn set_max(&mut self, max: usize) {
        self.table.set_max(max);
        let least = self.pending.map_or(max, |(least, _)| least.min(max));
        self.pending = Some((least, max));
        self.generation += 1;
    }

    /// Empties the table and gives back its memory: the next block tells
    /// the peer to empty its own (a size update to 0, then back), so the
    /// two tables stay the same. For a connection gone idle.
    pub fn forget(&mut self) {
        let max = self.table.max;
        self.table = Table::new(max);
        self.pending = Some((0, max));
        self.generation += 1;
    }

    /// Whether the table holds anything.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Starts a header block: the size update it owes, if any.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        if let Some((least, max)) = self.pending.take() {
            if least < max {
                write_int(out, 0x20, 5, least);
            }
            write_int(out, 0x20, 5, max);
        }
    }

    /// Appends one field: an index when a table has it whole, else a
    /// literal (with the name's index when a table has the name), the
    /// value Huffman-coded when that is shorter.
    pub fn field(&mut self, out: &mut Vec<u8>, name: &[u8], value: &[u8], indexing: Indexing) {
        let (whole, named) = self.find(name, value);
        if let Some(i) = whole
            && indexing != Indexing::Never
        {
            write_int(out, 0x80, 7, i);
            return;
        }
        let (flags, prefix) = match indexing {
            Indexing::Incremental => (0x40, 6),
            Indexing::Without => (0x00, 4),
            Indexing::Never => (0x10, 4),
        };
        match named {
            Some(i) => write_int(out, flags, prefix, i),
            None => {
                write_int(out, flags, prefix, 0);
                write_string(out, name);
            }
        }
        write_string(out, value);
        if indexing == Indexing::Incremental {
            self.table.insert(name, value);
            self.generation += 1;
        }
    }

    /// The index of the field whole, in either table.
    pub fn index_of(&self, name: &[u8], value: &[u8]) -> Option<usize> {
        self.find(name, value).0
    }

    /// The index of the field whole, and of its name, in either table.
    fn find(&self, name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
        let mut named = None;
        for (i, &(n, v)) in STATIC.iter().enumerate() {
            if n.as_bytes() == name {
                if v.as_bytes() == value {
                    return (Some(i + 1), Some(i + 1));
                }
                named.get_or_insert(i + 1);
            }
        }
        for i in 0..self.table.len() {
            if let Some((n, v)) = self.table.get(i)
                && n == name
            {
                if v == value {
                    return (Some(i + 62), named.or(Some(i + 62)));
                }
                named.get_or_insert(i + 62);
            }
        }
        (None, named)
    }
}

/// Appends a string literal as it is, without Huffman coding: what a
/// response's head uses, where the bytes saved would cost more CPU than
/// they are worth on the links this server sees.
pub fn write_raw_string(out: &mut Vec<u8>, s: &[u8]) {
    write_int(out, 0x00, 7, s.len());
    out.extend_from_slice(s);
}

/// The static table's index for a field name, for the names a response
/// carries (1-based; `None`: not there).
pub fn static_name(name: &[u8]) -> Option<usize> {
    Some(match name {
        b":status" => 8,
        b"accept-ranges" => 18,
        b"allow" => 22,
        b"cache-control" => 24,
        b"content-encoding" => 26,
        b"content-length" => 28,
        b"content-range" => 30,
        b"content-type" => 31,
        b"date" => 33,
        b"etag" => 34,
        b"last-modified" => 44,
        b"location" => 46,
        b"server" => 54,
        b"strict-transport-security" => 56,
        b"vary" => 59,
        _ => return None,
    })
}

/// Appends a string literal, Huffman-coded when that is shorter.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    let coded = huffman::encoded_len(s);
    if coded < s.len() {
        write_int(out, 0x80, 7, coded);
        huffman::encode(s, out);
    } else {
        write_int(out, 0x00, 7, s.len());
        out.extend_from_slice(s);
    }
}

#[cfg(test)]
mod tests;
