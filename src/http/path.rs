//! Request targets to paths under the document root.
//!
//! The target is percent-decoded segment by segment into a path relative
//! to the root. `.` and `..` are folded lexically, and `..` above the root,
//! an encoded `/`, a NUL, a backslash or any control byte is a 400: no
//! spelling of a target names a file outside the root. (Symlinks are the
//! other way out; [`super::files`] checks where they lead.) Pure: bytes in,
//! a path or a status out.

use crate::http::grammar::ByteClass;
use crate::http::status::Refusal;

/// `Location` for a directory named without its slash: the target's path
/// with `/` appended, its query kept.
pub fn redirect_location(target: &[u8]) -> Vec<u8> {
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

/// What [`normalize`] made of a target's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalized {
    /// The target names a directory (it ends in `/`, `/.` or `/..`).
    pub is_dir: bool,
    /// It took the general way, so a segment may start with a dot (see
    /// [`has_hidden_segment`]); a plain path has none, and needs no look.
    pub dotted: bool,
}

/// Decodes an origin-form target's path into `out` as a root-relative path
/// with `.` and `..` folded and no leading or trailing slash. Refuses,
/// with 400, anything that could name a file outside the root or that no
/// honest client sends: `..` above the root, `%2F`, NUL, `\`, controls,
/// bad percent escapes.
pub fn normalize(target: &[u8], out: &mut Vec<u8>) -> Result<Normalized, Refusal> {
    out.clear();
    if let Some(rel) = plain_path(target) {
        out.extend_from_slice(rel);
        return Ok(Normalized {
            is_dir: false,
            dotted: false,
        });
    }
    normalize_segments(target, out).map(|is_dir| Normalized {
        is_dir,
        dotted: true,
    })
}

/// Bytes that stand for themselves in a path: no escape, no end of the
/// path, nothing [`decode_segment`] refuses.
static PLAIN: ByteClass = ByteClass::printable_except(b"%?#/\\");

/// The common case in one pass and one copy: a target whose path has
/// nothing to decode or fold (no `%`, no empty, `.` or `..` segment, no
/// trailing `/`) is its own normalized form without the leading `/`. Any
/// other target, including every one [`normalize_segments`] refuses, is
/// `None` here and takes the general way.
fn plain_path(target: &[u8]) -> Option<&[u8]> {
    let rest = target.strip_prefix(b"/")?;
    let mut end = rest.len();
    let mut after_slash = true;
    for (i, &b) in rest.iter().enumerate() {
        if b == b'/' {
            if after_slash {
                return None;
            }
            after_slash = true;
            continue;
        }
        if b == b'?' || b == b'#' {
            end = i;
            break;
        }
        // A segment starting with a dot may be `.` or `..` (or hidden).
        if !PLAIN.has(b) || (after_slash && b == b'.') {
            return None;
        }
        after_slash = false;
    }
    if after_slash {
        return None;
    }
    Some(&rest[..end])
}

/// [`normalize`] for any target: segment by segment.
fn normalize_segments(target: &[u8], out: &mut Vec<u8>) -> Result<bool, Refusal> {
    let path_end = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let Some(path) = target[..path_end].strip_prefix(b"/") else {
        return Err(Refusal::BadTarget);
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
                    return Err(Refusal::AboveRoot);
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
pub fn has_hidden_segment(rel: &[u8]) -> bool {
    rel.split(|&b| b == b'/')
        .any(|seg| seg.first() == Some(&b'.') && seg != b".well-known")
}

/// Percent-decodes one path segment onto `out`.
fn decode_segment(raw: &[u8], out: &mut Vec<u8>) -> Result<(), Refusal> {
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hex = raw.get(i + 1..i + 3).ok_or(Refusal::BadEscape)?;
                let hi = (hex[0] as char).to_digit(16).ok_or(Refusal::BadEscape)?;
                let lo = (hex[1] as char).to_digit(16).ok_or(Refusal::BadEscape)?;
                i += 3;
                (hi * 16 + lo) as u8
            }
            b => {
                i += 1;
                b
            }
        };
        if b == b'/' {
            return Err(Refusal::EncodedSlash);
        }
        if b == b'\\' || b < 0x20 || b == 0x7f {
            return Err(Refusal::BadPathByte);
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
                .map(|n| (String::from_utf8_lossy(&out).into_owned(), n.is_dir));
            let want = want.map(|(p, d)| (p.to_string(), d));
            assert_eq!(got.map_err(|r| r.status().code()), want, "{target}");
        }
    }

    #[test]
    fn the_plain_way_agrees_with_the_general_one() {
        // Targets from an alphabet rich in what the fast path must leave
        // alone; wherever it answers, the general way gives the same.
        let alphabet: &[u8] = b"a/./%2e5cF?#\\ \x80~-";
        let mut rng = crate::fixture::Rng::new(868);
        let (mut plain, mut general) = (0, 0);
        for _ in 0..200_000 {
            let len = 1 + rng.below(12) as usize;
            let mut target = vec![b'/'];
            target.extend((0..len).map(|_| alphabet[rng.below(alphabet.len() as u64) as usize]));
            let mut out = Vec::new();
            let slow = normalize_segments(&target, &mut out).map(|d| (out.clone(), d));
            match plain_path(&target) {
                Some(rel) => {
                    plain += 1;
                    assert_eq!(slow, Ok((rel.to_vec(), false)), "{target:?}");
                    // Why the plain way needs no look for hidden segments.
                    assert!(!has_hidden_segment(rel), "{target:?}");
                }
                None => general += 1,
            }
        }
        assert!(
            plain > 1_000 && general > 1_000,
            "{plain} plain, {general} general"
        );
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
}
