//! The live page in headless Chromium while clients keep the server busy.
//!
//! The live page in a real browser: headless Chromium loads
//! `/metrics/live` while a client keeps the server busy with pipelined
//! requests, and the DOM it ends with must show several updates whose
//! numbers moved, with the batching the loop achieved.
//!
//! Chromium's `--virtual-time-budget` runs the page's one-second timer
//! without waiting a real second each time; the page computes its rates
//! from the server's own uptime, so they stay true.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{CHROMIUM, TempDir, chromium_available, connect, exchange, get_req, start};
use oneloop::Config;

/// The value of `data-NAME` on the `<body>` tag of `dom`.
fn body_data(dom: &str, name: &str) -> Option<u64> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let key = format!("data-{name}=\"");
    let value = &body[body.find(&key)? + key.len()..];
    value[..value.find('"')?].parse().ok()
}

/// Loads `url` in headless Chromium with `budget` ms of virtual time and
/// returns the DOM it ends with.
fn dump_dom(url: &str, budget: u32) -> String {
    // A profile of its own: two Chromiums on one profile, one gives up.
    let profile = TempDir::new(&format!("chromium-profile-{budget}"));
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            // Containers often have a small /dev/shm.
            "--disable-dev-shm-usage",
            "--dump-dom",
        ])
        .arg(format!("--virtual-time-budget={budget}"))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut dom)
        .unwrap();
    dom
}

/// Whether headless Chromium is here; if not, the test is skipped (and
/// fails under CI).
fn chromium_or_skip() -> bool {
    let found = chromium_available();
    if !found {
        common::skip(
            "ONELOOP_REQUIRE_CHROMIUM",
            "no chromium (apt-get install chromium)",
        );
    }
    found
}

/// At first sight, before a second sample could come, every figure shows
/// a number (the average since the server started), not a dash.
#[test]
fn the_live_page_is_not_blank_at_first_sight() {
    if !chromium_or_skip() {
        return;
    }
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    let http = server.http[0];
    let mut s = connect(http);
    exchange(&mut s, get_req("/hello.txt").repeat(8).as_bytes(), 8);
    // Less than a second of the page's time: one sample at most.
    let dom = dump_dom(&format!("http://{http}/metrics/live"), 300);
    assert_eq!(body_data(&dom, "updates"), Some(1), "{dom}");
    for id in [
        "rps", "wps", "epw", "rpw", "bpw", "spr", "sps", "h3ps", "dps", "rtt", "tps",
    ] {
        let at = dom
            .find(&format!("id=\"{id}\">"))
            .unwrap_or_else(|| panic!("no #{id} in {dom}"));
        let shown = &dom[at + id.len() + 6..];
        let shown = &shown[..shown.find('<').unwrap()];
        assert!(
            shown.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "#{id} shows {shown:?} at first sight"
        );
    }
    assert!(
        body_data(&dom, "rps").is_some_and(|n| n > 0),
        "a rate since start"
    );
    server.stop().unwrap();
}

#[test]
fn the_live_page_draws_moving_numbers_in_chromium() {
    if !chromium_or_skip() {
        return;
    }
    // No spin: its empty looks are epoll_waits too, and with one client
    // in step with the server their number per response is whatever the
    // scheduler makes it (2 to 6 here); the page's syscalls per response
    // is checked for what batching does.
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        spin: std::time::Duration::ZERO,
        ..Config::ephemeral()
    });
    let http = server.http[0];
    let time = server.time[0];

    // Load: batches of eight pipelined GETs on a keep-alive connection,
    // and RFC 868 datagrams, until the browser is done.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut s = connect(http);
            let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let batch = get_req("/hello.txt").repeat(8);
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                exchange(&mut s, batch.as_bytes(), 8);
                udp.send_to(b"", time).unwrap();
                sent += 1;
                // No pause: Chromium's virtual time makes the page's
                // seconds short in real time, and each must hold batches.
            }
            sent
        })
    };

    // HTTP/2 beside it: h2load by prior knowledge, ten streams at a time
    // on one connection (when nghttp2-client is there; CI requires it).
    let h2load = Command::new("h2load")
        .args(["-c", "1", "-m", "10", "-D", "60"])
        .arg(format!("http://{http}/hello.txt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok();
    if h2load.is_none() {
        common::skip(
            "ONELOOP_REQUIRE_H2LOAD",
            "its HTTP/2 half: no h2load (apt-get install nghttp2-client)",
        );
    }

    let dom = dump_dom(&format!("http://{http}/metrics/live"), 6000);
    stop.store(true, Ordering::Relaxed);
    if let Some(mut h2load) = h2load {
        let _ = h2load.kill();
        let _ = h2load.wait();
        let first = body_data(&dom, "first-h2-streams").unwrap();
        let last = body_data(&dom, "h2-streams").unwrap();
        assert!(last > first, "HTTP/2 streams moved: {first} -> {last}");
        assert!(body_data(&dom, "h2-streams-per-second").unwrap() > 0);
    }
    let sent = load.join().unwrap();
    assert!(sent > 0);

    let updates = body_data(&dom, "updates").unwrap_or_else(|| panic!("no updates in {dom}"));
    assert!(updates >= 2, "{updates} updates");
    let first = body_data(&dom, "first-responses").unwrap();
    let last = body_data(&dom, "responses").unwrap();
    assert!(last > first, "responses moved: {first} -> {last}");
    let rps = body_data(&dom, "rps").unwrap();
    assert!(rps > 0, "a rate was drawn");
    // Eight responses leave in each write (the page's own fetches, one
    // response per write, pull the average down a little).
    let per_write = body_data(&dom, "responses-per-write").unwrap();
    assert!(
        per_write >= 300,
        "{per_write} hundredths of a response per write"
    );
    // A batch costs one epoll_wait, one read and one write: well under two
    // syscalls per response, the cost without pipelining.
    let syscalls = body_data(&dom, "syscalls-per-response").unwrap();
    assert!(
        (1..200).contains(&syscalls),
        "{syscalls} hundredths of a syscall per response"
    );
    assert!(body_data(&dom, "events-per-wakeup").unwrap() > 0);
    // Ten charts, twenty lines, each drawn through at least two samples.
    let drawn = dom
        .split("<polyline points=\"")
        .skip(1)
        .filter(|rest| rest[..rest.find('"').unwrap_or(0)].contains(' '))
        .count();
    assert_eq!(drawn, 20, "{dom}");
    assert!(dom.contains("responses,"), "status line written");
    server.stop().unwrap();
}

/// With nobody but the page asking, the syscalls per response would be
/// its own polls': it says idle instead, and counts in the singular.
#[test]
fn the_live_page_says_idle_when_only_it_asks() {
    if !chromium_or_skip() {
        return;
    }
    let server = start(Config {
        metrics_path: Some("/metrics".into()),
        ..Config::ephemeral()
    });
    let http = server.http[0];
    let dom = dump_dom(&format!("http://{http}/metrics/live"), 2500);
    assert!(body_data(&dom, "updates").is_some_and(|n| n >= 2), "{dom}");
    assert!(dom.contains("id=\"spr\">idle<"), "{dom}");
    assert_eq!(body_data(&dom, "syscalls-per-response"), Some(0), "{dom}");
    assert!(dom.contains(" 1 connection open"), "{dom}");
    assert!(!dom.contains(" 1 connections"), "{dom}");
    server.stop().unwrap();
}

/// HTTP/3 on the page: fifty requests over QUIC (aioquic, ten connections
/// of five) before it loads, and its first sample shows them, as requests
/// a second since the start and as datagrams per syscall.
#[cfg(feature = "http3")]
#[test]
fn the_live_page_counts_http3_requests_and_datagrams() {
    if !chromium_or_skip() || !common::h3::aioquic() {
        return;
    }
    let (_dir, pair, server) = common::h3::serve("live-h3");
    let port = server.https[0].port();
    for _ in 0..10 {
        let five: Vec<common::h3::Request<'_>> =
            (0..5).map(|_| ("GET", "/hello.txt", &[][..])).collect();
        let (got, last) = common::h3::h3(port, &pair.cert, &five);
        assert_eq!((got.len(), last.as_str()), (5, "CONNECTION ok"));
    }
    let dom = dump_dom(&format!("http://{}/metrics/live", server.http[0]), 300);
    assert_eq!(body_data(&dom, "h3-streams"), Some(50), "{dom}");
    assert!(
        body_data(&dom, "h3-streams-per-second").is_some_and(|n| n > 0),
        "{dom}"
    );
    // Handshakes and answers, a few datagrams a train: at least one a
    // syscall, in hundredths.
    assert!(
        body_data(&dom, "datagrams-per-syscall").is_some_and(|n| n >= 100),
        "{dom}"
    );
    server.stop().unwrap();
}
