//! Directory listings (`--list-dirs`): one directory read, sorted, rendered as HTML or JSON.
//!
//! A directory asked for with its trailing slash and holding no
//! `index.html` is listed when `--list-dirs` is on (it is 404 otherwise, as
//! nginx's `autoindex off`). The answer is a page of the server's own,
//! like the metrics: built per request, never cached, the same over
//! HTTP/1.1 and HTTP/2 because the meaning layer decides it.
//!
//! The directory is read once (`sys::each_entry`: readdir and fstatat, no
//! allocation per entry); names go into one arena and their facts into
//! one array, both grown by doubling, then sorted (directories first, then
//! by name, byte order) and rendered into the page. Clients that prefer
//! `application/json` to `text/html` (by `Accept`'s quality values) get
//! an array of `{"name","type","size","modified"}`; others get HTML. Names
//! are escaped for each (HTML entities, JSON escapes, percent-encoded
//! links), hidden names are left out unless `--dotfiles`, and at most
//! [`LIST_MAX`] entries are read: past that, the page says it is cut.

use std::io::{self, Write};
use std::path::Path;

use crate::date;
use crate::sys;

/// Most entries one listing reads: a directory of millions is not read
/// whole by the loop for one request.
pub const LIST_MAX: usize = 10_000;

/// What the listing's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/html`.
    Html,
    /// `application/json`.
    Json,
}

impl Format {
    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Json => "application/json",
        }
    }

    /// JSON when `accept` rates `application/json` above `text/html`
    /// (RFC 9110 §12.5.1: the most specific range gives a type its
    /// quality); HTML otherwise, and when there is no `Accept`.
    pub fn of(accept: Option<&[u8]>) -> Format {
        let Some(accept) = accept else {
            return Format::Html;
        };
        let quality = |want: &[u8]| {
            let (kind, _) = want.split_at(want.iter().position(|&b| b == b'/').unwrap_or(0));
            let mut best = (0u8, 0u16); // (specificity, quality in thousandths)
            for range in accept.split(|&b| b == b',') {
                let mut parts = range.split(|&b| b == b';');
                let media = trim(parts.next().unwrap_or_default());
                let specificity = if media.eq_ignore_ascii_case(want) {
                    3
                } else if media.len() == kind.len() + 2
                    && media[..kind.len()].eq_ignore_ascii_case(kind)
                    && media.ends_with(b"/*")
                {
                    2
                } else if media == b"*/*" {
                    1
                } else {
                    continue;
                };
                let q = parts
                    .map(trim)
                    .find_map(|p| p.strip_prefix(b"q=").or_else(|| p.strip_prefix(b"Q=")))
                    .map_or(1000, qvalue);
                if specificity > best.0 {
                    best = (specificity, q);
                }
            }
            best.1
        };
        match quality(b"application/json") > quality(b"text/html") {
            true => Format::Json,
            false => Format::Html,
        }
    }
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

/// A qvalue ("0", "0.5", "1.000") in thousandths; unparseable is 0.
fn qvalue(q: &[u8]) -> u16 {
    let (int, frac) = match q.iter().position(|&b| b == b'.') {
        Some(dot) => (&q[..dot], &q[dot + 1..]),
        None => (q, &b""[..]),
    };
    let whole = match int {
        b"1" => return 1000,
        b"0" => 0u16,
        _ => return 0,
    };
    let mut thousandths = 0u16;
    for (i, &d) in frac.iter().take(3).enumerate() {
        if !d.is_ascii_digit() {
            return 0;
        }
        thousandths += u16::from(d - b'0') * [100, 10, 1][i];
    }
    whole + thousandths
}

/// One entry's facts; its name is `names[name.0..name.1]`.
#[derive(Debug, Clone, Copy)]
struct Item {
    name: (u32, u32),
    dir: bool,
    size: u64,
    modified: i64,
}

/// The listing of `dir`, whose path as the client asked for it (decoded,
/// with its trailing slash) is `shown`, in `format`. Hidden names are left
/// out unless `dotfiles`.
pub fn render(dir: &Path, shown: &[u8], dotfiles: bool, format: Format) -> io::Result<Vec<u8>> {
    let mut names = Vec::new();
    let mut items = Vec::new();
    let mut cut = false;
    sys::each_entry(dir, |entry| {
        if !dotfiles && entry.name.first() == Some(&b'.') && entry.name != b".well-known" {
            return true;
        }
        if items.len() == LIST_MAX {
            cut = true;
            return false;
        }
        let start = names.len() as u32;
        names.extend_from_slice(entry.name);
        items.push(Item {
            name: (start, names.len() as u32),
            dir: entry.dir,
            size: entry.size,
            modified: entry.modified,
        });
        true
    })?;
    let name = |item: &Item| &names[item.name.0 as usize..item.name.1 as usize];
    items.sort_unstable_by(|a, b| b.dir.cmp(&a.dir).then_with(|| name(a).cmp(name(b))));
    let mut page = Vec::with_capacity(512 + items.len() * 160);
    match format {
        Format::Html => html(&mut page, shown, &items, &names, cut)?,
        Format::Json => json(&mut page, &items, &names)?,
    }
    Ok(page)
}

fn html(
    page: &mut Vec<u8>,
    shown: &[u8],
    items: &[Item],
    names: &[u8],
    cut: bool,
) -> io::Result<()> {
    page.extend_from_slice(
        b"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ",
    );
    escape_html(shown, page);
    page.extend_from_slice(b"</title>\n<style>body{font:15px/1.5 system-ui,sans-serif;margin:2em}td{padding:0 1.5em 0 0}td.n{text-align:right}</style>\n</head>\n<body>\n<h1>Index of ");
    escape_html(shown, page);
    page.extend_from_slice(
        b"</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n",
    );
    if shown != b"/" {
        page.extend_from_slice(b"<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for item in items {
        let name = &names[item.name.0 as usize..item.name.1 as usize];
        page.extend_from_slice(b"<tr><td><a href=\"./");
        percent_encode(name, page);
        if item.dir {
            page.push(b'/');
        }
        page.extend_from_slice(b"\">");
        escape_html(name, page);
        if item.dir {
            page.push(b'/');
        }
        page.extend_from_slice(b"</a></td><td class=\"n\"");
        match item.dir {
            true => page.extend_from_slice(b">-"),
            false => {
                write!(page, " title=\"{} bytes\">", item.size)?;
                human_size(item.size, page)?;
            }
        }
        page.extend_from_slice(b"</td><td>");
        date::write_rfc3339(item.modified.max(0) as u64, page)?;
        page.extend_from_slice(b"</td></tr>\n");
    }
    page.extend_from_slice(b"</table>\n");
    if cut {
        writeln!(page, "<p>Only the first {LIST_MAX} entries are listed.</p>")?;
    }
    page.extend_from_slice(b"</body>\n</html>\n");
    Ok(())
}

fn json(page: &mut Vec<u8>, items: &[Item], names: &[u8]) -> io::Result<()> {
    page.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            page.push(b',');
        }
        page.extend_from_slice(b"{\"name\":\"");
        escape_json(&names[item.name.0 as usize..item.name.1 as usize], page);
        let kind = if item.dir { "directory" } else { "file" };
        write!(
            page,
            "\",\"type\":\"{kind}\",\"size\":{},\"modified\":\"",
            item.size
        )?;
        date::write_rfc3339(item.modified.max(0) as u64, page)?;
        page.extend_from_slice(b"\"}");
    }
    page.extend_from_slice(b"]\n");
    Ok(())
}

/// `1.5 KiB`, `12 MiB`: sizes for people (the exact count is in the
/// cell's title, and in the JSON).
fn human_size(size: u64, page: &mut Vec<u8>) -> io::Result<()> {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => write!(page, "{size} B"),
        _ if value < 10.0 => write!(page, "{value:.1} {}", UNITS[unit]),
        _ => write!(page, "{value:.0} {}", UNITS[unit]),
    }
}

/// Text for HTML: `& < > " '` as entities; bytes that are not UTF-8 as
/// U+FFFD.
fn escape_html(text: &[u8], page: &mut Vec<u8>) {
    for c in String::from_utf8_lossy(text).chars() {
        match c {
            '&' => page.extend_from_slice(b"&amp;"),
            '<' => page.extend_from_slice(b"&lt;"),
            '>' => page.extend_from_slice(b"&gt;"),
            '"' => page.extend_from_slice(b"&quot;"),
            '\'' => page.extend_from_slice(b"&#39;"),
            c => page.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// A JSON string's content: quotes, backslashes and control characters
/// escaped; bytes that are not UTF-8 as U+FFFD.
fn escape_json(text: &[u8], page: &mut Vec<u8>) {
    for c in String::from_utf8_lossy(text).chars() {
        match c {
            '"' => page.extend_from_slice(b"\\\""),
            '\\' => page.extend_from_slice(b"\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(page, "\\u{:04x}", c as u32);
            }
            c => page.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
}

/// A name as one path segment of a link: every byte but RFC 3986's
/// unreserved ones percent-encoded, so any name (`?`, `#`, `%`, spaces,
/// bytes that are not UTF-8) links to itself.
fn percent_encode(name: &[u8], page: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in name {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            page.push(b);
        } else {
            page.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_json_only_when_it_is_preferred() {
        assert_eq!(Format::of(None), Format::Html);
        assert_eq!(Format::of(Some(b"application/json")), Format::Json);
        assert_eq!(Format::of(Some(b"*/*")), Format::Html);
        assert_eq!(
            Format::of(Some(b"text/html,application/xhtml+xml,*/*;q=0.8")),
            Format::Html
        );
        assert_eq!(
            Format::of(Some(b"text/html;q=0.5, application/json")),
            Format::Json
        );
        assert_eq!(
            Format::of(Some(b"application/*;q=0.9, text/*;q=0.2")),
            Format::Json
        );
        assert_eq!(Format::of(Some(b"application/json;q=0, */*")), Format::Html);
        assert_eq!(qvalue(b"0.25"), 250);
        assert_eq!(qvalue(b"1.000"), 1000);
        assert_eq!(qvalue(b"2"), 0);
    }

    #[test]
    fn names_are_escaped_for_html_json_and_links() {
        let mut page = Vec::new();
        escape_html(b"<a&\"'>", &mut page);
        assert_eq!(page, b"&lt;a&amp;&quot;&#39;&gt;");
        page.clear();
        escape_json(b"a\"b\\c\nd", &mut page);
        assert_eq!(page, b"a\\\"b\\\\c\\u000ad");
        page.clear();
        percent_encode(b"a b?#%\xff.txt", &mut page);
        assert_eq!(page, b"a%20b%3F%23%25%FF.txt");
        page.clear();
        human_size(1536, &mut page).unwrap();
        assert_eq!(page, b"1.5 KiB");
    }
}
