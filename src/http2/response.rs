//! An Answer's head as one HPACK block, the same on every connection (pure).
//!
//! An [`Answer`] framed for HTTP/2: its head as one HPACK block, its body
//! as the same chunk HTTP/1.x sends (DATA frames carry it).
//!
//! The fields are the ones the HTTP/1.x head carries, less what HTTP/2
//! forbids or replaces (the status line becomes `:status`, `Connection`
//! goes, names are lowercase: RFC 9113 §8.2.2, §8.3.2). A cached file's
//! fields are rendered once, as HTTP/1.x lines, by the file cache; they
//! are read back here rather than kept twice. Every field is a literal
//! without indexing, named by the static table where it can be: such a
//! block means the same on every connection, whatever its dynamic table
//! holds, so one connection's block could serve all of them.

use crate::http::answer::Answer;
use crate::http::files::Entry;
use crate::http::status::Status;
use crate::http::status::{ALLOW, SERVER};
use crate::http2::hpack;

/// The HTTP/1.x field lines that have no place in HTTP/2.
const DROPPED: [&[u8]; 2] = [b"connection", b"keep-alive"];

/// Appends the HPACK block of `answer`'s head; `date` is this second's
/// HTTP-date (empty: no clock, no `date` field), `hsts` the value of
/// `Strict-Transport-Security` when HTTPS responses carry one.
pub fn head_block(answer: &Answer<'_>, date: &[u8], hsts: Option<&[u8]>, out: &mut Vec<u8>) {
    let status = answer.status();
    write_status(out, status);
    literal(out, b"server", SERVER.as_bytes());
    if !date.is_empty() {
        literal(out, b"date", date);
    }
    if let Some(hsts) = hsts {
        literal(out, b"strict-transport-security", hsts);
    }
    let (digits, used) = decimal(answer.body_len());
    let len = &digits[..used];
    match answer {
        Answer::File { entry, range: None } => {
            literal(out, b"content-length", len);
            out.extend_from_slice(entry_fields(entry));
        }
        Answer::File {
            entry,
            range: Some((start, end)),
        } => {
            let range = format!("bytes {start}-{}/{}", end - 1, entry.len);
            literal(out, b"content-range", range.as_bytes());
            literal(out, b"content-length", len);
            out.extend_from_slice(entry_fields(entry));
        }
        Answer::NotModified(entry) => {
            // The 304 head's lines after its status line and Server.
            lines(out, skip_lines(&entry.not_modified, 2));
        }
        Answer::Unsatisfiable { len: file_len } => {
            let range = format!("bytes */{file_len}");
            literal(out, b"content-range", range.as_bytes());
            text_body(out, len);
        }
        Answer::Refused(why) => {
            if status == Status::MethodNotAllowed {
                literal(out, b"allow", ALLOW.as_bytes());
            }
            let _ = why;
            text_body(out, len);
        }
        Answer::Options => literal(out, b"allow", ALLOW.as_bytes()),
        Answer::Page { content_type, .. } => {
            literal(out, b"content-type", content_type.as_bytes());
            literal(out, b"content-length", len);
            literal(out, b"cache-control", b"no-store");
        }
        Answer::Redirect { location, .. } => {
            literal(out, b"location", location);
            text_body(out, len);
        }
    }
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

/// A number's decimal digits, without allocating: the bytes and how many
/// of the 20 are used, from the start.
fn decimal(mut n: u64) -> ([u8; 20], usize) {
    let mut digits = [0u8; 20];
    let mut at = 20;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = 20 - at;
    digits.copy_within(at.., 0);
    (digits, len)
}

fn text_body(out: &mut Vec<u8>, len: &[u8]) {
    literal(out, b"content-type", b"text/plain; charset=utf-8");
    literal(out, b"content-length", len);
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

/// A cached file's own fields as literals, encoded once per entry.
fn entry_fields(entry: &Entry) -> &[u8] {
    entry.h2_fields.get_or_init(|| {
        let mut block = Vec::new();
        lines(&mut block, &entry.fields);
        block.into_boxed_slice()
    })
}

/// Each `Name: value` line of an HTTP/1.x head, lowercased, as a literal.
fn lines(out: &mut Vec<u8>, head: &[u8]) {
    let mut name = [0u8; 64];
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (raw, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        let Some(lower) = name.get_mut(..raw.len()) else {
            continue; // no field the cache renders has so long a name
        };
        for (l, r) in lower.iter_mut().zip(raw) {
            *l = r.to_ascii_lowercase();
        }
        if DROPPED.contains(&&*lower) {
            continue;
        }
        literal(out, lower, value);
    }
}

/// `head` after its first `n` lines.
fn skip_lines(head: &[u8], n: usize) -> &[u8] {
    let mut rest = head;
    for _ in 0..n {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest = &rest[i + 1..],
            None => return b"",
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::answer::{Ask, Routes, decide};
    use crate::http::fields::Fields;
    use crate::http::files::Files;
    use crate::http::status::Refusal;
    use crate::http2::hpack::Decoder;
    use crate::metrics::Metrics;

    const DATE: &[u8] = b"Sun, 09 Sep 2001 01:46:40 GMT";

    fn fields_of(answer: &Answer<'_>) -> Vec<(String, String)> {
        let mut block = Vec::new();
        head_block(answer, DATE, Some(b"max-age=60"), &mut block);
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
}
