//! The binary as users run it: options, bind errors, the start-up line, signals.
//!
//! The `oneloop` binary as users run it: options, bind errors, the start-up
//! line, signals.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Reap, closes, connect, exchange, get_req};

const BIN: &str = env!("CARGO_BIN_EXE_oneloop");

/// Starts the binary on ephemeral ports and reads the bound addresses from
/// its start-up log line.
fn spawn(extra: &[&str]) -> (Child, SocketAddr, SocketAddr) {
    let (child, http, time) = spawn_with(&["--http", "127.0.0.1:0"], extra);
    (child, http[0], time)
}

/// Like [`spawn`] with the HTTP addresses given; returns all bound ones.
fn spawn_with(http_args: &[&str], extra: &[&str]) -> (Child, Vec<SocketAddr>, SocketAddr) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .args(http_args)
        .args(["--time", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oneloop");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().expect("a start-up line").unwrap();
    // "... serving HTTP on ADDR and RFC 868 on ADDR (TCP+UDP), ..."
    let word_after = |marker: &str| -> SocketAddr {
        let rest = &line[line
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} in {line:?}"))
            + marker.len()..];
        rest.split([' ', ',']).next().unwrap().parse().unwrap()
    };
    let start = line.find("serving HTTP on ").expect("HTTP addresses") + "serving HTTP on ".len();
    let end = line.find(" and RFC 868").expect("time addresses");
    let http = line[start..end]
        .split(' ')
        .map(|a| a.parse().unwrap())
        .collect();
    let time = word_after(" and RFC 868 on ");
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, http, time)
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "oneloop did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory effects.
    let rc = unsafe { libc::kill(child.id() as i32, sig) };
    assert_eq!(rc, 0);
}

#[test]
fn help_documents_every_option_and_default() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--http",
        "--time",
        "--root",
        "--max-request-line",
        "--max-head",
        "--max-body",
        "--shutdown-timeout",
        "127.0.0.1:8080",
        "127.0.0.1:3737",
        "--version",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("oneloop {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Every long option `--help` shows, as `--name`.
fn options_in_help() -> Vec<String> {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut options: Vec<String> = help
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .split([' ', ',', '='])
                .find(|w| w.starts_with("--"))
        })
        .map(str::to_string)
        .filter(|o| o != "--help" && o != "--version")
        .collect();
    options.dedup();
    options
}

#[test]
fn the_reference_options_table_lists_what_help_shows() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md")).unwrap();
    let table: Vec<String> = readme
        .lines()
        .skip_while(|l| !l.starts_with("## Options"))
        .take_while(|l| !l.starts_with("## ") || l.starts_with("## Options"))
        .filter_map(|l| l.strip_prefix("| `--"))
        .map(|l| format!("--{}", l.split([' ', '`']).next().unwrap()))
        .collect();
    let help = options_in_help();
    assert!(help.len() >= 20, "{help:?}");
    for option in &help {
        assert!(
            table.contains(option),
            "docs/reference.md's options table lacks {option}"
        );
    }
    for option in &table {
        assert!(
            help.contains(option),
            "docs/reference.md lists {option}, which --help does not"
        );
    }
}

#[test]
fn options_out_of_range_are_refused_at_start() {
    for (option, value, says) in [
        ("--max-conns", "0", "--max-conns must be at least 1"),
        (
            "--coalesce-us",
            "1001",
            "--coalesce-us must be at most 1000",
        ),
    ] {
        let mut child = Command::new(BIN)
            .args([
                option,
                value,
                "--http",
                "127.0.0.1:0",
                "--time",
                "127.0.0.1:0",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child);
        assert!(!status.success(), "{option} {value} was accepted");
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(err.contains(says), "{option} {value}: {err}");
    }
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["--http", &addr, "--time", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("bind HTTP {addr} (--http)")), "{err}");
    assert!(err.to_lowercase().contains("in use"), "{err}");
    assert!(err.contains("give --http another port"), "{err}");
}

/// Runs the binary with `args` (ephemeral ports added) until it exits;
/// its exit status and what it logged.
fn refused(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["--http", "127.0.0.1:0", "--time", "127.0.0.1:0"])
        .env_remove("LISTEN_PID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} started: {err}");
    err
}

#[test]
fn a_certificate_without_https_is_refused_naming_the_flag() {
    let err = refused(&["--tls-cert", "cert.pem", "--tls-key", "key.pem"]);
    assert!(
        err.contains("nothing serves HTTPS: add --https ADDR"),
        "{err}"
    );
}

#[test]
fn a_root_the_user_cannot_read_is_refused_after_the_switch() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        common::skip("ONELOOP_REQUIRE_ROOT", "--user needs root (run as root)");
        return;
    }
    let dir = common::TempDir::new("cli-private-root");
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("index.html"), "hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = root.to_str().unwrap();
    let err = refused(&["--user", "nobody", "--root", path]);
    assert!(
        err.contains(&format!("--root {path}: user nobody")),
        "{err}"
    );
    assert!(err.contains("cannot list and enter it"), "{err}");
    // Readable by all, it starts.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let parent = dir.path();
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (mut child, http, _) = spawn(&["--user", "nobody", "--root", path]);
    let got = common::get(http, &common::get_req("/index.html"));
    assert_eq!(got.status, 200);
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn serves_both_protocols_and_ipv6() {
    // A machine without IPv6 loopback still tests IPv4.
    let ipv6 = TcpListener::bind("[::1]:0").is_ok();
    let mut args = vec!["--http", "127.0.0.1:0"];
    if ipv6 {
        args.extend(["--http", "[::1]:0"]);
    } else {
        eprintln!("no IPv6 loopback here: testing IPv4 only");
    }
    let (mut child, http, time) = spawn_with(&args, &[]);
    assert_eq!(http.len(), 1 + usize::from(ipv6));
    assert_eq!(http.last().unwrap().is_ipv6(), ipv6);
    for addr in http {
        let mut s = connect(addr);
        assert_eq!(
            exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].text(),
            "Hello\n"
        );
    }
    let mut four = Vec::new();
    connect(time).read_to_end(&mut four).unwrap();
    assert_eq!(four.len(), 4);
    signal(&child, libc::SIGINT);
    assert!(wait_exit(&mut child).success());
}

#[test]
fn access_log_to_stdout_survives_sighup_and_is_flushed_at_exit() {
    let (mut child, http, _) = spawn(&[
        "--access-log",
        "-",
        "--metrics-path",
        "/metrics",
        "--cache-control",
        "no-cache",
    ]);
    let mut s = connect(http);
    let rs = exchange(&mut s, get_req("/hello.txt").as_bytes(), 1);
    assert_eq!(rs[0].header("cache-control"), Some("no-cache"));
    let rs = exchange(&mut s, get_req("/metrics").as_bytes(), 1);
    assert!(
        rs[0]
            .text()
            .contains("oneloop_http_responses_total{class=\"2xx\"} 1\n")
    );
    // SIGHUP reopens the log; it does not stop the server.
    signal(&child, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(100));
    let rs = exchange(&mut s, get_req("/nope").as_bytes(), 1);
    assert_eq!(rs[0].status, 404);
    drop(s);
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let requests: Vec<&str> = out
        .lines()
        .map(|l| l.split('"').nth(1).expect("a quoted request"))
        .collect();
    assert_eq!(
        requests,
        [
            "GET /hello.txt HTTP/1.1",
            "GET /metrics HTTP/1.1",
            "GET /nope HTTP/1.1"
        ],
        "{out}"
    );
    assert!(
        out.lines().all(|l| l.starts_with("127.0.0.1 - - [")),
        "{out}"
    );
}

#[test]
fn sigterm_drains_and_exits_zero() {
    let root = std::env::temp_dir().join(format!("oneloop-cli-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("big.bin"), &big).unwrap();
    let (mut child, http, _) = spawn(&["--root", root.to_str().unwrap()]);

    let mut idle = connect(http);
    assert_eq!(
        exchange(&mut idle, get_req("/big.bin").as_bytes(), 1)[0]
            .body
            .len(),
        big.len()
    );
    let mut busy = connect(http);
    busy.write_all(get_req("/big.bin").as_bytes()).unwrap();
    let mut first = vec![0u8; 4096];
    busy.read_exact(&mut first).unwrap();

    signal(&child, libc::SIGTERM);
    assert!(closes(&mut idle), "idle keep-alive connection closed");
    let mut rest = Vec::new();
    busy.read_to_end(&mut rest).unwrap();
    first.extend_from_slice(&rest);
    let (r, used) = common::parse_response(&first, false).expect("whole response");
    assert_eq!(used, first.len());
    assert!(r.body == big, "the response in flight was finished intact");
    assert!(wait_exit(&mut child).success(), "exit status 0");
    assert!(
        std::net::TcpStream::connect(http).is_err(),
        "no longer listening"
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sigterm_under_load_truncates_no_response() {
    let (mut child, http, _) = spawn(&[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Eight keep-alive clients in a loop, each request pipelined in pairs.
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut complete = 0u64;
                let Ok(mut s) = std::net::TcpStream::connect(http) else {
                    return complete;
                };
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let pair = format!("{}{}", get_req("/hello.txt"), get_req("/"));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 65536];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if s.write_all(pair.as_bytes()).is_err() {
                        break;
                    }
                    let mut got = 0;
                    // Read until both responses are whole, or the server
                    // closes, which it may do only between responses.
                    while got < 2 {
                        if let Some((r, used)) = common::parse_response(&buf, false) {
                            assert_eq!(r.status, 200);
                            buf.drain(..used);
                            got += 1;
                            complete += 1;
                            continue;
                        }
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => {
                                assert!(
                                    buf.is_empty(),
                                    "a response was cut short: {} bytes of it",
                                    buf.len()
                                );
                                return complete;
                            }
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                }
                complete
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success(), "exit status 0 under load");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = workers
        .into_iter()
        .map(|w| w.join().expect("no truncated response"))
        .sum();
    assert!(total > 100, "only {total} responses before the signal");
}

#[test]
fn a_second_signal_ends_the_drain_at_once() {
    let root = std::env::temp_dir().join(format!("oneloop-cli2-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("big.bin"), vec![1u8; 32 << 20]).unwrap();
    let (mut child, http, _) =
        spawn(&["--root", root.to_str().unwrap(), "--shutdown-timeout", "60"]);
    // A client that never reads keeps a response in flight.
    let mut stuck = connect(http);
    stuck.write_all(get_req("/big.bin").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first signal waits for the response in flight"
    );
    let t = Instant::now();
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "the second signal took {:?}",
        t.elapsed()
    );
    drop(stuck);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_drain_cut_short_by_the_timeout_still_says_shutdown_complete() {
    let root = std::env::temp_dir().join(format!("oneloop-cli3-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("big.bin"), vec![1u8; 32 << 20]).unwrap();
    let mut child = Command::new(BIN)
        .args(["--http", "127.0.0.1:0", "--time", "127.0.0.1:0"])
        .args(["--root", root.to_str().unwrap(), "--shutdown-timeout", "1"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oneloop");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a start-up line").unwrap();
    let at = first.find("serving HTTP on ").expect("HTTP address") + "serving HTTP on ".len();
    let http: SocketAddr = first[at..].split(' ').next().unwrap().parse().unwrap();
    // A client that never reads keeps a response in flight past the timeout.
    let mut stuck = connect(http);
    stuck.write_all(get_req("/big.bin").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, libc::SIGTERM);
    assert!(wait_exit(&mut child).success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let text = rest.join("\n");
    assert!(
        text.contains("shutdown timeout: closing 1 connection still busy"),
        "{text}"
    );
    assert!(
        rest.last()
            .is_some_and(|l| l.ends_with("shutdown complete")),
        "{text}"
    );
    drop(stuck);
    let _ = std::fs::remove_dir_all(&root);
}

/// Runs the binary with `RUST_LOG=rust_log`, makes a keep-alive exchange
/// with a body, an RFC 868 TCP query and an HTTP/2 request, then stops
/// it; returns its stderr.
fn narrate(rust_log: &str) -> String {
    let child = Command::new(BIN)
        .args(["--http", "127.0.0.1:0", "--time", "127.0.0.1:0"])
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oneloop");
    let mut reap = Reap(child);
    let child = &mut reap.0;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut text = String::new();
    let first = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("start-up line");
        text.push_str(&line);
        text.push('\n');
        if line.contains("serving HTTP on ") {
            break line;
        }
    };
    let addr = |marker: &str| -> SocketAddr {
        let rest = &first[first.find(marker).expect(marker) + marker.len()..];
        rest.split([' ', ',']).next().unwrap().parse().unwrap()
    };
    let (http, time) = (addr("serving HTTP on "), addr(" and RFC 868 on "));
    let mut s = connect(http);
    exchange(&mut s, get_req("/hello.txt").as_bytes(), 1);
    let post = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    s.write_all(post.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"abc").unwrap();
    common::read_responses(&mut s, &[false]);
    let mut t = std::net::TcpStream::connect(time).unwrap();
    let mut four = Vec::new();
    t.read_to_end(&mut four).unwrap();
    // And one request over HTTP/2 by prior knowledge.
    let h2 = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
        ])
        .arg(format!("http://{http}/hello.txt"))
        .status()
        .expect("curl");
    assert!(h2.success());
    drop(s);
    std::thread::sleep(Duration::from_millis(100));
    signal(child, libc::SIGTERM);
    assert!(wait_exit(child).success());
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(2)) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn trace_narrates_the_loop_and_default_logging_is_quiet() {
    let text = narrate("oneloop=trace");
    for phrase in [
        "wakeup: 1 event: listener 0 (HTTP) readable",
        "connection 0: accepted from 127.0.0.1:",
        "(short read: socket empty)",
        "all sent",
        "idle, kept open (persistence, RFC 9112 §9.3)",
        "awaiting request (RFC 9112 §2.1) -> reading message body (RFC 9112 §6)",
        "reading message body (RFC 9112 §6) -> awaiting request (RFC 9112 §2.1)",
        "registered for READABLE (epoll_ctl ADD)",
        "read: EOF (the client closed its side)",
        "RFC 868 TCP: 1 answered and closed, then accept: WouldBlock",
        "connection 0: closed (close)",
        "HTTP/2 in: SETTINGS, ",
        "HTTP/2 in: HEADERS stream 1, ",
        "HTTP/2 out: HEADERS stream 1 (200)",
    ] {
        assert!(text.contains(phrase), "{phrase:?} in\n{text}");
    }
    // At the default level: the start-up line and the shutdown, nothing
    // per request.
    let quiet = narrate("info");
    assert!(!quiet.contains("connection 0"), "{quiet}");
    // Signals by name, and counts in words that agree with them (one
    // RFC 868 query was made).
    assert!(quiet.contains("received SIGTERM"), "{quiet}");
    assert!(quiet.contains(", 1 RFC 868 reply sent"), "{quiet}");
    assert!(quiet.lines().count() <= 5, "{quiet}");
}

/// The build writes a man page per command (`oneloop.1`, and
/// `oneloop-serve.1` and `oneloop-rdate.1`, which the first names); each
/// SYNOPSIS shows what an option takes (`--http ADDR`, not `[--http]`).
#[test]
fn every_command_has_a_man_page_and_its_synopsis_names_the_values() {
    let dir = std::path::Path::new(BIN).parent().unwrap();
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{name}.1")))
            .unwrap_or_else(|e| panic!("{name}.1 beside the binary: {e}"))
    };
    let main = read("oneloop");
    for name in ["oneloop", "oneloop-serve", "oneloop-rdate"] {
        let page = read(name);
        // Every page another page names exists.
        for (at, _) in page.match_indices("oneloop\\-") {
            let named: String = page[at + 9..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase())
                .collect();
            if !named.is_empty() {
                read(&format!("oneloop-{named}"));
            }
        }
        let synopsis = &page[page.find(".SH SYNOPSIS").unwrap()..];
        let synopsis = &synopsis[..synopsis[4..].find(".SH ").unwrap() + 4];
        let wants: &[&str] = match name {
            "oneloop-rdate" => &["\\fB\\-\\-port\\fR \\fIPORT\\fR", "\\fIHOST\\fR..."],
            _ => &[
                "[\\fB\\-\\-http\\fR \\fIADDR\\fR]...",
                "[\\fB\\-\\-root\\fR \\fIDIR\\fR]",
            ],
        };
        for want in wants {
            assert!(synopsis.contains(want), "{name}: {want} in\n{synopsis}");
        }
        assert!(
            !synopsis.contains("[\\fB\\-\\-http\\fR]"),
            "{name}: {synopsis}"
        );
        // The command as typed: `oneloop serve`, not the page's name.
        let typed = name.replacen('-', " ", 1).replace('-', "\\-");
        assert!(
            synopsis.contains(&format!(".SH SYNOPSIS\n\\fB{typed}\\fR ")),
            "{name}: {synopsis}"
        );
        // The footer names the program and its version.
        let title = page.lines().find(|l| l.starts_with(".TH ")).unwrap();
        let version = env!("CARGO_PKG_VERSION");
        assert!(
            title.contains(&format!("\"oneloop {version}\"")),
            "{name}: {title}"
        );
        let sections: &[&str] = match name {
            "oneloop-rdate" => &["EXIT STATUS", "EXAMPLES", "SEE ALSO"],
            _ => &[
                "SIGNALS",
                "ENVIRONMENT",
                "EXIT STATUS",
                "EXAMPLES",
                "SEE ALSO",
            ],
        };
        for section in sections {
            assert!(
                page.contains(&format!(".SH {section}\n")),
                "{name} has no {section}"
            );
        }
        if name != "oneloop-rdate" {
            for word in ["RUST_LOG", "LISTEN_FDNAMES", "SIGHUP", "SIGTERM"] {
                assert!(page.contains(word), "{name} does not mention {word}");
            }
        }
    }
    assert!(
        main.contains("rdate"),
        "the main page lists the subcommands"
    );
    assert!(
        !main.contains("oneloop\\-help"),
        "no page for `help`, so none named"
    );
}
