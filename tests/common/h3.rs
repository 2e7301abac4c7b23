//! HTTP/3 helpers for the integration tests: aioquic as the client, the server under test, what HTTP/1.1 says of the same request.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use super::{TempDir, certificate, connect, exchange, skip, start};
use oneloop::Config;
use oneloop::config::CertPair;

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_client.py");

/// One answer as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub status: u16,
    pub fields: BTreeMap<String, String>,
    pub len: u64,
    pub sha256: String,
}

/// Runs the Python script `script` (a path) with `args`; what it printed.
/// It must succeed.
pub fn python(script: &str, args: &[String]) -> String {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Whether aioquic is there; if not, the test says so and is skipped (or
/// fails, under CI).
pub fn aioquic() -> bool {
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
pub type Request<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// What the client saw of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Answer(Seen),
    Reset(u64),
    Closed(u64),
}

/// Sends `requests` (method, path, fields) at once on one connection;
/// returns what came of each and the connection's last line.
pub fn h3(port: u16, ca: &Path, requests: &[Request<'_>]) -> (Vec<Got>, String) {
    let mut args = vec![
        "127.0.0.1".to_string(),
        port.to_string(),
        ca.display().to_string(),
    ];
    args.extend(requests.iter().map(|(method, path, fields)| {
        let mut arg = format!("{method} {path}");
        for (n, v) in *fields {
            arg.push_str(&format!("\t{n}: {v}"));
        }
        arg
    }));
    let text = python(CLIENT, &args);
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
pub fn serve(name: &str) -> (TempDir, CertPair, oneloop::Running) {
    let dir = TempDir::new(name);
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "Hello\n").unwrap();
    std::fs::write(root.join("big.bin"), super::noise(3 << 20)).unwrap();
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
pub fn over_http1(
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

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The fields both framings must agree on (HTTP/1.1 adds its own:
/// `Connection`, `Keep-Alive`; HTTP/3 says nothing about the connection).
pub const COMPARED: [&str; 9] = [
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

/// The metrics page's text, over HTTP/1.1.
pub fn metrics_text(server: &oneloop::Running) -> String {
    metrics_at(server.http[0])
}

/// The metrics page of the server whose plain HTTP is at `http`.
pub fn metrics_at(http: std::net::SocketAddr) -> String {
    let mut s = connect(http);
    let r = exchange(
        &mut s,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n",
        1,
    )
    .remove(0);
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A seeded xorshift: the same corpus on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// CPU seconds the server's thread (named `oneloop`) has used, and this
/// process's resident memory in KiB.
pub fn server_cpu_and_rss() -> (f64, u64) {
    let mut cpu = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        if let Some((_, rest)) = stat.split_once(") ")
            && stat.contains("(oneloop)")
        {
            let fields: Vec<&str> = rest.split(' ').collect();
            let ticks: u64 =
                fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
            cpu += ticks as f64 / 100.0;
        }
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    (cpu, rss)
}

/// The last value of metric `line`'s sample (its name and labels), as a
/// number.
pub fn sample(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in {text}"))
}
