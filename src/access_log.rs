//! The access log: Combined Log Format or JSON lines into a buffer, written once a second; %b as sent.
//!
//! The access log: one line per HTTP response in the Combined Log Format,
//!
//! ```text
//! 127.0.0.1 - - [25/Nov/2026:16:40:00 +0000] "GET /a.css HTTP/1.1" 200 1234 "http://x/" "curl/8.5"
//! ```
//!
//! the format of Apache's and nginx's default logs, which every log tool
//! already parses (`%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"`).
//! `%b` is the body bytes actually sent (`-` for none), as nginx's
//! `$body_bytes_sent` and Apache's `%b`: a download the client gave up
//! on is logged with what it got, not with the file's size.
//!
//! So a line is final only once its response has gone. A session records
//! a response when it queues it, with where the response ends in what the
//! connection sends ([`Line::end`]); after each event the connection says
//! how far it has sent ([`AccessLog::settle`]). Most responses leave in
//! the event that queued them, and their lines stay where they were
//! written; a line whose response is still going out waits aside, with
//! its connection, and is written when the response is done or the
//! connection closes, with the bytes it really sent.
//!
//! Lines are appended to a buffer that is written out when it passes
//! [`FLUSH_AT`], once a second, and at shutdown: a busy second costs a few
//! `write`s, not one per request. SIGHUP reopens the file, so logrotate can
//! move it away. Writing a regular file does not block the way a socket
//! can; a failed write drops the buffered lines and says so once, and the
//! server goes on serving.
//!
//! `--access-log-format json` writes the same facts as one JSON object a
//! line (JSON Lines), for log pipelines that take JSON (Loki, Vector,
//! Elasticsearch, `jq`): `time` (RFC 3339), `remote`, `request` (the
//! request line), `status`, `bytes`, `referer`, `user_agent`. Strings
//! escape quotes, backslashes, controls and every byte above 0x7e as
//! `\u00XX`, so each line is valid JSON whatever the client sent.
//!
//! The client's address comes from `accept`, kept per slab key in a table
//! that exists only when the log is on: connections cost nothing more when
//! it is off.

use std::collections::VecDeque;
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
    /// Body bytes of the response, all sent unless the connection closes
    /// first.
    pub body_bytes: u64,
    /// Where the response ends in the connection's output (see
    /// [`crate::out::OutQueue::pushed`]): it is all sent once the
    /// connection has sent that many bytes.
    pub end: u64,
    /// `Referer`.
    pub referer: Option<&'a [u8]>,
    /// `User-Agent`.
    pub user_agent: Option<&'a [u8]>,
}

pub use crate::config::LogFormat as Format;

/// A buffered access log.
#[derive(Debug)]
pub struct AccessLog {
    sink: Sink,
    format: Format,
    buf: Vec<u8>,
    /// Each connection's client address, by slab key.
    peers: Vec<Option<IpAddr>>,
    /// `[06/Nov/1994:08:49:37 +0000]` of `stamp_second`.
    stamp: Vec<u8>,
    stamp_second: Option<u64>,
    /// A write failed and has been reported; cleared by the next success.
    failing: bool,
    /// Lines written in `buf` during the current connection event, until
    /// [`AccessLog::settle`] knows whether their responses went.
    staged: Vec<Staged>,
    /// By slab key: lines whose responses were still going out when their
    /// event ended, in order.
    waiting: Vec<VecDeque<Waiting>>,
}

/// A line in `buf` whose response may still be going out.
#[derive(Debug, Clone, Copy)]
struct Staged {
    /// Where the line starts in `buf`.
    start: usize,
    /// Where its `%b` field starts and ends.
    count: (usize, usize),
    body: u64,
    end: u64,
}

/// A line set aside until its response has gone: its text without the
/// `%b` field, which goes at `split`.
#[derive(Debug)]
struct Waiting {
    text: Vec<u8>,
    split: usize,
    body: u64,
    end: u64,
}

impl AccessLog {
    /// Opens `path` for appending, or standard output for `-`.
    pub fn open(path: &str, format: Format) -> io::Result<AccessLog> {
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
            format,
            buf: Vec::with_capacity(FLUSH_AT * 2),
            peers: Vec::new(),
            stamp: Vec::with_capacity(32),
            stamp_second: None,
            failing: false,
            staged: Vec::new(),
            waiting: Vec::new(),
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
    /// `now`; [`AccessLog::settle`] makes it final at the end of the event.
    pub fn record(&mut self, key: usize, now: u64, line: &Line<'_>) {
        let start = self.buf.len();
        if self.stamp_second != Some(now) {
            self.stamp_second = Some(now);
            self.stamp.clear();
            let _ = match self.format {
                Format::Combined => {
                    self.stamp.push(b'[');
                    let _ = date::write_clf(now, &mut self.stamp);
                    self.stamp.push(b']');
                    Ok(())
                }
                Format::Json => date::write_rfc3339(now, &mut self.stamp),
            };
        }
        let peer = self.peers.get(key).copied().flatten();
        let count = match self.format {
            Format::Combined => self.combined(peer, line),
            Format::Json => self.json(peer, line),
        };
        self.staged.push(Staged {
            start,
            count,
            body: line.body_bytes,
            end: line.end,
        });
    }

    /// A JSON line; where its `bytes` value is.
    fn json(&mut self, peer: Option<IpAddr>, line: &Line<'_>) -> (usize, usize) {
        let b = &mut self.buf;
        b.extend_from_slice(b"{\"time\":\"");
        b.extend_from_slice(&self.stamp);
        // Writing into a Vec cannot fail.
        let _ = match peer {
            Some(ip) => write!(b, "\",\"remote\":\"{ip}\""),
            None => write!(b, "\",\"remote\":null"),
        };
        b.extend_from_slice(b",\"request\":\"");
        escape_json(first_line(line.head), b);
        let _ = write!(b, "\",\"status\":{},\"bytes\":", line.status);
        let count_at = b.len();
        write_count(Format::Json, line.body_bytes, b);
        let count = (count_at, b.len());
        for (name, field) in [("referer", line.referer), ("user_agent", line.user_agent)] {
            let _ = write!(b, ",\"{name}\":");
            match field {
                Some(value) => {
                    b.push(b'"');
                    escape_json(value, b);
                    b.push(b'"');
                }
                None => b.extend_from_slice(b"null"),
            }
        }
        b.extend_from_slice(b"}\n");
        count
    }

    /// A Combined Log Format line; where its `%b` field is.
    fn combined(&mut self, peer: Option<IpAddr>, line: &Line<'_>) -> (usize, usize) {
        let b = &mut self.buf;
        // Writing into a Vec cannot fail.
        let _ = match peer {
            Some(ip) => write!(b, "{ip}"),
            None => write!(b, "-"),
        };
        b.extend_from_slice(b" - - ");
        b.extend_from_slice(&self.stamp);
        b.extend_from_slice(b" \"");
        escape(first_line(line.head), b);
        let _ = write!(b, "\" {} ", line.status);
        let count_at = b.len();
        write_count(Format::Combined, line.body_bytes, b);
        let count = (count_at, b.len());
        for field in [line.referer, line.user_agent] {
            b.extend_from_slice(b" \"");
            match field {
                Some(value) => escape(value, b),
                None => b.push(b'-'),
            }
            b.push(b'"');
        }
        b.push(b'\n');
        count
    }

    /// After an event of connection `key`, which has now sent `sent` bytes
    /// (counted as [`Line::end`] is): lines of responses all sent are
    /// final; the others wait, unless the connection is `closing`, when
    /// they are written with the body bytes that did go. Writes the buffer
    /// out if it is full.
    pub fn settle(&mut self, key: usize, sent: u64, closing: bool) {
        let mut staged = std::mem::take(&mut self.staged);
        let earlier = self.waiting.get(key).is_some_and(|w| !w.is_empty());
        // This event's lines stay in place up to the first whose response
        // has not all gone (or all of them go aside, if lines of this
        // connection already wait: the order of its lines is kept).
        let keep = match earlier {
            true => 0,
            false => staged.iter().take_while(|l| l.end <= sent).count(),
        };
        if keep < staged.len() {
            if self.waiting.len() <= key {
                self.waiting.resize_with(key + 1, VecDeque::new);
            }
            let ends = staged[keep + 1..].iter().map(|l| l.start);
            let ends = ends.chain(std::iter::once(self.buf.len()));
            for (line, line_end) in staged[keep..].iter().zip(ends) {
                let mut text = self.buf[line.start..line.count.0].to_vec();
                let split = text.len();
                text.extend_from_slice(&self.buf[line.count.1..line_end]);
                self.waiting[key].push_back(Waiting {
                    text,
                    split,
                    body: line.body,
                    end: line.end,
                });
            }
            self.buf.truncate(staged[keep].start);
        }
        staged.clear();
        self.staged = staged;
        if let Some(waiting) = self.waiting.get_mut(key) {
            while let Some(line) = waiting.front() {
                let unsent = line.end.saturating_sub(sent);
                if unsent > 0 && !closing {
                    break;
                }
                // What did not go was the end of the response: its body.
                let body = line.body.saturating_sub(unsent);
                self.buf.extend_from_slice(&line.text[..line.split]);
                write_count(self.format, body, &mut self.buf);
                self.buf.extend_from_slice(&line.text[line.split..]);
                waiting.pop_front();
            }
            if waiting.is_empty() && waiting.capacity() > 0 {
                *waiting = VecDeque::new();
            }
        }
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
        // Called between events, never with a line in doubt.
        debug_assert!(self.staged.is_empty(), "flush before settle");
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

/// `%b`: the body bytes, `-` for none (a number in JSON).
fn write_count(format: Format, n: u64, out: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    let _ = match (format, n) {
        (Format::Combined, 0) => write!(out, "-"),
        (_, n) => write!(out, "{n}"),
    };
}

/// A JSON string's content: `"` and `\` escaped, and every byte outside
/// printable ASCII as `\u00XX`, so the line is valid JSON (and UTF-8)
/// whatever bytes the client sent.
fn escape_json(value: &[u8], out: &mut Vec<u8>) {
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..0x7f => out.push(b),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
    }
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
        AccessLog::open(path.to_str().unwrap(), Format::Combined).unwrap()
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
                end: 1500,
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
                end: 100,
                referer: None,
                user_agent: None,
            },
        );
        log.settle(3, 1500, false);
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
                end: 200,
                referer: None,
                user_agent: None,
            },
        );
        log.settle(3, 200, false);
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("192.0.2.7 - - ["), "{text}");
        assert!(text.contains("\"HEAD / HTTP/1.0\" 200 -"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A response of `body` bytes ending at `end`, on a GET of `path`.
    fn line(path: &str, body: u64, end: u64) -> (Vec<u8>, u64, u64) {
        (
            format!("GET {path} HTTP/1.1\r\n\r\n").into_bytes(),
            body,
            end,
        )
    }

    fn record(log: &mut AccessLog, key: usize, (head, body, end): &(Vec<u8>, u64, u64)) {
        let line = Line {
            head,
            status: 200,
            body_bytes: *body,
            end: *end,
            referer: None,
            user_agent: None,
        };
        log.record(key, 784_111_777, &line);
    }

    /// The `"GET /x HTTP/1.1" 200 N` part of each line.
    fn counts(log: &AccessLog) -> Vec<String> {
        String::from_utf8_lossy(&log.buf)
            .lines()
            .map(|l| {
                let at = l.find("\"GET ").expect("a request line");
                let rest = &l[at + 5..];
                let path = rest.split(' ').next().unwrap_or("");
                let status = rest.split("\" ").nth(1).unwrap_or("");
                let count = status.split(' ').nth(1).unwrap_or("");
                format!("{path} {count}")
            })
            .collect()
    }

    #[test]
    fn a_line_is_final_once_its_response_has_gone_or_its_connection_closed() {
        let dir = std::env::temp_dir().join(format!("oneloop-log2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut log = log_to(&dir.join("access.log"));
        // Connection 1: two pipelined responses (heads of 100 bytes); the
        // first goes at once, the second (a 1 MB body) does not.
        record(&mut log, 1, &line("/a", 50, 150));
        record(&mut log, 1, &line("/big", 1_000_000, 1_000_250));
        log.settle(1, 150 + 4096, false);
        assert_eq!(counts(&log), ["/a 50"], "the second waits");
        // Connection 2 meanwhile: all sent in its event.
        record(&mut log, 2, &line("/b", 10, 110));
        log.settle(2, 110, false);
        assert_eq!(counts(&log), ["/a 50", "/b 10"]);
        // Connection 1 again: a third response queued behind the big one
        // waits too, in order, even if the count says it is sent.
        record(&mut log, 1, &line("/c", 5, 1_000_355));
        log.settle(1, 500_000, false);
        assert_eq!(counts(&log), ["/a 50", "/b 10"]);
        // The client gives up at 700,000 bytes: the big one is logged with
        // what its body got, the third with nothing.
        log.settle(1, 700_000, true);
        assert_eq!(
            counts(&log),
            ["/a 50", "/b 10", "/big 699750", "/c -"],
            "bytes actually sent"
        );
        // Connection 3: a response that goes in a later event, whole.
        record(&mut log, 3, &line("/d", 1000, 1100));
        log.settle(3, 600, false);
        log.settle(3, 1100, false);
        assert_eq!(counts(&log).last().unwrap(), "/d 1000");
        assert!(log.waiting.iter().all(VecDeque::is_empty));
        log.flush();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
