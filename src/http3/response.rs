//! An Answer's head as one QPACK field section: the static table's indexes where it has a field, literals otherwise (pure).
//!
//! An [`Answer`] framed for HTTP/3: its head as one HEADERS frame, its
//! body as DATA (RFC 9114 §4.1). The fields are the answer's, as HTTP/2
//! sends them ([`Answer::each_field`]): the status becomes `:status`,
//! names are lowercase, nothing is said about the connection. A cached
//! file's own fields are encoded once per entry into its HTTP/3 slot, so
//! a head for a file already served is the status, three fields and a
//! copy. And a connection that asks for the same file again within the
//! second gets the last HEADERS frame again ([`Heads`]), as HTTP/2's
//! does.

use std::rc::Rc;

use crate::http::answer::{Answer, HeadField};
use crate::http::entry::{Entry, Field};
use crate::http::status::Secure;
use crate::http3::frame::{self, kind};
use crate::http3::qpack;

/// The last cached file's 200 HEADERS frame, and what made it.
#[derive(Debug, Default)]
pub struct Heads {
    memo: Option<Memo>,
}

#[derive(Debug)]
struct Memo {
    fields: Rc<[Field]>,
    len: u64,
    date: Vec<u8>,
    secure: bool,
    frame: Vec<u8>,
}

impl Heads {
    /// Appends the HEADERS frame of `answer`'s head, as [`headers`] does;
    /// a cached file's 200 for the same entry, length, second and HSTS as
    /// the last is that frame again.
    pub fn headers(
        &mut self,
        answer: &Answer<'_>,
        date: &[u8],
        secure: Option<&Secure>,
        block: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        let Answer::File { entry, range: None } = answer else {
            return headers(answer, date, secure, block, out);
        };
        if let Some(m) = &self.memo
            && Rc::ptr_eq(&m.fields, &entry.fields)
            && (m.len, m.secure) == (entry.len, secure.is_some())
            && m.date == date
        {
            out.extend_from_slice(&m.frame);
            return;
        }
        let start = out.len();
        headers(answer, date, secure, block, out);
        let memo = self.memo.get_or_insert_with(|| Memo {
            fields: Rc::clone(&entry.fields),
            len: 0,
            date: Vec::new(),
            secure: false,
            frame: Vec::new(),
        });
        memo.fields = Rc::clone(&entry.fields);
        (memo.len, memo.secure) = (entry.len, secure.is_some());
        memo.date.clear();
        memo.date.extend_from_slice(date);
        memo.frame.clear();
        memo.frame.extend_from_slice(&out[start..]);
    }
}

/// Appends the HEADERS frame of `answer`'s head; `date` is this second's
/// HTTP-date (empty: none), `secure` the fields HTTPS answers carry. `block` is scratch room, kept by the caller.
pub fn headers(
    answer: &Answer<'_>,
    date: &[u8],
    secure: Option<&Secure>,
    block: &mut Vec<u8>,
    out: &mut Vec<u8>,
) {
    block.clear();
    qpack::begin(block);
    qpack::status(block, answer.status().code());
    answer.each_field(date, secure, |f| match f {
        HeadField::Pair(name, value) => qpack::field(block, name.as_bytes(), value),
        HeadField::Own(f) => own(block, f),
        HeadField::Entry(entry) => block.extend_from_slice(entry_fields(entry)),
    });
    frame::write_head(out, kind::HEADERS, block.len() as u64);
    out.extend_from_slice(block);
}

/// A cached file's own fields as QPACK field lines, encoded once per
/// entry and kept in its HTTP/3 slot.
fn entry_fields(entry: &Entry) -> &[u8] {
    entry.rendered.h3.get_or_init(|| {
        let mut lines = Vec::new();
        for f in entry.fields.iter() {
            own(&mut lines, f);
        }
        lines.into_boxed_slice()
    })
}

/// One of an entry's fields, its name lowercased as HTTP/3 sends names
/// (RFC 9114 §4.2).
fn own(out: &mut Vec<u8>, f: &Field) {
    let name = f.name.to_ascii_lowercase();
    qpack::field(out, name.as_bytes(), &f.value);
}
