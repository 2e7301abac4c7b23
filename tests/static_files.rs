//! Static files as someone replacing nginx expects: validators, ranges, types, redirects.
//!
//! What someone replacing nginx expects of static files, over real
//! loopback sockets: validators and 304s, preconditions, byte ranges,
//! content types, pre-compressed siblings, Cache-Control, OPTIONS, the
//! access log and the metrics page. Responses are parsed by the strict
//! parser in `common`, and a second time by h11 (Python) in
//! `responses_pass_a_strict_http_client`.

mod common;

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{Response, TempDir, connect, exchange, get, noise, read_responses, start};
use oneloop::Config;

/// A root with a text file, a large file (streamed with sendfile), a
/// stylesheet with gzip and brotli siblings, and a script with only gzip.
fn site(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let p = dir.path();
    fs::write(p.join("a.txt"), b"0123456789abcdefghij").unwrap();
    fs::write(p.join("big.bin"), noise(600_000)).unwrap();
    fs::write(p.join("style.css"), b"body { color: red }\n").unwrap();
    fs::write(p.join("style.css.gz"), b"pretend gzip bytes").unwrap();
    fs::write(p.join("style.css.br"), b"pretend brotli").unwrap();
    fs::write(p.join("app.js"), b"console.log(1)\n").unwrap();
    fs::write(p.join("app.js.gz"), b"gzipped js").unwrap();
    dir
}

fn config(root: &TempDir) -> Config {
    Config {
        root: Some(root.path().to_path_buf()),
        ..Config::ephemeral()
    }
}

/// A GET of `path` with extra header lines.
fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: t\r\n");
    for (n, v) in headers {
        r.push_str(&format!("{n}: {v}\r\n"));
    }
    r + "\r\n"
}

fn ask(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    get(addr, &req(method, path, headers))
}

#[test]
fn validators_give_304_with_the_headers_a_200_carries() {
    let root = site("validators");
    let server = start(config(&root));
    let addr = server.http[0];
    let full = ask(addr, "GET", "/a.txt", &[]);
    assert_eq!(full.status, 200);
    let etag = full.header("etag").expect("ETag").to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let modified = full
        .header("last-modified")
        .expect("Last-Modified")
        .to_string();
    assert_eq!(full.header("accept-ranges"), Some("bytes"));

    // (request fields, status)
    let other = "\"something-else\"";
    let long_ago = "Thu, 01 Jan 1970 00:00:00 GMT";
    let weak = format!("W/{etag}");
    let listed = format!("{other}, {etag}");
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![("If-None-Match", &etag)], 304),
        (vec![("If-None-Match", &weak)], 304),
        (vec![("If-None-Match", &listed)], 304),
        (vec![("If-None-Match", "*")], 304),
        (vec![("If-None-Match", other)], 200),
        (vec![("If-Modified-Since", &modified)], 304),
        (vec![("If-Modified-Since", long_ago)], 200),
        (vec![("If-Modified-Since", "not a date")], 200),
        // If-None-Match takes precedence over If-Modified-Since.
        (
            vec![("If-None-Match", other), ("If-Modified-Since", &modified)],
            200,
        ),
        (
            vec![("If-None-Match", &etag), ("If-Modified-Since", long_ago)],
            304,
        ),
        (vec![("If-Match", &etag)], 200),
        (vec![("If-Match", other)], 412),
        (vec![("If-Unmodified-Since", long_ago)], 412),
        (vec![("If-Unmodified-Since", &modified)], 200),
    ];
    for (fields, status) in &cases {
        let r = ask(addr, "GET", "/a.txt", fields);
        assert_eq!(r.status, *status, "{fields:?}");
        match status {
            304 => {
                assert!(r.body.is_empty());
                assert_eq!(r.header("etag"), Some(etag.as_str()), "{fields:?}");
                assert_eq!(r.header("last-modified"), Some(modified.as_str()));
                assert!(r.header("date").is_some());
                assert_eq!(r.header("content-length"), None, "{fields:?}");
            }
            200 => assert_eq!(r.body, full.body, "{fields:?}"),
            _ => assert!(r.text().contains("Precondition failed"), "{}", r.text()),
        }
    }
    // HEAD revalidates the same way.
    let mut s = connect(addr);
    s.write_all(req("HEAD", "/a.txt", &[("If-None-Match", &etag)]).as_bytes())
        .unwrap();
    assert_eq!(read_responses(&mut s, &[true])[0].status, 304);

    // An edited file has a new tag within a second, and the old one no
    // longer matches.
    let file = fs::OpenOptions::new()
        .write(true)
        .open(root.path().join("a.txt"))
        .unwrap();
    file.set_len(5).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = ask(addr, "GET", "/a.txt", &[("If-None-Match", &etag)]);
        if r.status == 200 {
            assert_eq!(r.body, b"01234");
            assert_ne!(r.header("etag"), Some(etag.as_str()));
            break;
        }
        assert!(Instant::now() < deadline, "edit never noticed");
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop().unwrap();
}

#[test]
fn byte_ranges_give_206_and_416() {
    let root = site("ranges");
    let server = start(config(&root));
    let addr = server.http[0];
    let text = b"0123456789abcdefghij";
    let etag = ask(addr, "GET", "/a.txt", &[])
        .header("etag")
        .unwrap()
        .to_string();
    // (Range, If-Range, status, Content-Range, body)
    type Case<'a> = (&'a str, Option<&'a str>, u16, Option<&'a str>, &'a [u8]);
    let cases: &[Case] = &[
        ("bytes=0-4", None, 206, Some("bytes 0-4/20"), &text[0..5]),
        ("bytes=10-", None, 206, Some("bytes 10-19/20"), &text[10..]),
        ("bytes=-3", None, 206, Some("bytes 17-19/20"), &text[17..]),
        (
            "bytes=15-99",
            None,
            206,
            Some("bytes 15-19/20"),
            &text[15..],
        ),
        ("bytes=-100", None, 206, Some("bytes 0-19/20"), &text[..]),
        ("bytes=20-", None, 416, Some("bytes */20"), b""),
        ("bytes=-0", None, 416, Some("bytes */20"), b""),
        // Several ranges: the whole file (documented).
        ("bytes=0-1,5-6", None, 200, None, &text[..]),
        ("bytes=5-2", None, 200, None, &text[..]),
        ("lines=1-2", None, 200, None, &text[..]),
        (
            "bytes=0-4",
            Some(&etag),
            206,
            Some("bytes 0-4/20"),
            &text[0..5],
        ),
        ("bytes=0-4", Some("\"stale\""), 200, None, &text[..]),
        (
            "bytes=0-4",
            Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            200,
            None,
            &text[..],
        ),
    ];
    for &(range, if_range, status, content_range, body) in cases {
        let mut fields = vec![("Range", range)];
        if let Some(v) = if_range {
            fields.push(("If-Range", v));
        }
        let r = ask(addr, "GET", "/a.txt", &fields);
        assert_eq!(r.status, status, "{fields:?}");
        assert_eq!(r.header("content-range"), content_range, "{fields:?}");
        if status == 416 {
            assert!(r.text().contains("Range not satisfiable"), "{}", r.text());
        } else {
            assert_eq!(r.body, body, "{fields:?}");
        }
        if status == 206 {
            assert_eq!(r.header("etag"), Some(etag.as_str()));
            assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        }
    }
    // HEAD ignores Range (RFC 9110 §14.2: GET only).
    let mut s = connect(addr);
    s.write_all(req("HEAD", "/a.txt", &[("Range", "bytes=0-4")]).as_bytes())
        .unwrap();
    let r = read_responses(&mut s, &[true]).remove(0);
    assert_eq!((r.status, r.header("content-length")), (200, Some("20")));

    // A range of a file too large for the cache goes out with sendfile.
    let big = noise(600_000);
    let r = ask(addr, "GET", "/big.bin", &[("Range", "bytes=100000-499999")]);
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some("bytes 100000-499999/600000")
    );
    assert_eq!(r.body, &big[100_000..500_000]);
    let r = ask(addr, "GET", "/big.bin", &[("Range", "bytes=-10")]);
    assert_eq!(r.body, &big[599_990..]);

    // Ranges, 304s and whole files pipelined in one write come back in order.
    let mut s = connect(addr);
    let batch = [
        req("GET", "/a.txt", &[("Range", "bytes=1-2")]),
        req("GET", "/a.txt", &[("If-None-Match", &etag)]),
        req("GET", "/big.bin", &[("Range", "bytes=0-0")]),
        req("GET", "/a.txt", &[]),
        req("GET", "/a.txt", &[("Range", "bytes=99-")]),
    ]
    .concat();
    let rs = exchange(&mut s, batch.as_bytes(), 5);
    let statuses: Vec<u16> = rs.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [206, 304, 206, 200, 416]);
    assert_eq!(rs[0].body, b"12");
    assert_eq!(rs[2].body, &big[..1]);
    server.stop().unwrap();
}

#[test]
fn content_types_cover_the_common_web() {
    let dir = TempDir::new("types");
    let table: &[(&str, &str)] = &[
        ("index.html", "text/html; charset=utf-8"),
        ("s.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("m.mjs", "text/javascript; charset=utf-8"),
        ("d.json", "application/json"),
        ("i.svg", "image/svg+xml"),
        ("i.png", "image/png"),
        ("i.jpg", "image/jpeg"),
        ("i.jpeg", "image/jpeg"),
        ("i.gif", "image/gif"),
        ("i.webp", "image/webp"),
        ("i.avif", "image/avif"),
        ("favicon.ico", "image/x-icon"),
        ("t.txt", "text/plain; charset=utf-8"),
        ("r.md", "text/markdown; charset=utf-8"),
        ("f.xml", "application/xml"),
        ("w.wasm", "application/wasm"),
        ("d.pdf", "application/pdf"),
        ("f.woff", "font/woff"),
        ("f.woff2", "font/woff2"),
        ("v.mp4", "video/mp4"),
        ("v.webm", "video/webm"),
        ("a.mp3", "audio/mpeg"),
        ("a.ogg", "audio/ogg"),
        ("z.zip", "application/zip"),
        ("z.tar.gz", "application/gzip"),
        ("UPPER.PNG", "image/png"),
        ("no-extension", "application/octet-stream"),
        ("x.unknownext", "application/octet-stream"),
    ];
    for (name, _) in table {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    let server = start(config(&dir));
    for (name, want) in table {
        let r = ask(server.http[0], "GET", &format!("/{name}"), &[]);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(*want), "{name}");
        assert_eq!(r.header("content-encoding"), None, "{name}");
    }
    server.stop().unwrap();
}

#[test]
fn precompressed_siblings_follow_accept_encoding() {
    let root = site("siblings");
    let server = start(config(&root));
    let addr = server.http[0];
    // (path, Accept-Encoding, body, Content-Encoding)
    type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], Option<&'a str>);
    let cases: &[Case] = &[
        ("/style.css", None, b"body { color: red }\n", None),
        (
            "/style.css",
            Some("gzip"),
            b"pretend gzip bytes",
            Some("gzip"),
        ),
        (
            "/style.css",
            Some("gzip, deflate, br"),
            b"pretend brotli",
            Some("br"),
        ),
        (
            "/style.css",
            Some("br;q=0.5, gzip"),
            b"pretend gzip bytes",
            Some("gzip"),
        ),
        (
            "/style.css",
            Some("gzip;q=0, br;q=0"),
            b"body { color: red }\n",
            None,
        ),
        (
            "/style.css",
            Some("identity"),
            b"body { color: red }\n",
            None,
        ),
        ("/app.js", Some("br, gzip"), b"gzipped js", Some("gzip")),
        ("/app.js", Some("br"), b"console.log(1)\n", None),
    ];
    let mut tags = HashMap::new();
    for &(path, accept, body, encoding) in cases {
        let fields: Vec<(&str, &str)> =
            accept.map(|a| ("Accept-Encoding", a)).into_iter().collect();
        let r = ask(addr, "GET", path, &fields);
        assert_eq!(r.status, 200, "{path} {accept:?}");
        assert_eq!(r.body, body, "{path} {accept:?}");
        assert_eq!(r.header("content-encoding"), encoding, "{path} {accept:?}");
        assert_eq!(
            r.header("vary"),
            Some("Accept-Encoding"),
            "{path} {accept:?}"
        );
        let want_type = if path.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(r.header("content-type"), Some(want_type));
        let tag = r.header("etag").unwrap().to_string();
        let previous = tags.insert((path, encoding), tag.clone());
        assert!(
            previous.is_none_or(|p| p == tag),
            "one tag per representation"
        );
    }
    assert_eq!(tags.len(), 5);
    let distinct: std::collections::HashSet<_> = tags.values().collect();
    assert_eq!(distinct.len(), 5, "each representation has its own tag");

    // A sibling asked for by name is just a gzip file; a file without
    // siblings says nothing about Vary.
    let r = ask(addr, "GET", "/style.css.gz", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("content-type"), Some("application/gzip"));
    assert_eq!(r.header("content-encoding"), None);
    let r = ask(addr, "GET", "/a.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        (r.header("vary"), r.header("content-encoding")),
        (None, None)
    );

    // Ranges and validators apply to the representation chosen.
    let gz = ask(addr, "GET", "/style.css", &[("Accept-Encoding", "gzip")]);
    let tag = gz.header("etag").unwrap();
    let r = ask(
        addr,
        "GET",
        "/style.css",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-6")],
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"pretend"[..]));
    let r = ask(
        addr,
        "GET",
        "/style.css",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", tag)],
    );
    assert_eq!(r.status, 304);
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    let r = ask(addr, "GET", "/style.css", &[("If-None-Match", tag)]);
    assert_eq!(r.status, 200, "the plain file has another tag");

    // A sibling that is a symlink out of the root is not served.
    let outside = TempDir::new("siblings-outside");
    fs::write(outside.path().join("secret"), b"secret").unwrap();
    fs::write(root.path().join("note.txt"), b"plain note").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        root.path().join("note.txt.gz"),
    )
    .unwrap();
    let r = ask(addr, "GET", "/note.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.body, b"plain note");
    assert_eq!(r.header("content-encoding"), None);

    // A sibling that appears later is picked up within a second or so.
    fs::write(root.path().join("app.js.br"), b"brotli js").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ask(addr, "GET", "/app.js", &[("Accept-Encoding", "br")]).body != b"brotli js" {
        assert!(Instant::now() < deadline, "new sibling never served");
        std::thread::sleep(Duration::from_millis(200));
    }
    server.stop().unwrap();
}

#[test]
fn cache_control_options_and_error_bodies() {
    let root = site("cache-control");
    let server = start(Config {
        cache_control: Some("public, max-age=60".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let full = ask(addr, "GET", "/a.txt", &[]);
    assert_eq!(full.header("cache-control"), Some("public, max-age=60"));
    let etag = full.header("etag").unwrap();
    let r = ask(addr, "GET", "/a.txt", &[("If-None-Match", etag)]);
    assert_eq!(
        (r.status, r.header("cache-control")),
        (304, Some("public, max-age=60"))
    );
    let r = ask(addr, "GET", "/a.txt", &[("Range", "bytes=0-0")]);
    assert_eq!(
        (r.status, r.header("cache-control")),
        (206, Some("public, max-age=60"))
    );
    let r = ask(addr, "GET", "/missing", &[]);
    assert_eq!((r.status, r.header("cache-control")), (404, None));
    assert_eq!(r.text(), "Not found.\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));

    for target in ["*", "/a.txt", "/missing"] {
        let r = ask(addr, "OPTIONS", target, &[]);
        assert_eq!(r.status, 204, "{target}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(r.header("content-length"), None);
    }
    let r = ask(addr, "DELETE", "/a.txt", &[]);
    assert_eq!(
        (r.status, r.header("allow")),
        (405, Some("GET, HEAD, OPTIONS"))
    );
    assert!(r.text().contains("GET, HEAD and OPTIONS"), "{}", r.text());
    server.stop().unwrap();

    // A value that would inject a header is refused at start-up.
    let bad = Config {
        cache_control: Some("x\r\nSet-Cookie: a=b".into()),
        ..config(&root)
    };
    assert!(oneloop::spawn(bad).is_err());
}

/// Checks one Combined Log Format line and returns (request, status, bytes,
/// referer, user agent).
fn clf(line: &str) -> (String, u16, String, String, String) {
    let (host, rest) = line.split_once(" - - [").expect(line);
    assert_eq!(host, "127.0.0.1", "{line}");
    let (stamp, rest) = rest.split_once("] \"").expect(line);
    // 25/Nov/2026:16:40:00 +0000
    assert_eq!(stamp.len(), 26, "{stamp}");
    assert!(stamp.ends_with(" +0000") && &stamp[2..3] == "/" && &stamp[11..12] == ":");
    let (request, rest) = rest.split_once("\" ").expect(line);
    let mut fields = rest.splitn(3, ' ');
    let status = fields.next().unwrap().parse().expect(line);
    let bytes = fields.next().unwrap().to_string();
    let quoted = fields.next().unwrap();
    let (referer, agent) = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .and_then(|q| q.split_once("\" \""))
        .expect(line);
    (request.into(), status, bytes, referer.into(), agent.into())
}

#[test]
fn the_access_log_is_combined_log_format_and_buffered() {
    let root = site("access-log");
    let log_dir = TempDir::new("access-log-out");
    let log_path = log_dir.path().join("access.log");
    let server = start(Config {
        access_log: Some(log_path.to_str().unwrap().into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let mut s = connect(addr);
    let batch = [
        req(
            "GET",
            "/a.txt",
            &[
                ("Referer", "http://example.com/"),
                ("User-Agent", "tester/1.0"),
            ],
        ),
        req("GET", "/missing", &[]),
        req("GET", "/a.txt", &[("Range", "bytes=0-3")]),
        "HEAD /a.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: quote\"agent\r\n\r\n".to_string(),
    ]
    .concat();
    s.write_all(batch.as_bytes()).unwrap();
    read_responses(&mut s, &[false, false, false, true]);
    // A malformed request is logged too, with what arrived of it.
    let r = get(addr, "GET /a b c\r\n\r\n");
    assert_eq!(r.status, 400);

    // Lines reach the file within a second or so, all at once.
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        if text.lines().count() >= 5 {
            break text;
        }
        assert!(Instant::now() < deadline, "log not written: {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<_> = text.lines().map(clf).collect();
    // The body of a refusal is its reason's one line.
    let malformed = oneloop::http::status::Refusal::Malformed
        .message()
        .len()
        .to_string();
    let expect = [
        (
            "GET /a.txt HTTP/1.1",
            200,
            "20",
            "http://example.com/",
            "tester/1.0",
        ),
        ("GET /missing HTTP/1.1", 404, "11", "-", "-"),
        ("GET /a.txt HTTP/1.1", 206, "4", "-", "-"),
        ("HEAD /a.txt HTTP/1.1", 200, "-", "-", "quote\\x22agent"),
        ("GET /a b c", 400, malformed.as_str(), "-", "-"),
    ];
    assert_eq!(lines.len(), expect.len(), "{text}");
    for (got, want) in lines.iter().zip(expect) {
        assert_eq!(
            (
                got.0.as_str(),
                got.1,
                got.2.as_str(),
                got.3.as_str(),
                got.4.as_str()
            ),
            want
        );
    }
    server.stop().unwrap();
}

#[test]
fn the_access_log_counts_the_body_bytes_sent_of_a_download_cut_short() {
    let root = site("access-log-cut");
    let huge = 64 << 20;
    fs::write(root.path().join("huge.bin"), vec![7u8; huge]).unwrap();
    let log_dir = TempDir::new("access-log-cut-out");
    let log_path = log_dir.path().join("access.log");
    let server = start(Config {
        access_log: Some(log_path.to_str().unwrap().into()),
        ..config(&root)
    });
    let addr = server.http[0];
    // A whole download, then one the client gives up on after 1 MiB.
    let mut s = connect(addr);
    s.write_all(req("GET", "/big.bin", &[]).as_bytes()).unwrap();
    read_responses(&mut s, &[false]);
    let mut s = connect(addr);
    s.write_all(req("GET", "/huge.bin", &[]).as_bytes())
        .unwrap();
    let mut got = vec![0u8; 1 << 20];
    std::io::Read::read_exact(&mut s, &mut got).unwrap();
    drop(s);
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        if text.lines().count() >= 2 {
            break text;
        }
        assert!(Instant::now() < deadline, "log not written: {text:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<_> = text.lines().map(clf).collect();
    assert_eq!(lines[0].0, "GET /big.bin HTTP/1.1");
    assert_eq!(lines[0].2, "600000", "a whole download: its size");
    assert_eq!(lines[1].0, "GET /huge.bin HTTP/1.1");
    let sent: usize = lines[1].2.parse().expect("a count");
    // What the client read, at least; and not the file's size, which the
    // socket buffers between us could never hold.
    assert!(
        sent >= 1 << 20 && sent < huge / 2,
        "logged {sent} of {huge}, client read 1 MiB"
    );
    server.stop().unwrap();
}

/// Parses the exposition text into "name{labels}" -> value.
fn scrape(addr: SocketAddr) -> HashMap<String, u64> {
    let r = ask(addr, "GET", "/metrics", &[]);
    samples_of(&r)
}

/// The samples of a metrics page.
fn samples_of(r: &Response) -> HashMap<String, u64> {
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let mut samples = HashMap::new();
    for line in r.text().lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').expect(line);
        // Counters and gauges are integers, except the uptime.
        let value: f64 = value.parse().expect(line);
        samples.insert(name.to_string(), value as u64);
    }
    samples
}

#[test]
fn the_loop_counts_its_syscalls_and_the_batching_shows() {
    let root = site("loop-counts");
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    // Both scrapes go over one keep-alive connection, so nothing is
    // accepted, registered or closed between them. (A connection is
    // accepted, served, then registered, once its first request is in.)
    let mut scraper = connect(addr);
    let mut client = connect(addr);
    for s in [&mut scraper, &mut client] {
        exchange(s, req("GET", "/a.txt", &[]).as_bytes(), 1);
    }
    let metrics = req("GET", "/metrics", &[]);
    let before = samples_of(&exchange(&mut scraper, metrics.as_bytes(), 1)[0]);
    // Sixteen pipelined requests in one send: one read, one write.
    let batch = req("GET", "/a.txt", &[]).repeat(16);
    let answers = exchange(&mut client, batch.as_bytes(), 16);
    assert!(answers.iter().all(|r| r.status == 200));
    let after = samples_of(&exchange(&mut scraper, metrics.as_bytes(), 1)[0]);
    let delta = |name: &str| after[name] - before[name];
    let call = |c: &str| delta(&format!("oneloop_http_syscalls_total{{call=\"{c}\"}}"));
    // The first scrape's own response and its write are counted after it
    // was rendered, so they are in this delta.
    let responses = delta("oneloop_http_responses_total{class=\"2xx\"}");
    assert_eq!(responses, 16 + 1);
    assert_eq!(call("write"), 1 + 1, "one writev for sixteen responses");
    let reads = call("read");
    assert!((2..=3).contains(&reads), "{reads} reads");
    assert_eq!(
        call("other"),
        0,
        "keep-alive costs no accept, epoll_ctl or close"
    );
    assert!(delta("oneloop_loop_wakeups_total") >= 2);
    assert!(delta("oneloop_loop_events_total") >= 2);
    assert_eq!(
        call("epoll_wait"),
        delta("oneloop_loop_wakeups_total") + delta("oneloop_loop_spin_polls_total"),
        "every epoll_wait is a wakeup or an empty look"
    );
    server.stop().unwrap();
}

#[test]
fn the_loop_looks_before_sleeping_only_while_it_pays() {
    let root = site("spin");
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let mut client = connect(addr);
    let spins = |s: &mut TcpStream| {
        let metrics = req("GET", "/metrics", &[]);
        samples_of(&exchange(s, metrics.as_bytes(), 1)[0])["oneloop_loop_spin_polls_total"]
    };
    // After a wakeup with work, the loop looks for more before it sleeps.
    let first = spins(&mut client);
    std::thread::sleep(Duration::from_millis(20));
    let second = spins(&mut client);
    assert!(second > first, "a look after the first answer");
    // Requests 20 ms apart: each look finds nothing, and the spin halves
    // until it is gone.
    for _ in 0..10 {
        exchange(&mut client, req("GET", "/a.txt", &[]).as_bytes(), 1);
        std::thread::sleep(Duration::from_millis(20));
    }
    let quiet = spins(&mut client);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(spins(&mut client), quiet, "no look left to waste");
    // An idle loop never looks: nothing in a quarter of a second.
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(spins(&mut client), quiet);
    server.stop().unwrap();

    // Turned off, it never looks.
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        spin: Duration::ZERO,
        ..config(&root)
    });
    let mut client = connect(server.http[0]);
    for _ in 0..20 {
        exchange(&mut client, req("GET", "/a.txt", &[]).as_bytes(), 1);
    }
    assert_eq!(spins(&mut client), 0);
    server.stop().unwrap();
}

/// Rounds of one request on each of `clients` at once, until the loop has
/// paused before a poll (or `rounds` have passed); returns the pauses.
fn bursts(addr: SocketAddr, clients: &mut [TcpStream], rounds: usize) -> u64 {
    let mut scraper = connect(addr);
    let metrics = req("GET", "/metrics", &[]);
    let scrape = |s: &mut TcpStream| samples_of(&exchange(s, metrics.as_bytes(), 1)[0]);
    let before = scrape(&mut scraper)["oneloop_loop_coalesced_total"];
    let one = req("GET", "/a.txt", &[]);
    for _ in 0..rounds {
        for c in clients.iter_mut() {
            c.write_all(one.as_bytes()).unwrap();
        }
        for c in clients.iter_mut() {
            let answers = read_responses(c, &[false]);
            assert_eq!(answers[0].status, 200);
        }
        let paused = scrape(&mut scraper)["oneloop_loop_coalesced_total"] - before;
        if paused > 0 {
            return paused;
        }
    }
    0
}

#[test]
fn a_busy_loop_pauses_to_collect_events_when_asked_and_a_quiet_one_never_does() {
    let root = site("coalesce");
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        coalesce: Duration::from_micros(40),
        ..config(&root)
    });
    let addr = server.http[0];
    // One client at a time: every wakeup has one event, and the loop
    // blocks each time, so a lone request is answered as soon as it lands.
    let mut alone = connect(addr);
    let mut scraper = connect(addr);
    let metrics = req("GET", "/metrics", &[]);
    let before = samples_of(&exchange(&mut scraper, metrics.as_bytes(), 1)[0]);
    for _ in 0..20 {
        let answers = exchange(&mut alone, req("GET", "/a.txt", &[]).as_bytes(), 1);
        assert_eq!(answers[0].status, 200);
    }
    let after = samples_of(&exchange(&mut scraper, metrics.as_bytes(), 1)[0]);
    let name = "oneloop_loop_coalesced_total";
    assert_eq!(
        after[name], before[name],
        "one event per wakeup never pauses"
    );
    // Sixteen clients sending at once: wakeups bring eight events or more,
    // and the loop pauses before the next poll (each pause is a nanosleep).
    let mut clients: Vec<TcpStream> = (0..16).map(|_| connect(addr)).collect();
    let paused = bursts(addr, &mut clients, 200);
    assert!(
        paused > 0,
        "200 rounds of 16 requests at once, and no pause"
    );
    let total = samples_of(&exchange(&mut scraper, metrics.as_bytes(), 1)[0]);
    assert_eq!(
        total["oneloop_http_syscalls_total{call=\"nanosleep\"}"],
        total[name]
    );
    server.stop().unwrap();

    // By default it is off: the same bursts never pause.
    assert_eq!(Config::default().coalesce, Duration::ZERO);
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let mut clients: Vec<TcpStream> = (0..16).map(|_| connect(addr)).collect();
    assert_eq!(bursts(addr, &mut clients, 20), 0);
    server.stop().unwrap();
}

#[test]
fn metrics_count_what_the_loop_did() {
    let root = site("metrics");
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let before = scrape(addr);
    let delta = |after: &HashMap<String, u64>, name: &str| after[name] - before[name];

    for _ in 0..5 {
        assert_eq!(ask(addr, "GET", "/a.txt", &[]).status, 200);
    }
    for _ in 0..3 {
        assert_eq!(ask(addr, "GET", "/missing", &[]).status, 404);
    }
    let tcp = server.time[0];
    for _ in 0..2 {
        let mut b = [0u8; 4];
        let mut s = TcpStream::connect(tcp).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::io::Read::read_exact(&mut s, &mut b).unwrap();
    }
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..3 {
        udp.send_to(b"", tcp).unwrap();
        let mut b = [0u8; 4];
        udp.recv_from(&mut b).unwrap();
    }
    // An idle keep-alive connection stays open across the scrape.
    let mut idle = connect(addr);
    exchange(&mut idle, req("GET", "/a.txt", &[]).as_bytes(), 1);

    let after = scrape(addr);
    // The first scrape itself is counted once it is answered.
    let ok = "oneloop_http_responses_total{class=\"2xx\"}";
    assert_eq!(delta(&after, ok), 5 + 1 + 1);
    assert_eq!(
        delta(&after, "oneloop_http_responses_total{class=\"4xx\"}"),
        3
    );
    assert_eq!(
        delta(&after, "oneloop_http_responses_total{class=\"5xx\"}"),
        0
    );
    assert_eq!(
        delta(&after, "oneloop_http_connections_accepted_total"),
        5 + 3 + 1 + 1
    );
    assert_eq!(
        after["oneloop_http_connections_open"], 2,
        "scraper and idle"
    );
    assert_eq!(
        delta(&after, "oneloop_time_replies_total{transport=\"tcp\"}"),
        2
    );
    assert_eq!(
        delta(&after, "oneloop_time_replies_total{transport=\"udp\"}"),
        3
    );
    // At least the bodies went out (heads are about 250 bytes each).
    let sent = delta(&after, "oneloop_http_sent_bytes_total");
    assert!(sent > 6 * 20 + 3 * 11 + 9 * 150, "{sent}");
    assert!(after["oneloop_start_time_seconds"] > 1_700_000_000);
    // The state gauges are sampled once a second (each scrape's own
    // connection is new, so it is not in the sample): within two seconds
    // the idle connection shows up.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let m = scrape(addr);
        let states: u64 = ["reading", "writing", "idle", "lingering"]
            .iter()
            .map(|s| m[&format!("oneloop_http_connections{{state=\"{s}\"}}")])
            .sum();
        if states == 1 && m["oneloop_http_connections{state=\"idle\"}"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "states never sampled: {m:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Without --metrics-path the page does not exist.
    drop(idle);
    server.stop().unwrap();
    let plain = start(config(&root));
    assert_eq!(ask(plain.http[0], "GET", "/metrics", &[]).status, 404);
    plain.stop().unwrap();
}

/// The Debian interpreter, where `apt-get install python3-h11` puts h11.
const PYTHON: &str = "/usr/bin/python3";

fn h11_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import h11"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// One parsed response from strict_client.py.
#[derive(Debug)]
struct Strict {
    status: u16,
    body_len: usize,
    crc: u32,
    headers: Vec<(String, String)>,
}

impl Strict {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[test]
fn responses_pass_a_strict_http_client() {
    if !h11_available() {
        common::skip(
            "ONELOOP_REQUIRE_H11",
            &format!("{PYTHON} has no h11 (apt-get install python3-h11)"),
        );
        return;
    }
    let root = site("strict");
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        cache_control: Some("max-age=10".into()),
        ..config(&root)
    });
    let addr = server.http[0];
    let etag = ask(addr, "GET", "/a.txt", &[])
        .header("etag")
        .unwrap()
        .to_string();
    // (method, target, fields, status)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        ("GET", "/a.txt", vec![], 200),
        ("HEAD", "/a.txt", vec![], 200),
        ("GET", "/a.txt", vec![("If-None-Match", &etag)], 304),
        ("HEAD", "/a.txt", vec![("If-None-Match", &etag)], 304),
        ("GET", "/a.txt", vec![("Range", "bytes=2-5")], 206),
        ("GET", "/a.txt", vec![("Range", "bytes=50-")], 416),
        ("GET", "/a.txt", vec![("If-Match", "\"x\"")], 412),
        ("GET", "/big.bin", vec![], 200),
        ("GET", "/big.bin", vec![("Range", "bytes=1000-")], 206),
        (
            "GET",
            "/style.css",
            vec![("Accept-Encoding", "br, gzip")],
            200,
        ),
        ("OPTIONS", "/a.txt", vec![], 204),
        ("GET", "/missing", vec![], 404),
        ("GET", "/metrics", vec![], 200),
        ("DELETE", "/a.txt", vec![], 405),
        ("GET", "/", vec![], 404),
    ];
    let json: Vec<String> = cases
        .iter()
        .map(|(method, target, fields, _)| {
            let fields: Vec<String> = fields
                .iter()
                .map(|(n, v)| format!("[\"{n}\", \"{}\"]", v.replace('"', "\\\"")))
                .collect();
            format!(
                "{{\"method\": \"{method}\", \"target\": \"{target}\", \"headers\": [{}]}}",
                fields.join(", ")
            )
        })
        .collect();
    let mut child = Command::new(PYTHON)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/strict_client.py"
        ))
        .arg(addr.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("[{}]", json.join(", ")).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "h11 refused a response: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut responses = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        if let Some(rest) = line.strip_prefix("RESPONSE ") {
            let f: Vec<&str> = rest.split(' ').collect();
            responses.push(Strict {
                status: f[0].parse().unwrap(),
                body_len: f[1].parse().unwrap(),
                crc: f[2].parse().unwrap(),
                headers: Vec::new(),
            });
        } else if let Some(field) = line.strip_prefix("HEADER ") {
            let (n, v) = field.split_once(": ").unwrap();
            responses
                .last_mut()
                .unwrap()
                .headers
                .push((n.into(), v.into()));
        }
    }
    assert_eq!(responses.len(), cases.len(), "one answer per request");
    for ((method, target, fields, status), r) in cases.iter().zip(&responses) {
        assert_eq!(r.status, *status, "{method} {target} {fields:?}");
    }
    let big = noise(600_000);
    assert_eq!(
        (responses[0].body_len, responses[0].crc),
        (20, crc32(b"0123456789abcdefghij"))
    );
    assert_eq!(responses[1].body_len, 0, "HEAD");
    assert_eq!(responses[4].crc, crc32(b"2345"));
    assert_eq!(responses[7].crc, crc32(&big));
    assert_eq!(responses[8].crc, crc32(&big[1000..]));
    assert_eq!(responses[9].crc, crc32(b"pretend brotli"));
    assert_eq!(responses[9].header("content-encoding"), Some("br"));
    assert_eq!(responses[2].header("cache-control"), Some("max-age=10"));
    server.stop().unwrap();
}
