//! HTTP/2 with clients no one here wrote: curl, nghttp, h2load, Python's h2.
//!
//! HTTP/2 over loopback with clients no one here wrote: curl (prior
//! knowledge on the plain port, ALPN over HTTPS), nghttp and h2load from
//! nghttp2, Python's hyperframe and hpack frame by frame, and Chromium.
//! Bodies are compared with the files byte for byte.
#![cfg(feature = "tls")]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{TempDir, certificate, start};
use oneloop::Config;

fn have(tool: &str, env: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        common::skip(env, &format!("no {tool} (apt-get install nghttp2-client)"));
    }
    found
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A site with a small file and one of 3 MiB and a bit (past the cache, so
/// sent with sendfile between DATA frame headers): its directory, the big
/// file's bytes, and the document root.
fn site(name: &str) -> (TempDir, Vec<u8>, std::path::PathBuf) {
    let dir = TempDir::new(name);
    let root = dir.path().join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("hello.txt"), "Hello\n").unwrap();
    let big: Vec<u8> = (0..3 * 1024 * 1024 + 17u32)
        .map(|i| (i * 7 + i / 4099) as u8)
        .collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    (dir, big, root)
}

/// [`site`] served on plain and HTTPS ports; the CA to trust last.
fn serve(name: &str, http2: bool) -> (TempDir, Vec<u8>, oneloop::Running, std::path::PathBuf) {
    let (dir, big, root) = site(name);
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let ca = pair.cert.clone();
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair],
        root: Some(root),
        http2,
        ..Config::ephemeral()
    });
    (dir, big, server, ca)
}

fn curl(args: &[&str], ca: &Path, url: &str) -> Output {
    run(Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .args(args)
        .arg(url))
}

#[test]
fn curl_speaks_http2_by_prior_knowledge_and_by_alpn() {
    let (dir, big, server, ca) = serve("h2-curl", true);
    let plain = format!("http://127.0.0.1:{}", server.http[0].port());
    let tls = format!("https://localhost:{}", server.https[0].port());
    let version = ["-o", "/dev/null", "-w", "%{http_version} %{http_code}"];
    for (how, base) in [("--http2-prior-knowledge", &plain), ("--http2", &tls)] {
        let mut args = vec![how];
        args.extend(version);
        let out = curl(&args, &ca, &format!("{base}/hello.txt"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "2 200", "{how}");
        let got = dir.path().join("got.bin");
        curl(
            &[how, "-o", got.to_str().unwrap()],
            &ca,
            &format!("{base}/big.bin"),
        );
        assert!(
            std::fs::read(&got).unwrap() == big,
            "{how}: the 3 MiB file, byte for byte"
        );
        // A range from the middle, and a 404 with its body.
        let out = curl(&[how, "-r", "1000-1009"], &ca, &format!("{base}/big.bin"));
        assert_eq!(out.stdout, big[1000..1010], "{how}");
        let mut args = vec![how];
        args.extend(version);
        let out = curl(&args, &ca, &format!("{base}/nope"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "2 404", "{how}");
    }
    // HTTP/1.1 is still there for who asks for it, on both ports.
    for (how, base) in [("--http1.1", &plain), ("--http1.1", &tls)] {
        let mut args = vec![how];
        args.extend(version);
        let out = curl(&args, &ca, &format!("{base}/hello.txt"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1 200");
    }
    server.stop().unwrap();
}

#[test]
fn http2_off_is_http11_only() {
    let (_dir, _big, server, ca) = serve("h2-off", false);
    let tls = format!("https://localhost:{}", server.https[0].port());
    let out = curl(
        &["--http2", "-o", "/dev/null", "-w", "%{http_version}"],
        &ca,
        &format!("{tls}/hello.txt"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1.1");
    server.stop().unwrap();
}

#[test]
fn h2load_and_nghttp_get_every_answer() {
    if !have("h2load", "ONELOOP_REQUIRE_H2LOAD") || !have("nghttp", "ONELOOP_REQUIRE_H2LOAD") {
        return;
    }
    let (_dir, big, server, _ca) = serve("h2-load", true);
    let plain = format!("http://127.0.0.1:{}", server.http[0].port());
    let tls = format!("https://127.0.0.1:{}", server.https[0].port());
    for base in [&plain, &tls] {
        let out = run(Command::new("h2load")
            .args(["-n", "2000", "-c", "4", "-m", "10"])
            .arg(format!("{base}/hello.txt")));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("2000 succeeded, 0 failed, 0 errored"),
            "{text}"
        );
        assert!(text.contains("status codes: 2000 2xx"), "{text}");
        // Large bodies on several streams of one connection at once.
        let out = run(Command::new("h2load")
            .args(["-n", "12", "-c", "1", "-m", "4"])
            .arg(format!("{base}/big.bin")));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("12 succeeded, 0 failed"), "{text}");
        let want = 12 * big.len() as u64;
        assert!(
            text.contains(&format!("{want}")),
            "{want} bytes of DATA: {text}"
        );
    }
    // nghttp: the frames, in order, from the preface to the server's data.
    let out = run(Command::new("nghttp")
        .args(["-nv"])
        .arg(format!("{plain}/hello.txt")));
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "recv SETTINGS frame",
        "recv (stream_id=",
        ":status: 200",
        "recv DATA frame <length=6, flags=0x01",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    server.stop().unwrap();
}

/// RFC 9113 sections 3 to 8 and RFC 7541, frame by frame: every MUST a
/// server can be held to, checked by `tests/h2_frames.py` with Python's
/// hyperframe and hpack (Debian's python3-h2). Each case names its section.
#[test]
fn the_frame_level_suite_passes() {
    const PYTHON: &str = "/usr/bin/python3";
    let found = Command::new(PYTHON)
        .args(["-c", "import h2, hyperframe, hpack"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        common::skip(
            "ONELOOP_REQUIRE_PYTHON_H2",
            &format!("{PYTHON} has no h2 (apt-get install python3-h2)"),
        );
        return;
    }
    let (dir, big, server, _ca) = serve("h2-frames", true);
    let root = dir.path().join("www");
    let out = Command::new(PYTHON)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_frames.py"))
        .arg(server.http[0].port().to_string())
        .args(["/hello.txt", "/big.bin"])
        .arg(root.join("hello.txt"))
        .arg(big.len().to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = text.lines().filter(|l| !l.starts_with("PASS ")).collect();
    let passed = text.lines().filter(|l| l.starts_with("PASS ")).count();
    // Every section's cases ran (120 when this was written).
    let total = format!("TOTAL {passed}");
    assert_eq!(failed, [total.as_str()], "{text}");
    assert!(passed >= 120, "{passed} cases: {text}");
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for section in [
        "s3_4_", "s4_1_", "s4_2_", "s4_3_", "s5_1_", "s5_1_1_", "s5_1_2_", "s5_3_1_", "s5_5_",
        "s6_1_", "s6_2_", "s6_3_", "s6_4_", "s6_5_", "s6_7_", "s6_8_", "s6_9_", "s6_10_", "s8_1_",
        "s8_2_", "s8_3_", "s8_4_", "r7541_",
    ] {
        assert!(
            text.contains(&format!("PASS {section}")),
            "no case for {section}: {text}"
        );
    }
    server.stop().unwrap();
}

#[test]
fn the_access_log_names_http2() {
    let dir = TempDir::new("h2-log");
    let log = dir.path().join("access.log");
    let server = start(Config {
        access_log: Some(log.to_str().unwrap().to_string()),
        ..Config::ephemeral()
    });
    let url = format!("http://127.0.0.1:{}", server.http[0].port());
    let out = run(Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-A", "h2-test/1"])
        .arg(format!("{url}/hello.txt")));
    assert_eq!(out.stdout, b"Hello\n");
    run(Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--http2-prior-knowledge"])
        .arg(format!("{url}/nope")));
    server.stop().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("\"GET /hello.txt HTTP/2.0\" 200 6 \"-\" \"h2-test/1\""),
        "{text}"
    );
    assert!(text.contains("\"GET /nope HTTP/2.0\" 404 "), "{text}");
}

/// Headless Chromium loads a page of 30 assets over HTTPS (a self-signed
/// certificate, accepted for the test): every asset must come over HTTP/2,
/// on one connection.
#[test]
fn chromium_loads_thirty_assets_over_one_http2_connection() {
    if !common::chromium_available() {
        common::skip(
            "ONELOOP_REQUIRE_CHROMIUM",
            "no chromium (apt-get install chromium)",
        );
        return;
    }
    let dir = TempDir::new("h2-chromium");
    let root = dir.path().join("www");
    common::thirty_asset_site(&root);
    let pair = certificate(dir.path(), "localhost", &["localhost"]);
    let log = dir.path().join("access.log");
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair],
        root: Some(root),
        access_log: Some(log.to_str().unwrap().to_string()),
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    let url = format!("https://localhost:{}/", server.https[0].port());
    common::chromium_loads_thirty_assets(&["--ignore-certificate-errors".into()], &url);
    let metrics = {
        let url = format!("http://127.0.0.1:{}/metrics", server.http[0].port());
        String::from_utf8(run(Command::new("curl").args(["-sS", &url])).stdout).unwrap()
    };
    server.stop().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    common::assert_thirty_assets_logged(&text, "HTTP/2.0");
    let value = |name: &str| -> u64 {
        let line = metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name}: {metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        value("oneloop_http2_connections_total "),
        1,
        "one connection: {metrics}"
    );
    assert!(value("oneloop_http2_streams_total ") >= 31, "{metrics}");
}

/// A client written here from the RFC, over a plain socket, with the
/// server's own frame and HPACK code on this side (they are tested against
/// RFC 7541's examples on their own).
struct Raw {
    sock: std::net::TcpStream,
    buf: Vec<u8>,
    encoder: oneloop::http2::hpack::Encoder,
}

/// A frame the server sent, as far as these tests look.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    GoAway(u32, u32),
    Data(u32, usize, bool),
    Headers(u32),
    Other(u8),
}

impl Raw {
    fn connect(addr: std::net::SocketAddr, settings: &[(u16, u32)]) -> Raw {
        use oneloop::http2::frame;
        let sock = std::net::TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut r = Raw {
            sock,
            buf: Vec::new(),
            encoder: oneloop::http2::hpack::Encoder::new(4096),
        };
        let mut b = frame::PREFACE.to_vec();
        frame::write_settings(&mut b, settings);
        r.send(&b);
        r
    }

    fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.sock.write_all(bytes).unwrap();
    }

    fn get(&mut self, id: u32, path: &str) {
        use oneloop::http2::frame::{self, flag, kind};
        use oneloop::http2::hpack::Indexing;
        let mut block = Vec::new();
        self.encoder.begin(&mut block);
        for (n, v) in [
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "localhost"),
            (":path", path),
        ] {
            self.encoder
                .field(&mut block, n.as_bytes(), v.as_bytes(), Indexing::Without);
        }
        let mut b = Vec::new();
        frame::write_header(
            &mut b,
            block.len(),
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            id,
        );
        b.extend_from_slice(&block);
        self.send(&b);
    }

    /// The next frame, or `None` at EOF.
    fn next(&mut self) -> Option<Seen> {
        use oneloop::http2::frame::{self, Frame, Parsed};
        use std::io::Read;
        loop {
            if let Ok(Parsed::Frame(f, n)) = frame::parse(&self.buf, 1 << 20) {
                let seen = match f {
                    Frame::GoAway { last_stream, code } => Seen::GoAway(last_stream, code as u32),
                    Frame::Data {
                        stream,
                        data,
                        end_stream,
                        ..
                    } => Seen::Data(stream, data.len(), end_stream),
                    Frame::Headers { stream, .. } => Seen::Headers(stream),
                    Frame::Settings { .. } => Seen::Other(4),
                    Frame::WindowUpdate { .. } => Seen::Other(8),
                    _ => Seen::Other(0xff),
                };
                self.buf.drain(..n);
                return Some(seen);
            }
            let mut chunk = [0u8; 65536];
            let n = self.sock.read(&mut chunk).unwrap();
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[test]
fn an_idle_connection_is_told_goodbye_and_a_drain_finishes_its_streams() {
    use oneloop::config::Timeouts;
    use oneloop::http2::frame;
    use std::time::Duration;
    let (_dir, big, root) = site("h2-goaway");
    // A drain with an HTTP/2 connection whose streams are done: GOAWAY,
    // then the close at once, not at the shutdown timeout (60 s here; a
    // read gives up after 10).
    let server = start(Config {
        root: Some(root.clone()),
        shutdown_timeout: Duration::from_secs(60),
        ..Config::ephemeral()
    });
    let mut c = Raw::connect(server.http[0], &[]);
    c.get(1, "/hello.txt");
    while c.next() != Some(Seen::Data(1, 6, true)) {}
    let stopping = std::thread::spawn(move || server.stop());
    let mut frames = Vec::new();
    while let Some(f) = c.next() {
        frames.push(f);
    }
    assert_eq!(frames, [Seen::GoAway(1, 0)]);
    drop(c);
    stopping.join().unwrap().unwrap();
    // Idle: after an answer, GOAWAY (NO_ERROR, the last stream) at the
    // keep-alive deadline, then the close.
    let server = start(Config {
        root: Some(root),
        timeouts: Timeouts {
            idle: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..Config::ephemeral()
    });
    let mut c = Raw::connect(server.http[0], &[]);
    c.get(1, "/hello.txt");
    let mut frames = Vec::new();
    while let Some(f) = c.next() {
        frames.push(f);
    }
    assert!(frames.contains(&Seen::Data(1, 6, true)), "{frames:?}");
    assert_eq!(frames.last(), Some(&Seen::GoAway(1, 0)), "{frames:?}");
    // A drain while a download waits on its window: GOAWAY first, then the
    // stream's every byte as the window opens, then the close.
    let mut c = Raw::connect(
        server.http[0],
        &[(frame::setting::INITIAL_WINDOW_SIZE, 1000)],
    );
    c.get(1, "/big.bin");
    let mut got = 0;
    loop {
        if let Seen::Data(1, n, _) = c.next().expect("frames before the drain") {
            got += n;
            if got == 1000 {
                break;
            }
        }
    }
    let stopping = std::thread::spawn(move || server.stop());
    std::thread::sleep(Duration::from_millis(200));
    let mut w = Vec::new();
    frame::write_window_update(&mut w, 0, (big.len() as u32) * 2);
    frame::write_window_update(&mut w, 1, big.len() as u32);
    c.send(&w);
    let mut frames = Vec::new();
    while let Some(f) = c.next() {
        if let Seen::Data(1, n, _) = f {
            got += n;
        } else {
            frames.push(f);
        }
    }
    assert!(frames.contains(&Seen::GoAway(1, 0)), "{frames:?}");
    assert_eq!(
        got,
        big.len(),
        "the stream taken before the drain is finished"
    );
    stopping.join().unwrap().unwrap();
}

/// A client that asks for a download and never opens its window is closed
/// at the send deadline, however many PINGs it sends to look alive; one
/// that opens its window a little at a time is not.
#[test]
fn a_shut_window_meets_the_send_deadline() {
    use oneloop::config::Timeouts;
    use oneloop::http2::frame::{self, kind, setting};
    use std::io::{ErrorKind, Read, Write};
    use std::time::{Duration, Instant};
    let (_dir, _big, root) = site("h2-window");
    let send = Duration::from_millis(500);
    let server = start(Config {
        root: Some(root),
        timeouts: Timeouts {
            send,
            ..Timeouts::default()
        },
        ..Config::ephemeral()
    });
    let step = Duration::from_millis(100);
    // Sends `frames` every 100 ms and reads what came meanwhile; the time
    // to EOF, or None if the connection is still open after `time`.
    let run = |frames: &[u8], time: Duration| {
        let mut c = Raw::connect(server.http[0], &[(setting::INITIAL_WINDOW_SIZE, 0)]);
        c.get(1, "/big.bin");
        c.sock
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let began = Instant::now();
        let mut data = [0u8; 65536];
        while began.elapsed() < time {
            if c.sock.write_all(frames).is_err() {
                return Some(began.elapsed());
            }
            std::thread::sleep(step);
            loop {
                match c.sock.read(&mut data) {
                    Ok(0) => return Some(began.elapsed()),
                    Ok(_) => {}
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        break;
                    }
                    Err(_) => return Some(began.elapsed()),
                }
            }
        }
        None
    };
    let mut ping = Vec::new();
    frame::write_header(&mut ping, 8, kind::PING, 0, 0);
    ping.extend_from_slice(b"stillhere");
    ping.truncate(17);
    let closed = run(&ping, Duration::from_secs(5));
    let closed = closed.expect("a client that keeps its window shut is still served after 5 s");
    assert!(
        closed >= send - step,
        "closed after {closed:?}, before the deadline"
    );
    // 1,000 bytes more of window every 100 ms: DATA leaves, the deadline moves.
    let mut open = Vec::new();
    frame::write_window_update(&mut open, 0, 1000);
    frame::write_window_update(&mut open, 1, 1000);
    assert_eq!(
        run(&open, 3 * send),
        None,
        "a slow but willing reader is closed"
    );
    server.stop().unwrap();
}

/// The HPACK decoder beside loona-hpack's on the same blocks (the harness
/// the `hpack` fuzz target runs): RFC 7541 Appendix C's requests, one
/// connection's in a row, then ten thousand seeded ones.
#[test]
fn the_hpack_decoder_reads_what_loona_hpack_reads() {
    #[path = "../fuzz/harness/hpack.rs"]
    mod harness;
    let hex = |s: &str| -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    // C.3 and C.4: three requests without and with Huffman coding.
    for blocks in [
        [
            "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
            "8286 84be 5808 6e6f 2d63 6163 6865",
            "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        ],
        [
            "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
            "8286 84be 5886 a8eb 1064 9cbf",
            "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        ],
    ] {
        let mut data = Vec::new();
        for b in blocks {
            let b = hex(b);
            data.push(b.len() as u8);
            data.extend(b);
        }
        harness::compare(&data).unwrap();
    }
    for data in common::noise(48 * 10_000).chunks(48) {
        harness::compare(data).unwrap();
    }
}
