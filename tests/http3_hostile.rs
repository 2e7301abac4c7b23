//! HTTP/3 under hostile clients, over real sockets: Initial floods, random datagrams, a thousand requests at once and ten thousand past the limit, a reference to the empty QPACK table, a client that never acknowledges; each bounded, the rest served.
//!
//! Each test measures the server's CPU and the process's memory across
//! what it sends, so the tests here run one at a time (a lock), in a
//! binary of their own: no other server shares the process meanwhile.
#![cfg(feature = "http3")]

mod common;

use std::sync::Mutex;

use common::h3::*;

/// One test at a time: each measures the whole process.
static ALONE: Mutex<()> = Mutex::new(());

/// After the abuse, a new client is answered over HTTP/3, and one over
/// HTTP/1.1.
fn next_client_served(server: &oneloop::Running, pair: &oneloop::config::CertPair) {
    let (got, last) = h3(
        server.https[0].port(),
        &pair.cert,
        &[("GET", "/hello.txt", &[])],
    );
    assert_eq!(last, "CONNECTION ok");
    assert!(
        matches!(&got[0], Got::Answer(s) if s.status == 200),
        "{got:?}"
    );
    assert_eq!(over_http1(server, "GET", "/hello.txt", &[]).status, 200);
}

/// A flood of Initials, each a new connection that never goes on: once
/// 64 handshakes are in flight, the rest get a Retry (no state kept for
/// them), and a real client, RFC 868 and HTTP/1.1 are still served.
#[test]
fn an_initial_flood_is_met_with_retries_and_the_rest_still_served() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-flood");
    let port = server.https[0].port();
    let before = server_cpu_and_rss();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_flood.py");
    let said = python(
        script,
        &["127.0.0.1".into(), port.to_string(), "500".into()],
    );
    let count = |key: &str| -> u64 {
        said.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {said}"))
    };
    assert!(count("initials") >= 500, "{said}");
    // Handshakes began for the first 64 only; the others were sent a Retry.
    assert!(count("retries") >= 400, "{said}");
    let text = metrics_text(&server);
    assert!(
        sample(&text, "oneloop_quic_initials_total{answer=\"retry\"}") >= 400,
        "{text}"
    );
    assert!(
        sample(&text, "oneloop_http3_connections_open") <= 64,
        "{text}"
    );
    let after = server_cpu_and_rss();
    // 500 Initials in 0.12 s of CPU and 2.9 MiB (a debug build, the 64
    // handshakes begun included): bounded at a few times that.
    assert!(after.0 - before.0 < 1.0, "{before:?} -> {after:?}");
    assert!(after.1 < before.1 + 16 * 1024, "{before:?} -> {after:?}");
    // A client that answers its Retry is served, and so is everyone else.
    next_client_served(&server, &pair);
}

/// Ten thousand datagrams of random bytes and sizes: dropped (or, for
/// what looks like a packet of a connection it does not know, answered
/// with a rate-limited stateless reset), and the next client served, over
/// HTTP/3, HTTP/1.1 and RFC 868's UDP.
#[test]
fn random_datagrams_are_dropped_and_the_next_client_served() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-noise");
    let port = server.https[0].port();
    let before = server_cpu_and_rss();
    // The flood on a thread of its own; meanwhile RFC 868 over UDP, on its
    // own socket, is asked twenty times and answers every time.
    let flood = std::thread::spawn(move || {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rng = Rng(0x005e_ed0f_d474);
        let mut datagram = vec![0u8; 1500];
        for _ in 0..10_000 {
            let len = 1 + rng.below(1500);
            datagram[..len]
                .iter_mut()
                .for_each(|b| *b = rng.next() as u8);
            // Long headers with QUIC v1's version, now and then, so some
            // reach the Initial decryption and fail there.
            if rng.below(4) == 0 && len > 5 {
                datagram[0] |= 0xc0;
                datagram[1..5].copy_from_slice(&[0, 0, 0, 1]);
            }
            let _ = socket.send_to(&datagram[..len], ("127.0.0.1", port));
        }
    });
    let time = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    time.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    for _ in 0..20 {
        time.send_to(b"?", server.time[0]).unwrap();
        let mut reply = [0u8; 8];
        assert_eq!(time.recv(&mut reply).expect("an RFC 868 reply"), 4);
    }
    flood.join().unwrap();
    let (got, last) = h3(port, &pair.cert, &[("GET", "/hello.txt", &[])]);
    assert_eq!(last, "CONNECTION ok");
    assert!(
        matches!(&got[0], Got::Answer(s) if s.status == 200),
        "{got:?}"
    );
    let text = metrics_text(&server);
    assert!(
        sample(
            &text,
            "oneloop_quic_datagrams_total{direction=\"received\"}"
        ) >= 5_000,
        "{text}"
    );
    assert_eq!(
        sample(&text, "oneloop_http3_connections_total"),
        1,
        "{text}"
    );
    let after = server_cpu_and_rss();
    // 10,000 datagrams in 0.08 s of CPU and 0.2 MiB (a debug build, the
    // one handshake included): bounded at a few times that.
    assert!(after.0 - before.0 < 0.5, "{before:?} -> {after:?}");
    assert!(after.1 < before.1 + 4 * 1024, "{before:?} -> {after:?}");
    assert_eq!(over_http1(&server, "GET", "/hello.txt", &[]).status, 200);
}

/// A thousand requests at once on one connection: QUIC's stream limit
/// (100 open) makes the client wait for room, and every answer arrives.
#[test]
fn a_thousand_requests_on_one_connection_are_all_answered() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-thousand");
    let port = server.https[0].port();
    let requests: Vec<Request<'_>> = (0..1_000).map(|_| ("GET", "/hello.txt", &[][..])).collect();
    let (got, last) = h3(port, &pair.cert, &requests);
    assert_eq!(last, "CONNECTION ok", "{:?}", got.last());
    assert_eq!(got.len(), 1_000);
    assert!(
        got.iter()
            .all(|g| matches!(g, Got::Answer(s) if s.status == 200 && s.len == 6))
    );
}

/// A client that asks for 3 MiB and then never acknowledges (nor reads):
/// the server sends what its congestion window allows, probes with
/// backoff, and closes the connection at the idle timeout; the datagrams
/// it spent on it are bounded, and the next client is served.
#[test]
fn a_client_that_never_acknowledges_is_let_go_at_the_idle_timeout() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let dir = common::TempDir::new("h3-silent");
    let pair = common::certificate(dir.path(), "localhost", &["localhost"]);
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("big.bin"), common::noise(3 << 20)).unwrap();
    let server = common::start(oneloop::Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair.clone()],
        root: Some(root),
        metrics_path: Some("/metrics".into()),
        timeouts: oneloop::config::Timeouts {
            idle: std::time::Duration::from_secs(2),
            ..oneloop::config::Timeouts::default()
        },
        ..oneloop::Config::ephemeral()
    });
    let port = server.https[0].port();
    let before = server_cpu_and_rss();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_silent.py");
    let said = python(
        script,
        &[
            "127.0.0.1".into(),
            port.to_string(),
            "/big.bin".into(),
            "5".into(),
        ],
    );
    assert_eq!(said, "requested\ndone\n");
    // Five silent seconds: past the 2 s idle timeout and the drain after it.
    let text = metrics_text(&server);
    assert_eq!(
        sample(&text, "oneloop_http3_connections_total"),
        1,
        "{text}"
    );
    assert_eq!(sample(&text, "oneloop_http3_connections_open"), 0, "{text}");
    // 3 MiB would be some 2,200 datagrams: the unacknowledged connection
    // got its congestion window's worth and a few probes.
    let sent = sample(&text, "oneloop_quic_datagrams_total{direction=\"sent\"}");
    assert!(sent < 1_000, "{sent} datagrams sent: {text}");
    let after = server_cpu_and_rss();
    assert!(after.0 - before.0 < 0.5, "{before:?} -> {after:?}");
    let (got, last) = h3(port, &pair.cert, &[("GET", "/big.bin", &[])]);
    assert_eq!(last, "CONNECTION ok");
    assert!(
        matches!(&got[0], Got::Answer(s) if s.status == 200 && s.len == 3 << 20),
        "{got:?}"
    );
}

/// Runs tests/h3_abuse.py in `mode` against `port`; what it printed.
fn abuse(port: u16, mode: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h3_abuse.py");
    python(script, &["127.0.0.1".into(), port.to_string(), mode.into()])
}

/// Ten thousand request streams opened at once by a client that ignores
/// the server's limit of 100: QUIC's STREAM_LIMIT_ERROR (0x4) closes that
/// connection once a stream past the limit arrives (the ones within it
/// may have been taken); bounded, and the next client is served over
/// HTTP/3 and HTTP/1.1.
#[test]
fn ten_thousand_streams_past_the_limit_close_that_connection_alone() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-streams");
    let port = server.https[0].port();
    let before = server_cpu_and_rss();
    let said = abuse(port, "streams");
    assert_eq!(said, "CLOSED 4\n", "STREAM_LIMIT_ERROR");
    let after = server_cpu_and_rss();
    // The datagrams of 10,000 stream frames: measured under 0.01 s of CPU
    // and 0.5 MiB (a debug build), bounded at many times that.
    assert!(after.0 - before.0 < 0.5, "{before:?} -> {after:?}");
    assert!(after.1 < before.1 + 8 * 1024, "{before:?} -> {after:?}");
    let text = metrics_text(&server);
    let taken = sample(&text, "oneloop_http3_streams_total");
    assert!(taken <= 100, "{taken} requests taken: {text}");
    next_client_served(&server, &pair);
}

/// A field section that names an entry of the QPACK dynamic table, which
/// this server keeps empty (capacity 0), with a valid request behind it in
/// the same datagram: QPACK_DECOMPRESSION_FAILED (0x200) closes the
/// connection (RFC 9204 §2.2.3: a connection error, so the request behind
/// it is not answered), twenty times over; the next client is served.
#[test]
fn a_reference_to_the_empty_qpack_table_closes_with_decompression_failed() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    if !aioquic() {
        return;
    }
    let (_dir, pair, server) = serve("h3-dynamic");
    let port = server.https[0].port();
    let before = server_cpu_and_rss();
    for _ in 0..20 {
        assert_eq!(abuse(port, "dynamic"), "CLOSED 512\n");
    }
    let after = server_cpu_and_rss();
    assert!(after.0 - before.0 < 0.5, "{before:?} -> {after:?}");
    assert!(after.1 < before.1 + 4 * 1024, "{before:?} -> {after:?}");
    let text = metrics_text(&server);
    assert_eq!(
        sample(&text, "oneloop_http3_connections_total"),
        20,
        "{text}"
    );
    assert_eq!(sample(&text, "oneloop_http3_streams_total"), 0, "{text}");
    next_client_served(&server, &pair);
}
