//! One cached representation of a file: its fields as values, its validators and body, and what each framing rendered of it.
//!
//! An [`Entry`] says what a file's answer carries in neutral terms: its
//! header fields as name and value ([`Field`]), which of them a 304
//! repeats, its entity tag and modification time, and its body. It knows
//! no framing. Each framing renders what it needs from it once and keeps
//! that with the entry, in the slot [`Rendered`] holds for it: HTTP/1.1
//! its head bytes (`crate::http1::heads`), HTTP/2 its fields as an HPACK
//! block (`crate::http2::response`). Nothing is parsed back: a framing
//! reads the fields, never another framing's bytes (as h2o's file handler
//! hands neutral headers to `flatten_headers` and to
//! `h2o_hpack_flatten_response`).

use std::cell::{OnceCell, RefCell};
use std::fs::File;
use std::rc::Rc;

use crate::http::conditional::Validators;
use crate::out::Chunk;

/// A file's body.
#[derive(Debug)]
pub enum Body {
    /// Part of the binary (the embedded site).
    Static(&'static [u8]),
    /// Read once into memory, shared by every response that sends it.
    Shared(Rc<[u8]>),
    /// Too large to keep in memory: kept open and sent with `sendfile`.
    Disk(Rc<File>),
}

/// One header field of a file's answer, as a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// As RFC 9110 registers it (`Content-Type`, `ETag`); a framing that
    /// wants it lowercase lowercases it.
    pub name: &'static str,
    /// The value, as sent.
    pub value: Box<[u8]>,
}

/// One representation of a file: its fields, validators and body, and what
/// the framings rendered of it.
#[derive(Debug)]
pub struct Entry {
    /// The representation's own fields, in order (`Content-Type`,
    /// `Content-Encoding`, `Accept-Ranges`, then the validators);
    /// `Server`, `Date` and `Content-Length` are the framing's to add.
    pub fields: Rc<[Field]>,
    /// `fields[validators..]` are what a 304 must repeat (RFC 9110
    /// §15.4.5): `ETag`, `Last-Modified`, `Cache-Control`, `Vary`.
    pub validators: usize,
    /// The strong entity tag, quotes included.
    pub etag: Box<[u8]>,
    /// Last modification, Unix seconds.
    pub modified: Option<u64>,
    /// The body.
    pub body: Body,
    /// Body length in bytes.
    pub len: u64,
    /// What each framing rendered of it, on first use.
    pub rendered: Rendered,
}

impl Entry {
    /// What a conditional request is compared with.
    pub fn validators(&self) -> Validators<'_> {
        Validators {
            etag: &self.etag,
            modified: self.modified,
        }
    }

    /// The fields a 304 repeats.
    pub fn not_modified_fields(&self) -> &[Field] {
        &self.fields[self.validators..]
    }

    /// Bytes `start..end` of the body as one chunk, without copying.
    pub fn chunk(&self, start: u64, end: u64) -> Chunk {
        match &self.body {
            Body::Static(bytes) => Chunk::Static(&bytes[start as usize..end as usize]),
            Body::Shared(bytes) => Chunk::Shared {
                buf: Rc::clone(bytes),
                start: start as usize,
                end: end as usize,
            },
            Body::Disk(file) => Chunk::File {
                file: Rc::clone(file),
                pos: start,
                end,
            },
        }
    }
}

/// The slots the framings keep their renderings of an entry in: bytes
/// only, each filled by the framing it is named for, the first time it
/// frames the entry.
#[derive(Debug, Default)]
pub struct Rendered {
    /// HTTP/1.1: the heads made from the fields (`crate::http1::heads`).
    pub h1: OnceCell<H1Heads>,
    /// HTTP/1.1: the whole 200 head with this second's Date line, per
    /// connection line and scheme (`crate::http1::heads`).
    pub h1_second: PerSecond<6>,
    /// HTTP/2: the fields as HPACK literals, the same on every connection
    /// (`crate::http2::response`).
    pub h2: OnceCell<Box<[u8]>>,
    /// HTTP/3: the fields as QPACK field lines (`crate::http3::response`).
    pub h3: OnceCell<Box<[u8]>>,
    /// HTTP/3: the whole DATA frame of a body in memory, shared by every
    /// stream that sends it (`crate::http3::response`).
    #[cfg(feature = "http3")]
    pub h3_data: OnceCell<bytes::Bytes>,
}

/// What HTTP/1.1 renders of an entry once.
#[derive(Debug)]
pub struct H1Heads {
    /// The 200 head up to its Date line: status line, `Server`,
    /// `Content-Length` and the fields.
    pub ok: Rc<[u8]>,
    /// The fields alone, each line ending in CRLF: a 206 head ends with
    /// them.
    pub fields: Rc<[u8]>,
    /// The 304 head up to its Date line.
    pub not_modified: Rc<[u8]>,
}

/// Bytes rendered at most once per Date line in each of `N` slots: keyed
/// by the identity of the Date line they were rendered with, which changes
/// exactly when the second does.
#[derive(Debug)]
pub struct PerSecond<const N: usize> {
    slots: RefCell<[Option<Dated>; N]>,
}

/// Rendered bytes, and the Date line they were rendered with.
type Dated = (Rc<[u8]>, Rc<[u8]>);

impl<const N: usize> Default for PerSecond<N> {
    fn default() -> Self {
        PerSecond {
            slots: RefCell::new([const { None }; N]),
        }
    }
}

impl<const N: usize> PerSecond<N> {
    /// Slot `slot`'s bytes for the Date line `date`, rendered by `render`
    /// when the slot holds none for it.
    pub fn get(&self, slot: usize, date: &Rc<[u8]>, render: impl FnOnce() -> Vec<u8>) -> Rc<[u8]> {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[slot];
        if let Some((at, bytes)) = slot.as_ref()
            && Rc::ptr_eq(at, date)
        {
            return Rc::clone(bytes);
        }
        let bytes: Rc<[u8]> = Rc::from(render());
        *slot = Some((Rc::clone(date), Rc::clone(&bytes)));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_rendered_per_second_follows_the_date_line() {
        let cache = PerSecond::<2>::default();
        let d1: Rc<[u8]> = Rc::from(&b"Date: one\r\n"[..]);
        let mut renders = 0;
        let mut render = |date: &[u8]| {
            renders += 1;
            [b"HTTP/1.1 200 OK\r\n", date].concat()
        };
        let a = cache.get(0, &d1, || render(&d1));
        assert_eq!(&a[..], b"HTTP/1.1 200 OK\r\nDate: one\r\n");
        let b = cache.get(0, &d1, || render(&d1));
        assert!(Rc::ptr_eq(&a, &b), "rendered once per Date line");
        let c = cache.get(1, &d1, || render(b"other slot"));
        assert!(c.ends_with(b"other slot"));
        // The same text in a new Date line is a new second: rendered again.
        let d2: Rc<[u8]> = Rc::from(&b"Date: one\r\n"[..]);
        let e = cache.get(0, &d2, || render(b"Date: two\r\n"));
        assert_eq!(&e[..], b"HTTP/1.1 200 OK\r\nDate: two\r\n");
        assert_eq!(renders, 3);
    }
}
