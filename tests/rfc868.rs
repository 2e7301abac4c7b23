//! RFC 868 over TCP and UDP: the 2036 wrap, the pre-1970 clock, Debian's rdate.
//!
//! RFC 868 over real loopback sockets: TCP and UDP, the 2036 wrap and the
//! pre-1970 clock with pinned clocks, and Debian's rdate as a real client.

mod common;

use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{connect, start};
use oneloop::Config;

fn pinned(clock: oneloop::config::Clock) -> oneloop::Running {
    start(Config {
        clock,
        ..Config::ephemeral()
    })
}

fn after_wrap() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(2_085_978_496 + 5) // 2036-02-07 06:28:21 UTC
}

fn before_1970() -> SystemTime {
    UNIX_EPOCH - Duration::from_secs(10)
}

fn in_2001() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_000_000_000) // 2001-09-09 01:46:40 UTC
}

/// All a TCP time connection says before the server closes it.
fn tcp_time(addr: SocketAddr) -> Vec<u8> {
    let mut s = connect(addr);
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("read until the server closes");
    got
}

fn udp_client() -> UdpSocket {
    let u = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    u.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    u
}

fn now_1900() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 2_208_988_800
}

#[test]
fn tcp_sends_four_bytes_of_now_and_closes() {
    let server = common::start_default();
    let got = tcp_time(server.time[0]);
    assert_eq!(got.len(), 4, "{got:?}");
    let value = u32::from_be_bytes(got.try_into().unwrap()) as i64;
    assert!(
        (value - now_1900()).abs() <= 2,
        "value {value} vs now {}",
        now_1900()
    );
    server.stop().unwrap();
}

#[test]
fn udp_answers_empty_and_large_datagrams_once_each() {
    let server = common::start_default();
    let client = udp_client();
    for size in [0usize, 1, 1000] {
        client.send_to(&vec![7u8; size], server.time[0]).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).expect("a reply");
        assert_eq!(n, 4, "datagram of {size} bytes");
        assert_eq!(from, server.time[0]);
        let value = u32::from_be_bytes(buf[..4].try_into().unwrap()) as i64;
        assert!((value - now_1900()).abs() <= 2);
        // Exactly one reply per datagram.
        assert!(
            client.recv_from(&mut buf).is_err(),
            "a second reply to one datagram"
        );
    }
    server.stop().unwrap();
}

#[test]
fn a_burst_of_datagrams_gets_one_reply_each() {
    let server = common::start_default();
    let client = udp_client();
    for _ in 0..50 {
        client.send_to(&[], server.time[0]).unwrap();
    }
    let mut replies = 0;
    let mut buf = [0u8; 16];
    while let Ok((n, _)) = client.recv_from(&mut buf) {
        assert_eq!(n, 4);
        replies += 1;
    }
    assert_eq!(replies, 50);
    server.stop().unwrap();
}

#[test]
fn batches_answer_each_source_once_per_datagram() {
    // More datagrams in flight than one recvmmsg batch takes, from several
    // sources at once: each source gets exactly one reply per datagram.
    // Rounds of 100 keep the burst inside the default socket buffer, so the
    // kernel has no reason to drop any.
    let server = common::start_default();
    let clients: Vec<UdpSocket> = (0..4).map(|_| udp_client()).collect();
    for _round in 0..5 {
        for _ in 0..25 {
            for c in &clients {
                c.send_to(&[1, 2, 3], server.time[0]).unwrap();
            }
        }
        for c in &clients {
            let mut buf = [0u8; 16];
            for _ in 0..25 {
                let (n, from) = c.recv_from(&mut buf).expect("one reply per datagram");
                assert_eq!((n, from), (4, server.time[0]));
            }
        }
    }
    let mut buf = [0u8; 16];
    for c in &clients {
        assert!(
            c.recv_from(&mut buf).is_err(),
            "more replies than datagrams"
        );
    }
    server.stop().unwrap();
}

#[test]
fn the_2036_wrap_keeps_counting_from_zero() {
    let server = pinned(after_wrap);
    assert_eq!(tcp_time(server.time[0]), [0, 0, 0, 5]);
    let client = udp_client();
    client.send_to(&[], server.time[0]).unwrap();
    let mut buf = [0u8; 8];
    let (n, _) = client.recv_from(&mut buf).expect("a reply");
    assert_eq!(&buf[..n], [0, 0, 0, 5]);
    server.stop().unwrap();
}

#[test]
fn before_1970_tcp_closes_silently_and_udp_says_nothing() {
    let server = pinned(before_1970);
    assert_eq!(tcp_time(server.time[0]), Vec::<u8>::new());
    let client = udp_client();
    client.send_to(&[], server.time[0]).unwrap();
    let mut buf = [0u8; 8];
    assert!(
        client.recv_from(&mut buf).is_err(),
        "no reply without a clock"
    );
    // The server is still there: HTTP still answers (without a Date header,
    // since it has no clock to date it with).
    let r = common::get(server.http[0], &common::get_req("/hello.txt"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("date"), None);
    server.stop().unwrap();
}

/// rdate is Debian's RFC 868 client; `.ci/run` installs it and sets
/// ONELOOP_REQUIRE_RDATE so that its absence fails rather than skips.
fn rdate(args: &[&str], addr: SocketAddr) -> Option<String> {
    let port = addr.port().to_string();
    let mut all: Vec<&str> = vec!["-p"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", &port, "127.0.0.1"]);
    let out = match Command::new("rdate").args(&all).env("TZ", "UTC").output() {
        Ok(out) => out,
        Err(e) => {
            common::skip(
                "ONELOOP_REQUIRE_RDATE",
                &format!("no rdate ({e}; apt-get install rdate)"),
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "rdate {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn rdate_reads_the_time_over_tcp_and_udp() {
    let server = pinned(in_2001);
    for args in [&[][..], &["-u"][..]] {
        if let Some(out) = rdate(args, server.time[0]) {
            assert!(
                out.contains("Sun Sep  9 01:46:40 UTC 2001"),
                "rdate {args:?} printed {out:?}"
            );
        }
    }
    server.stop().unwrap();
}

#[test]
fn rdate_agrees_with_the_real_clock() {
    let server = common::start_default();
    if let Some(out) = rdate(&[], server.time[0]) {
        // rdate prints ctime() in UTC: "Wed Nov 25 13:54:57 UTC 2026". A wrong
        // era, offset or byte order would put it far from our own clock.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let clock = out
            .split_whitespace()
            .find(|w| w.len() == 8 && w.as_bytes()[2] == b':')
            .unwrap_or_else(|| panic!("no time in {out:?}"));
        let secs: Vec<u64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
        let of_day = secs[0] * 3600 + secs[1] * 60 + secs[2];
        let diff = (of_day as i64 - (now % 86_400) as i64).rem_euclid(86_400);
        assert!(diff <= 3 || diff >= 86_397, "rdate printed {out:?}");
        let year = out.split_whitespace().last().unwrap();
        assert_eq!(
            year,
            oneloop::date::format(now).split(' ').nth(3).unwrap(),
            "{out:?}"
        );
    }
    server.stop().unwrap();
}
