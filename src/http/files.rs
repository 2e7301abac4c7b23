//! Files: from a request target to a response body, safely and cheaply.
//!
//! Two jobs live here.
//!
//! **Resolution** ([`normalize`]): the target is percent-decoded segment by
//! segment into a path relative to the root. `.` and `..` are folded
//! lexically, and `..` above the root, an encoded `/`, a NUL, a backslash or
//! any control byte is a 400. The resolved file must then *be* under the
//! root once symlinks are followed (it is canonicalized and compared), or
//! the answer is 403: no spelling of a path and no symlink leads out.
//!
//! **The cache**: every file that was served keeps an [`Entry`] with its
//! response head rendered once (status line, `Server`, `Content-Type`,
//! `Content-Length`, `Last-Modified`). Small files also keep their body as
//! an `Rc<[u8]>` shared by every response that sends it; large ones keep an
//! open descriptor, shared the same way, that responses `sendfile` from. An entry is revalidated with
//! one `stat` at most once a second, so an edited file is served within a
//! second of the edit.

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use crate::http::date;
use crate::http::mime;
use crate::http::response::FullHeads;
use crate::http::status::Status;

/// The embedded site: (path relative to the root, bytes).
const EMBEDDED: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../site/index.html")),
    ("hello.txt", include_bytes!("../site/hello.txt")),
];

/// Most files the cache remembers (each large one holds a descriptor open).
pub const CACHE_ENTRIES_MAX: usize = 4096;

/// The server's name in the `Server` header.
pub const SERVER: &str = concat!("oneloop/", env!("CARGO_PKG_VERSION"));

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

/// A servable file: its rendered head and its body.
#[derive(Debug)]
pub struct Entry {
    /// `HTTP/1.1 200 OK` and the file's own header fields, each ending in
    /// CRLF; the `Date` and `Connection` lines and the blank line follow.
    pub head: Rc<[u8]>,
    /// The body.
    pub body: Body,
    /// Body length in bytes.
    pub len: u64,
    /// The whole head, with Date and connection lines, for this second.
    pub full: FullHeads,
}

/// What a target resolves to.
#[derive(Debug)]
pub enum Found<'a> {
    /// A file to send.
    File(&'a Entry),
    /// A directory named without its trailing slash: redirect here.
    Redirect(Vec<u8>),
    /// An error to answer.
    Error(Status),
}

/// FNV-1a, the cache's hasher. Its keys are paths of files that exist (a
/// miss is never cached) and their number is capped, so no client can fill
/// the table with colliding keys; SipHash's protection would cost a few
/// percent of a pipelined request for nothing.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Identity of a file on disk, to notice that it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Ident {
    fn of(meta: &fs::Metadata) -> Ident {
        Ident {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

#[derive(Debug)]
struct Cached {
    entry: Entry,
    /// The path that was stat'ed (the request's path under the root,
    /// symlinks not resolved, so a re-pointed symlink is noticed).
    path: PathBuf,
    ident: Ident,
    /// Unix second of the last `stat`.
    checked: u64,
}

/// The document root (or the embedded site) and the cache of its files.
#[derive(Debug)]
pub struct Files {
    /// Canonical root; `None` for the embedded site.
    root: Option<PathBuf>,
    embedded: Vec<(&'static str, Entry)>,
    cache: HashMap<Box<[u8]>, Cached, BuildHasherDefault<Fnv>>,
    cached_bytes: u64,
    file_max: u64,
    total_max: u64,
    /// Scratch for the decoded path, reused by every lookup.
    scratch: Vec<u8>,
    /// Serve names starting with a dot (see [`Files::serve_dotfiles`]).
    dotfiles: bool,
}

impl Files {
    /// Serves `root` (canonicalized here, so it must exist), or the embedded
    /// site when `root` is `None`. `now` dates the embedded files.
    pub fn new(
        root: Option<&Path>,
        file_max: u64,
        total_max: u64,
        now: SystemTime,
    ) -> io::Result<Files> {
        let root = match root {
            Some(r) => {
                let canonical = fs::canonicalize(r).map_err(|e| {
                    io::Error::new(e.kind(), format!("document root {}: {e}", r.display()))
                })?;
                if !canonical.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("document root {} is not a directory", r.display()),
                    ));
                }
                Some(canonical)
            }
            None => None,
        };
        let started = date::unix_seconds(now);
        let embedded = EMBEDDED
            .iter()
            .map(|&(name, bytes)| {
                let entry = Entry {
                    head: render_head(name.as_bytes(), bytes.len() as u64, started),
                    body: Body::Static(bytes),
                    len: bytes.len() as u64,
                    full: FullHeads::default(),
                };
                (name, entry)
            })
            .collect();
        Ok(Files {
            root,
            embedded,
            cache: HashMap::default(),
            cached_bytes: 0,
            file_max,
            total_max,
            scratch: Vec::new(),
            dotfiles: false,
        })
    }

    /// Whether names starting with a dot (`.git`, `.env`, `.htpasswd`) are
    /// served. Off by default: such files are almost never meant for the
    /// public. `.well-known` (RFC 8615) is served either way.
    pub fn serve_dotfiles(&mut self, yes: bool) {
        self.dotfiles = yes;
    }

    /// Resolves a request target (origin form) at Unix second `now`.
    pub fn lookup(&mut self, target: &[u8], now: u64) -> Found<'_> {
        // The decoded path is built in a buffer reused by every lookup, and
        // it is the cache key: a hit allocates nothing.
        let mut key = std::mem::take(&mut self.scratch);
        let located = self.locate(target, &mut key, now);
        self.scratch = key;
        match located {
            Located::Embedded(i) => Found::File(&self.embedded[i].1),
            Located::Cached => match self.cache.get(&self.scratch[..]) {
                Some(c) => Found::File(&c.entry),
                None => Found::Error(Status::NotFound),
            },
            Located::Redirect => Found::Redirect(redirect_location(target)),
            Located::Error(status) => Found::Error(status),
        }
    }

    /// Fills `key` with the normalized path (with a trailing `/` for a
    /// directory form, so "/a" and "/a/" are told apart) and finds it.
    fn locate(&mut self, target: &[u8], key: &mut Vec<u8>, now: u64) -> Located {
        let is_dir = match normalize(target, key) {
            Ok(is_dir) => is_dir,
            Err(status) => return Located::Error(status),
        };
        let rel_len = key.len();
        if !self.dotfiles && has_hidden_segment(key) {
            return Located::Error(Status::NotFound);
        }
        if self.root.is_none() {
            return self.locate_embedded(&key[..], is_dir);
        }
        if is_dir {
            key.push(b'/');
        }
        if self.revalidate(key, now) {
            return Located::Cached;
        }
        // A miss: from here on allocating is fine, it happens once per file.
        let Some(root) = self.root.clone() else {
            return Located::Error(Status::NotFound);
        };
        let path = root.join(std::ffi::OsStr::from_bytes(&key[..rel_len]));
        let (path, meta) = match resolve(path, is_dir) {
            Ok(Resolved::File(path, meta)) => (path, meta),
            Ok(Resolved::Directory) => return Located::Redirect,
            Err(status) => return Located::Error(status),
        };
        // Symlinks are followed by the kernel; the canonical path says where
        // they led, and it must still be under the root.
        match fs::canonicalize(&path) {
            Ok(real) if real.starts_with(&root) => {}
            Ok(_) => return Located::Error(Status::Forbidden),
            Err(_) => return Located::Error(Status::NotFound),
        }
        let entry = match self.load(&path, &meta) {
            Ok(entry) => entry,
            Err(e) => {
                log::warn!("read {}: {e}", path.display());
                return Located::Error(match e.kind() {
                    io::ErrorKind::NotFound => Status::NotFound,
                    io::ErrorKind::PermissionDenied => Status::Forbidden,
                    _ => Status::InternalServerError,
                });
            }
        };
        let size = cached_size(&entry);
        if self.cached_bytes + size > self.total_max || self.cache.len() >= CACHE_ENTRIES_MAX {
            // The cache is full: drop it all rather than track recency. The
            // next requests refill it with what is actually being asked for.
            self.cache.clear();
            self.cached_bytes = 0;
        }
        self.cached_bytes += size;
        let cached = Cached {
            entry,
            path,
            ident: Ident::of(&meta),
            checked: now,
        };
        self.cache.insert(key.clone().into_boxed_slice(), cached);
        Located::Cached
    }

    fn locate_embedded(&self, rel: &[u8], is_dir: bool) -> Located {
        if rel.is_empty() && !is_dir {
            return Located::Redirect; // only "/" itself; unreachable for origin form
        }
        let name: &[u8] = if rel.is_empty() { b"index.html" } else { rel };
        match self.embedded.iter().position(|(n, _)| n.as_bytes() == name) {
            Some(i) if !is_dir || rel.is_empty() => Located::Embedded(i),
            _ => Located::Error(Status::NotFound),
        }
    }

    /// Whether `key` is cached and still the file on disk: one `stat` at
    /// most once a second. A stale entry is dropped.
    fn revalidate(&mut self, key: &[u8], now: u64) -> bool {
        let Some(c) = self.cache.get_mut(key) else {
            return false;
        };
        if c.checked == now {
            return true;
        }
        if matches!(fs::metadata(&c.path), Ok(meta) if Ident::of(&meta) == c.ident) {
            c.checked = now;
            return true;
        }
        if let Some(stale) = self.cache.remove(key) {
            self.cached_bytes -= cached_size(&stale.entry);
        }
        false
    }

    /// Reads a file into an entry: its body in memory when small enough.
    fn load(&self, path: &Path, meta: &fs::Metadata) -> io::Result<Entry> {
        let len = meta.len();
        let name = path.file_name().map_or(&b""[..], |n| n.as_bytes());
        let modified = meta.modified().ok().and_then(date::unix_seconds);
        let body = if len <= self.file_max {
            let mut bytes = Vec::with_capacity(len as usize);
            File::open(path)?.take(len).read_to_end(&mut bytes)?;
            if bytes.len() as u64 != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file changed while read",
                ));
            }
            Body::Shared(Rc::from(bytes))
        } else {
            Body::Disk(Rc::new(File::open(path)?))
        };
        Ok(Entry {
            head: render_head(name, len, modified),
            body,
            len,
            full: FullHeads::default(),
        })
    }
}

/// Memory an entry holds in the cache (bodies only; heads are small).
fn cached_size(entry: &Entry) -> u64 {
    match entry.body {
        Body::Shared(_) => entry.len,
        Body::Static(_) | Body::Disk(_) => 0,
    }
}

/// Where [`Files::locate`] found a target.
enum Located {
    /// `embedded[i]`.
    Embedded(usize),
    /// In the cache under the lookup's key.
    Cached,
    /// A directory without its trailing slash.
    Redirect,
    /// Refused or missing.
    Error(Status),
}

enum Resolved {
    File(PathBuf, fs::Metadata),
    Directory,
}

/// Stats `path` (following symlinks): a regular file, a directory's
/// `index.html` when the target ended in `/`, or a reason to refuse.
fn resolve(path: PathBuf, is_dir: bool) -> Result<Resolved, Status> {
    let meta = fs::metadata(&path).map_err(|e| io_status(&e))?;
    if meta.is_dir() {
        if !is_dir {
            return Ok(Resolved::Directory);
        }
        let index = path.join("index.html");
        let meta = fs::metadata(&index).map_err(|e| io_status(&e))?;
        return if meta.is_file() {
            Ok(Resolved::File(index, meta))
        } else {
            Err(Status::NotFound)
        };
    }
    // "/file.txt/" names a directory that is a file: not found. Devices,
    // FIFOs and sockets are never served (a FIFO would block the loop).
    if is_dir || !meta.is_file() {
        return Err(Status::NotFound);
    }
    Ok(Resolved::File(path, meta))
}

fn io_status(e: &io::Error) -> Status {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Status::Forbidden,
        _ => Status::NotFound,
    }
}

/// `Location` for a directory named without its slash: the target's path
/// with `/` appended, its query kept.
fn redirect_location(target: &[u8]) -> Vec<u8> {
    let path_end = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let mut location = Vec::with_capacity(target.len() + 1);
    location.extend_from_slice(&target[..path_end]);
    location.push(b'/');
    if target.get(path_end) == Some(&b'?') {
        let query_end = target
            .iter()
            .position(|&b| b == b'#')
            .unwrap_or(target.len());
        location.extend_from_slice(&target[path_end..query_end]);
    }
    location
}

/// Renders the part of a 200 response head that belongs to the file.
fn render_head(name: &[u8], len: u64, modified: Option<u64>) -> Rc<[u8]> {
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nServer: {SERVER}\r\nContent-Type: {}\r\nContent-Length: {len}\r\n",
        mime::for_name(name)
    );
    if let Some(m) = modified {
        head.push_str("Last-Modified: ");
        head.push_str(&date::format(m));
        head.push_str("\r\n");
    }
    Rc::from(head.into_bytes())
}

/// Decodes an origin-form target's path into `out` as a root-relative path
/// with `.` and `..` folded and no leading or trailing slash. Returns whether
/// the target names a directory (it ends in `/`, `/.` or `/..`). Refuses,
/// with 400, anything that could name a file outside the root or that no
/// honest client sends: `..` above the root, `%2F`, NUL, `\`, controls,
/// bad percent escapes.
pub fn normalize(target: &[u8], out: &mut Vec<u8>) -> Result<bool, Status> {
    out.clear();
    let path_end = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let Some(path) = target[..path_end].strip_prefix(b"/") else {
        return Err(Status::BadRequest);
    };
    let mut is_dir = true;
    for raw in path.split(|&b| b == b'/') {
        let start = out.len();
        if start > 0 {
            out.push(b'/');
        }
        let seg_start = out.len();
        decode_segment(raw, out)?;
        let segment = &out[seg_start..];
        is_dir = matches!(segment, b"" | b"." | b"..");
        match segment {
            b"" | b"." => out.truncate(start),
            b".." => {
                out.truncate(start);
                if out.is_empty() && start == 0 {
                    return Err(Status::BadRequest); // above the root
                }
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
            }
            _ => {}
        }
    }
    Ok(is_dir)
}

/// Whether a normalized relative path has a segment starting with a dot,
/// other than `.well-known`.
fn has_hidden_segment(rel: &[u8]) -> bool {
    rel.split(|&b| b == b'/')
        .any(|seg| seg.first() == Some(&b'.') && seg != b".well-known")
}

/// Percent-decodes one path segment onto `out`.
fn decode_segment(raw: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or(Status::BadRequest)?;
                let hi = (hex[0] as char).to_digit(16).ok_or(Status::BadRequest)?;
                let lo = (hex[1] as char).to_digit(16).ok_or(Status::BadRequest)?;
                i += 3;
                (hi * 16 + lo) as u8
            }
            b => {
                i += 1;
                b
            }
        };
        if b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f {
            return Err(Status::BadRequest);
        }
        out.push(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        // (target, Ok((relative path, is_dir)) or Err(code))
        type Case = (&'static str, Result<(&'static str, bool), u16>);
        let cases: &[Case] = &[
            ("/", Ok(("", true))),
            ("/a", Ok(("a", false))),
            ("/a/", Ok(("a", true))),
            ("/a/b.txt?x=1#f", Ok(("a/b.txt", false))),
            ("//a///b", Ok(("a/b", false))),
            ("/a/./b", Ok(("a/b", false))),
            ("/a/../b", Ok(("b", false))),
            ("/a/b/..", Ok(("a", true))),
            ("/a/.", Ok(("a", true))),
            ("/a/b/../../c", Ok(("c", false))),
            ("/%61%62", Ok(("ab", false))),
            ("/sp%20ace", Ok(("sp ace", false))),
            ("/caf%C3%A9", Ok(("caf\u{e9}", false))),
            ("/%2e%2e/etc/passwd", Err(400)),
            ("/..", Err(400)),
            ("/a/../../etc/passwd", Err(400)),
            ("/a%2fb", Err(400)),
            ("/a%2F..%2F..%2Fetc", Err(400)),
            ("/a%00b", Err(400)),
            ("/a%5cb", Err(400)),
            ("/a\\b", Err(400)),
            ("/a%0ab", Err(400)),
            ("/a%", Err(400)),
            ("/a%zz", Err(400)),
            ("a", Err(400)),
            ("*", Err(400)),
        ];
        for &(target, want) in cases {
            let mut out = Vec::new();
            let got = normalize(target.as_bytes(), &mut out)
                .map(|d| (String::from_utf8_lossy(&out).into_owned(), d));
            let want = want.map(|(p, d)| (p.to_string(), d));
            assert_eq!(got.map_err(Status::code), want, "{target}");
        }
    }

    #[test]
    fn hidden_segments() {
        let cases: &[(&str, bool)] = &[
            ("a/b.txt", false),
            (".env", true),
            ("a/.git/config", true),
            (".well-known/acme-challenge/x", false),
            ("a/b.c/.d", true),
            ("", false),
        ];
        for &(rel, hidden) in cases {
            assert_eq!(has_hidden_segment(rel.as_bytes()), hidden, "{rel}");
        }
    }

    #[test]
    fn redirect_keeps_the_query() {
        assert_eq!(redirect_location(b"/dir"), b"/dir/");
        assert_eq!(redirect_location(b"/dir?a=1"), b"/dir/?a=1");
    }

    #[test]
    fn embedded_site() {
        let mut f = Files::new(None, 1 << 20, 1 << 20, SystemTime::UNIX_EPOCH).unwrap();
        match f.lookup(b"/hello.txt", 0) {
            Found::File(e) => {
                assert_eq!(e.len, 6);
                let head = String::from_utf8_lossy(&e.head).into_owned();
                assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
                assert!(
                    head.contains("Content-Type: text/plain; charset=utf-8\r\n"),
                    "{head}"
                );
                assert!(head.contains("Content-Length: 6\r\n"), "{head}");
                assert!(
                    head.contains("Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
                    "{head}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(f.lookup(b"/", 0), Found::File(e) if e.len > 100));
        assert!(matches!(f.lookup(b"/index.html", 0), Found::File(_)));
        assert!(matches!(
            f.lookup(b"/nope", 0),
            Found::Error(Status::NotFound)
        ));
        assert!(matches!(
            f.lookup(b"/hello.txt/", 0),
            Found::Error(Status::NotFound)
        ));
    }
}
