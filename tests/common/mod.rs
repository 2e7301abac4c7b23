//! Helpers for the integration tests: servers on ephemeral ports, strict response parsing.
//!
//! Helpers shared by the integration tests: start a server on ephemeral
//! ports, talk to it over real loopback sockets, parse what it says strictly.

#![allow(dead_code)] // each test file uses its own subset

#[cfg(feature = "http3")]
pub mod h3;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use oneloop::config::CertPair;
use oneloop::{Config, Running};

/// How long any single test waits for the server before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Starts a server with `config` (which should use port 0).
pub fn start(config: Config) -> Running {
    let _ = env_logger::builder().is_test(true).try_init();
    oneloop::spawn(config).expect("server starts")
}

/// Starts a server with ephemeral ports and the embedded site.
pub fn start_default() -> Running {
    start(Config::ephemeral())
}

/// A connected client with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// One parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The single value of a header (panics if it appears more than once).
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = values.next();
        assert!(values.next().is_none(), "header {name} appears twice");
        first
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Parses one response from the front of `buf`, strictly: CRLF line ends,
/// `HTTP/1.1 DDD reason`, `name: value` fields with token names, a body of
/// exactly Content-Length bytes (none for HEAD and 1xx). Returns the
/// response and its length, `None` if incomplete; panics on bad syntax.
pub fn parse_response(buf: &[u8], head_request: bool) -> Option<(Response, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).expect("head is ASCII");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    assert!(
        !head.contains('\n') || head.split("\r\n").all(|l| !l.contains('\n')),
        "bare LF in {head:?}"
    );
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().expect("version").to_string();
    assert_eq!(version, "HTTP/1.1", "status line {status_line:?}");
    let code = parts.next().expect("code");
    assert!(
        code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
        "code {code:?}"
    );
    let status: u16 = code.parse().expect("code");
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("field {line:?}"));
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)),
            "field name {name:?}"
        );
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut resp = Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    let body_start = end + 4;
    let len: usize = if head_request || status < 200 || status == 204 || status == 304 {
        0
    } else {
        resp.header("content-length")
            .expect("every response has Content-Length")
            .parse()
            .expect("numeric Content-Length")
    };
    if buf.len() < body_start + len {
        return None;
    }
    resp.body = buf[body_start..body_start + len].to_vec();
    Some((resp, body_start + len))
}

/// Reads from `s` until `heads.len()` responses are complete (each entry
/// says whether that request was HEAD). Panics on timeout or early EOF.
pub fn read_responses(s: &mut TcpStream, heads: &[bool]) -> Vec<Response> {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    let deadline = Instant::now() + PATIENCE;
    while out.len() < heads.len() {
        while out.len() < heads.len() {
            match parse_response(&buf, heads[out.len()]) {
                Some((r, n)) => {
                    buf.drain(..n);
                    out.push(r);
                }
                None => break,
            }
        }
        if out.len() == heads.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {} responses",
            out.len()
        );
        let n = s.read(&mut chunk).expect("read");
        assert!(
            n > 0,
            "EOF after {} of {} responses; left: {:?}",
            out.len(),
            heads.len(),
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    assert!(
        buf.is_empty(),
        "extra bytes after the responses: {:?}",
        String::from_utf8_lossy(&buf)
    );
    out
}

/// Sends `raw` and reads `count` responses to non-HEAD requests.
pub fn exchange(s: &mut TcpStream, raw: &[u8], count: usize) -> Vec<Response> {
    s.write_all(raw).expect("write");
    read_responses(s, &vec![false; count])
}

/// One request on a fresh connection; returns the response.
pub fn get(addr: SocketAddr, raw: &str) -> Response {
    let mut s = connect(addr);
    let head = raw.starts_with("HEAD ");
    s.write_all(raw.as_bytes()).expect("write");
    read_responses(&mut s, &[head]).remove(0)
}

/// Whether the server closes `s` (EOF, or a reset) within the patience.
pub fn closes(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1024];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// A simple GET for `path` with a Host header.
pub fn get_req(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// A fresh directory under the target dir, removed at drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("oneloop-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Pseudo-random bytes, so a misplaced chunk would show.
pub fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A child process killed and reaped if the test fails before it ends: a
/// server left running would hold the test runner's output open.
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes a self-signed certificate for `names` and its key; returns the pair.
pub fn certificate(dir: &Path, stem: &str, names: &[&str]) -> CertPair {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names.clone()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0].clone());
    let key = rcgen::KeyPair::generate().unwrap(); // ECDSA P-256
    let cert = params.self_signed(&key).unwrap();
    let pair = CertPair {
        cert: dir.join(format!("{stem}.crt")),
        key: dir.join(format!("{stem}.key")),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    pair
}

/// The browser the page tests drive, headless.
pub const CHROMIUM: &str = "chromium";

/// Whether Chromium runs here.
pub fn chromium_available() -> bool {
    std::process::Command::new(CHROMIUM)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this run is CI's (`CI` set to anything but empty, `0` or
/// `false`, as GitHub Actions, GitLab and `.ci/run` set it).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A test that cannot run here: `why` says what is missing and how to
/// install it. Under CI, or with `require` set in the environment, that
/// fails the test. Elsewhere the test returns, and the line is written
/// straight to the terminal (libtest hides a passing test's own output),
/// naming the test, so a reader of `cargo test` sees what did not run.
pub fn skip(require: &str, why: &str) {
    if under_ci() || std::env::var_os(require).is_some() {
        panic!("{why}: required here (CI or {require} is set), so this test fails");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // io::stderr() itself is not captured: only the print macros are.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

/// Writes, under `root`, a page of 30 assets (ten stylesheets, ten
/// scripts that each mark the page when they run, ten images) as
/// `index.html`: what a browser test loads over one connection.
pub fn thirty_asset_site(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let mut page = String::from("<!doctype html><html><head><title>thirty</title>\n");
    for i in 0..10 {
        page.push_str(&format!("<link rel=stylesheet href=\"/s{i}.css\">\n"));
        std::fs::write(
            root.join(format!("s{i}.css")),
            format!(".c{i} {{ color: #{i}{i}{i}; }}\n"),
        )
        .unwrap();
    }
    page.push_str("</head><body>\n");
    for i in 0..10 {
        page.push_str(&format!("<script src=\"/j{i}.js\"></script>\n"));
        std::fs::write(
            root.join(format!("j{i}.js")),
            format!("document.body.dataset.j{i} = 'ran';\n"),
        )
        .unwrap();
    }
    for i in 0..10 {
        page.push_str(&format!("<img src=\"/i{i}.svg\" width=8 height=8>\n"));
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"><rect width=\"8\" height=\"{i}\"/></svg>\n"
        );
        std::fs::write(root.join(format!("i{i}.svg")), svg).unwrap();
    }
    page.push_str("</body></html>\n");
    std::fs::write(root.join("index.html"), page).unwrap();
}

/// Headless Chromium's DOM of `url` once its scripts ran (3 s of virtual
/// time), with `extra` flags; the page of [`thirty_asset_site`] must have
/// arrived whole: each of its ten scripts marked it.
pub fn chromium_loads_thirty_assets(extra: &[String], url: &str) {
    let profile = TempDir::new("chromium-profile");
    let out = std::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .args(extra)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    for i in 0..10 {
        assert!(
            dom.contains(&format!("data-j{i}=\"ran\"")),
            "script {i}: {dom}"
        );
    }
}

/// The access log `text` of a load of [`thirty_asset_site`]: every asset
/// fetched once, and every line (the favicon and the metrics aside) a 200
/// over `version` (`HTTP/2.0`, `HTTP/3.0`).
pub fn assert_thirty_assets_logged(text: &str, version: &str) {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("/favicon.ico") && !l.contains("GET /metrics"))
        .collect();
    let fetched = lines
        .iter()
        .filter(|l| {
            ["/s", "/j", "/i"]
                .iter()
                .any(|a| l.contains(&format!("\"GET {a}")))
        })
        .count();
    assert_eq!(fetched, 30, "every asset fetched once: {text}");
    let other: Vec<&&str> = lines
        .iter()
        .filter(|l| !l.contains(&format!(" {version}\" 200 ")))
        .collect();
    assert!(other.is_empty(), "all over {version}: {other:?}");
}
