//! Resolution: from a decoded, root-relative path to a file on disk.
//!
//! [`super::path::normalize`] has already made sure no spelling of the
//! target leaves the root. Symlinks are the other way out: the file found
//! is canonicalized, and its real path must still be under the root, or
//! the answer is 403. Directories serve their `index.html`; devices, FIFOs
//! and sockets are never served. Pre-compressed siblings (`file.br`,
//! `file.gz`) are found here too, under the same rule.
//!
//! Every function here makes filesystem calls (`stat`, `realpath`); they
//! run on a cache miss or a once-a-second revalidation, never per request.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::http::status::Refusal;

/// What a lookup found: one outcome type for every step of it, from the
/// disk (a path and its metadata) up to the cache (a cached resource).
#[derive(Debug)]
pub enum Lookup<T> {
    /// A regular file.
    File(T),
    /// A directory named without its trailing slash: the answer is a
    /// redirect to the name with the slash.
    Directory,
    /// A directory named with its slash and holding no `index.html`: its
    /// path (listed with `--list-dirs`, 404 otherwise). Boxed: the lookup
    /// of every request carries this type, and a path inline would double
    /// its size.
    Listing(Box<Path>),
    /// An error to answer.
    Refused(Refusal),
}

/// The canonical form of the document root, which must be a directory.
pub fn open_root(root: &Path) -> io::Result<PathBuf> {
    let canonical = fs::canonicalize(root)
        .map_err(|e| io::Error::new(e.kind(), format!("document root {}: {e}", root.display())))?;
    if !canonical.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("document root {} is not a directory", root.display()),
        ));
    }
    Ok(canonical)
}

/// Finds `rel` under the canonical `root`: a regular file (a directory's
/// `index.html` when the target ended in `/`) whose real path is under the
/// root, or the reason to refuse.
pub fn on_disk(root: &Path, rel: &[u8], is_dir: bool) -> Lookup<(PathBuf, fs::Metadata)> {
    use std::os::unix::ffi::OsStrExt;
    let path = root.join(std::ffi::OsStr::from_bytes(rel));
    let (path, meta) = match stat(path, is_dir) {
        Lookup::File(found) => found,
        Lookup::Directory => return Lookup::Directory,
        Lookup::Listing(dir) => {
            // The directory itself must be under the root, as a file must.
            return match fs::canonicalize(&dir) {
                Ok(real) if real.starts_with(root) => Lookup::Listing(real.into_boxed_path()),
                Ok(_) => Lookup::Refused(Refusal::OutsideRoot),
                Err(_) => Lookup::Refused(Refusal::NotFound),
            };
        }
        Lookup::Refused(status) => return Lookup::Refused(status),
    };
    // Symlinks are followed by the kernel; the canonical path says where
    // they led, and it must still be under the root.
    match fs::canonicalize(&path) {
        Ok(real) if real.starts_with(root) => Lookup::File((path, meta)),
        Ok(_) => Lookup::Refused(Refusal::OutsideRoot),
        Err(_) => Lookup::Refused(Refusal::NotFound),
    }
}

/// Stats `path` (following symlinks): a regular file, a directory's
/// `index.html` when the target ended in `/`, or a reason to refuse.
fn stat(path: PathBuf, is_dir: bool) -> Lookup<(PathBuf, fs::Metadata)> {
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) => return Lookup::Refused(io_status(&e)),
    };
    if meta.is_dir() {
        if !is_dir {
            return Lookup::Directory;
        }
        let index = path.join("index.html");
        return match fs::metadata(&index) {
            Ok(meta) if meta.is_file() => Lookup::File((index, meta)),
            Ok(_) => Lookup::Refused(Refusal::NotFound),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Lookup::Listing(path.into_boxed_path())
            }
            Err(e) => Lookup::Refused(io_status(&e)),
        };
    }
    // "/file.txt/" names a directory that is a file: not found. Devices,
    // FIFOs and sockets are never served (a FIFO would block the loop).
    if is_dir || !meta.is_file() {
        return Lookup::Refused(Refusal::NotFound);
    }
    Lookup::File((path, meta))
}

/// The status for a failed `stat` or `open`.
pub fn io_status(e: &io::Error) -> Refusal {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Refusal::NoPermission,
        _ => Refusal::NotFound,
    }
}

/// `path` with `ext` appended to its file name.
pub fn sibling_path(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(ext);
    PathBuf::from(name)
}

/// `path` + `ext` if it is a regular file whose real path is under `root`.
/// A file that is itself compressed has no siblings.
pub fn sibling(root: &Path, path: &Path, ext: &str) -> Option<(PathBuf, fs::Metadata)> {
    if path.extension().is_some_and(|e| e == "br" || e == "gz") {
        return None;
    }
    let sibling = sibling_path(path, ext);
    let meta = fs::metadata(&sibling).ok().filter(fs::Metadata::is_file)?;
    let real = fs::canonicalize(&sibling).ok()?;
    real.starts_with(root).then_some((sibling, meta))
}
