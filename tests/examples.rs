//! The lessons stay true: each runs on its own port and answers as its comments say.
//!
//! The lessons in `examples/` stay true: each is run on an ephemeral port
//! and must answer as its comments say. (`cargo test` builds the examples
//! before it runs this.)

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{closes, connect, exchange, get_req, read_responses};

/// A running example, killed when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where cargo put the example binaries: beside this test's `deps` dir.
fn example_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    debug.join("examples").join(name)
}

/// Starts `name` with `args` and reads "listening on ADDR" from its stdout.
fn run(name: &str, args: &[&str]) -> Example {
    let path = example_path(name);
    let mut child = Command::new(&path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "start {}: {e} (`cargo test` builds the examples; alone, run `cargo build --examples` first)",
                path.display()
            )
        });
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Example { child, addr }
}

/// Seconds since 1900 for now, as RFC 868 counts (mod 2^32).
fn rfc868_now() -> u32 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (unix + 2_208_988_800) as u32
}

fn assert_near_now(bytes: [u8; 4]) {
    let got = u32::from_be_bytes(bytes);
    assert!(got.abs_diff(rfc868_now()) <= 2, "{got} vs {}", rfc868_now());
}

/// Connects over TCP, reads four bytes and the close.
fn tcp_time(addr: SocketAddr) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 4, "four bytes, then the close");
    assert_near_now([all[0], all[1], all[2], all[3]]);
}

/// Each lesson's header shows commands to try: every address in them is
/// the lesson's own port (not the server's 8080 or 3737), and every client
/// named is one a fresh Debian has or whose package the header names.
#[test]
fn each_lesson_header_talks_to_its_own_port() {
    let lessons = [
        ("lesson1_time_tcp", 3701),
        ("lesson2_time_udp", 3702),
        ("lesson3_http_hello", 8083),
        ("lesson4_pipelining", 8084),
        ("lesson5_deadlines", 8085),
        ("lesson6_tls", 8446),
        ("lesson7_http2", 8087),
        ("lesson8_quic", 8088),
    ];
    for (name, port) in lessons {
        let source =
            std::fs::read_to_string(format!("{}/examples/{name}.rs", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        // The first ```text block of the opening comment.
        let header: Vec<&str> = source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .skip_while(|l| !l.contains("```text"))
            .skip(1)
            .take_while(|l| !l.contains("```"))
            .collect();
        assert!(!header.is_empty(), "{name}: no commands in its header");
        for line in &header {
            for needle in ["127.0.0.1:", "localhost:", "-o ", "\"127.0.0.1\", "] {
                for (at, _) in line.match_indices(needle) {
                    let digits: String = line[at + needle.len()..]
                        .chars()
                        .take_while(char::is_ascii_digit)
                        .collect();
                    if let Ok(n) = digits.parse::<u16>() {
                        assert_eq!(n, port, "{name}: {line}");
                    }
                }
            }
            let command = line.trim_start_matches("//!").trim_start();
            for tool in ["nc ", "netcat ", "telnet "] {
                assert!(
                    !command.starts_with(tool) && !command.contains(&format!("| {tool}")),
                    "{name}: {line}"
                );
            }
            for (tool, package) in [
                ("rdate ", "rdate"),
                ("wrk ", "wrk"),
                ("nghttp ", "nghttp2-client"),
                ("h2load ", "nghttp2-client"),
            ] {
                if command.starts_with(tool) {
                    assert!(
                        source.contains(&format!("apt-get install {package}")),
                        "{name}: uses {tool}without naming {package}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_taken_port_is_a_sentence_not_a_debug_print() {
    // Each lesson has ports of its own (beside the server's 8080 and
    // 3737); one that is taken anyway says so readably.
    let mut lessons = vec![
        ("lesson1_time_tcp", "127.0.0.1:3701"),
        ("lesson2_time_udp", "127.0.0.1:3702"),
        ("lesson3_http_hello", "127.0.0.1:8083"),
        ("lesson4_pipelining", "127.0.0.1:8084"),
        ("lesson5_deadlines", "127.0.0.1:8085"),
        ("lesson7_http2", "127.0.0.1:8087"),
    ];
    if cfg!(feature = "tls") {
        lessons.push(("lesson6_tls", "127.0.0.1:8446"));
    }
    if cfg!(feature = "http3") {
        lessons.push(("lesson8_quic", "127.0.0.1:8088"));
    }
    for (name, default) in lessons {
        // The port taken over TCP and UDP alike (lesson 8 binds UDP only).
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let _taken_udp = UdpSocket::bind(&addr);
        let out = Command::new(example_path(name))
            .arg(&addr)
            .output()
            .expect("run the lesson");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}");
        assert!(
            err.contains(&format!("bind {addr}")) && err.contains("another address"),
            "{name}: {err}"
        );
        assert!(
            !err.contains("Os {") && !err.contains("kind:"),
            "{name}: {err}"
        );
        let source =
            std::fs::read_to_string(format!("{}/examples/{name}.rs", env!("CARGO_MANIFEST_DIR")))
                .unwrap();
        assert!(source.contains(default), "{name} default {default}");
    }
}

#[test]
fn lesson1_answers_the_time_over_tcp() {
    let ex = run("lesson1_time_tcp", &["127.0.0.1:0"]);
    // Several clients at once: accept runs until WouldBlock.
    let addr = ex.addr;
    let threads: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || tcp_time(addr)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn lesson2_answers_over_tcp_and_udp_on_one_loop() {
    let ex = run("lesson2_time_udp", &["127.0.0.1:0"]);
    tcp_time(ex.addr);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for size in [0, 1, 1000] {
        udp.send_to(&vec![7u8; size], ex.addr).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = udp.recv_from(&mut buf).unwrap();
        assert_eq!(
            (n, from),
            (4, ex.addr),
            "one four-byte reply to {size} bytes"
        );
        assert_near_now([buf[0], buf[1], buf[2], buf[3]]);
    }
    tcp_time(ex.addr);
}

#[test]
fn lesson3_keeps_connections_and_handles_partial_reads() {
    let ex = run("lesson3_http_hello", &["127.0.0.1:0"]);
    let mut s = connect(ex.addr);
    for _ in 0..3 {
        let r = exchange(&mut s, get_req("/").as_bytes(), 1).remove(0);
        assert_eq!((r.status, r.text().as_str()), (200, "hello\n"));
        assert_eq!(r.header("connection"), Some("keep-alive"));
    }
    // A request one byte at a time is answered once, whole.
    for b in get_req("/slow").bytes() {
        s.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(read_responses(&mut s, &[false])[0].status, 200);
    // HTTP/1.0 without keep-alive, and Connection: close, end it.
    let mut s = connect(ex.addr);
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(
        read_responses(&mut s, &[false])[0].header("connection"),
        Some("close")
    );
    assert!(closes(&mut s));
    let mut s = connect(ex.addr);
    let raw = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    exchange(&mut s, raw.as_bytes(), 1);
    assert!(closes(&mut s));
    // Garbage: 400 and close; the server goes on.
    let mut s = connect(ex.addr);
    let r = exchange(&mut s, b"NOT HTTP\r\n\r\n", 1).remove(0);
    assert_eq!(r.status, 400);
    assert!(closes(&mut s));
    let mut s = connect(ex.addr);
    assert_eq!(exchange(&mut s, get_req("/").as_bytes(), 1)[0].status, 200);
}

#[test]
fn lesson4_answers_a_pipelined_batch_with_one_write() {
    let ex = run("lesson4_pipelining", &["127.0.0.1:0"]);
    let mut s = connect(ex.addr);
    let batch: String = (0..16).map(|_| get_req("/")).collect::<String>() + &get_req("/stats");
    let rs = exchange(&mut s, batch.as_bytes(), 17);
    assert!(rs[..16].iter().all(|r| r.text() == "hello\n"));
    // The stats were taken after the 16 were queued and before any write.
    assert_eq!(rs[16].text(), "requests 17\nwrites 0\n");
    let r = exchange(&mut s, get_req("/stats").as_bytes(), 1).remove(0);
    assert_eq!(
        r.text(),
        "requests 18\nwrites 1\n",
        "the batch took one write"
    );

    // More than the socket takes at once: short writes, WRITABLE, in order.
    let mut s = connect(ex.addr);
    let count = 5000;
    let mut reader = s.try_clone().unwrap();
    let reading = std::thread::spawn(move || read_responses(&mut reader, &vec![false; count]));
    let many: String = (0..count).map(|_| get_req("/")).collect();
    s.write_all(many.as_bytes()).unwrap();
    let rs = reading.join().unwrap();
    assert_eq!(rs.len(), count);
    assert!(rs.iter().all(|r| r.status == 200 && r.text() == "hello\n"));
}

#[test]
fn lesson5_closes_idle_and_trickling_connections() {
    let ex = run("lesson5_deadlines", &["127.0.0.1:0", "300"]);
    // Idle: closed after about 300 ms (rounded up to the 100 ms tick).
    let started = Instant::now();
    let mut idle = connect(ex.addr);
    assert!(closes(&mut idle));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // Trickling: a byte every 100 ms does not extend the head's deadline.
    let addr = ex.addr;
    let trickler = std::thread::spawn(move || {
        let mut slow = connect(addr);
        let started = Instant::now();
        for b in get_req("/").bytes().chain(std::iter::repeat(b'x')).take(60) {
            if slow.write_all(&[b]).is_err() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(closes(&mut slow), "trickler cut off");
        started.elapsed()
    });
    // Meanwhile, a request every 100 ms keeps pushing a deadline out.
    let mut busy = connect(ex.addr);
    for _ in 0..15 {
        let r = exchange(&mut busy, get_req("/").as_bytes(), 1).remove(0);
        assert_eq!(r.status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let cut_after = trickler.join().unwrap();
    assert!(cut_after < Duration::from_secs(6), "{cut_after:?}");
}

#[cfg(feature = "tls")]
#[test]
fn lesson6_answers_over_tls_on_the_same_loop() {
    let cert = std::env::temp_dir().join(format!("oneloop-lesson6-{}.pem", std::process::id()));
    let cert_arg = cert.to_string_lossy().into_owned();
    let ex = run("lesson6_tls", &["127.0.0.1:0", &cert_arg]);
    let port = ex.addr.port();
    let url = format!("https://localhost:{port}/");
    // Two requests on one connection (curl reuses it), then a new one.
    let curl = |urls: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &cert_arg])
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args(urls)
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(&[&url, &url]), "Hello over TLS\nHello over TLS\n");
    assert_eq!(curl(&[&url]), "Hello over TLS\n");
    // A handshake that is garbage closes that connection only.
    let mut junk = std::net::TcpStream::connect(ex.addr).unwrap();
    junk.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    junk.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    let _ = junk.read_to_end(&mut rest);
    assert!(!rest.starts_with(b"HTTP/"), "answered plain HTTP");
    assert_eq!(curl(&[&url]), "Hello over TLS\n");
    let _ = std::fs::remove_file(&cert);
}

/// Lesson 7: HTTP/2 by prior knowledge. curl gets "hello" and the 1 MiB
/// body byte for byte; nghttp takes both on one connection; h2load puts
/// ten streams at a time on one connection, and every answer comes back.
#[test]
fn lesson7_multiplexes_streams_on_one_connection() {
    let ex = run("lesson7_http2", &["127.0.0.1:0"]);
    let base = format!("http://{}", ex.addr);
    let curl = |path: &str| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "--http2-prior-knowledge"])
            .args(["-w", "%{http_version} %{http_code}"])
            .arg(format!("{base}{path}"))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    assert_eq!(curl("/"), b"Hello over HTTP/2\n2 200");
    let big: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let got = curl("/big");
    assert_eq!(got.len(), big.len() + 5);
    assert!(
        got.starts_with(&big) && got.ends_with(b"2 200"),
        "the 1 MiB body differs"
    );
    assert!(curl("/nothing").ends_with(b"2 404"));
    let have = Command::new("h2load").arg("--version").output().is_ok();
    if !have {
        common::skip(
            "ONELOOP_REQUIRE_H2LOAD",
            "its nghttp2 half: no h2load (apt-get install nghttp2-client)",
        );
        return;
    }
    // Two streams on one connection, the large one asked for first: the
    // small answer is not held back behind it. (`-s` lists the streams
    // sorted by when each completed: id, times, status, size, path.)
    let out = Command::new("nghttp")
        .args(["-ns"])
        .arg(format!("{base}/big"))
        .arg(format!("{base}/"))
        .output()
        .expect("nghttp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let done: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 7 && w[4] == "200")
        .collect();
    let order: Vec<&str> = done.iter().map(|w| w[6]).collect();
    assert_eq!(order, ["/", "/big"], "{text}");
    assert_eq!((done[0][5], done[1][5]), ("18", "1M"), "{text}");
    let out = Command::new("h2load")
        .args(["-n", "1000", "-c", "2", "-m", "10"])
        .arg(format!("{base}/"))
        .output()
        .expect("h2load");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    let out = Command::new("h2load")
        .args(["-n", "20", "-c", "1", "-m", "10"])
        .arg(format!("{base}/big"))
        .output()
        .expect("h2load");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("20 succeeded, 0 failed"), "{text}");
    assert!(text.contains("(20971520) data"), "20 MiB of DATA: {text}");
}

/// Lesson 8: HTTP/3 over one UDP socket. aioquic (its own QUIC, TLS and
/// QPACK) gets the greeting and a 404 on one connection, two streams;
/// ngtcp2's gtlsclient gets the greeting too.
#[test]
#[cfg(feature = "http3")]
fn lesson8_answers_over_http3_on_one_socket() {
    let ex = run("lesson8_quic", &["127.0.0.1:0"]);
    let port = ex.addr.port().to_string();
    let have = Command::new("python3")
        .args(["-c", "import aioquic"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        common::skip(
            "ONELOOP_REQUIRE_AIOQUIC",
            "python3 has no aioquic (python3 -m pip install aioquic)",
        );
        return;
    }
    let out = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_client.py"))
        .args(["127.0.0.1", &port, "-", "GET /", "GET /nothing"])
        .output()
        .expect("run python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<&str> = text.lines().filter(|l| l.starts_with("ANSWER ")).collect();
    assert_eq!(answers.len(), 2, "{text}");
    assert!(answers[0].starts_with("ANSWER 200 18 "), "{text}");
    assert!(answers[1].starts_with("ANSWER 404 "), "{text}");
    assert!(text.ends_with("CONNECTION ok\n"), "{text}");
    let gtls = Command::new("gtlsclient")
        .args(["-q", "--exit-on-all-streams-close", "127.0.0.1", &port])
        .arg(format!("https://localhost:{port}/"))
        .output();
    match gtls {
        Ok(out) => assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => common::skip(
            "ONELOOP_REQUIRE_GTLSCLIENT",
            "no gtlsclient (apt-get install ngtcp2-client)",
        ),
    }
}
