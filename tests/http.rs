//! HTTP/1.0 and 1.1 over real loopback sockets.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::Duration;

use common::{
    TempDir, closes, connect, exchange, get, get_req, noise, read_responses, start, start_default,
};
use oneloop::Config;

/// A document root with a few files, a subdirectory, and symlinks both
/// inside and out of it; plus a secret outside it.
fn site(name: &str) -> (TempDir, TempDir) {
    let root = TempDir::new(&format!("{name}-root"));
    let outside = TempDir::new(&format!("{name}-outside"));
    let r = root.path();
    fs::write(r.join("hello.txt"), "Hello\n").unwrap();
    fs::write(r.join("style.css"), "body{}").unwrap();
    fs::write(r.join("big.bin"), noise(3 << 20)).unwrap();
    fs::create_dir(r.join("sub")).unwrap();
    fs::write(r.join("sub/index.html"), "<p>sub</p>").unwrap();
    fs::create_dir(r.join("empty")).unwrap();
    fs::write(outside.path().join("secret.txt"), "SECRET\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), r.join("link-out")).unwrap();
    std::os::unix::fs::symlink(outside.path(), r.join("dir-out")).unwrap();
    std::os::unix::fs::symlink(r.join("hello.txt"), r.join("link-in")).unwrap();
    (root, outside)
}

fn serve_dir(root: &Path) -> oneloop::Running {
    start(Config {
        root: Some(root.to_path_buf()),
        cache_file_max: 64 * 1024, // big.bin goes out with sendfile
        ..Config::ephemeral()
    })
}

#[test]
fn embedded_site_serves_index_and_hello() {
    let server = start_default();
    let r = get(server.http[0], &get_req("/hello.txt"));
    assert_eq!((r.status, r.text().as_str()), (200, "Hello\n"));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert!(r.header("server").unwrap().starts_with("oneloop"));
    assert!(r.header("date").unwrap().ends_with(" GMT"));
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));
    let index = get(server.http[0], &get_req("/"));
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    // It names the ports this server serves, not the defaults.
    let text = index.text();
    let (http, time) = (server.http[0].port(), server.time[0].port());
    assert!(
        text.contains(&format!("rdate -p -o {time} ")),
        "the index says how to ask the time here: {text}"
    );
    assert!(text.contains(&format!(":{http}/hello.txt")), "{text}");
    assert!(!text.contains("8080") && !text.contains("3737"), "{text}");
    server.stop().unwrap();
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = start_default();
    let mut s = connect(server.http[0]);
    for _ in 0..5 {
        let r = exchange(&mut s, get_req("/hello.txt").as_bytes(), 1);
        assert_eq!(r[0].status, 200);
        assert_eq!(r[0].header("connection"), None, "HTTP/1.1 keeps by default");
    }
    server.stop().unwrap();
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let server = start_default();
    let mut s = connect(server.http[0]);
    let r = exchange(&mut s, b"GET /hello.txt HTTP/1.0\r\n\r\n", 1);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].header("connection"), Some("close"));
    assert!(closes(&mut s));

    let mut s = connect(server.http[0]);
    for _ in 0..3 {
        let r = exchange(
            &mut s,
            b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            1,
        );
        assert_eq!(r[0].status, 200);
        assert_eq!(r[0].header("connection"), Some("keep-alive"));
    }
    server.stop().unwrap();
}

#[test]
fn connection_close_is_honoured() {
    let server = start_default();
    let mut s = connect(server.http[0]);
    let r = exchange(
        &mut s,
        b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        1,
    );
    assert_eq!(r[0].header("connection"), Some("close"));
    assert!(closes(&mut s));
    server.stop().unwrap();
}

#[test]
fn sixteen_pipelined_requests_are_answered_in_order() {
    let server = start_default();
    let paths = ["/hello.txt", "/", "/nope", "/index.html"];
    let mut raw = String::new();
    let mut want = Vec::new();
    for i in 0..16 {
        let path = paths[i % paths.len()];
        raw.push_str(&get_req(&format!("{path}?n={i}")));
        want.push(if path == "/nope" { 404 } else { 200 });
    }
    let mut s = connect(server.http[0]);
    let responses = exchange(&mut s, raw.as_bytes(), 16);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(statuses, want);
    assert_eq!(responses[0].text(), "Hello\n");
    assert!(responses[1].text().contains("<html"));
    // And the connection is still good.
    assert_eq!(
        exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    server.stop().unwrap();
}

#[test]
fn head_has_the_get_headers_and_no_body() {
    let (root, _outside) = site("head");
    let server = serve_dir(root.path());
    for path in ["/hello.txt", "/big.bin", "/nope"] {
        let mut s = connect(server.http[0]);
        s.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: a\r\n\r\n{}", get_req(path)).as_bytes())
            .unwrap();
        let rs = read_responses(&mut s, &[true, false]);
        let strip = |r: &common::Response| {
            r.headers
                .iter()
                .filter(|(n, _)| n != "Date")
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(rs[0].status, rs[1].status, "{path}");
        assert_eq!(strip(&rs[0]), strip(&rs[1]), "{path}");
        assert!(rs[0].body.is_empty());
        assert_eq!(
            rs[1].body.len().to_string(),
            rs[1].header("content-length").unwrap()
        );
    }
    server.stop().unwrap();
}

#[test]
fn status_codes_table() {
    let server = start_default();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
    let long_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1200)
    );
    // (request, status, whether the server then closes)
    let cases: Vec<(String, u16, bool)> = vec![
        (get_req("/nope"), 404, false),
        (get_req("/hello.txt/"), 404, false),
        ("GET / HTTP/1.1\r\n\r\n".into(), 400, true),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(),
            400,
            true,
        ),
        ("HELLO\r\n\r\n".into(), 400, true),
        ("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n".into(), 400, false),
        (
            "POST /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n".into(),
            405,
            false,
        ),
        (
            "DELETE /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            405,
            false,
        ),
        ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n".into(), 405, false),
        ("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n".into(), 501, false),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(), 505, true),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                .into(),
            400,
            true,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n".into(),
            413,
            true,
        ),
        (long_target, 414, true),
        (long_head, 431, true),
    ];
    for (raw, status, closed) in cases {
        let mut s = connect(server.http[0]);
        let r = exchange(&mut s, raw.as_bytes(), 1).remove(0);
        let name = &raw[..raw.len().min(40)];
        assert_eq!(r.status, status, "{name:?}");
        assert_eq!(
            r.body.len().to_string(),
            r.header("content-length").unwrap()
        );
        assert!(!r.body.is_empty(), "errors say what went wrong: {name:?}");
        if status == 405 {
            assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"));
        }
        if closed {
            assert_eq!(r.header("connection"), Some("close"), "{name:?}");
            assert!(closes(&mut s), "{name:?} closes");
        } else {
            let next = exchange(&mut s, get_req("/hello.txt").as_bytes(), 1).remove(0);
            assert_eq!(
                next.status, 200,
                "after {name:?} the connection still serves"
            );
        }
    }
    server.stop().unwrap();
}

#[test]
fn a_body_is_skipped_and_the_pipelined_get_after_it_answered() {
    let server = start_default();
    // Each body looks like a request: were it misread as one, a third
    // response (or a 404 for /smuggled) would appear.
    let fake = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n";
    let cases = [
        format!(
            "POST /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{fake}",
            fake.len()
        ),
        format!(
            "POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{fake}\r\n0\r\n\r\n",
            fake.len()
        ),
        format!(
            "POST /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=\"x\"\r\nabc\r\n0\r\nTrailer: {fake:?}\r\n\r\n"
        ),
        "GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".to_string(),
    ];
    for case in cases {
        let mut s = connect(server.http[0]);
        let raw = format!("{case}{}", get_req("/index.html"));
        let rs = exchange(&mut s, raw.as_bytes(), 2);
        assert!(
            rs[0].status == 405 || rs[0].status == 200,
            "{case:?}: {}",
            rs[0].status
        );
        assert_eq!(rs[1].status, 200, "{case:?}");
        assert!(rs[1].text().contains("<html"), "{case:?}");
        // Nothing more: the body was not taken for a request.
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut extra = [0u8; 64];
        assert!(s.read(&mut extra).is_err(), "{case:?}: a third response");
    }
    server.stop().unwrap();
}

#[test]
fn expect_100_continue_gets_a_final_answer_at_once() {
    let server = start_default();
    let mut s = connect(server.http[0]);
    let r = exchange(
        &mut s,
        b"PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n",
        1,
    );
    assert_eq!(r[0].status, 405);
    assert_eq!(r[0].header("connection"), Some("close"));
    assert!(closes(&mut s));
    server.stop().unwrap();
}

#[test]
fn absolute_form_targets_work() {
    let server = start_default();
    let r = get(
        server.http[0],
        "GET http://example.test/hello.txt HTTP/1.1\r\nHost: example.test\r\n\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "Hello\n"));
    server.stop().unwrap();
}

#[test]
fn files_directories_and_types_from_a_root() {
    let (root, _outside) = site("files");
    let server = serve_dir(root.path());
    let addr = server.http[0];
    let css = get(addr, &get_req("/style.css"));
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let redirect = get(addr, &get_req("/sub?x=1"));
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/sub/?x=1"));
    let index = get(addr, &get_req("/sub/"));
    assert_eq!((index.status, index.text().as_str()), (200, "<p>sub</p>"));
    assert_eq!(get(addr, &get_req("/empty/")).status, 404, "no listings");
    assert_eq!(
        get(addr, &get_req("/link-in")).text(),
        "Hello\n",
        "symlinks inside the root are fine"
    );
    server.stop().unwrap();
}

#[test]
fn large_files_arrive_intact_through_sendfile() {
    let (root, _outside) = site("large");
    let server = serve_dir(root.path());
    let want = noise(3 << 20);
    let mut s = connect(server.http[0]);
    // Twice on one connection, and a small one after: the file chunk and the
    // memory chunks share the queue.
    let raw = format!(
        "{}{}{}",
        get_req("/big.bin"),
        get_req("/big.bin"),
        get_req("/hello.txt")
    );
    let rs = exchange(&mut s, raw.as_bytes(), 3);
    for r in &rs[..2] {
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
        assert!(r.body == want, "body differs");
    }
    assert_eq!(rs[2].text(), "Hello\n");
    server.stop().unwrap();
}

#[test]
fn paused_readers_of_large_files_all_finish() {
    // Clients that stop reading fill their sockets; when they read again,
    // the server must be woken to send the rest (a short sendfile alone
    // does not guarantee that wakeup). Several at once take turns.
    let (root, _outside) = site("paused");
    let server = serve_dir(root.path());
    let want = noise(3 << 20);
    let mut clients: Vec<(TcpStream, Vec<u8>)> = (0..8)
        .map(|_| {
            let mut c = connect(server.http[0]);
            c.write_all(get_req("/big.bin").as_bytes()).unwrap();
            let mut first = vec![0u8; 4096];
            c.read_exact(&mut first).unwrap();
            (c, first)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut buf = vec![0u8; 1 << 16];
    for (i, (c, got)) in clients.iter_mut().enumerate() {
        let body = loop {
            if let Some((r, used)) = common::parse_response(got, false) {
                assert_eq!(used, got.len(), "client {i}: nothing after the response");
                break r.body;
            }
            let n = c
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("client {i} stalled: {e}"));
            assert!(n > 0, "client {i}: closed early");
            got.extend_from_slice(&buf[..n]);
        };
        assert!(body == want, "client {i}: body intact");
    }
    server.stop().unwrap();
}

#[test]
fn traversal_never_leaves_the_root() {
    let (root, _outside) = site("traversal");
    let server = serve_dir(root.path());
    let targets = [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt",
        "/%2fetc%2fpasswd",
        "//etc/passwd",
        "/sub/..%5c..%5csecret.txt",
        "/sub\\..\\..\\secret.txt",
        "/hello.txt%00.html",
        "/link-out",
        "/dir-out/secret.txt",
        "/dir-out/",
        "http://x/../secret.txt",
    ];
    for target in targets {
        let r = get(
            server.http[0],
            &format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n"),
        );
        assert!(
            matches!(r.status, 400 | 403 | 404),
            "{target}: {}",
            r.status
        );
        assert!(!r.text().contains("SECRET"), "{target} leaked the secret");
    }
    server.stop().unwrap();
}

#[test]
fn a_request_written_one_byte_at_a_time() {
    let server = start_default();
    let mut s = connect(server.http[0]);
    for b in get_req("/hello.txt").bytes() {
        s.write_all(&[b]).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let r = read_responses(&mut s, &[false]);
    assert_eq!(r[0].text(), "Hello\n");
    server.stop().unwrap();
}

#[test]
fn clients_that_vanish_mid_request_harm_no_one() {
    let server = start_default();
    for i in 0..20 {
        let mut s = connect(server.http[0]);
        let raw = get_req("/hello.txt");
        s.write_all(&raw.as_bytes()[..i % raw.len()]).unwrap();
        drop(s);
        // A reset in the middle of a large response, too.
        let mut s = connect(server.http[0]);
        s.write_all(get_req("/").repeat(16).as_bytes()).unwrap();
        drop(s);
    }
    let r = get(server.http[0], &get_req("/hello.txt"));
    assert_eq!(r.status, 200);
    server.stop().unwrap();
}

#[test]
fn hundreds_of_concurrent_clients_mixing_both_protocols() {
    let server = start_default();
    let http = server.http[0];
    let time = server.time[0];
    // Open them all first, so they are concurrent for the server.
    let mut conns: Vec<TcpStream> = (0..300).map(|_| connect(http)).collect();
    let mut timers: Vec<TcpStream> = (0..100).map(|_| connect(time)).collect();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (i, s) in conns.iter_mut().enumerate() {
        let path = if i % 2 == 0 { "/hello.txt" } else { "/" };
        s.write_all(get_req(path).repeat(1 + i % 3).as_bytes())
            .unwrap();
        if i % 3 == 0 {
            udp.send_to(&[], time).unwrap();
        }
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let rs = read_responses(s, &vec![false; 1 + i % 3]);
        assert!(rs.iter().all(|r| r.status == 200), "client {i}");
    }
    for s in &mut timers {
        let mut four = Vec::new();
        s.read_to_end(&mut four).unwrap();
        assert_eq!(four.len(), 4);
    }
    let mut buf = [0u8; 8];
    for _ in 0..100 {
        let (n, _) = udp.recv_from(&mut buf).expect("every datagram answered");
        assert_eq!(n, 4);
    }
    server.stop().unwrap();
}

#[test]
fn shutdown_finishes_responses_in_flight_and_closes_idle_ones() {
    let (root, _outside) = site("shutdown");
    let server = serve_dir(root.path());
    let addr: SocketAddr = server.http[0];
    let mut idle = connect(addr);
    assert_eq!(
        exchange(&mut idle, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    // A download the client reads slowly, so it is in flight at shutdown.
    let mut busy = connect(addr);
    busy.write_all(get_req("/big.bin").as_bytes()).unwrap();
    let mut first = [0u8; 1024];
    busy.read_exact(&mut first).unwrap();
    let handle = server.handle();
    handle.shutdown();
    assert!(closes(&mut idle), "the idle connection is closed");
    let mut rest = Vec::new();
    busy.read_to_end(&mut rest).unwrap();
    let mut all = first.to_vec();
    all.extend_from_slice(&rest);
    let (r, _) = common::parse_response(&all, false).expect("a whole response");
    assert_eq!(r.header("connection"), None, "it was already under way");
    assert!(r.body == noise(3 << 20), "the download completed intact");
    server.stop().unwrap();
}
