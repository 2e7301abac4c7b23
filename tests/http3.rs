//! HTTP/3 with a real client: aioquic (its QPACK is ls-qpack) against the same answers HTTP/1.1 gives.
//!
//! HTTP/3 over loopback, with the certificates made at test time and
//! aioquic on the other side (`tests/h3_client.py`; `pip install
//! aioquic`). Every answer is held to the one HTTP/1.1 gives for the same
//! request on the same server: the static semantics are one, whatever
//! frames them. (Hostile clients are in tests/http3_hostile.rs.)
#![cfg(feature = "http3")]

mod common;

use std::process::Command;

use common::h3::*;
use common::{TempDir, start};
use oneloop::Config;

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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/qpack_ref.py");
    let theirs = python(script, &[file.display().to_string()]);
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
/// and with `--http3 off` nothing is said. Behind a Service that maps 443
/// to the bound port, `--public-https-port 443` names 443, and the
/// redirect to HTTPS goes there too.
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
    let behind = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        public_https_port: Some(443),
        redirect_https: true,
        ..Config::ephemeral()
    });
    let head = curl(behind.https[0].port(), &["--http2"]);
    assert!(head.contains("alt-svc: h3=\":443\"; ma=86400"), "{head}");
    let mut s = common::connect(behind.http[0]);
    let moved = common::exchange(
        &mut s,
        b"GET /hello.txt HTTP/1.1\r\nHost: example.org:8080\r\n\r\n",
        1,
    )
    .remove(0);
    assert_eq!(moved.status, 308);
    let location = moved.header("location").expect("a Location");
    // 443 is HTTPS's own: the URL needs no port.
    assert_eq!(location, "https://example.org/hello.txt");
    // Without an HTTPS address to stand for, it is a start-up error.
    let alone = oneloop::Server::bind(Config {
        public_https_port: Some(443),
        ..Config::ephemeral()
    });
    let Err(e) = alone else {
        panic!("--public-https-port without --https started");
    };
    assert!(
        e.to_string()
            .contains("--public-https-port needs an --https address"),
        "{e}"
    );
}

/// The base64 SHA-256 of a certificate's public key, as Chromium's
/// `--ignore-certificate-errors-spki-list` takes it (openssl computes it).
fn spki_hash(cert: &std::path::Path) -> String {
    let script = format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        cert.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Headless Chromium, told to use QUIC for the origin and to trust the
/// test certificate's key, loads a page of 30 assets: every one comes
/// over HTTP/3 (the access log says `HTTP/3.0`), on one connection.
#[test]
fn chromium_loads_thirty_assets_over_one_http3_connection() {
    if !common::chromium_available() {
        common::skip(
            "ONELOOP_REQUIRE_CHROMIUM",
            "no chromium (apt-get install chromium)",
        );
        return;
    }
    let dir = TempDir::new("h3-chromium");
    let root = dir.path().join("www");
    common::thirty_asset_site(&root);
    let pair = common::certificate(dir.path(), "localhost", &["localhost"]);
    let log = dir.path().join("access.log");
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        root: Some(root),
        access_log: Some(log.to_string_lossy().into_owned()),
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    let port = server.https[0].port();
    let extra = [
        "--enable-quic".to_string(),
        format!("--origin-to-force-quic-on=localhost:{port}"),
        // The server is on 127.0.0.1: QUIC does not fall back from ::1 as
        // TCP's happy eyeballs do.
        "--host-resolver-rules=MAP localhost 127.0.0.1".to_string(),
        format!(
            "--ignore-certificate-errors-spki-list={}",
            spki_hash(&pair.cert)
        ),
    ];
    common::chromium_loads_thirty_assets(&extra, &format!("https://localhost:{port}/"));
    let metrics = metrics_text(&server);
    server.stop().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    common::assert_thirty_assets_logged(&text, "HTTP/3.0");
    assert_eq!(
        sample(&metrics, "oneloop_http3_connections_total"),
        1,
        "{metrics}"
    );
    assert!(
        sample(&metrics, "oneloop_http3_streams_total") >= 31,
        "{metrics}"
    );
}

/// A UDP relay between a client and `server` that drops one datagram in
/// a hundred either way (seeded): its port, the flag that stops it, and
/// the count of datagrams it dropped.
type Relay = (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
);

fn lossy_relay(server: std::net::SocketAddr) -> Relay {
    use std::net::UdpSocket;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    let front = UdpSocket::bind("127.0.0.1:0").unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").unwrap();
    back.connect(server).unwrap();
    for s in [&front, &back] {
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    }
    let port = front.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let (dropped1, dropped2) = (dropped.clone(), dropped.clone());
    let client = Arc::new(Mutex::new(None));
    let (front2, back2) = (front.try_clone().unwrap(), back.try_clone().unwrap());
    let (stop1, stop2) = (stop.clone(), stop.clone());
    let client2 = client.clone();
    std::thread::spawn(move || {
        let mut rng = Rng(0x1055_0001);
        let mut buf = vec![0u8; 65_536];
        while !stop1.load(Ordering::Relaxed) {
            if let Ok((n, from)) = front.recv_from(&mut buf) {
                *client.lock().unwrap() = Some(from);
                match rng.below(100) {
                    0 => _ = dropped1.fetch_add(1, Ordering::Relaxed),
                    _ => _ = back.send(&buf[..n]),
                }
            }
        }
    });
    std::thread::spawn(move || {
        let mut rng = Rng(0x1055_0002);
        let mut buf = vec![0u8; 65_536];
        while !stop2.load(Ordering::Relaxed) {
            if let Ok(n) = back2.recv(&mut buf) {
                let to = *client2.lock().unwrap();
                match (to, rng.below(100)) {
                    (_, 0) => _ = dropped2.fetch_add(1, Ordering::Relaxed),
                    (Some(to), _) => _ = front2.send_to(&buf[..n], to),
                    (None, _) => {}
                }
            }
        }
    });
    (port, stop, dropped)
}

/// 100 MB over HTTP/3 through a relay that loses 1% of the datagrams each
/// way: QUIC sends again what was lost, and the body arrives whole, by
/// its SHA-256; the metrics count the packets lost, and show a round trip
/// while the connection is open.
#[test]
fn a_hundred_megabytes_arrive_whole_through_one_percent_loss() {
    if !aioquic() {
        return;
    }
    let dir = TempDir::new("h3-loss");
    let pair = common::certificate(dir.path(), "localhost", &["localhost"]);
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    let body = common::noise(100_000_000);
    std::fs::write(root.join("100m.bin"), &body).unwrap();
    let want = sha256_hex(&body);
    drop(body);
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        root: Some(root),
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    let (relay, stop, dropped) = lossy_relay(server.https[0]);
    // The round-trip gauge, read every 300 ms during the download.
    let http = server.http[0];
    let watching = std::sync::Arc::clone(&stop);
    let watch = std::thread::spawn(move || {
        let mut rtts = Vec::new();
        while !watching.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let text = metrics_at(http);
            let rtt = text
                .lines()
                .find_map(|l| l.strip_prefix("oneloop_quic_rtt_seconds "))
                .expect("the round-trip gauge");
            rtts.push(rtt.parse::<f64>().expect("seconds"));
        }
        rtts
    });
    let (got, last) = h3(relay, &pair.cert, &[("GET", "/100m.bin", &[])]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rtts = watch.join().unwrap();
    assert_eq!(last, "CONNECTION ok");
    let Got::Answer(seen) = &got[0] else {
        panic!("{got:?}");
    };
    assert_eq!((seen.status, seen.len), (200, 100_000_000));
    assert_eq!(seen.sha256, want);
    // The loss was real: some 70,000 datagrams carry 100 MB, and one in a
    // hundred was dropped.
    let dropped = dropped.load(std::sync::atomic::Ordering::Relaxed);
    assert!(dropped > 300, "{dropped} dropped");
    // A round trip through the relay: above zero, under a second.
    assert!(
        rtts.iter().any(|&r| r > 0.0) && rtts.iter().all(|&r| r < 1.0),
        "{rtts:?}"
    );
    // Once the client has closed and the connection drained, its counts
    // are in the totals: some 70,000 packets sent, and the ~1% the relay
    // dropped on the way to the client declared lost (a late packet may
    // count too, hence a wide bound).
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let text = metrics_text(&server);
    let sent = sample(&text, "oneloop_quic_packets_total{outcome=\"sent\"}");
    let lost = sample(&text, "oneloop_quic_packets_total{outcome=\"lost\"}");
    assert!(sent > 70_000, "{sent} packets sent: {text}");
    assert!(lost > 100 && lost < sent / 10, "{lost} of {sent} lost");
    assert_eq!(sample(&text, "oneloop_http3_connections_open"), 0, "{text}");
}

/// ngtcp2's client (`gtlsclient`, GnuTLS underneath: a QUIC and TLS
/// stack no one here wrote) fetches files, and each arrives whole.
#[test]
fn gtlsclient_fetches_files_whole() {
    let found = Command::new("gtlsclient")
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skip(
            "ONELOOP_REQUIRE_GTLSCLIENT",
            "no gtlsclient (apt-get install ngtcp2-client)",
        );
        return;
    }
    let (dir, _pair, server) = serve("h3-gtlsclient");
    let port = server.https[0].port();
    let download = dir.path().join("download");
    std::fs::create_dir(&download).unwrap();
    let out = Command::new("timeout")
        .args([
            "20",
            "gtlsclient",
            "--exit-on-all-streams-close",
            "-q",
            "--download",
        ])
        .arg(&download)
        .args(["127.0.0.1", &port.to_string()])
        .arg(format!("https://localhost:{port}/hello.txt"))
        .arg(format!("https://localhost:{port}/big.bin"))
        .output()
        .expect("run gtlsclient");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["hello.txt", "big.bin"] {
        let got = std::fs::read(download.join(name)).expect("downloaded");
        let want = std::fs::read(dir.path().join("www").join(name)).unwrap();
        assert_eq!(sha256_hex(&got), sha256_hex(&want), "{name}");
    }
}

/// `RUST_LOG=oneloop=trace` narrates QUIC: datagrams by the syscall, the
/// connection found by its handle through its handshake, each request on
/// its stream, its end with its packet counts; at the default level
/// nothing of it.
#[test]
fn trace_narrates_quic_from_the_initial_to_the_drain() {
    if !aioquic() {
        return;
    }
    let dir = TempDir::new("h3-trace");
    let pair = common::certificate(dir.path(), "localhost", &["localhost"]);
    let narrate = |rust_log: &str| -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oneloop"))
            .args(["--http", "127.0.0.1:0", "--time", "127.0.0.1:0"])
            .args(["--https", "127.0.0.1:0", "--tls-cert"])
            .arg(&pair.cert)
            .arg("--tls-key")
            .arg(&pair.key)
            .env("RUST_LOG", rust_log)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start oneloop");
        let stderr = child.stderr.take().unwrap();
        let reap = common::Reap(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let wait = std::time::Duration::from_secs(10);
        let mut text = String::new();
        let first = loop {
            let line = rx.recv_timeout(wait).expect("the start-up line");
            text.push_str(&line);
            text.push('\n');
            if line.contains("serving HTTP on ") {
                break line;
            }
        };
        let at = first.find("HTTPS on ").expect("HTTPS on") + 9;
        let https: std::net::SocketAddr = first[at..]
            .split([' ', ','])
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let (got, last) = h3(https.port(), &pair.cert, &[("GET", "/hello.txt", &[])]);
        assert_eq!(last, "CONNECTION ok");
        assert!(
            matches!(&got[0], Got::Answer(s) if s.status == 200),
            "{got:?}"
        );
        // The client closed: the connection drains (three probe timeouts)
        // and is forgotten; with trace on, wait to be told so.
        let deadline = std::time::Instant::now() + wait;
        while rust_log.contains("trace")
            && !text.contains("closed and drained")
            && std::time::Instant::now() < deadline
        {
            if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(100)) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        unsafe { libc::kill(reap.0.id() as i32, libc::SIGTERM) };
        while let Ok(line) = rx.recv_timeout(wait) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    };
    let text = narrate("oneloop=trace");
    for phrase in [
        "wakeup: 1 event: HTTP/3 readable",
        "HTTP/3: 1 datagram in one recvmmsg",
        "QUIC connection 0: an Initial from 127.0.0.1:",
        "taken, the handshake begins",
        "QUIC connection 0: handshake done (ALPN h3), round trip ",
        "QUIC connection 0: the client opened stream 0 (a request)",
        "HTTP/3 stream 0: GET /hello.txt HTTP/3.0 -> HEADERS (200), 6 bytes of DATA to follow",
        "QUIC connection 0: closed and drained; ",
        " in 1 syscall",
    ] {
        assert!(text.contains(phrase), "{phrase:?} in\n{text}");
    }
    let quiet = narrate("info");
    assert!(!quiet.contains("QUIC"), "{quiet}");
    assert!(!quiet.contains("HTTP/3 stream"), "{quiet}");
}
