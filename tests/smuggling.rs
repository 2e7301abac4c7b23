//! Malformed and smuggling requests, one line each, over real sockets.
//!
//! Every case is sent followed by a pipelined `GET /hello.txt`. The case
//! must get its expected status; then either the connection stays in step
//! (the next response is exactly the `Hello` of the pipelined GET) or it is
//! closed with nothing more said. Bodies carry a hidden `GET /index.html`:
//! had the server framed a body differently than the client meant, that
//! request would be answered, and the HTML would show.

// One `format!` per line keeps the table uniform, interpolating or not.
#![allow(clippy::useless_format)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{connect, parse_response, start_default};

/// What the server must do with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Answer with this status and stay in step for the next request.
    Keep(u16),
    /// Answer with this status and close.
    Close(u16),
}
use Then::{Close, Keep};

const HIDDEN: &str = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
const NEXT: &str = "GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n";

fn cases() -> Vec<(String, Then)> {
    let h = HIDDEN;
    let hl = HIDDEN.len();
    let mut c: Vec<(String, Then)> = vec![
        // --- well-formed baselines
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(200),
        ),
        (format!("GET /hello.txt HTTP/1.1\nHost: a\n\n"), Keep(200)),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}\r\n\r\n{h}"),
            Keep(405),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}, {hl}\r\n\r\n{h}"),
            Keep(405),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Keep(405),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Keep(405),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Keep(405),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x};name=value\r\n{h}\r\n0\r\nX-Trailer: 1\r\n\r\n"
            ),
            Keep(405),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:X}\r\n{h}\r\n0\r\n\r\n",
                hl
            ),
            Keep(405),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}\r\n\r\n{h}"),
            Keep(200),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: {hl}\r\n\r\n{h}"
            ),
            Keep(200),
        ),
        (
            format!("DELETE /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(405),
        ),
        (
            format!("BREW /pot HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}\r\n\r\n{h}"),
            Keep(501),
        ),
        (
            format!("get /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(501),
        ),
        (
            format!("GET http://a/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(200),
        ),
        (format!("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(404)),
        (format!("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(400)),
        (
            format!("GET /../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(400),
        ),
        (
            format!("GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(400),
        ),
        (format!("GET /a%00b HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(400)),
        (format!("GET /.env HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(404)),
        (format!("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(204)),
        // --- Content-Length that is not one decimal number (RFC 9112 §6.3)
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +{hl}\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}, {}\r\n\r\n{h}",
                hl + 1
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}\r\nContent-Length: {}\r\n\r\n{h}",
                hl + 1
            ),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x{hl:x}\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}.0\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e2\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n{h}"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n{h}"
            ),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999\r\n\r\n{h}"),
            Close(413),
        ),
        // --- Transfer-Encoding (RFC 9112 §6.1)
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n{h}"),
            Close(400),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n{h}"),
            Close(501),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n{h}"),
            Close(501),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n{h}"),
            Close(501),
        ),
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n{h}"),
            Close(501),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n{h}"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        // --- chunked bodies that cannot be framed or are over the limit: the
        // answer waits for the body's end, so it can be the error instead
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x{hl:x}\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{h}\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{h}\r\n0\r\n\r\n",
                hl - 1
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x}\n{h}\n0\n\n"
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x};{}\r\n{h}\r\n0\r\n\r\n",
                "e".repeat(2000)
            ),
            Close(400),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n{h}"
            ),
            Close(413),
        ),
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{hl:x}\r\n{h}\r\n0\r\nX: {}\r\n\r\n",
                "t".repeat(2000)
            ),
            Close(400),
        ),
        // --- Host (RFC 9112 §3.2)
        (format!("GET /hello.txt HTTP/1.1\r\n\r\n"), Close(400)),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
            Close(400),
        ),
        // --- field syntax (RFC 9112 §5, RFC 9110 §5.5)
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost : a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost\t: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\n Host: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\n(X): 1\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX@: 1\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\rHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\nhello"),
            Close(400),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"
            ),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nContent-Length\r\n\r\n"),
            Close(400),
        ),
        // --- request line (RFC 9112 §3)
        (
            format!("GET  /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt  HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET\t/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!(" GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (format!("GET /hello.txt\r\nHost: a\r\n\r\n"), Close(400)),
        (
            format!("GET /hello.txt HTTP/1.1 extra\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt http/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/1.1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt HTTP/2.0\r\nHost: a\r\n\r\n"),
            Close(505),
        ),
        (
            format!("GET /hello.txt HTTP/0.9\r\nHost: a\r\n\r\n"),
            Close(505),
        ),
        (
            format!("GET /hello.txt HTTP/3\r\nHost: a\r\n\r\n"),
            Close(505),
        ),
        (
            format!("GET hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (format!("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), Close(400)),
        (
            format!("GET http:///hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET ftp://a/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("G\0T /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hel lo.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        (
            format!("GET /hello.txt\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ),
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        (
            format!("\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
            Keep(200),
        ),
        // --- Expect (RFC 9110 §10.1.1)
        (
            format!(
                "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: {hl}\r\n\r\n{h}"
            ),
            Close(405),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"),
            Keep(200),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"),
            Close(417),
        ),
        // --- Connection
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
            Close(200),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n"),
            Close(200),
        ),
        (
            format!("GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"),
            Close(200),
        ),
        (format!("GET /hello.txt HTTP/1.0\r\n\r\n"), Close(200)),
        (
            format!("GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
            Keep(200),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
            ),
            Keep(200),
        ),
        // --- sizes
        (
            format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000)),
            Close(414),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "b".repeat(40_000)
            ),
            Close(431),
        ),
        (
            format!(
                "GET /hello.txt HTTP/1.1\r\nHost: a\r\n{}\r\n",
                "X-A: 1\r\n".repeat(150)
            ),
            Close(431),
        ),
    ];
    // HEAD versions of a few: same status, no body, same framing.
    c.push((
        format!("HEAD /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
        Keep(200),
    ));
    c.push((format!("HEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n"), Keep(404)));
    c
}

/// Reads until `n` responses are complete or the server closes; returns
/// the responses and whether it closed.
fn responses(
    s: &mut std::net::TcpStream,
    heads: &[bool],
    keep: bool,
) -> (Vec<common::Response>, bool) {
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        while out.len() < heads.len() {
            match parse_response(&buf, heads[out.len()]) {
                Some((r, used)) => {
                    buf.drain(..used);
                    out.push(r);
                }
                None => break,
            }
        }
        if keep && out.len() == heads.len() {
            return (out, false);
        }
        match s.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => {
                assert!(
                    buf.is_empty(),
                    "garbage after the responses: {:?}",
                    String::from_utf8_lossy(&buf)
                );
                return (out, false);
            }
        }
    }
}

#[test]
fn every_malformed_or_smuggling_request_is_answered_and_never_desyncs() {
    let server = start_default();
    let cases = cases();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    for (i, (raw, then)) in cases.iter().enumerate() {
        let mut s = connect(server.http[0]);
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut bytes = raw.clone().into_bytes();
        bytes.extend_from_slice(NEXT.as_bytes());
        // The server may close before reading it all: that is allowed.
        let _ = s.write_all(&bytes);
        let head = raw.starts_with("HEAD ");
        let (got, closed) = responses(&mut s, &[head, false], matches!(then, Keep(_)));
        let name = format!("case {i}: {:?}", &raw[..raw.len().min(90)]);
        assert!(!got.is_empty(), "{name}: no response at all");
        for r in &got {
            assert!(
                !r.text().contains("<html"),
                "{name}: a request hidden in a body was answered"
            );
        }
        match *then {
            Keep(status) => {
                assert_eq!(got[0].status, status, "{name}");
                assert_eq!(got.len(), 2, "{name}: the pipelined GET was not answered");
                assert_eq!(got[1].text(), "Hello\n", "{name}: out of step");
                assert!(!closed, "{name}: closed");
            }
            Close(status) => {
                assert_eq!(got[0].status, status, "{name}");
                assert_eq!(
                    got.len(),
                    1,
                    "{name}: answered after a request it could not frame"
                );
                assert!(closed, "{name}: not closed");
                assert_eq!(got[0].header("connection"), Some("close"), "{name}");
            }
        }
    }
    server.stop().unwrap();
}
