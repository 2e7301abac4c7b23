//! Accept-Encoding -> which pre-compressed sibling (pure).
//!
//! Choosing a pre-compressed sibling from `Accept-Encoding` (RFC 9110
//! §12.5.3).
//!
//! Nothing is compressed at request time: when `style.css.br` or
//! `style.css.gz` sits beside `style.css`, a client that accepts that coding
//! gets those bytes with `Content-Encoding`. The choice is the available
//! coding with the highest quality value above zero (`br` on a tie: it is
//! the smaller); a coding the client does not name is acceptable only
//! through `*`. Pure: a header value in, a coding out.

/// A content coding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// The file as it is.
    Identity,
    /// Brotli, from `file.br`.
    Br,
    /// gzip, from `file.gz`.
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token and the sibling's file extension.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Br => Some("br"),
            Coding::Gzip => Some("gzip"),
        }
    }
}

/// The coding to send, given which siblings exist.
pub fn choose(accept: &[u8], have_br: bool, have_gzip: bool) -> Coding {
    let (mut br, mut gzip, mut any) = (None, None, None);
    for item in accept.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';').map(<[u8]>::trim_ascii);
        let name = parts.next().unwrap_or_default();
        let q = parts.find_map(qvalue).unwrap_or(Some(1000)).unwrap_or(0);
        if name.eq_ignore_ascii_case(b"br") {
            br = Some(q);
        } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            gzip = Some(q);
        } else if name == b"*" {
            any = Some(q);
        }
    }
    let br = if have_br { br.or(any).unwrap_or(0) } else { 0 };
    let gzip = if have_gzip {
        gzip.or(any).unwrap_or(0)
    } else {
        0
    };
    if br > 0 && br >= gzip {
        Coding::Br
    } else if gzip > 0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// A `q=` parameter as thousandths: `None` if `param` is another parameter,
/// `Some(None)` if it is a malformed weight (which makes the coding
/// unacceptable).
fn qvalue(param: &[u8]) -> Option<Option<u16>> {
    let (name, value) = param.split_at_checked(2)?;
    if !name.eq_ignore_ascii_case(b"q=") {
        return None;
    }
    let (int, frac) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &b""[..]),
    };
    if frac.len() > 3 || !frac.iter().all(u8::is_ascii_digit) {
        return Some(None);
    }
    let mut thousandths = 0u16;
    for i in 0..3 {
        thousandths = thousandths * 10 + frac.get(i).map_or(0, |d| u16::from(d - b'0'));
    }
    Some(match int {
        b"0" => Some(thousandths),
        b"1" if thousandths == 0 => Some(1000),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_table() {
        use Coding::*;
        // (Accept-Encoding, have br, have gzip, choice)
        let cases: &[(&str, bool, bool, Coding)] = &[
            ("gzip, deflate, br", true, true, Br),
            ("gzip, deflate, br", false, true, Gzip),
            ("gzip, deflate, br", true, false, Br),
            ("gzip, deflate, br", false, false, Identity),
            ("gzip", true, true, Gzip),
            ("x-gzip", false, true, Gzip),
            ("GZIP", false, true, Gzip),
            ("br;q=0.5, gzip;q=0.8", true, true, Gzip),
            ("br;q=0.8, gzip;q=0.8", true, true, Br),
            ("br;q=0, gzip", true, true, Gzip),
            ("gzip;q=0", false, true, Identity),
            ("gzip; q=0.000", false, true, Identity),
            ("gzip;Q=1.0", false, true, Gzip),
            ("gzip;q=1.5", false, true, Identity),
            ("gzip;q=0.1234", false, true, Identity),
            ("gzip;q=", false, true, Identity),
            ("gzip;level=1", false, true, Gzip),
            ("*", true, true, Br),
            ("*;q=0", true, true, Identity),
            ("*;q=0.5, br;q=0", true, true, Gzip),
            ("identity", true, true, Identity),
            ("deflate", false, true, Identity),
            ("", true, true, Identity),
            (" , ,", true, true, Identity),
        ];
        for &(accept, br, gzip, want) in cases {
            assert_eq!(choose(accept.as_bytes(), br, gzip), want, "{accept:?}");
        }
    }
}
