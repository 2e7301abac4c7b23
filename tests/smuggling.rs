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
        // One Content-Length, one number: a list, even of equal values, is
        // refused as nginx does (RFC 9110 §8.6 allows either).
        (
            format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}, {hl}\r\n\r\n{h}"),
            Close(400),
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
    // --- chunk-size is 1*HEXDIG (RFC 9112 §7.1): anything else is 400 and close
    let te = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for size in [
        "",
        " ",
        " 5",
        "5 ",
        "+5",
        "-5",
        "0x5",
        "5g",
        "g",
        ";a=b",
        "\t5",
        "5\x00",
        "00000000000000000000001", // beyond 64 bits
    ] {
        c.push((format!("{te}{size}\r\n{h}\r\n0\r\n\r\n"), Close(400)));
    }
    // An empty line where the size should be, then what looks like trailers:
    // a GET pipelined there must never be swallowed, nor answered.
    c.push((format!("{te}\r\n{h}"), Close(400)));
    // --- chunk-ext (RFC 9112 §7.1.1): ";" name [ "=" token / quoted-string ], BWS around
    for ext in [
        ";a",
        ";a=b",
        " ; a = b",
        ";a=b;c",
        ";a=\"q u o\\\"ted\"",
        ";a=\"\"",
        "\t;a",
    ] {
        c.push((
            format!("{te}{hl:x}{ext}\r\n{h}\r\n0{ext}\r\n\r\n"),
            Keep(405),
        ));
    }
    for ext in [
        ";a\nb",
        ";a\n",
        ";a\x00",
        ";a\x01",
        ";a=b c",
        ";=b",
        ";a=",
        ";a=\"open",
        ";a b",
        ";a=\"x\"y",
        ";",
        ";;a",
        ";a=\"\x7f\"",
        ";\u{e9}",
    ] {
        c.push((format!("{te}{hl:x}{ext}\r\n{h}\r\n0\r\n\r\n"), Close(400)));
    }
    // --- trailers are field lines, CRLF-ended and bounded
    c.push((format!("{te}0\r\nX-A: 1\r\nX-B:\r\n\r\n"), Keep(405)));
    for trailer in [
        "GET / HTTP/1.1",
        "no colon",
        "X-A : 1",
        " folded: 1",
        ": empty name",
        "X-A: 1\x00",
        "X A: 1",
    ] {
        c.push((format!("{te}0\r\n{trailer}\r\n\r\n"), Close(400)));
    }
    c.push((format!("{te}0\r\nX-A: 1\n\r\n"), Close(400)));
    c.push((
        format!("{te}0\r\nX-A: {}\r\n\r\n", "v".repeat(2000)),
        Close(400),
    ));
    c.push((
        format!("{te}0\r\n{}\r\n", "X-A: 1\r\n".repeat(200)),
        Close(400),
    ));
    // --- framing fields given twice
    for fields in [
        "Transfer-Encoding: chunked, chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: ",
        "Transfer-Encoding: gzip, chunked, chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 0",
    ] {
        c.push((
            format!("POST / HTTP/1.1\r\nHost: a\r\n{fields}\r\n\r\n{hl:x}\r\n{h}\r\n0\r\n\r\n"),
            Close(400),
        ));
    }
    c.push((
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {hl}\r\nContent-Length: {hl}\r\n\r\n{h}"
        ),
        Close(400),
    ));
    // --- a field line is capped like the request line (8 KiB): 431
    c.push((
        format!(
            "GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "b".repeat(9000)
        ),
        Close(431),
    ));
    c.push((
        format!(
            "GET /hello.txt HTTP/1.1\r\nHost: a\r\nX-{}: 1\r\n\r\n",
            "n".repeat(9000)
        ),
        Close(431),
    ));
    // --- Host is uri-host [ ":" port ] (RFC 9112 §3.2, RFC 3986 §3.2.2)
    for host in [
        "example.com",
        "example.com:80",
        "example.com.",
        "1.2.3.4:9000",
        "[::1]",
        "[::1]:8080",
        "[v7.fe:ed]",
        "a-b_c~d.e",
        "%41b",
        "sub!$&'()*+,;=",
        "",
        "example.com:",
    ] {
        c.push((
            format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            Keep(200),
        ));
    }
    for host in [
        "../123.org",
        ":asd",
        ":-1",
        "[::1]/../../",
        "example.com.:1.2",
        "1.2.3.4:9000:80",
        "example.com/\\:552",
        "[ab..cd::]",
        "[::1",
        "::1",
        "[::1]x",
        "[::g]",
        "a b",
        "a@b",
        "%zz",
        "example.com:99999",
        "example.com:1234567",
        "a/b",
        "a?b",
        "a#b",
        "[]",
    ] {
        c.push((
            format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            Close(400),
        ));
        // The same authority in absolute form (where a '/' or '?' would
        // end it, and what follows is the path).
        if !host.contains(['/', '?']) {
            c.push((
                format!("GET http://{host}/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
                Close(400),
            ));
        }
    }
    c.push((
        format!("GET http://[::1]:80/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
        Keep(200),
    ));
    c.push((
        format!("GET http://user@a/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n"),
        Close(400),
    ));
    // --- HTTP/1.x with x above 1 is answered as 1.1 (RFC 9110 §2.5)
    for minor in ["2", "9"] {
        c.push((
            format!("GET /hello.txt HTTP/1.{minor}\r\nHost: a\r\n\r\n"),
            Keep(200),
        ));
    }
    c.push((format!("GET /hello.txt HTTP/1.2\r\n\r\n"), Close(400)));
    // --- CONNECT: authority-form is a known method not allowed here (405);
    // any other form is malformed (400)
    c.push((
        format!("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
        Close(405),
    ));
    for target in ["/", "*", "http://a/", "a.example", "a.example:x"] {
        c.push((
            format!("CONNECT {target} HTTP/1.1\r\nHost: a\r\n\r\n"),
            Close(400),
        ));
    }
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
    // Every case runs; the failures are listed together at the end.
    let mut failures = Vec::new();
    for (i, (raw, then)) in cases.iter().enumerate() {
        let name = format!("case {i}: {:?}", &raw[..raw.len().min(100)]);
        if let Err(why) = check(server.http[0], raw, *then) {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    server.stop().unwrap();
}

/// Sends one case and the pipelined GET after it; says what went wrong.
fn check(addr: std::net::SocketAddr, raw: &str, then: Then) -> Result<(), String> {
    let mut s = connect(addr);
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut bytes = raw.as_bytes().to_vec();
    bytes.extend_from_slice(NEXT.as_bytes());
    // The server may close before reading it all: that is allowed.
    let _ = s.write_all(&bytes);
    let head = raw.starts_with("HEAD ");
    let (got, closed) = responses(&mut s, &[head, false], matches!(then, Keep(_)));
    let Some(first) = got.first() else {
        return Err("no response at all".into());
    };
    if got.iter().any(|r| r.text().contains("<html")) {
        return Err("a request hidden in a body was answered".into());
    }
    let (Keep(status) | Close(status)) = then;
    if first.status != status {
        return Err(format!("status {} instead of {status}", first.status));
    }
    match then {
        Keep(_) if got.len() != 2 => Err("the pipelined GET was not answered".into()),
        Keep(_) if got[1].text() != "Hello\n" => Err("out of step".into()),
        Keep(_) if closed => Err("closed".into()),
        Close(_) if got.len() != 1 => Err("answered after a request it could not frame".into()),
        Close(_) if !closed => Err("not closed".into()),
        Close(_) if first.header("connection") != Some("close") => {
            Err("no Connection: close".into())
        }
        _ => Ok(()),
    }
}

#[test]
fn each_refusal_says_what_went_wrong() {
    use oneloop::http::status::Refusal::{self, *};
    let server = start_default();
    let te = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    let cases: Vec<(String, Refusal)> = vec![
        ("GET / HTTP/1.1\r\n\r\n".into(), NoHost),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(),
            TwoHosts,
        ),
        ("GET / HTTP/1.1\r\nHost: ../x\r\n\r\n".into(), BadHost),
        (
            "GET http://a@b/ HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            BadHost,
        ),
        ("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n".into(), BadTarget),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
                .into(),
            LengthWithChunked,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n".into(),
            BadLength,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n".into(),
            BadTransferEncoding,
        ),
        (format!("{te}\r\n"), BadChunkSize),
        (format!("{te}1;a\x00\r\nx\r\n0\r\n\r\n"), BadChunkExtension),
        (format!("{te}1\nx\r\n0\r\n\r\n"), BadChunkLine),
        (format!("{te}0\r\nGET / HTTP/1.1\r\n\r\n"), BadTrailer),
        (
            "GET /a%2fb HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            EncodedSlash,
        ),
        ("GET /../x HTTP/1.1\r\nHost: a\r\n\r\n".into(), AboveRoot),
        ("GET /a%00 HTTP/1.1\r\nHost: a\r\n\r\n".into(), BadPathByte),
        ("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n".into(), BadEscape),
        ("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n".into(), NotFound),
        (
            "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n".into(),
            MethodNotAllowed,
        ),
        ("BREW / HTTP/1.1\r\nHost: a\r\n\r\n".into(), UnknownMethod),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: rot13, chunked\r\n\r\n".into(),
            UnknownCoding,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: tea\r\n\r\n".into(),
            ExpectationFailed,
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "b".repeat(9000)
            ),
            FieldTooLong,
        ),
        (
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n".into(),
            VersionNotSupported,
        ),
        ("GET / HTTP/1.1\r\nHost a\r\n\r\n".into(), Malformed),
    ];
    let mut bodies = std::collections::HashMap::new();
    for (raw, why) in &cases {
        let mut s = connect(server.http[0]);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(raw.as_bytes());
        let (got, _) = responses(&mut s, &[false], true);
        let r = got
            .first()
            .unwrap_or_else(|| panic!("no answer to {raw:?}"));
        assert_eq!(r.status, why.status().code(), "{raw:?}");
        assert_eq!(r.text(), why.message(), "{raw:?}");
        let before = bodies.insert(r.text(), *why);
        assert!(
            before.is_none_or(|b| b == *why),
            "{raw:?}: the same line as {before:?}"
        );
    }
    server.stop().unwrap();
}
