//! `oneloop rdate` against the server, a closed port, a silent UDP port, a short answer.
//!
//! `oneloop rdate` against the project's own server, a closed port, a UDP
//! port that never answers, and a fake server that sends three bytes.

mod common;

use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_oneloop");

fn rdate(args: &[&str]) -> (Output, String) {
    let out = Command::new(BIN)
        .arg("rdate")
        .args(args)
        .output()
        .expect("run oneloop rdate");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, text)
}

/// The offsets printed in a table's rows.
fn offsets(table: &str) -> Vec<f64> {
    table
        .lines()
        .filter(|l| !l.contains(" answered"))
        .filter_map(|l| l.trim_end().strip_suffix(" s"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn asks_the_projects_own_server_over_tcp_udp_and_both() {
    let server = common::start_default();
    let port = server.time[0].port().to_string();
    for (args, rows) in [(vec![], 1), (vec!["--udp"], 1), (vec!["--both"], 2)] {
        let mut all = args.clone();
        all.extend(["--port", &port, "127.0.0.1"]);
        let (out, text) = rdate(&all);
        assert!(out.status.success(), "{all:?}: {text}");
        let offsets = offsets(&text);
        assert_eq!(offsets.len(), rows, "{text}");
        assert!(
            offsets.iter().all(|o| o.abs() <= 1.5),
            "offsets {offsets:?} in {text}"
        );
        assert!(
            text.contains(&format!("{rows} of {rows} answered")),
            "{text}"
        );
    }
    let (out, json) = rdate(&["--both", "--json", "--port", &port, "127.0.0.1"]);
    assert!(out.status.success());
    assert_eq!(json.matches("\"ok\":true").count(), 2, "{json}");
    assert!(json.contains("\"answered\":2"), "{json}");
    server.stop().unwrap();
}

#[test]
fn a_closed_port_is_refused_and_the_exit_status_says_so() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (out, text) = rdate(&["--port", &port.to_string(), "127.0.0.1"]);
    assert!(!out.status.success());
    assert!(text.contains("refused"), "{text}");
    assert!(text.contains("none of 1 answered"), "{text}");
}

#[test]
fn a_silent_udp_port_times_out_instead_of_hanging() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap(); // never replies
    let port = silent.local_addr().unwrap().port().to_string();
    let t = Instant::now();
    let (out, text) = rdate(&["--udp", "--timeout", "300", "--port", &port, "127.0.0.1"]);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(!out.status.success());
    assert!(text.contains("timeout"), "{text}");
}

#[test]
fn a_short_reply_is_reported_and_others_still_answer() {
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = fake.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in fake.incoming().take(1) {
            let mut s = s.unwrap();
            let _ = s.write_all(&[1, 2, 3]); // one byte short, then close
        }
    });
    let (out, text) = rdate(&["--port", &port.to_string(), "127.0.0.1"]);
    assert!(!out.status.success());
    assert!(text.contains("short reply (3 of 4 bytes)"), "{text}");

    // Several hosts at once: one good answer is enough for exit 0.
    let server = common::start_default();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let good = server.time[0];
    let (out, text) = rdate(&[
        "--udp",
        "--timeout",
        "300",
        "--port",
        &good.port().to_string(),
        "127.0.0.1",
        "localhost",
    ]);
    assert!(out.status.success(), "{text}");
    drop(silent);
    server.stop().unwrap();
}

#[test]
fn a_name_that_does_not_resolve_is_named_and_fails() {
    // `.invalid` never resolves (RFC 6761), and asks no outside server
    // when the resolver is local only.
    let (out, text) = rdate(&["--timeout", "300", "no-such-host.invalid"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no-such-host.invalid"), "{err}");
    assert!(!text.contains("none of 0"), "no empty table: {text}");
}

/// Servers named as the server's own `--time` takes them: `HOST:PORT`,
/// `[::1]` and `[::1]:PORT`; `--port 0` is refused as a value, and server
/// options given before `rdate` are an error rather than dropped.
#[test]
fn servers_are_named_with_their_ports_as_the_server_takes_them() {
    let server = common::start(oneloop::Config {
        time: vec!["127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap()],
        ..oneloop::Config::ephemeral()
    });
    let v4 = server.time[0].port();
    let v6 = server.time[1].port();
    for spec in [format!("127.0.0.1:{v4}"), format!("[::1]:{v6}")] {
        let (out, text) = rdate(&[&spec]);
        assert!(
            out.status.success(),
            "{spec}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 of 1 answered"), "{spec}: {text}");
    }
    let (out, text) = rdate(&["--port", &v6.to_string(), "[::1]"]);
    assert!(out.status.success(), "[::1] with --port: {text}");
    // A bad port is named as such, not as a name that does not resolve.
    let (out, _) = rdate(&["127.0.0.1:0"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("port 0"), "{err}");
    let (out, _) = rdate(&["--port", "0", "127.0.0.1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--port"), "{err}");
    // `oneloop --http ADDR rdate HOST`: --http would be dropped; say so.
    let out = Command::new(BIN)
        .args(["--http", "127.0.0.1:0", "rdate", "127.0.0.1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--http") && err.contains("rdate"), "{err}");
    server.stop().unwrap();
}
