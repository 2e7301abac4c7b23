//! The access log: one line per HTTP response in the Combined Log Format,
//!
//! ```text
//! 127.0.0.1 - - [25/Nov/2026:16:40:00 +0000] "GET /a.css HTTP/1.1" 200 1234 "http://x/" "curl/8.5"
//! ```
//!
//! the format of Apache's and nginx's default logs, which every log tool
//! already parses (`%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`).
//! `%b` is the body bytes of the response (`-` for none).
//!
//! Lines are appended to a buffer that is written out when it passes
//! [`FLUSH_AT`], once a second, and at shutdown: a busy second costs a few
//! `write`s, not one per request. SIGHUP reopens the file, so logrotate can
//! move it away. Writing a regular file does not block the way a socket
//! can; a failed write drops the buffered lines and says so once, and the
//! server goes on serving.
//!
//! The client's address comes from `accept`, kept per slab key in a table
//! that exists only when the log is on: connections cost nothing more when
//! it is off.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::PathBuf;

use crate::date;

/// Buffered bytes that trigger a write before the second is up.
pub const FLUSH_AT: usize = 32 * 1024;

/// Where lines go.
#[derive(Debug)]
enum Sink {
    /// Standard output (`--access-log -`), through a duplicate of its
    /// descriptor so writes bypass Rust's line-buffered `Stdout`.
    Stdout(File),
    /// A file opened for appending.
    File { path: PathBuf, file: File },
}

/// One response's facts, as the log line needs them.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The request head, or what arrived of it; its first line is logged.
    pub head: &'a [u8],
    /// The status code sent.
    pub status: u16,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// `Referer`.
    pub referer: Option<&'a [u8]>,
    /// `User-Agent`.
    pub user_agent: Option<&'a [u8]>,
}

/// A buffered access log.
#[derive(Debug)]
pub struct AccessLog {
    sink: Sink,
    buf: Vec<u8>,
    /// Each connection's client address, by slab key.
    peers: Vec<Option<IpAddr>>,
    /// `[06/Nov/1994:08:49:37 +0000]` of `stamp_second`.
    stamp: Vec<u8>,
    stamp_second: Option<u64>,
    /// A write failed and has been reported; cleared by the next success.
    failing: bool,
}

impl AccessLog {
    /// Opens `path` for appending, or standard output for `-`.
    pub fn open(path: &str) -> io::Result<AccessLog> {
        let sink = if path == "-" {
            let fd = io::stdout().as_fd().try_clone_to_owned()?;
            Sink::Stdout(File::from(fd))
        } else {
            let path = PathBuf::from(path);
            let file = append(&path)?;
            Sink::File { path, file }
        };
        Ok(AccessLog {
            sink,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            peers: Vec::new(),
            stamp: Vec::with_capacity(32),
            stamp_second: None,
            failing: false,
        })
    }

    /// Writes what is buffered, then opens the file again by its name (after
    /// logrotate moved it, the new file is created).
    pub fn reopen(&mut self) {
        self.flush();
        if let Sink::File { path, file } = &mut self.sink {
            match append(path) {
                Ok(new) => {
                    *file = new;
                    log::info!("access log {} reopened", path.display());
                }
                Err(e) => log::warn!("open access log {}: {e}", path.display()),
            }
        }
    }

    /// Notes the client of connection `key`.
    pub fn connected(&mut self, key: usize, peer: IpAddr) {
        if self.peers.len() <= key {
            self.peers.resize(key + 1, None);
        }
        self.peers[key] = Some(peer);
    }

    /// Appends the line for one response on connection `key` at Unix second
    /// `now`, and writes the buffer out if it is full.
    pub fn record(&mut self, key: usize, now: u64, line: &Line<'_>) {
        if self.stamp_second != Some(now) {
            self.stamp_second = Some(now);
            self.stamp.clear();
            self.stamp.push(b'[');
            let _ = date::write_clf(now, &mut self.stamp);
            self.stamp.push(b']');
        }
        let b = &mut self.buf;
        // Writing into a Vec cannot fail.
        let _ = match self.peers.get(key).copied().flatten() {
            Some(ip) => write!(b, "{ip}"),
            None => write!(b, "-"),
        };
        b.extend_from_slice(b" - - ");
        b.extend_from_slice(&self.stamp);
        b.extend_from_slice(b" \"");
        escape(first_line(line.head), b);
        let _ = write!(b, "\" {} ", line.status);
        let _ = match line.body_bytes {
            0 => write!(b, "-"),
            n => write!(b, "{n}"),
        };
        for field in [line.referer, line.user_agent] {
            b.extend_from_slice(b" \"");
            match field {
                Some(value) => escape(value, b),
                None => b.push(b'-'),
            }
            b.push(b'"');
        }
        b.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Whether lines wait to be written.
    pub fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Writes every buffered line.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let file = match &mut self.sink {
            Sink::Stdout(file) | Sink::File { file, .. } => file,
        };
        match file.write_all(&self.buf) {
            Ok(()) => self.failing = false,
            Err(e) => {
                if !self.failing {
                    log::warn!("write access log: {e}: dropping lines until it works again");
                    self.failing = true;
                }
            }
        }
        self.buf.clear();
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.flush();
    }
}

fn append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("open access log {}: {e}", path.display())))
}

/// The request line: up to the first line end, at most 8 KiB.
fn first_line(head: &[u8]) -> &[u8] {
    let end = head
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(head.len())
        .min(8192);
    let line = &head[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Copies `value`, writing `"`, `\` and bytes outside printable ASCII as
/// `\xHH` (as nginx does), so a line is always one line and its quoted
/// fields always end where they seem to.
fn escape(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        if (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\' {
            out.push(b);
        } else {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_to(path: &std::path::Path) -> AccessLog {
        AccessLog::open(path.to_str().unwrap()).unwrap()
    }

    #[test]
    fn lines_are_combined_log_format() {
        let dir = std::env::temp_dir().join(format!("oneloop-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let _ = std::fs::remove_file(&path);
        let mut log = log_to(&path);
        log.connected(3, "192.0.2.7".parse().unwrap());
        let head = b"GET /a%20b?q=\"x\" HTTP/1.1\r\nHost: a\r\n\r\n";
        log.record(
            3,
            784_111_777,
            &Line {
                head,
                status: 200,
                body_bytes: 1234,
                referer: Some(b"http://example.com/"),
                user_agent: Some(b"curl/8.5 \xff"),
            },
        );
        log.record(
            9,
            784_111_778,
            &Line {
                head: b"\x01\x02garbage",
                status: 400,
                body_bytes: 0,
                referer: None,
                user_agent: None,
            },
        );
        assert!(log.pending());
        assert_eq!(std::fs::read(&path).unwrap(), b"", "buffered, not written");
        log.flush();
        assert!(!log.pending());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "192.0.2.7 - - [06/Nov/1994:08:49:37 +0000] \"GET /a%20b?q=\\x22x\\x22 HTTP/1.1\" 200 1234 \"http://example.com/\" \"curl/8.5 \\xFF\"\n\
             - - - [06/Nov/1994:08:49:38 +0000] \"\\x01\\x02garbage\" 400 - \"-\" \"-\"\n"
        );
        // Reopening after the file was moved creates it anew.
        let moved = dir.join("access.log.1");
        std::fs::rename(&path, &moved).unwrap();
        log.reopen();
        log.record(
            3,
            784_111_779,
            &Line {
                head: b"HEAD / HTTP/1.0\r\n\r\n",
                status: 200,
                body_bytes: 0,
                referer: None,
                user_agent: None,
            },
        );
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("192.0.2.7 - - ["), "{text}");
        assert!(text.contains("\"HEAD / HTTP/1.0\" 200 -"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
