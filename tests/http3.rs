//! HTTP/3 with a real client: aioquic (its QPACK is ls-qpack) against the same answers HTTP/1.1 gives.
//!
//! HTTP/3 over loopback, with the certificates made at test time and
//! aioquic on the other side (`tests/h3_client.py`; `pip install
//! aioquic`). Every answer is held to the one HTTP/1.1 gives for the same
//! request on the same server: the static semantics are one, whatever
//! frames them.
#![cfg(feature = "http3")]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use common::{TempDir, certificate, connect, exchange, skip, start};
use oneloop::Config;
use oneloop::config::CertPair;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_client.py");

/// One answer as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    status: u16,
    fields: BTreeMap<String, String>,
    len: u64,
    sha256: String,
}

/// Whether aioquic is there; if not, the test says so and is skipped (or
/// fails, under CI).
fn aioquic() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aioquic"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(
            "ONELOOP_REQUIRE_AIOQUIC",
            "python3 has no aioquic (python3 -m pip install aioquic)",
        );
    }
    ok
}

/// A request as the client sends it: method, path, fields.
type Request<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// What the client saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Answer(Seen),
    Reset(u64),
    Closed(u64),
}

/// Sends `requests` (method, path, fields) at once on one connection;
/// returns what came of each and the connection's last line.
fn h3(port: u16, ca: &Path, requests: &[Request<'_>]) -> (Vec<Got>, String) {
    let args = requests.iter().map(|(method, path, fields)| {
        let mut arg = format!("{method} {path}");
        for (n, v) in *fields {
            arg.push_str(&format!("\t{n}: {v}"));
        }
        arg
    });
    let out = Command::new("python3")
        .arg(CLIENT)
        .args(["127.0.0.1", &port.to_string()])
        .arg(ca)
        .args(args)
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "h3_client.py failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = Vec::new();
    let mut lines = text.lines();
    let mut last = String::new();
    while let Some(line) = lines.next() {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["ANSWER", status, len, sha256] => {
                let mut fields = BTreeMap::new();
                for field in lines.by_ref().take_while(|l| *l != "END") {
                    let (n, v) = field.split_once(": ").expect("name: value");
                    fields.insert(n.to_owned(), v.to_owned());
                }
                got.push(Got::Answer(Seen {
                    status: status.parse().expect("a status"),
                    fields,
                    len: len.parse().expect("a length"),
                    sha256: sha256.to_owned(),
                }));
            }
            ["RESET", code] => got.push(Got::Reset(code.parse().expect("a code"))),
            ["CLOSED", code, ..] if got.len() < requests.len() => {
                got.push(Got::Closed(code.parse().expect("a code")))
            }
            _ => last = line.to_owned(),
        }
    }
    (got, last)
}

/// The server under test: HTTP on a port, HTTPS and HTTP/3 on another,
/// files from `root`.
fn serve(name: &str) -> (TempDir, CertPair, oneloop::Running) {
    let dir = TempDir::new(name);
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "Hello\n").unwrap();
    std::fs::write(root.join("big.bin"), common::noise(3 << 20)).unwrap();
    let log = dir.path().join("access.log");
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        root: Some(root),
        access_log: Some(log.to_string_lossy().into_owned()),
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    (dir, pair, server)
}

/// The same request over HTTP/1.1 on the plain port: its answer as the
/// HTTP/3 client reports one.
fn over_http1(
    server: &oneloop::Running,
    method: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Seen {
    let mut s = connect(server.http[0]);
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (n, v) in fields {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    let r = exchange(&mut s, raw.as_bytes(), 1).remove(0);
    let _ = s.flush();
    let body = &r.body;
    Seen {
        status: r.status,
        fields: r
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect(),
        len: body.len() as u64,
        sha256: sha256_hex(body),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields both framings must agree on (HTTP/1.1 adds its own:
/// `Connection`, `Keep-Alive`; HTTP/3 says nothing about the connection).
const COMPARED: [&str; 9] = [
    "content-length",
    "content-type",
    "content-range",
    "etag",
    "last-modified",
    "accept-ranges",
    "allow",
    "vary",
    "strict-transport-security",
];

#[test]
fn aioquic_gets_what_http1_gets_files_ranges_304s_and_refusals() {
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-same");
    let port = server.https[0].port();
    let etag = over_http1(&server, "GET", "/hello.txt", &[]).fields["etag"].clone();
    type Owned<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: Vec<Owned<'_>> = vec![
        // (No HEAD: aioquic 1.7 takes a HEAD answer's Content-Length as
        // the length of a body that is not there, and closes the
        // connection; the session's tests hold HEAD.)
        ("GET", "/hello.txt", vec![]),
        ("GET", "/hello.txt", vec![("range", "bytes=1-3")]),
        ("GET", "/hello.txt", vec![("range", "bytes=100-")]),
        ("GET", "/hello.txt", vec![("if-none-match", etag.as_str())]),
        ("GET", "/big.bin", vec![]),
        ("GET", "/big.bin", vec![("range", "bytes=1000000-2000000")]),
        ("GET", "/missing", vec![]),
        ("GET", "/../etc/passwd", vec![]),
        ("DELETE", "/hello.txt", vec![]),
        ("OPTIONS", "*", vec![]),
    ];
    let list: Vec<Request<'_>> = cases
        .iter()
        .map(|(m, p, f)| (*m, *p, f.as_slice()))
        .collect();
    let (answers, last) = h3(port, &pair.cert, &list);
    assert_eq!(last, "CONNECTION ok");
    assert_eq!(answers.len(), cases.len());
    for ((method, path, fields), answer) in cases.iter().zip(&answers) {
        let Got::Answer(got) = answer else {
            panic!("{method} {path}: {answer:?}");
        };
        let want = over_http1(&server, method, path, fields);
        assert_eq!(got.status, want.status, "{method} {path} {fields:?}");
        assert_eq!(
            (got.len, &got.sha256),
            (want.len, &want.sha256),
            "{method} {path} {fields:?}"
        );
        for name in COMPARED {
            // HSTS is HTTPS's: the plain answer has none.
            if name == "strict-transport-security" {
                continue;
            }
            assert_eq!(
                got.fields.get(name),
                want.fields.get(name),
                "{method} {path} {fields:?}: {name}"
            );
        }
        assert!(!got.fields.contains_key("connection"), "{got:?}");
    }
}

/// A malformed request among valid ones on one connection: its stream is
/// reset with H3_MESSAGE_ERROR, the others are answered.
#[test]
fn a_malformed_request_is_reset_and_its_neighbours_answered() {
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-malformed");
    let port = server.https[0].port();
    let list: Vec<Request<'_>> = vec![
        ("GET", "/hello.txt", &[]),
        ("GET", "/hello.txt", &[("connection", "close")]),
        ("GET", "/hello.txt", &[("te", "gzip")]),
        ("GET", "/hello.txt", &[]),
    ];
    let (got, last) = h3(port, &pair.cert, &list);
    assert_eq!(last, "CONNECTION ok");
    let status = |g: &Got| match g {
        Got::Answer(s) => Some(s.status),
        _ => None,
    };
    assert_eq!(status(&got[0]), Some(200));
    assert_eq!(got[1], Got::Reset(0x10e), "H3_MESSAGE_ERROR");
    assert_eq!(got[2], Got::Reset(0x10e), "H3_MESSAGE_ERROR");
    assert_eq!(status(&got[3]), Some(200));
    // And the server goes on over TCP.
    assert_eq!(over_http1(&server, "GET", "/hello.txt", &[]).status, 200);
    // The metrics count the connection and its two answered requests.
    let text = metrics_text(&server);
    for line in [
        "oneloop_http3_connections_total 1",
        "oneloop_http3_streams_total 2",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in {text}");
    }
    // The access log has each answered request as HTTP/3.0, from the
    // client's address.
    server.stop().expect("clean stop");
    let log = std::fs::read_to_string(_dir.path().join("access.log")).expect("the log");
    let h3: Vec<&str> = log.lines().filter(|l| l.contains("HTTP/3.0")).collect();
    assert_eq!(h3.len(), 2, "{log}");
    for line in h3 {
        assert!(line.starts_with("127.0.0.1 "), "{line}");
        assert!(line.contains("\"GET /hello.txt HTTP/3.0\" 200 6"), "{line}");
    }
}

/// The metrics page's text, over HTTP/1.1.
fn metrics_text(server: &oneloop::Running) -> String {
    let mut s = connect(server.http[0]);
    let r = exchange(
        &mut s,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        1,
    )
    .remove(0);
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A seeded xorshift: the same corpus on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Field sections as clients write them (indexes, name references,
/// literal names, raw and Huffman strings) and as attackers do (each
/// mutated: a byte flipped, cut short, a byte put in, a run repeated, or
/// random bytes after a valid prefix).
fn sections(count: usize) -> Vec<Vec<u8>> {
    use oneloop::field_coding::{encode, encoded_len, write_int};
    use oneloop::http3::qpack;
    let requests: [&[(&str, &str)]; 3] = [
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":authority", "localhost"),
            (":path", "/"),
        ],
        &[
            (":method", "GET"),
            (":path", "/index.html"),
            ("accept-encoding", "gzip, deflate, br"),
            ("user-agent", "Mozilla/5.0 (X11; Linux x86_64)"),
            ("cookie", "a=b; c=d"),
        ],
        &[
            (":method", "HEAD"),
            (":path", "/big.bin"),
            ("range", "bytes=0-"),
            ("if-none-match", "\"5f-12\""),
            ("x-custom-name", "value"),
        ],
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut bases = Vec::new();
    for request in requests {
        // As this server's encoder writes them.
        let mut plain = Vec::new();
        qpack::begin(&mut plain);
        for (n, v) in request {
            qpack::field(&mut plain, n.as_bytes(), v.as_bytes());
        }
        bases.push(plain);
        // Every string Huffman-coded, names literal.
        let mut huffman = vec![0, 0];
        for (n, v) in request {
            write_int(&mut huffman, 0x28, 3, encoded_len(n.as_bytes()));
            encode(n.as_bytes(), &mut huffman);
            write_int(&mut huffman, 0x80, 7, encoded_len(v.as_bytes()));
            encode(v.as_bytes(), &mut huffman);
        }
        bases.push(huffman);
    }
    let mut out = bases.clone();
    while out.len() < count {
        let mut s = bases[rng.below(bases.len())].clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(s.len());
            match rng.below(5) {
                0 => s[at] ^= 1 << rng.below(8),
                1 => s.truncate(at),
                2 => s.insert(at, rng.next() as u8),
                3 => {
                    let run = s[at..]
                        .iter()
                        .take(1 + rng.below(8))
                        .copied()
                        .collect::<Vec<u8>>();
                    s.splice(at..at, run);
                }
                _ => {
                    s.truncate(at.max(2));
                    s.extend((0..rng.below(12)).map(|_| rng.next() as u8));
                }
            }
            if s.is_empty() {
                break;
            }
        }
        out.push(s);
    }
    out
}

/// The server's QPACK decoder and ls-qpack's (aioquic's pylsqpack) agree
/// on ten thousand field sections, valid and mutated: the same fields, or
/// both refuse.
#[test]
fn qpack_decodes_as_ls_qpack_does() {
    if !aioquic() {
        return;
    }
    let sections = sections(10_000);
    let dir = TempDir::new("qpack-ref");
    let file = dir.path().join("sections.hex");
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let lines: Vec<String> = sections.iter().map(|s| hex(s)).collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/qpack_ref.py"))
        .arg(&file)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8_lossy(&out.stdout).into_owned();
    let theirs: Vec<&str> = theirs.lines().collect();
    assert_eq!(theirs.len(), sections.len());
    let mut differ = Vec::new();
    let (mut valid, mut refused) = (0, 0);
    for (section, their) in sections.iter().zip(&theirs) {
        let mut fields = Vec::new();
        let ours = oneloop::http3::qpack::decode(section, 1 << 20, &mut Vec::new(), |n, v| {
            fields.push(format!("{}={}", hex(n), hex(v)))
        });
        let ours = match ours {
            Ok(()) => {
                valid += 1;
                std::iter::once("OK".to_string())
                    .chain(fields)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            Err(_) => {
                refused += 1;
                "ERR".to_string()
            }
        };
        if ours != *their {
            differ.push(format!("{}: ours {ours}, ls-qpack {their}", hex(section)));
        }
    }
    differ.sort_by_key(|d| d.len());
    differ.dedup();
    assert!(
        differ.is_empty(),
        "{} differ, first: {:#?}",
        differ.len(),
        &differ[..differ.len().min(20)]
    );
    // The corpus holds both kinds, in numbers.
    assert!(
        valid > 500 && refused > 1_000,
        "{valid} valid, {refused} refused"
    );
}

/// HTTPS answers over TCP, HTTP/1.1 and HTTP/2 alike, name HTTP/3's port
/// in `Alt-Svc`, so a browser comes back over QUIC; plain HTTP's do not,
/// and with `--http3 off` nothing is said.
#[test]
fn https_answers_point_browsers_at_http3() {
    let (_dir, pair, server) = serve("h3-alt-svc");
    let port = server.https[0].port();
    let want = format!("alt-svc: h3=\":{port}\"; ma=86400");
    let curl = |port: u16, extra: &[&str]| {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-D",
                "-",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "--cacert",
            ])
            .arg(&pair.cert)
            .args(extra)
            .arg(format!("https://localhost:{port}/hello.txt"))
            .output()
            .expect("run curl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_ascii_lowercase()
    };
    for extra in [&["--http1.1"][..], &["--http2"][..]] {
        let head = curl(port, extra);
        assert!(head.contains(&want), "{extra:?}: {head}");
    }
    let plain = over_http1(&server, "GET", "/hello.txt", &[]);
    assert!(!plain.fields.contains_key("alt-svc"), "{:?}", plain.fields);
    // HTTP/3 off: nothing to point at.
    let off = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        http3: false,
        ..Config::ephemeral()
    });
    let head = curl(off.https[0].port(), &["--http1.1"]);
    assert!(!head.contains("alt-svc"), "{head}");
}
