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

use bytes::Bytes;

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
    /// Shared with every stream it was written to: a clone is a count.
    frame: Bytes,
}

impl Heads {
    /// The HEADERS frame of `answer`'s head, as [`headers`] writes it; a
    /// cached file's 200 for the same entry, length, second and HTTPS
    /// fields as the last is that frame again, shared.
    pub fn headers(
        &mut self,
        answer: &Answer<'_>,
        date: &[u8],
        secure: Option<&Secure>,
        block: &mut Vec<u8>,
    ) -> Bytes {
        let mut out = Vec::with_capacity(128);
        let Answer::File { entry, range: None } = answer else {
            headers(answer, date, secure, block, &mut out);
            return Bytes::from(out);
        };
        if let Some(m) = &self.memo
            && Rc::ptr_eq(&m.fields, &entry.fields)
            && (m.len, m.secure) == (entry.len, secure.is_some())
            && m.date == date
        {
            return m.frame.clone();
        }
        headers(answer, date, secure, block, &mut out);
        let frame = Bytes::from(out);
        let mut date_bytes = self.memo.take().map(|m| m.date).unwrap_or_default();
        date_bytes.clear();
        date_bytes.extend_from_slice(date);
        self.memo = Some(Memo {
            fields: Rc::clone(&entry.fields),
            len: entry.len,
            date: date_bytes,
            secure: secure.is_some(),
            frame: frame.clone(),
        });
        frame
    }
}

/// A cached file's whole DATA frame (its head and its body), made once
/// per entry and shared by every stream that sends it; `None` for a body
/// not in memory.
pub fn data_frame(entry: &Entry) -> Option<Bytes> {
    if let Some(frame) = entry.rendered.h3_data.get() {
        return Some(frame.clone());
    }
    let body = entry.chunk(0, entry.len);
    let bytes = body.bytes()?;
    let mut frame = Vec::with_capacity(bytes.len() + 9);
    frame::write_head(&mut frame, kind::DATA, entry.len);
    frame.extend_from_slice(bytes);
    Some(
        entry
            .rendered
            .h3_data
            .get_or_init(|| Bytes::from(frame))
            .clone(),
    )
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
