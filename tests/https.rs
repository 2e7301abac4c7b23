//! HTTPS with real clients: curl, Python's ssl, openssl s_client; SNI, resumption, reload.
//!
//! HTTPS over loopback: certificates made at test time with rcgen, and
//! real clients (curl, Python's ssl module, `openssl s_client`) on the
//! other side.
#![cfg(feature = "tls")]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Reap, TempDir, certificate, connect, exchange, get_req, start};
use oneloop::Config;
use oneloop::config::{CertPair, Timeouts};

const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tls_client.py");

/// A server with HTTPS on an ephemeral port for `pairs`.
fn serve(pairs: Vec<CertPair>, root: Option<PathBuf>) -> oneloop::Running {
    start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: pairs,
        root,
        timeouts: Timeouts {
            head: Duration::from_millis(500),
            ..Timeouts::default()
        },
        ..Config::ephemeral()
    })
}

/// A server with HTTPS for `localhost` on the default pair, the pair, and
/// the directory holding it (kept alive as long as the test needs it).
fn localhost(name: &str) -> (TempDir, CertPair, oneloop::Running) {
    let dir = TempDir::new(name);
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let server = serve(vec![pair.clone()], None);
    (dir, pair, server)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"))
}

fn python(args: &[&str]) -> String {
    let out = run(Command::new("python3").arg(CLIENT).args(args));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn curl(port: u16, ca: &Path, path: &str, extra: &[&str]) -> Output {
    run(Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(extra)
        .arg(format!("https://localhost:{port}{path}")))
}

#[test]
fn curl_gets_and_heads_with_alpn_http11() {
    let (_dir, pair, server) = localhost("https-curl");
    let port = server.https[0].port();
    let out = curl(port, &pair.cert, "/hello.txt", &["-v", "--http1.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ALPN: server accepted http/1.1"), "{err}");
    let head = curl(port, &pair.cert, "/hello.txt", &["-I", "--http1.1"]);
    let text = String::from_utf8_lossy(&head.stdout);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("Content-Length: 6"), "{text}");
    // A client that offers only http/1.0 by ALPN is served HTTP/1.0.
    let old = curl(port, &pair.cert, "/hello.txt", &["-v", "--http1.0"]);
    let err = String::from_utf8_lossy(&old.stderr);
    assert!(old.status.success(), "{err}");
    assert!(err.contains("ALPN: server accepted http/1.0"), "{err}");
    assert_eq!(String::from_utf8_lossy(&old.stdout), "Hello\n");
    server.stop().unwrap();
}

#[test]
fn large_files_arrive_intact_over_tls() {
    let dir = TempDir::new("https-big");
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let big = common::noise(3 << 20); // 3 MiB: read and encrypted in records
    let small = common::noise(200 << 10); // 200 KiB: a cached, shared body
    std::fs::write(root.join("big.bin"), &big).unwrap();
    std::fs::write(root.join("small.bin"), &small).unwrap();
    let server = serve(vec![pair.clone()], Some(root));
    let port = server.https[0].port();
    for (name, want) in [("/big.bin", &big), ("/small.bin", &small)] {
        let out = curl(port, &pair.cert, name, &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stdout == *want,
            "{name}: {} bytes differ",
            out.stdout.len()
        );
    }
    // A range of the large file, from the middle of a record.
    let out = curl(port, &pair.cert, "/big.bin", &["-r", "100000-299999"]);
    assert!(out.stdout == big[100_000..300_000]);
    server.stop().unwrap();
}

/// Sends `n` pipelined GETs for /hello.txt in one write over HTTPS and
/// checks that `n` answers came back, each "200 Hello", after ALPN chose
/// HTTP/1.1.
fn pipelined_answers_all(stem: &str, n: usize) {
    let (_dir, pair, server) = localhost(stem);
    let port = server.https[0].port().to_string();
    let cert = pair.cert.to_string_lossy().into_owned();
    let out = python(&["pipeline", &port, &cert, "localhost", &n.to_string()]);
    let tail = &out[out.len().saturating_sub(300)..];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "alpn http/1.1", "{tail}");
    assert_eq!(lines.len(), n + 1, "{tail}");
    assert!(lines[1..].iter().all(|l| *l == "200 Hello"), "{tail}");
    server.stop().unwrap();
}

#[test]
fn sixteen_pipelined_requests_are_answered_in_order() {
    pipelined_answers_all("https-pipe", 16);
}

#[test]
fn more_pipelined_requests_than_one_read_holds_are_all_answered() {
    // 3,000 requests are 130 KB: more plaintext than the loop's 64 KiB
    // read buffer takes at once, so whole records wait in the stream while
    // the first responses are sealed and sent.
    pipelined_answers_all("https-pipe-long", 3000);
}

#[test]
fn tls_12_and_13_are_spoken_and_11_is_refused() {
    let (_dir, pair, server) = localhost("https-versions");
    let port = server.https[0].port().to_string();
    let cert = pair.cert.to_string_lossy().into_owned();
    let ask = |v| python(&["version", &port, &cert, "localhost", v]);
    assert_eq!(ask("1.3").trim(), "TLSv1.3");
    assert_eq!(ask("1.2").trim(), "TLSv1.2");
    assert!(ask("1.1").starts_with("refused"), "TLS 1.1 must be refused");
    server.stop().unwrap();
}

#[test]
fn sessions_resume_in_both_versions() {
    let (dir, pair, server) = localhost("https-resume");
    let connect_to = format!("127.0.0.1:{}", server.https[0].port());
    for version in ["-tls1_3", "-tls1_2"] {
        let session = dir.path().join(format!("session{version}"));
        let s_client = |sess: &str| {
            let mut child = Command::new("openssl")
                .args([
                    "s_client",
                    "-connect",
                    &connect_to,
                    "-servername",
                    "localhost",
                ])
                .arg(version)
                .arg("-CAfile")
                .arg(&pair.cert)
                .arg(sess)
                .arg(&session)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("openssl s_client");
            let mut stdin = child.stdin.take().unwrap();
            // TLS 1.3 tickets arrive after the handshake: ask for something
            // and give the client a moment to read them before it quits.
            stdin
                .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            std::thread::sleep(Duration::from_millis(300));
            drop(stdin);
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child.wait().unwrap();
            out
        };
        let first = s_client("-sess_out");
        assert!(first.contains("New, TLSv1."), "{version}: {first}");
        let second = s_client("-sess_in");
        assert!(
            second.contains("Reused, TLSv1."),
            "{version} not resumed: {second}"
        );
    }
    server.stop().unwrap();
}

#[test]
fn sni_picks_the_named_certificate_and_the_first_is_the_default() {
    let dir = TempDir::new("https-sni");
    let a = certificate(dir.path(), "a", &["a.test"]);
    let b = certificate(dir.path(), "b", &["b.test", "www.b.test"]);
    let server = serve(vec![a.clone(), b.clone()], None);
    let port = server.https[0].port().to_string();
    let ask = |ca: &Path, name: &str| {
        python(&["sni", &port, &ca.to_string_lossy(), name])
            .trim()
            .to_string()
    };
    assert_eq!(ask(&b.cert, "b.test"), "b.test");
    assert_eq!(ask(&b.cert, "www.b.test"), "b.test");
    assert_eq!(ask(&a.cert, "a.test"), "a.test");
    // A name no certificate carries gets the default (the first pair).
    let out = run(Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-noservername",
        ])
        .stdin(std::process::Stdio::null()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CN=a.test") || text.contains("CN = a.test"),
        "{text}"
    );
    server.stop().unwrap();
}

#[test]
fn plain_http_to_the_tls_port_is_closed_and_nobody_else_notices() {
    let (_dir, pair, server) = localhost("https-plain");
    let mut s = connect(server.https[0]);
    s.write_all(get_req("/hello.txt").as_bytes()).unwrap();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got); // an alert, then the close
    assert!(!got.starts_with(b"HTTP/"), "answered in plain text");
    assert!(got.len() < 64, "{} bytes", got.len());
    // Garbage too, and both plain HTTP and HTTPS still serve.
    let mut g = connect(server.https[0]);
    g.write_all(&common::noise(3000)).unwrap();
    let _ = g.read_to_end(&mut got);
    let mut plain = connect(server.http[0]);
    assert_eq!(
        exchange(&mut plain, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    let out = curl(server.https[0].port(), &pair.cert, "/hello.txt", &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");
    server.stop().unwrap();
}

#[test]
fn half_a_client_hello_is_cut_at_the_head_deadline() {
    let (_dir, pair, server) = localhost("https-half"); // head deadline: 500 ms
    let port = server.https[0].port();
    let port_arg = port.to_string();
    let half = std::thread::spawn(move || python(&["half", &port_arg]));
    // Meanwhile a normal client is served, round after round.
    let start = Instant::now();
    let mut served = 0;
    while start.elapsed() < Duration::from_millis(800) {
        let out = curl(port, &pair.cert, "/hello.txt", &[]);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");
        served += 1;
    }
    let said = half.join().unwrap();
    let secs: f64 = said
        .trim()
        .strip_prefix("closed after ")
        .and_then(|s| s.strip_suffix(" s"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!((0.4..3.0).contains(&secs), "cut after {secs} s");
    assert!(served >= 2, "{served}");
    server.stop().unwrap();
}

#[test]
fn start_up_errors_name_the_file_and_the_problem() {
    let dir = TempDir::new("https-errors");
    let good = certificate(dir.path(), "good", &["localhost"]);
    let other = certificate(dir.path(), "other", &["localhost"]);
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let error = |pair: CertPair| -> String {
        let config = Config {
            https: vec!["127.0.0.1:0".parse().unwrap()],
            tls: vec![pair],
            ..Config::ephemeral()
        };
        match oneloop::Server::bind(config) {
            Ok(_) => panic!("bound with a bad pair"),
            Err(e) => e.to_string(),
        }
    };
    let e = error(CertPair {
        cert: missing.clone(),
        key: good.key.clone(),
    });
    assert!(
        e.starts_with("--tls-cert ") && e.contains("missing.pem") && e.contains("give the path"),
        "{e}"
    );
    let e = error(CertPair {
        cert: empty.clone(),
        key: good.key.clone(),
    });
    assert!(
        e.contains("empty.pem") && e.contains("no certificate"),
        "{e}"
    );
    let e = error(CertPair {
        cert: good.cert.clone(),
        key: empty.clone(),
    });
    assert!(
        e.contains("empty.pem") && e.contains("no private key"),
        "{e}"
    );
    let e = error(CertPair {
        cert: good.cert.clone(),
        key: other.key.clone(),
    });
    assert!(
        e.starts_with("--tls-key ")
            && e.contains("other.key")
            && e.contains("does not go with")
            && e.contains("their public keys differ")
            && !e.contains("KeyMismatch"),
        "{e}"
    );
    // --https without a pair.
    let config = Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        ..Config::ephemeral()
    };
    let e = oneloop::Server::bind(config)
        .err()
        .expect("refused")
        .to_string();
    assert!(e.contains("--tls-cert"), "{e}");
}

#[test]
fn sighup_reloads_certificates_for_new_handshakes_only() {
    use std::io::BufRead;
    use std::process::Stdio;
    let dir = TempDir::new("https-reload");
    let one = certificate(dir.path(), "one", &["one", "localhost"]);
    let two = certificate(dir.path(), "two", &["two", "localhost"]);
    let live = CertPair {
        cert: dir.path().join("live.crt"),
        key: dir.path().join("live.key"),
    };
    std::fs::copy(&one.cert, &live.cert).unwrap();
    std::fs::copy(&one.key, &live.key).unwrap();
    // Both certificates are trusted, so each handshake says which it got.
    let trust = dir.path().join("trust.pem");
    let both = [
        std::fs::read(&one.cert).unwrap(),
        std::fs::read(&two.cert).unwrap(),
    ]
    .concat();
    std::fs::write(&trust, both).unwrap();
    let server = Command::new(env!("CARGO_BIN_EXE_oneloop"))
        .args([
            "--http",
            "127.0.0.1:0",
            "--time",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
        ])
        .arg("--tls-cert")
        .arg(&live.cert)
        .arg("--tls-key")
        .arg(&live.key)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Reap(server);
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = server.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let port = first
        .split("HTTPS on 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split([' ', ',']).next())
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let trust_arg = trust.to_string_lossy().into_owned();
    let name = |host: &str| python(&["sni", &port, &trust_arg, host]).trim().to_string();
    assert_eq!(name("localhost"), "one");
    // A keep-alive connection opened before the reload.
    let mut keep = Command::new("python3")
        .args([CLIENT, "keep", &port, &trust_arg, "localhost"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut kept = std::io::BufReader::new(keep.stdout.take().unwrap());
    let mut line = String::new();
    kept.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "1 one 200");

    let hup = |expect: &str| {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(server.0.id() as i32, libc::SIGHUP) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            if line.contains(expect) {
                return line;
            }
            assert!(Instant::now() < deadline, "no {expect:?}");
        }
    };
    std::fs::copy(&two.cert, &live.cert).unwrap();
    std::fs::copy(&two.key, &live.key).unwrap();
    hup("certificates reloaded");
    assert_eq!(
        name("localhost"),
        "two",
        "a new handshake sees the new pair"
    );
    keep.stdin.take().unwrap().write_all(b"again\n").unwrap();
    line.clear();
    kept.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "2 200", "the open connection keeps working");
    keep.wait().unwrap();

    // A reload that fails keeps the old pair, and says which file.
    std::fs::write(&live.key, "not a key\n").unwrap();
    let said = hup("reload certificates");
    assert!(said.contains("live.key"), "{said}");
    assert_eq!(name("localhost"), "two");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(server.0.id() as i32, libc::SIGTERM) };
    assert!(server.0.wait().unwrap().success());
}

#[test]
fn plain_http_redirects_to_https_and_https_says_hsts() {
    let dir = TempDir::new("https-redirect");
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        redirect_https: true,
        hsts: Some(31_536_000),
        ..Config::ephemeral()
    });
    let port = server.https[0].port();
    let mut plain = connect(server.http[0]);
    let r = &exchange(
        &mut plain,
        b"GET /hello.txt?x=1 HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        1,
    )[0];
    assert_eq!(r.status, 308);
    let want = format!("https://localhost:{port}/hello.txt?x=1");
    assert_eq!(r.header("location"), Some(want.as_str()));
    assert_eq!(
        r.header("strict-transport-security"),
        None,
        "never over plain HTTP"
    );
    // The same connection goes on, and other methods are not redirected.
    let r = &exchange(
        &mut plain,
        b"DELETE / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
        1,
    )[0];
    assert_eq!(r.status, 405);
    // Following it lands on the file, with HSTS, over HTTP/2 as over 1.1.
    let out = curl(port, &pair.cert, "/hello.txt", &["-i", "--http2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age=31536000\r\n"),
        "{text}"
    );
    let out = curl(port, &pair.cert, "/hello.txt", &["-i", "--http1.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Strict-Transport-Security: max-age=31536000\r\n"),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\nHello\n"), "{text}");
    let out = curl(port, &pair.cert, "/nope", &["-i", "--http1.1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 404"), "{text}");
    assert!(
        text.contains("Strict-Transport-Security: max-age=31536000\r\n"),
        "{text}"
    );
    server.stop().unwrap();
}

#[test]
fn testssl_finds_no_old_protocol_and_nothing_vulnerable() {
    let present = Command::new("testssl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        common::skip(
            "ONELOOP_REQUIRE_TESTSSL",
            "no testssl (apt-get install testssl.sh)",
        );
        return;
    }
    let dir = TempDir::new("https-testssl");
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let server = serve(vec![pair], None);
    let out = run(Command::new("testssl")
        .args(["--quiet", "--color", "0", "--warnings", "off", "-p", "-U"])
        .arg(server.https[0].to_string()));
    let text = String::from_utf8_lossy(&out.stdout);
    for (protocol, offered) in [
        ("SSLv2", false),
        ("SSLv3", false),
        ("TLS 1 ", false),
        ("TLS 1.1", false),
        ("TLS 1.2", true),
        ("TLS 1.3", true),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(protocol))
            .unwrap_or_else(|| panic!("no {protocol} line in\n{text}"));
        assert_eq!(line.contains("not offered"), !offered, "{line}");
    }
    assert!(
        text.contains("Heartbleed"),
        "vulnerability checks ran:\n{text}"
    );
    let vulnerable: Vec<&str> = text.lines().filter(|l| l.contains("VULNERABLE")).collect();
    assert!(vulnerable.is_empty(), "{vulnerable:#?}");
    server.stop().unwrap();
}

#[test]
fn vanishing_handshakes_leave_nothing_behind() {
    use std::io::BufRead;
    use std::process::Stdio;
    let dir = TempDir::new("https-vanish");
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let child = Command::new(env!("CARGO_BIN_EXE_oneloop"))
        .args([
            "--http",
            "127.0.0.1:0",
            "--time",
            "127.0.0.1:0",
            "--https",
            "127.0.0.1:0",
        ])
        .args(["--metrics-path", "/metrics", "--tls-cert"])
        .arg(&pair.cert)
        .arg("--tls-key")
        .arg(&pair.key)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);
    let mut lines = std::io::BufReader::new(child.0.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    std::thread::spawn(move || for _ in lines {});
    let addr = |marker: &str| -> std::net::SocketAddr {
        let rest = &first[first.find(marker).unwrap_or_else(|| panic!("{first}")) + marker.len()..];
        rest.split([' ', ',']).next().unwrap().parse().unwrap()
    };
    let (http, https) = (addr("HTTP on "), addr("HTTPS on "));
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.0.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    // Bursts of clients that start a handshake and vanish, all at once:
    // half a ClientHello, or nothing after the connect.
    let burst = || {
        let socks: Vec<_> = (0..500)
            .map(|i| {
                let mut s = std::net::TcpStream::connect(https).unwrap();
                if i % 2 == 0 {
                    let _ = s.write_all(&[22, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3]);
                }
                s
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        drop(socks);
        std::thread::sleep(Duration::from_millis(300));
    };
    burst();
    let after_one = rss();
    for _ in 0..3 {
        burst();
    }
    let after_four = rss();
    assert!(
        after_four <= after_one + 256,
        "RSS grew from {after_one} to {after_four} KiB over three more bursts"
    );
    let mut plain = connect(http);
    let metrics = &exchange(&mut plain, get_req("/metrics").as_bytes(), 1)[0];
    assert!(
        metrics
            .text()
            .contains("\noneloop_https_connections_open 0\n"),
        "{}",
        metrics.text()
    );
    let out = curl(https.port(), &pair.cert, "/hello.txt", &[]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n");
}
