//! (tests) The HTTP/2 session driven by a client written from the RFC.
//!
//! The HTTP/2 session driven by a client written from the RFC: frames in,
//! frames out, no socket.

use super::*;
use crate::fixture::site;
use crate::http::site::Site;
use crate::http2::hpack::{Encoder, Indexing};
use crate::ops::Ops;

/// What the server sent, frame by frame (owned).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Settings(bool),
    Ping([u8; 8]),
    GoAway(u32, ErrorCode),
    Rst(u32, ErrorCode),
    Window(u32, u32),
    Headers(u32, Vec<(String, String)>, bool),
    Data(u32, Vec<u8>, bool),
}

struct Client {
    /// The connection is HTTPS (file bodies read, not sent with sendfile).
    secure: bool,
    site: Site,
    ops: Ops,
    session: H2Session,
    out: OutQueue,
    encoder: Encoder,
    decoder: Decoder,
    got: Vec<Got>,
    /// Server bytes not yet a whole frame.
    rest: Vec<u8>,
}

impl Client {
    fn new() -> Client {
        let mut out = OutQueue::default();
        let session = H2Session::new(&mut out);
        let mut c = Client {
            secure: true,
            site: site(),
            ops: Ops::default(),
            session,
            out,
            encoder: Encoder::new(4096),
            decoder: Decoder::new(4096),
            got: Vec::new(),
            rest: Vec::new(),
        };
        c.collect();
        c
    }

    fn send(&mut self, bytes: &[u8]) -> usize {
        let mut loan = SessionLoan {
            site: &mut self.site,
            ops: &mut self.ops,
            client: 0,
            secure: self.secure,
        };
        let used = self.session.on_input(bytes, &mut loan, &mut self.out);
        self.collect();
        used
    }

    /// Parses what the server queued.
    fn collect(&mut self) {
        self.rest.extend(crate::out::bytes_of(&mut self.out));
        let mut at = 0;
        while let Ok(Parsed::Frame(f, n)) = frame::parse(&self.rest[at..], 1 << 20) {
            at += n;
            let g = match f {
                Frame::Settings { ack, .. } => Got::Settings(ack),
                Frame::Ping { data, .. } => Got::Ping(data),
                Frame::GoAway { last_stream, code } => Got::GoAway(last_stream, code),
                Frame::RstStream { stream, code } => Got::Rst(stream, code),
                Frame::WindowUpdate { stream, increment } => Got::Window(stream, increment),
                Frame::Headers {
                    stream,
                    block,
                    end_stream,
                    ..
                } => {
                    let mut fields = Vec::new();
                    self.decoder
                        .decode(block, 1 << 16, |n, v| {
                            let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                            fields.push((s(n), s(v)));
                        })
                        .expect("the server's block decodes");
                    Got::Headers(stream, fields, end_stream)
                }
                Frame::Data {
                    stream,
                    data,
                    end_stream,
                    ..
                } => Got::Data(stream, data.to_vec(), end_stream),
                other => panic!("unexpected from a server: {other:?}"),
            };
            self.got.push(g);
        }
        self.rest.drain(..at);
    }

    fn take(&mut self) -> Vec<Got> {
        std::mem::take(&mut self.got)
    }

    /// The preface and an empty SETTINGS (or these).
    fn start(&mut self, settings: &[(u16, u32)]) {
        let mut b = frame::PREFACE.to_vec();
        frame::write_settings(&mut b, settings);
        self.send(&b);
        assert_eq!(
            self.take(),
            [Got::Settings(true)],
            "our SETTINGS acknowledged"
        );
    }

    fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.begin(&mut block);
        for &(n, v) in fields {
            self.encoder.field(
                &mut block,
                n.as_bytes(),
                v.as_bytes(),
                Indexing::Incremental,
            );
        }
        block
    }

    fn headers(&mut self, id: u32, fields: &[(&str, &str)], end_stream: bool) -> Vec<u8> {
        let block = self.block(fields);
        let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
        let mut b = Vec::new();
        frame::write_header(&mut b, block.len(), kind::HEADERS, flags, id);
        b.extend_from_slice(&block);
        b
    }
}

fn get(path: &str) -> Vec<(&str, &str)> {
    vec![
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.org"),
        (":path", path),
    ]
}

fn status(fields: &[(String, String)]) -> &str {
    assert_eq!(fields[0].0, ":status", "status first");
    &fields[0].1
}

mod hostile;

#[test]
fn a_get_is_answered_with_headers_and_data() {
    let mut c = Client::new();
    assert_eq!(c.take(), [Got::Settings(false)], "the server speaks first");
    c.start(&[]);
    let req = c.headers(1, &get("/hello.txt"), true);
    c.send(&req);
    let got = c.take();
    let [Got::Headers(1, fields, false), Got::Data(1, body, true)] = &got[..] else {
        panic!("{got:?}");
    };
    assert_eq!(status(fields), "200");
    assert!(fields.contains(&("content-length".into(), "6".into())));
    assert_eq!(body, b"Hello\n");
    // HEAD: the head alone, ending the stream; a 404 on the next stream.
    let mut head = get("/hello.txt");
    head[0].1 = "HEAD";
    let req = c.headers(3, &head, true);
    c.send(&req);
    let got = c.take();
    assert!(
        matches!(&got[..], [Got::Headers(3, f, true)] if status(f) == "200"),
        "{got:?}"
    );
    let req = c.headers(5, &get("/nope"), true);
    c.send(&req);
    let got = c.take();
    assert!(
        matches!(&got[..], [Got::Headers(5, f, false), Got::Data(5, _, true)] if status(f) == "404"),
        "{got:?}"
    );
}

/// A block sent again is recalled (not decoded, not checked again) only
/// while the table gives its indexes the same meaning: the same bytes after
/// the table has changed are decoded afresh, and mean another request.
#[test]
fn the_same_block_again_is_answered_as_new_only_while_the_table_is_unchanged() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let answered = |got: &[Got], id: u32| {
        matches!(got, [Got::Headers(i, f, false), Got::Data(j, b, true)]
            if *i == id && *j == id && status(f) == "200" && b == b"Hello\n")
    };
    // Stream 1 puts `:authority` and `:path` in the table.
    let req = c.headers(1, &get("/hello.txt"), true);
    c.send(&req);
    assert!(answered(&c.take(), 1));
    // The same fields now are indexes only: a block that changes no table,
    // sent on three streams, one of them cut in two writes.
    let block = c.block(&get("/hello.txt"));
    let on = |id: u32| {
        let mut b = Vec::new();
        frame::write_header(
            &mut b,
            block.len(),
            kind::HEADERS,
            flag::END_HEADERS | flag::END_STREAM,
            id,
        );
        b.extend_from_slice(&block);
        b
    };
    for id in [3, 5] {
        c.send(&on(id));
        assert!(answered(&c.take(), id), "stream {id}");
    }
    let seven = on(7);
    let used = c.send(&seven[..5]);
    c.send(&seven[used..]);
    assert!(answered(&c.take(), 7));
    // A request that adds `:path: /nope` to the table: index 62 is now
    // that path, and 63 the old one. The same bytes again name two
    // `:path`s and no `:authority`: malformed, so the stream is reset.
    let req = c.headers(9, &get("/nope"), true);
    c.send(&req);
    c.take();
    c.send(&on(11));
    assert_eq!(c.take(), [Got::Rst(11, ErrorCode::Protocol)]);
}

#[test]
fn any_cut_of_the_input_gives_the_same_frames() {
    let mut c = Client::new();
    c.take();
    let mut input = frame::PREFACE.to_vec();
    frame::write_settings(&mut input, &[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
    input.extend(c.headers(1, &get("/hello.txt"), true));
    input.extend(c.headers(3, &get("/"), true));
    frame::write_header(&mut input, 8, kind::PING, 0, 0);
    input.extend_from_slice(b"pingpong");
    c.send(&input);
    let whole = c.take();
    assert!(whole.contains(&Got::Ping(*b"pingpong")), "{whole:?}");
    for cut in 1..input.len() {
        let mut c = Client::new();
        c.take();
        // The client's encoder must produce the same blocks again.
        c.headers(1, &get("/hello.txt"), true);
        c.headers(3, &get("/"), true);
        let used = c.send(&input[..cut]);
        let mut kept = input[used..cut].to_vec();
        kept.extend_from_slice(&input[cut..]);
        let used2 = c.send(&kept);
        assert_eq!(used2, kept.len(), "cut {cut}");
        assert_eq!(by_stream(c.take()), by_stream(whole.clone()), "cut {cut}");
    }
}

/// Frames grouped by stream (control frames under 0), each group in the
/// order sent: what may not depend on how the input was cut. (How the
/// streams' frames interleave may.)
fn by_stream(got: Vec<Got>) -> std::collections::BTreeMap<u32, Vec<Got>> {
    let mut groups = std::collections::BTreeMap::<u32, Vec<Got>>::new();
    for g in got {
        let id = match &g {
            Got::Headers(id, ..) | Got::Data(id, ..) | Got::Rst(id, _) => *id,
            _ => 0,
        };
        groups.entry(id).or_default().push(g);
    }
    groups
}

#[test]
fn data_waits_for_the_window_and_flows_when_it_opens() {
    let mut c = Client::new();
    c.take();
    c.start(&[(setting::INITIAL_WINDOW_SIZE, 4)]);
    let req = c.headers(1, &get("/hello.txt"), true);
    c.send(&req);
    let got = c.take();
    assert!(
        matches!(&got[..], [Got::Headers(1, _, false), Got::Data(1, d, false)] if d == b"Hell"),
        "{got:?}"
    );
    let mut w = Vec::new();
    frame::write_window_update(&mut w, 1, 100);
    c.send(&w);
    assert_eq!(c.take(), [Got::Data(1, b"o\n".to_vec(), true)]);
    // A frame no larger than the peer's MAX_FRAME_SIZE, and a window
    // shrunk below zero by SETTINGS holds DATA back.
    let mut s = Vec::new();
    frame::write_settings(&mut s, &[(setting::INITIAL_WINDOW_SIZE, 0)]);
    c.send(&s);
    assert_eq!(c.take(), [Got::Settings(true)]);
    let req = c.headers(3, &get("/hello.txt"), true);
    c.send(&req);
    let got = c.take();
    assert!(matches!(&got[..], [Got::Headers(3, _, false)]), "{got:?}");
    let mut w = Vec::new();
    frame::write_window_update(&mut w, 3, 6);
    c.send(&w);
    assert_eq!(c.take(), [Got::Data(3, b"Hello\n".to_vec(), true)]);
}

#[test]
fn the_connection_window_is_shared_and_refilled() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    // Use up the connection's 65,535 bytes with window updates only on
    // streams: ten streams of the embedded index page.
    let index_len = {
        let req = c.headers(1, &get("/"), true);
        c.send(&req);
        let got = c.take();
        let Got::Data(1, d, _) = &got[1] else {
            panic!("{got:?}")
        };
        d.len()
    };
    assert!(index_len > 0);
    let mut sent = index_len as i64;
    let mut id = 3;
    while sent < DEFAULT_WINDOW {
        let req = c.headers(id, &get("/"), true);
        c.send(&req);
        for g in c.take() {
            if let Got::Data(_, d, _) = g {
                sent += d.len() as i64;
            }
        }
        id += 2;
    }
    assert_eq!(sent, DEFAULT_WINDOW, "exactly the connection's window");
    let mut w = Vec::new();
    frame::write_window_update(&mut w, 0, 1 << 20);
    c.send(&w);
    let more: usize = c
        .take()
        .iter()
        .map(|g| match g {
            Got::Data(_, d, _) => d.len(),
            _ => 0,
        })
        .sum();
    assert!(more > 0, "the rest flows once the connection window opens");
}

#[test]
fn ping_and_goaway() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut p = Vec::new();
    frame::write_header(&mut p, 8, kind::PING, 0, 0);
    p.extend_from_slice(b"12345678");
    c.send(&p);
    assert_eq!(c.take(), [Got::Ping(*b"12345678")]);
    let req = c.headers(1, &get("/hello.txt"), true);
    c.send(&req);
    c.take();
    let mut out = OutQueue::default();
    c.session.drain(&mut out);
    c.out = out;
    c.collect();
    assert_eq!(c.take(), [Got::GoAway(1, ErrorCode::NoError)]);
    assert!(c.session.finished());
}

#[test]
fn a_bad_preface_is_answered_with_goaway() {
    let mut c = Client::new();
    c.take();
    c.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.take(), [Got::GoAway(0, ErrorCode::Protocol)]);
    assert!(c.session.finished());
}

#[test]
fn malformed_requests_reset_their_stream_and_the_connection_goes_on() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut bad = get("/hello.txt");
    bad.push(("Upper", "x"));
    let req = c.headers(1, &bad, true);
    c.send(&req);
    assert_eq!(c.take(), [Got::Rst(1, ErrorCode::Protocol)]);
    let req = c.headers(3, &get("/hello.txt"), true);
    c.send(&req);
    let got = c.take();
    assert!(
        matches!(&got[..], [Got::Headers(3, _, false), Got::Data(3, _, true)]),
        "{got:?}"
    );
}

#[test]
fn connection_errors_end_it_with_the_right_code() {
    /// Bytes a client sends after its SETTINGS.
    type Input = Box<dyn Fn(&mut Client) -> Vec<u8>>;
    let cases: Vec<(&str, Input, ErrorCode)> = vec![
        (
            "even stream",
            Box::new(|c| c.headers(2, &get("/"), true)),
            ErrorCode::Protocol,
        ),
        (
            "reused stream",
            Box::new(|c| {
                let mut b = c.headers(1, &get("/"), true);
                b.extend(c.headers(1, &get("/"), true));
                b
            }),
            ErrorCode::StreamClosed,
        ),
        (
            "bad HPACK",
            Box::new(|_| {
                let mut b = Vec::new();
                frame::write_header(&mut b, 1, kind::HEADERS, flag::END_HEADERS, 1);
                b.push(0x80);
                b
            }),
            ErrorCode::Compression,
        ),
        (
            "a frame inside a header block",
            Box::new(|c| {
                let block = c.block(&get("/"));
                let mut b = Vec::new();
                frame::write_header(&mut b, block.len(), kind::HEADERS, 0, 1);
                b.extend_from_slice(&block);
                frame::write_header(&mut b, 8, kind::PING, 0, 0);
                b.extend_from_slice(&[0; 8]);
                b
            }),
            ErrorCode::Protocol,
        ),
        (
            "CONTINUATION alone",
            Box::new(|_| {
                let mut b = Vec::new();
                frame::write_header(&mut b, 1, kind::CONTINUATION, flag::END_HEADERS, 1);
                b.push(0x82);
                b
            }),
            ErrorCode::Protocol,
        ),
        (
            "CONTINUATION flood",
            Box::new(|c| {
                let block = c.block(&get("/"));
                let mut b = Vec::new();
                frame::write_header(&mut b, block.len(), kind::HEADERS, 0, 1);
                b.extend_from_slice(&block);
                for _ in 0..5 {
                    frame::write_header(&mut b, 16_000, kind::CONTINUATION, 0, 1);
                    b.extend_from_slice(&[0; 16_000]);
                }
                b
            }),
            ErrorCode::EnhanceYourCalm,
        ),
        (
            "DATA on an idle stream",
            Box::new(|_| {
                let mut b = Vec::new();
                frame::write_header(&mut b, 1, kind::DATA, 0, 7);
                b.push(0);
                b
            }),
            ErrorCode::Protocol,
        ),
        (
            "window overflow",
            Box::new(|_| {
                let mut b = Vec::new();
                frame::write_window_update(&mut b, 0, MAX_WINDOW);
                b
            }),
            ErrorCode::FlowControl,
        ),
    ];
    for (name, input, code) in cases {
        let mut c = Client::new();
        c.take();
        c.start(&[]);
        let bytes = input(&mut c);
        c.send(&bytes);
        let got = c.take();
        assert!(
            matches!(got.last(), Some(Got::GoAway(_, c)) if *c == code),
            "{name}: {got:?}"
        );
        assert!(!c.session.reading(), "{name}");
    }
}

#[test]
fn streams_past_the_limit_are_refused() {
    let mut c = Client::new();
    c.take();
    // Windows of 0: every answer waits for its DATA, so its stream stays
    // open.
    c.start(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
    for i in 0..MAX_STREAMS as u32 {
        let req = c.headers(1 + 2 * i, &get("/hello.txt"), true);
        c.send(&req);
    }
    let answered = c
        .take()
        .iter()
        .filter(|g| matches!(g, Got::Headers(..)))
        .count();
    assert_eq!(answered, MAX_STREAMS);
    let id = 1 + 2 * MAX_STREAMS as u32;
    let req = c.headers(id, &get("/hello.txt"), true);
    c.send(&req);
    assert_eq!(c.take(), [Got::Rst(id, ErrorCode::RefusedStream)]);
    // Requests with a body wait for its end, a few at a time: past
    // HELD_REQUESTS, refused.
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut post = get("/");
    post[0].1 = "POST";
    let mut b = Vec::new();
    for i in 0..HELD_REQUESTS as u32 + 1 {
        b.extend(c.headers(1 + 2 * i, &post, false));
    }
    c.send(&b);
    let id = 1 + 2 * HELD_REQUESTS as u32;
    assert_eq!(c.take(), [Got::Rst(id, ErrorCode::RefusedStream)]);
}

#[test]
fn floods_of_frames_that_do_no_work_are_cut_off() {
    type Flood = fn(&mut Vec<u8>);
    let floods: &[(&str, Flood)] = &[
        ("PING", |b| {
            frame::write_header(b, 8, kind::PING, 0, 0);
            b.extend_from_slice(&[0; 8]);
        }),
        ("SETTINGS", |b| frame::write_settings(b, &[])),
        ("PRIORITY", |b| {
            frame::write_header(b, 5, kind::PRIORITY, 0, 1);
            b.extend_from_slice(&[0, 0, 0, 0, 0]);
        }),
        ("unknown type", |b| frame::write_header(b, 0, 0xee, 0, 0)),
        ("empty DATA", |b| {
            frame::write_header(b, 0, kind::DATA, 0, 1)
        }),
    ];
    for &(name, one) in floods {
        let mut c = Client::new();
        c.take();
        c.start(&[]);
        // A POST whose body never ends keeps stream 1 open for the DATA.
        let mut post = get("/");
        post[0].1 = "POST";
        let req = c.headers(1, &post, false);
        c.send(&req);
        c.take();
        let mut flood = Vec::new();
        for _ in 0..MAX_CHATTER + 10 {
            one(&mut flood);
        }
        c.send(&flood);
        let got = c.take();
        assert_eq!(
            got.last(),
            Some(&Got::GoAway(1, ErrorCode::EnhanceYourCalm)),
            "{name}"
        );
        assert!(!c.session.reading(), "{name}");
    }
    // Requests earn chatter back: a client that pings between requests
    // is never cut off.
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    for i in 0..300u32 {
        let mut b = c.headers(1 + 2 * i, &get("/hello.txt"), true);
        for _ in 0..5 {
            frame::write_header(&mut b, 8, kind::PING, 0, 0);
            b.extend_from_slice(&[0; 8]);
        }
        c.send(&b);
    }
    assert!(c.session.reading());
    assert!(!c.take().iter().any(|g| matches!(g, Got::GoAway(..))));
}

#[test]
fn rapid_reset_is_cut_off() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut b = Vec::new();
    for i in 0..RESETS_ALLOWED + 10 {
        let id = 1 + 2 * i;
        b.extend(c.headers(id, &get("/"), true));
        frame::write_rst_stream(&mut b, id, ErrorCode::Cancel);
    }
    c.send(&b);
    let got = c.take();
    assert!(
        matches!(got.last(), Some(Got::GoAway(_, ErrorCode::EnhanceYourCalm))),
        "{got:?}"
    );
    // A client that cancels now and then, among many requests, is not.
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut b = Vec::new();
    for i in 0..(3 * RESETS_ALLOWED) {
        let id = 1 + 2 * i;
        b.extend(c.headers(id, &get("/hello.txt"), true));
        if i % 3 == 0 {
            frame::write_rst_stream(&mut b, id, ErrorCode::Cancel);
        }
    }
    c.send(&b);
    assert!(c.session.reading());
    assert!(
        !c.take()
            .iter()
            .any(|g| matches!(g, Got::GoAway(..) | Got::Rst(..)))
    );
}

#[test]
fn content_length_must_match_the_data() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut post = get("/");
    post[0].1 = "POST";
    post.push(("content-length", "3"));
    // Ends with its head: the body it announces cannot come.
    let req = c.headers(1, &post, true);
    c.send(&req);
    assert_eq!(c.take(), [Got::Rst(1, ErrorCode::Protocol)]);
    // More DATA than announced, and less: reset, the connection goes on.
    for (id, body) in [(3u32, &b"four"[..]), (5, &b"tw"[..])] {
        let mut b = c.headers(id, &post, false);
        frame::write_header(&mut b, body.len(), kind::DATA, flag::END_STREAM, id);
        b.extend_from_slice(body);
        c.send(&b);
        let got = c.take();
        assert_eq!(
            got.last(),
            Some(&Got::Rst(id, ErrorCode::Protocol)),
            "{got:?}"
        );
    }
    // Exactly as announced: answered (405 for a POST) and no reset.
    let mut b = c.headers(7, &post, false);
    frame::write_header(&mut b, 3, kind::DATA, flag::END_STREAM, 7);
    b.extend_from_slice(b"abc");
    c.send(&b);
    let got = c.take();
    assert!(got.iter().all(|g| !matches!(g, Got::Rst(..))), "{got:?}");
    assert!(
        matches!(&got[0], Got::Headers(7, f, _) if status(f) == "405"),
        "{got:?}"
    );
}

/// The streams of the DATA frames in `got`, in the order they left.
fn data_order(got: &[Got]) -> Vec<u32> {
    got.iter()
        .filter_map(|g| match g {
            Got::Data(id, ..) => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn urgent_streams_send_first_and_equals_take_turns() {
    let order = |priorities: [&'static str; 2]| -> Vec<u32> {
        let mut c = Client::new();
        c.take();
        c.start(&[(setting::INITIAL_WINDOW_SIZE, 100)]);
        let mut b = Vec::new();
        for (id, p) in [(1, priorities[0]), (3, priorities[1])] {
            let mut fields = get("/");
            fields.push(("priority", p));
            b.extend(c.headers(id, &fields, true));
        }
        c.send(&b);
        let mut w = Vec::new();
        for id in [1, 3] {
            frame::write_window_update(&mut w, id, 200);
        }
        c.send(&w);
        data_order(&c.take())
    };
    assert_eq!(
        order(["u=3, i", "u=3, i"]),
        [1, 3, 1, 3],
        "equals take turns"
    );
    assert_eq!(
        order(["u=7", "u=0"]),
        [3, 1, 3, 1],
        "the urgent first, each time the windows open"
    );
}

#[test]
fn a_response_that_is_not_incremental_is_sent_whole_before_the_next() {
    let dir = std::env::temp_dir().join(format!("oneloop-h2-whole-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.bin"), vec![7u8; 40_000]).unwrap();
    let order = |priority: &'static str| -> Vec<u32> {
        let mut c = Client::new();
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let files = crate::http::files::Files::new(Some(&dir), 1 << 20, 1 << 20).unwrap();
        let mut date = crate::date::DateLine::default();
        date.update(now);
        c.site = Site::new(files, date, crate::config::Limits::default());
        c.take();
        c.start(&[(setting::INITIAL_WINDOW_SIZE, 1 << 20)]);
        let mut b = Vec::new();
        frame::write_window_update(&mut b, 0, 1 << 20);
        for id in [1, 3] {
            let mut fields = get("/big.bin");
            fields.push(("priority", priority));
            b.extend(c.headers(id, &fields, true));
        }
        c.send(&b);
        data_order(&c.take())
    };
    // 40,000 bytes are three frames of 16,384 at most.
    assert_eq!(order("u=3"), [1, 1, 1, 3, 3, 3], "one after the other");
    assert_eq!(order("u=3, i"), [1, 3, 1, 3, 1, 3], "incremental: turns");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_idle_session_gives_back_its_request_buffers_and_keeps_its_table() {
    let mut c = Client::new();
    c.take();
    c.start(&[(setting::INITIAL_WINDOW_SIZE, 100)]);
    let b = c.headers(1, &get("/"), true);
    c.send(&b);
    c.take();
    // Stream 1 still owes most of its body: nothing is given back.
    assert!(!c.session.give_back());
    assert!(c.session.streams.capacity() > 0);
    let mut w = Vec::new();
    frame::write_window_update(&mut w, 1, 1 << 20);
    c.send(&w);
    assert!(c.take().iter().any(|g| matches!(g, Got::Data(1, _, true))));
    let table = c.session.decoder.table().len();
    assert!(c.session.give_back());
    let s = &c.session;
    assert_eq!(
        (
            s.streams.capacity(),
            s.block_bytes.capacity(),
            s.wire.capacity(),
            s.log_head.capacity()
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(s.decoder.table().len(), table, "the HPACK table stays");
    // And the next request is answered as before, from the same table.
    let b = c.headers(3, &get("/hello.txt"), true);
    c.send(&b);
    assert!(
        c.take()
            .iter()
            .any(|g| matches!(g, Got::Data(3, d, true) if d == b"Hello\n"))
    );
}

#[test]
fn a_file_over_tls_goes_as_frames_that_each_fill_one_record() {
    let dir = crate::fixture::Scratch::new("h2-sealed");
    let bytes = crate::fixture::Rng::new(19).bytes(200_003);
    std::fs::write(dir.path().join("big.bin"), &bytes).unwrap();
    // Seeded windows, opened a random amount at a time: whatever the
    // window lets through, the body is the file's bytes in order, and over
    // TLS every DATA frame but a stream's last in a turn carries 16,375
    // bytes, so that with its 9-byte header it is one 16 KiB record.
    for (secure, range, seed) in [
        (true, None, 1),
        (true, None, 2),
        (true, Some((1_000, 150_000)), 3),
        (true, Some((199_990, 200_002)), 4),
        (false, None, 5),
    ] {
        let mut c = Client::new();
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        // Nothing cached: the body is a file range.
        let files = crate::http::files::Files::new(Some(dir.path()), 0, 0).unwrap();
        let mut date = crate::date::DateLine::default();
        date.update(now);
        c.site = Site::new(files, date, crate::config::Limits::default());
        c.take();
        c.start(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
        let mut fields = get("/big.bin");
        let header;
        if let Some((first, last)) = range {
            header = format!("bytes={first}-{last}");
            fields.push(("range", &header));
        }
        let b = c.headers(1, &fields, true);
        let loan_send = |c: &mut Client, bytes: &[u8]| {
            let mut loan = SessionLoan {
                site: &mut c.site,
                ops: &mut c.ops,
                client: 0,
                secure,
            };
            c.session.on_input(bytes, &mut loan, &mut c.out);
            c.collect();
        };
        loan_send(&mut c, &b);
        let want = match range {
            Some((first, last)) => &bytes[first..=last],
            None => &bytes[..],
        };
        let mut rng = crate::fixture::Rng::new(seed);
        let (mut body, mut frames, mut done) = (Vec::new(), Vec::new(), false);
        for _ in 0..10_000 {
            for g in c.take() {
                match g {
                    Got::Data(1, data, end) => {
                        frames.push(data.len());
                        body.extend(data);
                        done |= end;
                    }
                    Got::Headers(1, fields, _) => {
                        assert!(["200", "206"].contains(&status(&fields)));
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            if done {
                break;
            }
            let step = 1 + rng.below(70_000) as u32;
            let mut w = Vec::new();
            frame::write_window_update(&mut w, 0, step);
            frame::write_window_update(&mut w, 1, step);
            loan_send(&mut c, &w);
        }
        assert!(done, "secure {secure}, {range:?}: the stream ends");
        assert!(body == want, "secure {secure}, {range:?}: the file's bytes");
        let full = if secure { 16_375 } else { 16_384 };
        assert!(frames.iter().all(|&n| n <= full), "{frames:?}");
        assert!(
            frames.iter().filter(|&&n| n == full).count() >= want.len() / full / 2,
            "secure {secure}: most frames are full ({frames:?})"
        );
    }
}

fn priority_update(b: &mut Vec<u8>, id: u32, value: &str) {
    frame::write_header(b, 4 + value.len(), kind::PRIORITY_UPDATE, 0, 0);
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(value.as_bytes());
}

#[test]
fn priority_updates_reorder_open_streams_and_wait_for_idle_ones() {
    // Streams 1 and 3 ask "u=7" and "u=0" by field; PRIORITY_UPDATEs sent
    // before their HEADERS (idle streams), after them, or both.
    let order = |before: &[(u32, &str)], after: &[(u32, &str)]| -> Vec<u32> {
        let mut c = Client::new();
        c.take();
        c.start(&[(setting::INITIAL_WINDOW_SIZE, 100)]);
        let mut b = Vec::new();
        for &(id, p) in before {
            priority_update(&mut b, id, p);
        }
        for (id, p) in [(1, "u=7"), (3, "u=0")] {
            let mut fields = get("/");
            fields.push(("priority", p));
            b.extend(c.headers(id, &fields, true));
        }
        c.send(&b);
        let mut w = Vec::new();
        for &(id, p) in after {
            priority_update(&mut w, id, p);
        }
        for id in [1, 3] {
            frame::write_window_update(&mut w, id, 200);
        }
        c.send(&w);
        assert!(
            c.session.ahead.is_empty(),
            "nothing kept once the streams opened"
        );
        data_order(&c.take())
    };
    assert_eq!(order(&[], &[]), [3, 1, 3, 1], "by the fields");
    assert_eq!(
        order(&[], &[(1, "u=0"), (3, "u=7")]),
        [3, 1, 1, 3],
        "updated while open: the next turn follows the frames"
    );
    assert_eq!(
        order(&[(1, "u=0"), (3, "u=7")], &[]),
        [1, 3, 1, 3],
        "sent ahead: the frames win over the fields"
    );
    assert_eq!(
        order(&[(1, "u=0"), (1, "u=7, i")], &[]),
        [3, 1, 3, 1],
        "the last word ahead counts"
    );
}

#[test]
fn priorities_ahead_are_bounded_and_dropped_for_skipped_streams() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    // One for stream 5, then stream 7 opens: 5 can never open (§5.1.1).
    let mut b = Vec::new();
    priority_update(&mut b, 5, "u=0");
    priority_update(&mut b, 9, "u=1");
    c.send(&b);
    assert_eq!(c.session.ahead.len(), 2);
    let b = c.headers(7, &get("/hello.txt"), true);
    c.send(&b);
    assert_eq!(c.session.ahead, [(9, 1, false)], "5 went, 9 waits");
    c.take();
    // For a closed stream: dropped. For as many idle streams as the
    // concurrent limit allows: kept; one more is a connection error.
    let mut b = Vec::new();
    priority_update(&mut b, 7, "u=0");
    for i in 0..MAX_STREAMS as u32 - 1 {
        priority_update(&mut b, 11 + 2 * i, "u=2");
    }
    c.send(&b);
    assert_eq!(c.session.ahead.len(), MAX_STREAMS);
    assert!(c.take().is_empty());
    let mut b = Vec::new();
    priority_update(&mut b, 1001, "u=2");
    c.send(&b);
    assert!(matches!(
        c.take()[..],
        [Got::GoAway(7, ErrorCode::Protocol)]
    ));
}
