//! An Answer's head as one HPACK block: a file's fields indexed, the rest literals (pure).
//!
//! An [`Answer`] framed for HTTP/2: its head as one HPACK block, its body
//! as the same chunk HTTP/1.x sends (DATA frames carry it).
//!
//! The fields are the answer's, as values: the status becomes `:status`,
//! names are lowercase, and nothing is said about the connection (RFC 9113
//! §8.2.2, §8.3.2). A cached file's fields come from its entry, and are
//! encoded once per entry into the entry's HTTP/2 slot.
//!
//! A cached file's 200 is what a connection asks for again and again, so
//! its fields go into the dynamic table (literals with incremental
//! indexing) and every later head for the same file in the same second is
//! a dozen bytes of indexes, remembered whole while the table stays as it
//! was ([`Heads`]). The client then decodes a few indexes instead of 140
//! bytes of literals: under h2load, whose core is the one that runs out,
//! that is what sets the requests a second, and it is what h2o does.
//! Every other answer (refusals, redirects, ranges, 304s, pages) is
//! literals without indexing, named by the static table where it can be:
//! they change no table.

use std::rc::Rc;

use crate::http::answer::{Answer, HeadField, decimal};
use crate::http::entry::{Entry, Field};
use crate::http::status::Status;
use crate::http::status::{SERVER, Secure};
use crate::http2::hpack::{self, Encoder, Indexing};

/// The dynamic table this server keeps for each connection's heads: the
/// size every peer allows until its SETTINGS say otherwise (RFC 9113
/// §6.5.2), so no size update is owed unless a peer asks for less.
pub const TABLE: usize = 4096;

/// How one connection writes its response heads: the HPACK encoder with
/// its dynamic table, and the last file head written as indexes only.
#[derive(Debug)]
pub struct Heads {
    hpack: Encoder,
    memo: Option<Memo>,
}

/// A file head that is all indexes, and what it was made from: the same
/// entry (held, so its address cannot be reused), the same date, length
/// and HSTS, at the same table generation, make the same block.
#[derive(Debug)]
struct Memo {
    fields: Rc<[Field]>,
    date: Vec<u8>,
    len: u64,
    secure: bool,
    generation: u64,
    block: Vec<u8>,
}

impl Default for Heads {
    fn default() -> Self {
        Heads {
            hpack: Encoder::new(TABLE),
            memo: None,
        }
    }
}

impl Heads {
    /// The peer's SETTINGS_HEADER_TABLE_SIZE: its decoder holds at most
    /// this, so the table shrinks to it (with a size update in the next
    /// block, RFC 7541 §4.2) and never grows past [`TABLE`].
    pub fn peer_table_size(&mut self, size: u32) {
        let max = usize::try_from(size).unwrap_or(usize::MAX).min(TABLE);
        if max != self.hpack.max() {
            self.hpack.set_max(max);
        }
    }

    /// Gives back the table's memory when the connection is idle (see
    /// [`Encoder::forget`]); the next file head fills it again.
    pub fn give_back(&mut self) {
        self.memo = None;
        if !self.hpack.is_empty() {
            self.hpack.forget();
        }
    }

    /// Appends the HPACK block of `answer`'s head, as [`head_block`] says,
    /// with a cached file's 200 indexed.
    pub fn block(
        &mut self,
        answer: &Answer<'_>,
        date: &[u8],
        secure: Option<&Secure>,
        out: &mut Vec<u8>,
    ) {
        self.hpack.begin(out);
        match answer {
            Answer::File { entry, range: None } => {
                self.file(entry, answer.body_len(), date, secure, out)
            }
            _ => head_block(answer, date, secure, out),
        }
    }

    /// A cached file's 200: indexes when the memo says so, else each field
    /// with incremental indexing (an index where the table has it already).
    fn file(
        &mut self,
        entry: &Entry,
        len: u64,
        date: &[u8],
        secure: Option<&Secure>,
        out: &mut Vec<u8>,
    ) {
        if let Some(m) = &self.memo
            && Rc::ptr_eq(&m.fields, &entry.fields)
            && m.generation == self.hpack.generation()
            && (m.len, m.secure) == (len, secure.is_some())
            && m.date == date
        {
            out.extend_from_slice(&m.block);
            return;
        }
        let (digits, used) = decimal(len);
        let length = &digits[..used];
        let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(12);
        fields.push((b"server", SERVER.as_bytes()));
        if !date.is_empty() {
            fields.push((b"date", date));
        }
        for (name, value) in secure.into_iter().flat_map(Secure::fields) {
            fields.push((name.as_bytes(), value));
        }
        fields.push((b"content-length", length));
        let names: Vec<[u8; NAME_MAX]> = entry.fields.iter().map(|f| lowercase(f.name)).collect();
        let own = entry.fields.iter().zip(&names);
        fields.extend(own.map(|(f, name)| (&name[..f.name.len()], &f.value[..])));
        write_status(out, Status::Ok);
        for &(name, value) in &fields {
            self.hpack.field(out, name, value, Indexing::Incremental);
        }
        // The same fields again are all in the table now, unless one of
        // them pushed another out: then there is nothing to remember.
        let mut block = Vec::with_capacity(16);
        write_status(&mut block, Status::Ok);
        for &(name, value) in &fields {
            match self.hpack.index_of(name, value) {
                Some(i) => hpack::write_int(&mut block, 0x80, 7, i),
                None => {
                    self.memo = None;
                    return;
                }
            }
        }
        self.memo = Some(Memo {
            fields: Rc::clone(&entry.fields),
            date: date.to_vec(),
            len,
            secure: secure.is_some(),
            generation: self.hpack.generation(),
            block,
        });
    }
}

/// Appends the HPACK block of `answer`'s head; `date` is this second's
/// HTTP-date (empty: no clock, no `date` field), `secure` the fields of
/// `Strict-Transport-Security` when HTTPS responses carry one.
pub fn head_block(answer: &Answer<'_>, date: &[u8], secure: Option<&Secure>, out: &mut Vec<u8>) {
    write_status(out, answer.status());
    answer.each_field(date, secure, |f| match f {
        HeadField::Pair(name, value) => literal(out, name.as_bytes(), value),
        HeadField::Own(f) => field(out, f),
        HeadField::Entry(entry) => out.extend_from_slice(entry_fields(entry)),
    });
}

/// `:status`: an index when the static table has the code (§A).
fn write_status(out: &mut Vec<u8>, status: Status) {
    let code = status.code();
    let index = match code {
        200 => 8,
        204 => 9,
        206 => 10,
        304 => 11,
        400 => 12,
        404 => 13,
        500 => 14,
        _ => 0,
    };
    if index > 0 {
        hpack::write_int(out, 0x80, 7, index);
    } else {
        literal(out, b":status", &decimal(u64::from(code)).0[..3]);
    }
}

/// A literal without indexing (§6.2.2), its name by static index when the
/// table has it, the value as it is.
fn literal(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    match hpack::static_name(name) {
        Some(i) => hpack::write_int(out, 0x00, 4, i),
        None => {
            hpack::write_int(out, 0x00, 4, 0);
            hpack::write_raw_string(out, name);
        }
    }
    hpack::write_raw_string(out, value);
}

/// A cached file's own fields as literals, encoded once per entry and
/// kept in its HTTP/2 slot.
fn entry_fields(entry: &Entry) -> &[u8] {
    entry.rendered.h2.get_or_init(|| {
        let mut block = Vec::new();
        for f in entry.fields.iter() {
            field(&mut block, f);
        }
        block.into_boxed_slice()
    })
}

/// The longest field name a cached entry has (`Content-Encoding`), with
/// room to spare.
const NAME_MAX: usize = 32;

/// A field name lowercased, as HTTP/2 sends names (RFC 9113 §8.2.1).
fn lowercase(name: &str) -> [u8; NAME_MAX] {
    let mut lower = [0u8; NAME_MAX];
    for (l, b) in lower.iter_mut().zip(name.bytes()) {
        *l = b.to_ascii_lowercase();
    }
    lower
}

/// One of an entry's fields as a literal without indexing.
fn field(out: &mut Vec<u8>, f: &Field) {
    let name = lowercase(f.name);
    literal(out, &name[..f.name.len().min(NAME_MAX)], &f.value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::answer::{Ask, Routes, decide};
    use crate::http::fields::Fields;
    use crate::http::files::Files;
    use crate::http::status::{ALLOW, Refusal};
    use crate::http2::hpack::Decoder;
    use crate::metrics::Metrics;

    const DATE: &[u8] = b"Sun, 09 Sep 2001 01:46:40 GMT";

    /// HTTPS's fields: HSTS of a minute, and HTTP/3 on 443.
    fn secure() -> Secure {
        Secure {
            hsts: Some(b"max-age=60"[..].into()),
            alt_svc: Some(b"h3=\":443\"; ma=86400"[..].into()),
        }
    }

    fn fields_of(answer: &Answer<'_>) -> Vec<(String, String)> {
        let mut block = Vec::new();
        head_block(answer, DATE, Some(&secure()), &mut block);
        let mut got = Vec::new();
        Decoder::new(4096)
            .decode(&block, 1 << 16, |n, v| {
                let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                got.push((s(n), s(v)));
            })
            .expect("our own block decodes");
        got
    }

    fn get<'a>(f: &'a [(String, String)], name: &str) -> Option<&'a str> {
        f.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_answer_has_a_status_first_and_lowercase_names() {
        let now = 1_000_000_000;
        let mut files = Files::new(None, 1 << 20, 1 << 20).unwrap();
        let plain = Fields::default();
        let ask = Ask {
            method: "GET",
            target: b"/hello.txt",
            fields: &plain,
            body_too_large: false,
            secure: true,
            draining: false,
        };
        let answer = decide(
            &ask,
            &mut files,
            &Routes::default(),
            &Metrics::default(),
            now,
        );
        let f = fields_of(&answer);
        assert_eq!(f[0], (":status".into(), "200".into()));
        assert_eq!(get(&f, "content-length"), Some("6"));
        assert_eq!(get(&f, "content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(get(&f, "date"), Some("Sun, 09 Sep 2001 01:46:40 GMT"));
        assert!(get(&f, "etag").is_some_and(|t| t.starts_with('"')));
        assert_eq!(get(&f, "accept-ranges"), Some("bytes"));
        assert_eq!(get(&f, "strict-transport-security"), Some("max-age=60"));
        assert_eq!(get(&f, "alt-svc"), Some("h3=\":443\"; ma=86400"));
        for (n, _) in &f {
            assert_eq!(n, &n.to_ascii_lowercase());
            assert!(n != "connection");
        }
        let cases: Vec<(Answer<'_>, &str, &str, &str)> = vec![
            (
                Answer::Refused(Refusal::NotFound),
                "404",
                "content-length",
                &*Refusal::NotFound.message().len().to_string().leak(),
            ),
            (
                Answer::Refused(Refusal::MethodNotAllowed),
                "405",
                "allow",
                ALLOW,
            ),
            (Answer::Options, "204", "allow", ALLOW),
            (
                Answer::Unsatisfiable { len: 6 },
                "416",
                "content-range",
                "bytes */6",
            ),
            (
                Answer::Redirect {
                    status: Status::MovedPermanently,
                    message: "m",
                    location: b"/d/".to_vec(),
                },
                "301",
                "location",
                "/d/",
            ),
        ];
        for (answer, status, name, value) in cases {
            let f = fields_of(&answer);
            assert_eq!(f[0].1, status);
            assert_eq!(get(&f, name), Some(value), "{status}");
        }
    }

    /// Decodes `block` as a client does, with its table from block to block.
    fn decode(client: &mut Decoder, block: &[u8]) -> Vec<(String, String)> {
        let mut got = Vec::new();
        client
            .decode(block, 1 << 16, |n, v| {
                let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                got.push((s(n), s(v)));
            })
            .expect("a block the client's table can read");
        got
    }

    fn embedded<'f>(target: &[u8], files: &'f mut Files) -> Answer<'f> {
        let plain = Box::leak(Box::new(Fields::default()));
        let ask = Ask {
            method: "GET",
            target,
            fields: plain,
            body_too_large: false,
            secure: false,
            draining: false,
        };
        decide(
            &ask,
            files,
            &Routes::default(),
            &Metrics::default(),
            1_000_000_000,
        )
    }

    #[test]
    fn a_file_asked_again_is_a_dozen_bytes_of_indexes_that_decode_the_same() {
        let mut files = Files::new(None, 1 << 20, 1 << 20).unwrap();
        let answer = embedded(b"/hello.txt", &mut files);
        let mut heads = Heads::default();
        let mut client = Decoder::new(TABLE);
        let mut first = Vec::new();
        heads.block(&answer, DATE, None, &mut first);
        let mut second = Vec::new();
        heads.block(&answer, DATE, None, &mut second);
        let (a, b) = (decode(&mut client, &first), decode(&mut client, &second));
        assert_eq!(a, b);
        assert_eq!(a, fields_of_without_hsts(&answer));
        assert!(second.len() <= 12, "{} bytes: {second:x?}", second.len());
        assert!(
            second.iter().all(|&b| b & 0x80 != 0),
            "indexes only: {second:x?}"
        );
        // A new second: the date is new, the rest still indexes.
        let later = b"Sun, 09 Sep 2001 01:46:41 GMT";
        let mut third = Vec::new();
        heads.block(&answer, later, None, &mut third);
        let c = decode(&mut client, &third);
        assert_eq!(
            c.iter().find(|(n, _)| n == "date").unwrap().1.as_bytes(),
            later
        );
        assert!(third.len() < 50, "{} bytes", third.len());
    }

    /// What the literal way says, for comparison (no HSTS).
    fn fields_of_without_hsts(answer: &Answer<'_>) -> Vec<(String, String)> {
        let mut block = Vec::new();
        head_block(answer, DATE, None, &mut block);
        decode(&mut Decoder::new(4096), &block)
    }

    #[test]
    fn a_client_table_of_any_size_reads_every_head_as_the_literal_way_says() {
        // A seeded mix of files, refusals, seconds, HSTS and table sizes
        // (down to none, and small enough to evict a file's own fields),
        // each block read by a client that keeps its table between them.
        let mut files = Files::new(None, 1 << 20, 1 << 20).unwrap();
        let mut rng = crate::fixture::Rng::new(7541);
        for round in 0..40 {
            let size = [0u32, 64, 200, 500, 4096, 65_536][round % 6];
            let mut heads = Heads::default();
            let mut client = Decoder::new(size.min(TABLE as u32) as usize);
            heads.peer_table_size(size);
            for _ in 0..200 {
                let target: &[u8] = [&b"/hello.txt"[..], b"/", b"/missing"][rng.below(3) as usize];
                let second = 40 + rng.below(3);
                let date = format!("Sun, 09 Sep 2001 01:46:{second} GMT");
                let https = secure();
                let hsts = [None, Some(&https)][rng.below(2) as usize];
                let answer = embedded(target, &mut files);
                if rng.below(20) == 0 {
                    heads.give_back(); // an idle second: both tables emptied
                }
                let mut block = Vec::new();
                heads.block(&answer, date.as_bytes(), hsts, &mut block);
                let mut literal = Vec::new();
                head_block(&answer, date.as_bytes(), hsts, &mut literal);
                let want = decode(&mut Decoder::new(4096), &literal);
                assert_eq!(decode(&mut client, &block), want, "table {size}");
                assert!(client.table().size() <= size as usize);
            }
        }
    }

    #[test]
    fn an_idle_connection_gives_its_table_back_and_the_client_empties_its_own() {
        let mut files = Files::new(None, 1 << 20, 1 << 20).unwrap();
        let answer = embedded(b"/hello.txt", &mut files);
        let mut heads = Heads::default();
        let mut client = Decoder::new(TABLE);
        let mut block = Vec::new();
        heads.block(&answer, DATE, None, &mut block);
        let want = decode(&mut client, &block);
        assert!(client.table().len() >= 5);
        heads.give_back();
        assert!(heads.hpack.is_empty());
        block.clear();
        heads.block(&answer, DATE, None, &mut block);
        // A size update to 0 and one back to 4,096 first, then the fields
        // again as literals with indexing.
        assert_eq!(&block[..4], &[0x20, 0x3f, 0xe1, 0x1f]);
        assert_eq!(decode(&mut client, &block), want);
        let mut again = Vec::new();
        heads.block(&answer, DATE, None, &mut again);
        assert!(again.len() <= 12);
        assert_eq!(decode(&mut client, &again), want);
        // Resting with nothing in the table owes the client nothing.
        let mut fresh = Heads::default();
        fresh.give_back();
        let mut first = Vec::new();
        fresh.block(&Answer::Options, DATE, None, &mut first);
        assert_eq!(first[0] & 0xe0, 0x80, "no size update: {first:x?}");
    }
}
