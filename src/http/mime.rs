//! Content types from file extensions.
//!
//! A small sorted table rather than a crate: the web's common types, with
//! `charset=utf-8` on text so browsers never guess. Unknown extensions get
//! `application/octet-stream` (RFC 9110 §8.3: "the recipient may assume" it).

/// The type for unknown extensions.
pub const DEFAULT: &str = "application/octet-stream";

/// (extension, content type), sorted by extension for binary search.
const TYPES: &[(&str, &str)] = &[
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("gif", "image/gif"),
    ("gz", "application/gzip"),
    ("htm", "text/html; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("ico", "image/x-icon"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("md", "text/markdown; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xml", "application/xml"),
    ("zip", "application/zip"),
];

/// The content type for a file name (by its last extension, any case).
pub fn for_name(name: &[u8]) -> &'static str {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return DEFAULT;
    };
    let ext = &name[dot + 1..];
    if ext.len() > 16 || ext.contains(&b'/') {
        return DEFAULT;
    }
    let mut lower = [0u8; 16];
    for (l, b) in lower.iter_mut().zip(ext) {
        *l = b.to_ascii_lowercase();
    }
    let ext = &lower[..ext.len()];
    TYPES
        .binary_search_by(|(e, _)| e.as_bytes().cmp(ext))
        .map_or(DEFAULT, |i| TYPES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted() {
        assert!(TYPES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn lookups() {
        let cases: &[(&str, &str)] = &[
            ("index.html", "text/html; charset=utf-8"),
            ("A.PNG", "image/png"),
            ("x.tar.gz", "application/gzip"),
            ("app.mjs", "text/javascript; charset=utf-8"),
            ("font.woff2", "font/woff2"),
            ("README", DEFAULT),
            ("dir.d/file", DEFAULT),
            ("weird.extensionthatistoolong", DEFAULT),
        ];
        for &(name, want) in cases {
            assert_eq!(for_name(name.as_bytes()), want, "{name}");
        }
    }
}
