//! The file cache: from a request target to a response body, cheaply.
//!
//! Every file that was served keeps a [`Resource`]: an [`Entry`] for the
//! file and one for each pre-compressed sibling (`file.br`, `file.gz`)
//! found beside it. An entry has its response heads rendered once (200 and
//! 304; a 206 adds its range to the same fields), its validators (a strong
//! `ETag` from size and modification time, and `Last-Modified`), and its
//! body: small files as an `Rc<[u8]>` shared by every response that sends
//! it, large ones as an open descriptor, shared the same way, that
//! responses `sendfile` from. A resource is revalidated with one `stat` per
//! file at most once a second, so an edited file is served within a second
//! of the edit.
//!
//! Finding a file on disk, safely, is [`super::resolve`]'s job; a miss
//! here asks it, then reads the file (`open`, `read`): the only
//! filesystem calls a request can cause, once per file, not per request.

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::date;
use crate::http::entry::{Body, Entry, Field, Rendered};
use crate::http::mime;
use crate::http::negotiate::{self, Coding};
use crate::http::path::{has_hidden_segment, normalize};
use crate::http::resolve::{self, Lookup, sibling_path};
use crate::http::status::Refusal;
use crate::http::welcome;

/// The embedded site: (path relative to the root, bytes).
const EMBEDDED: &[(&str, &[u8])] = &[
    ("index.html", include_bytes!("../site/index.html")),
    ("hello.txt", include_bytes!("../site/hello.txt")),
];

/// When the embedded site's content last changed (2026-12-07T00:00:00Z):
/// its `Last-Modified`. A date of the content's, not of the process's
/// start, so a cache that revalidates with If-Modified-Since sees a change
/// only when there is one (the ETag already hashes the bytes). The test
/// `the_embedded_date_moves_with_the_content` fails when the files change
/// and this does not.
pub const EMBEDDED_MODIFIED: u64 = 1_796_601_600;

/// The longest target [`Files`] remembers as the last one found.
const LAST_MAX: usize = 256;

/// Most files the cache remembers (each large one holds a descriptor open).
pub const CACHE_ENTRIES_MAX: usize = 4096;

/// A servable file: the file itself and its pre-compressed siblings.
#[derive(Debug)]
pub struct Resource {
    /// The file as it is on disk.
    pub plain: Entry,
    /// `file.br`, when it exists beside the file.
    pub br: Option<Box<Entry>>,
    /// `file.gz`, when it exists beside the file.
    pub gzip: Option<Box<Entry>>,
}

impl Resource {
    /// The representation to send a client that sent `accept_encoding`.
    pub fn select(&self, accept_encoding: Option<&[u8]>) -> &Entry {
        let Some(accept) = accept_encoding else {
            return &self.plain;
        };
        match negotiate::choose(accept, self.br.is_some(), self.gzip.is_some()) {
            Coding::Br => self.br.as_deref().unwrap_or(&self.plain),
            Coding::Gzip => self.gzip.as_deref().unwrap_or(&self.plain),
            Coding::Identity => &self.plain,
        }
    }
}

/// FNV-1a, byte by byte: the embedded files' entity tags, computed once at
/// start-up from their content, so the same binary always gives the same tag.
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

/// The cache's hasher, eight bytes at a time (the rotate-xor-multiply of
/// Firefox's and rustc's FxHash). Its keys are paths of files that exist (a
/// miss is never cached) and their number is capped, so no client can fill
/// the table with colliding keys; SipHash's protection, or even FNV's byte
/// at a time, would cost a few percent of a pipelined request for nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct PathHash(u64);

impl PathHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for PathHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            // Zero padding cannot make two keys alike: `[u8]`'s `Hash`
            // writes the length first.
            let mut w = [0u8; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
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
    resource: Resource,
    /// The path that was stat'ed (the request's path under the root,
    /// symlinks not resolved, so a re-pointed symlink is noticed).
    path: PathBuf,
    ident: Ident,
    /// The siblings `path.br` and `path.gz` as they were when loaded
    /// (`None`: absent), so one appearing or changing is noticed too.
    siblings: [Option<Ident>; 2],
    /// Unix second of the last `stat`.
    checked: u64,
}

/// Sibling extensions, in the order of [`Cached::siblings`].
const SIBLINGS: [(&str, Coding); 2] = [(".br", Coding::Br), (".gz", Coding::Gzip)];

/// The document root (or the embedded site) and the cache of its files.
#[derive(Debug)]
pub struct Files {
    /// Canonical root; `None` for the embedded site.
    root: Option<PathBuf>,
    embedded: Vec<(&'static str, Resource)>,
    /// The embedded index page as rendered for the ports served
    /// ([`Files::set_ports`]); the template until then.
    index: Option<Rc<[u8]>>,
    /// Cached files by normalized path: the index finds a path's slot with
    /// one hash, and the slot is then read without hashing again. A slot
    /// emptied by a stale file stays empty until the cache is cleared.
    cache: HashMap<Box<[u8]>, usize, BuildHasherDefault<PathHash>>,
    slots: Vec<Option<Cached>>,
    cached_bytes: u64,
    file_max: u64,
    total_max: u64,
    /// Scratch for the decoded path, reused by every lookup.
    scratch: Vec<u8>,
    /// The target of the last lookup that found a file, as sent, and
    /// where: a keep-alive client asks for the same target again and
    /// again, and a plain target always means the same place (a slot is
    /// emptied, never given to another file, until the cache is cleared).
    last: (Vec<u8>, Option<Place>),
    /// Serve names starting with a dot (see [`Files::serve_dotfiles`]).
    dotfiles: bool,
    /// List directories without an `index.html` (`--list-dirs`).
    list_dirs: bool,
    /// The `Cache-Control` value file responses carry, if any.
    cache_control: Option<Box<str>>,
}

impl Files {
    /// Serves `root` (canonicalized here, so it must exist), or the embedded
    /// site when `root` is `None`.
    pub fn new(root: Option<&Path>, file_max: u64, total_max: u64) -> io::Result<Files> {
        let root = root.map(resolve::open_root).transpose()?;
        let mut files = Files {
            root,
            embedded: Vec::new(),
            index: None,
            cache: HashMap::default(),
            slots: Vec::new(),
            cached_bytes: 0,
            file_max,
            total_max,
            scratch: Vec::new(),
            last: (Vec::new(), None),
            dotfiles: false,
            list_dirs: false,
            cache_control: None,
        };
        files.render_embedded();
        Ok(files)
    }

    /// Renders the embedded site's entries. Their tags hash the content, so
    /// they stay the same across restarts of the same binary.
    fn render_embedded(&mut self) {
        self.last.1 = None;
        self.embedded = EMBEDDED
            .iter()
            .map(|&(name, bytes)| {
                let body = match (&self.index, name) {
                    (Some(page), "index.html") => Body::Shared(page.clone()),
                    _ => Body::Static(bytes),
                };
                let bytes: &[u8] = match &body {
                    Body::Shared(page) => page,
                    _ => bytes,
                };
                let mut hash = Fnv::default();
                hash.write(bytes);
                let etag = format!("\"{:x}-{:x}\"", hash.finish(), bytes.len());
                let meta = Meta {
                    name: name.as_bytes(),
                    coding: Coding::Identity,
                    etag,
                    modified: Some(EMBEDDED_MODIFIED),
                    cache_control: self.cache_control.as_deref(),
                    vary: false,
                };
                let len = bytes.len() as u64;
                let plain = meta.entry(body, len);
                let resource = Resource {
                    plain,
                    br: None,
                    gzip: None,
                };
                (name, resource)
            })
            .collect();
    }

    /// Renders the embedded index page for the ports served, so its
    /// commands name them (`welcome`).
    pub fn set_ports(&mut self, ports: &welcome::Ports) {
        let template = String::from_utf8_lossy(EMBEDDED[0].1);
        self.index = Some(Rc::from(welcome::render(&template, ports).into_bytes()));
        self.render_embedded();
    }

    /// Adds `Cache-Control: value` to every file response (200, 206, 304).
    pub fn set_cache_control(&mut self, value: Option<&str>) {
        self.cache_control = value.map(Box::from);
        self.clear();
        self.render_embedded();
    }

    /// Whether names starting with a dot (`.git`, `.env`, `.htpasswd`) are
    /// served. Off by default: such files are almost never meant for the
    /// public. `.well-known` (RFC 8615) is served either way.
    pub fn serve_dotfiles(&mut self, yes: bool) {
        self.dotfiles = yes;
    }

    /// Whether hidden names are served (and listed).
    pub fn dotfiles(&self) -> bool {
        self.dotfiles
    }

    /// Whether a directory without `index.html` is listed (`--list-dirs`;
    /// 404 by default, as nginx's `autoindex off`).
    pub fn list_dirs(&mut self, yes: bool) {
        self.list_dirs = yes;
    }

    /// Resolves a request target (origin form) at Unix second `now`.
    pub fn lookup(&mut self, target: &[u8], now: u64) -> Lookup<&Resource> {
        // The decoded path is built in a buffer reused by every lookup, and
        // it is the cache key: a hit allocates nothing.
        let mut key = std::mem::take(&mut self.scratch);
        let found = self.locate(target, &mut key, now);
        self.scratch = key;
        match found {
            Lookup::File(Place::Embedded(i)) => Lookup::File(&self.embedded[i].1),
            Lookup::File(Place::Cached(i)) => match &self.slots[i] {
                Some(c) => Lookup::File(&c.resource),
                None => Lookup::Refused(Refusal::NotFound),
            },
            Lookup::Directory => Lookup::Directory,
            Lookup::Listing(dir) => Lookup::Listing(dir),
            Lookup::Refused(status) => Lookup::Refused(status),
        }
    }

    /// Fills `key` with the normalized path (with a trailing `/` for a
    /// directory form, so "/a" and "/a/" are told apart) and finds it,
    /// loading it into the cache on a miss.
    fn locate(&mut self, target: &[u8], key: &mut Vec<u8>, now: u64) -> Lookup<Place> {
        if let Some(place) = self.recall(target, now) {
            return Lookup::File(place);
        }
        let mut plain = false;
        let found = self.locate_anew(target, key, now, &mut plain);
        // Only a plain target (nothing decoded or folded, not a
        // directory's) is remembered: its bytes alone name the file.
        self.last.1 = None;
        if let Lookup::File(place) = found
            && plain
            && target.len() <= LAST_MAX
        {
            self.last.0.clear();
            self.last.0.extend_from_slice(target);
            self.last.1 = Some(place);
        }
        found
    }

    /// Where the last target found is, if `target` is it and its file was
    /// checked this second (else the lookup checks it again).
    fn recall(&self, target: &[u8], now: u64) -> Option<Place> {
        let place = self.last.1?;
        if self.last.0 != target {
            return None;
        }
        match place {
            Place::Embedded(_) => Some(place),
            Place::Cached(i) => {
                let cached = self.slots.get(i)?.as_ref()?;
                (cached.checked == now).then_some(place)
            }
        }
    }

    /// [`Files::locate`] without the last target remembered; `plain`:
    /// the target was its own normalized form, not a directory's.
    fn locate_anew(
        &mut self,
        target: &[u8],
        key: &mut Vec<u8>,
        now: u64,
        plain: &mut bool,
    ) -> Lookup<Place> {
        let (is_dir, dotted) = match normalize(target, key) {
            Ok(n) => (n.is_dir, n.dotted),
            Err(status) => return Lookup::Refused(status),
        };
        *plain = !is_dir && !dotted;
        let rel_len = key.len();
        if !self.dotfiles && dotted && has_hidden_segment(key) {
            return Lookup::Refused(Refusal::NotFound);
        }
        if self.root.is_none() {
            return self.locate_embedded(&key[..], is_dir);
        }
        if is_dir {
            key.push(b'/');
        }
        if let Some(i) = self.revalidate(key, now) {
            return Lookup::File(Place::Cached(i));
        }
        // A miss: from here on allocating is fine, it happens once per file.
        let Some(root) = self.root.clone() else {
            return Lookup::Refused(Refusal::NotFound);
        };
        let root = root.as_path();
        let (path, meta) = match resolve::on_disk(root, &key[..rel_len], is_dir) {
            Lookup::File(found) => found,
            Lookup::Directory => return Lookup::Directory,
            Lookup::Listing(dir) if self.list_dirs => return Lookup::Listing(dir),
            Lookup::Listing(_) => return Lookup::Refused(Refusal::NotFound),
            Lookup::Refused(status) => return Lookup::Refused(status),
        };
        let siblings = SIBLINGS.map(|(ext, _)| resolve::sibling(root, &path, ext));
        let resource = match self.load(&path, &meta, &siblings, now) {
            Ok(resource) => resource,
            Err(e) => {
                log::warn!("read {}: {e}", path.display());
                return Lookup::Refused(match e.kind() {
                    io::ErrorKind::NotFound => Refusal::NotFound,
                    io::ErrorKind::PermissionDenied => Refusal::NoPermission,
                    _ => Refusal::ReadFailed,
                });
            }
        };
        let size = cached_size(&resource);
        if self.cached_bytes + size > self.total_max || self.slots.len() >= CACHE_ENTRIES_MAX {
            // The cache is full: drop it all rather than track recency. The
            // next requests refill it with what is actually being asked for.
            self.clear();
        }
        self.cached_bytes += size;
        let cached = Cached {
            resource,
            path,
            ident: Ident::of(&meta),
            siblings: siblings.map(|s| s.map(|(_, meta)| Ident::of(&meta))),
            checked: now,
        };
        self.slots.push(Some(cached));
        let i = self.slots.len() - 1;
        self.cache.insert(key.clone().into_boxed_slice(), i);
        Lookup::File(Place::Cached(i))
    }

    fn locate_embedded(&self, rel: &[u8], is_dir: bool) -> Lookup<Place> {
        if rel.is_empty() && !is_dir {
            return Lookup::Directory; // only "/" itself; unreachable for origin form
        }
        let name: &[u8] = if rel.is_empty() { b"index.html" } else { rel };
        match self.embedded.iter().position(|(n, _)| n.as_bytes() == name) {
            Some(i) if !is_dir || rel.is_empty() => Lookup::File(Place::Embedded(i)),
            _ => Lookup::Refused(Refusal::NotFound),
        }
    }

    /// Where `key` is cached, if it is and is still the file on disk: one
    /// `stat` at most once a second. A stale entry is dropped.
    fn revalidate(&mut self, key: &[u8], now: u64) -> Option<usize> {
        let &i = self.cache.get(key)?;
        let c = self.slots[i].as_mut()?;
        if c.checked == now {
            return Some(i);
        }
        let same = matches!(fs::metadata(&c.path), Ok(meta) if Ident::of(&meta) == c.ident)
            && SIBLINGS.iter().zip(&c.siblings).all(|(&(ext, _), was)| {
                let now = fs::metadata(sibling_path(&c.path, ext)).ok();
                now.filter(fs::Metadata::is_file).map(|m| Ident::of(&m)) == *was
            });
        if same {
            c.checked = now;
            return Some(i);
        }
        self.cache.remove(key);
        if let Some(stale) = self.slots[i].take() {
            self.cached_bytes -= cached_size(&stale.resource);
        }
        None
    }

    /// Drops every cached file.
    fn clear(&mut self) {
        self.last.1 = None;
        self.cache.clear();
        self.slots.clear();
        self.cached_bytes = 0;
    }

    /// Reads a file and its siblings into a resource.
    fn load(
        &self,
        path: &Path,
        meta: &fs::Metadata,
        siblings: &[Option<(PathBuf, fs::Metadata)>; 2],
        now: u64,
    ) -> io::Result<Resource> {
        let name = path.file_name().map_or(&b""[..], |n| n.as_bytes());
        let vary = siblings.iter().any(Option::is_some);
        let plain = self.load_entry(path, meta, name, Coding::Identity, vary, now)?;
        let mut encoded = [None, None];
        for ((slot, sibling), &(_, coding)) in encoded.iter_mut().zip(siblings).zip(&SIBLINGS) {
            if let Some((sibling, meta)) = sibling {
                let entry = self.load_entry(sibling, meta, name, coding, true, now)?;
                *slot = Some(Box::new(entry));
            }
        }
        let [br, gzip] = encoded;
        Ok(Resource { plain, br, gzip })
    }

    /// Reads one file into an entry: its body in memory when small enough.
    /// `name` gives the content type (a sibling has its original's).
    fn load_entry(
        &self,
        path: &Path,
        meta: &fs::Metadata,
        name: &[u8],
        coding: Coding,
        vary: bool,
        now: u64,
    ) -> io::Result<Entry> {
        let len = meta.len();
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
        let suffix = coding.token().map_or(String::new(), |t| format!("-{t}"));
        let etag = format!(
            "\"{:x}.{:x}-{len:x}{suffix}\"",
            meta.mtime(),
            meta.mtime_nsec()
        );
        // RFC 9110 §8.8.2.1: never later than the Date of the response.
        let modified = meta
            .modified()
            .ok()
            .and_then(date::unix_seconds)
            .map(|m| m.min(now));
        let meta = Meta {
            name,
            coding,
            etag,
            modified,
            cache_control: self.cache_control.as_deref(),
            vary,
        };
        Ok(meta.entry(body, len))
    }
}

/// Memory a resource holds in the cache (bodies only; heads are small).
fn cached_size(resource: &Resource) -> u64 {
    let size = |e: &Entry| match e.body {
        Body::Shared(_) => e.len,
        Body::Static(_) | Body::Disk(_) => 0,
    };
    let siblings = [&resource.br, &resource.gzip];
    size(&resource.plain)
        + siblings
            .iter()
            .filter_map(|s| s.as_deref())
            .map(size)
            .sum::<u64>()
}

/// Where [`Files::locate`] found a file.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// `embedded[i]`.
    Embedded(usize),
    /// `slots[i]`, found under the lookup's key.
    Cached(usize),
}

/// What a file's heads say about it.
struct Meta<'a> {
    /// The file name, for the content type.
    name: &'a [u8],
    coding: Coding,
    etag: String,
    modified: Option<u64>,
    cache_control: Option<&'a str>,
    /// Siblings exist, so the response depends on `Accept-Encoding`.
    vary: bool,
}

impl Meta<'_> {
    /// The file's fields, as values, and the entry.
    fn entry(self, body: Body, len: u64) -> Entry {
        let field = |name, value: &[u8]| Field {
            name,
            value: value.into(),
        };
        let mut fields = vec![field("Content-Type", mime::for_name(self.name).as_bytes())];
        if let Some(token) = self.coding.token() {
            fields.push(field("Content-Encoding", token.as_bytes()));
        }
        fields.push(field("Accept-Ranges", b"bytes"));
        // The validator fields: what a 304 must repeat (RFC 9110 §15.4.5).
        let validators = fields.len();
        fields.push(field("ETag", self.etag.as_bytes()));
        if let Some(m) = self.modified {
            fields.push(field("Last-Modified", date::format(m).as_bytes()));
        }
        if let Some(cc) = self.cache_control {
            fields.push(field("Cache-Control", cc.as_bytes()));
        }
        if self.vary {
            fields.push(field("Vary", b"Accept-Encoding"));
        }
        Entry {
            fields: fields.into(),
            validators,
            etag: self.etag.into_bytes().into_boxed_slice(),
            modified: self.modified,
            body,
            len,
            rendered: Rendered::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_date_moves_with_the_content() {
        let mut hash = Fnv::default();
        for (name, bytes) in EMBEDDED {
            hash.write(name.as_bytes());
            hash.write(bytes);
        }
        let now = format!("{:x}", hash.finish());
        assert_eq!(
            now, "f7754e576a18c926",
            "the embedded site changed: set EMBEDDED_MODIFIED to today and this hash to {now}"
        );
    }

    #[test]
    fn embedded_site() {
        let mut f = Files::new(None, 1 << 20, 1 << 20).unwrap();
        match f.lookup(b"/hello.txt", 0) {
            Lookup::File(r) => {
                let e = &r.plain;
                assert_eq!(e.len, 6);
                let field = |name: &str| {
                    let f = e.fields.iter().find(|f| f.name == name);
                    f.map(|f| String::from_utf8_lossy(&f.value).into_owned())
                };
                assert_eq!(
                    field("Content-Type").as_deref(),
                    Some("text/plain; charset=utf-8")
                );
                assert_eq!(field("Accept-Ranges").as_deref(), Some("bytes"));
                // The content's date, whenever the process started.
                assert_eq!(
                    field("Last-Modified").as_deref(),
                    Some("Mon, 07 Dec 2026 00:00:00 GMT")
                );
                let repeated: Vec<_> = e.not_modified_fields().iter().map(|f| f.name).collect();
                assert_eq!(repeated, ["ETag", "Last-Modified"], "what a 304 repeats");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(f.lookup(b"/", 0), Lookup::File(r) if r.plain.len > 100));
        assert!(matches!(f.lookup(b"/index.html", 0), Lookup::File(_)));
        assert!(matches!(
            f.lookup(b"/nope", 0),
            Lookup::Refused(Refusal::NotFound)
        ));
        assert!(matches!(
            f.lookup(b"/hello.txt/", 0),
            Lookup::Refused(Refusal::NotFound)
        ));
    }

    /// The last target found is remembered, and means its file only while
    /// the file is as checked this second: an edit shows the next second,
    /// a removal too, whichever target came between.
    #[test]
    fn the_last_target_found_follows_its_file_on_disk() {
        let dir = std::env::temp_dir().join(format!("oneloop-last-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("a.txt"), b"first").unwrap();
        fs::write(dir.join("b.txt"), b"bee").unwrap();
        let mut f = Files::new(Some(&dir), 1 << 20, 1 << 20).unwrap();
        let len = |f: &mut Files, target: &[u8], now| match f.lookup(target, now) {
            Lookup::File(r) => Some(r.plain.len),
            _ => None,
        };
        assert_eq!(len(&mut f, b"/a.txt", 10), Some(5));
        assert_eq!(len(&mut f, b"/a.txt", 10), Some(5));
        fs::write(dir.join("a.txt"), b"second!").unwrap();
        // Checked once a second: the same second still serves what it saw.
        assert_eq!(len(&mut f, b"/a.txt", 10), Some(5));
        assert_eq!(len(&mut f, b"/a.txt", 11), Some(7));
        assert_eq!(len(&mut f, b"/b.txt?x=1", 11), Some(3));
        assert_eq!(len(&mut f, b"/b.txt?x=1", 11), Some(3));
        assert_eq!(len(&mut f, b"/./a.txt", 11), Some(7));
        fs::remove_file(dir.join("a.txt")).unwrap();
        assert_eq!(len(&mut f, b"/a.txt", 11), Some(7));
        assert_eq!(len(&mut f, b"/a.txt", 12), None);
        assert_eq!(len(&mut f, b"/a.txt", 12), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
