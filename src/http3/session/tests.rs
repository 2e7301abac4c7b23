//! (tests) The HTTP/3 session driven by a client written from RFC 9114: stream bytes in, stream writes out, no QUIC.

use std::collections::HashMap;

use super::*;
use crate::fixture::site;
use crate::http::site::Site;
use crate::ops::Ops;

/// QUIC's streams as the session sees them: what was written to each,
/// and what became of them. Each stream takes at most `room` bytes a
/// write, or all when `room` is `None`.
#[derive(Default)]
struct Fake {
    written: HashMap<u64, Vec<u8>>,
    finished: Vec<u64>,
    resets: Vec<(u64, u64)>,
    stops: Vec<(u64, u64)>,
    closed: Option<u64>,
    room: Option<usize>,
}

impl Streams for Fake {
    fn write(&mut self, id: u64, data: &mut [Bytes]) -> Result<(), Gone> {
        if self.resets.iter().any(|&(r, _)| r == id) {
            return Err(Gone);
        }
        let mut room = self.room.unwrap_or(usize::MAX);
        for piece in data {
            let n = room.min(piece.len());
            room -= n;
            self.written
                .entry(id)
                .or_default()
                .extend_from_slice(&piece.split_to(n));
        }
        Ok(())
    }
    fn finish(&mut self, id: u64) {
        self.finished.push(id);
    }
    fn reset(&mut self, id: u64, code: u64) {
        self.resets.push((id, code));
    }
    fn stop(&mut self, id: u64, code: u64) {
        self.stops.push((id, code));
    }
    fn close(&mut self, code: u64, _: &'static str) {
        self.closed.get_or_insert(code);
    }
}

/// Our control stream's id (the server's first unidirectional stream).
const CONTROL: u64 = 3;

struct Client {
    opened: std::collections::HashSet<u64>,
    site: Site,
    ops: Ops,
    session: H3Session,
    streams: Fake,
}

impl Client {
    fn new() -> Client {
        let mut c = Client {
            opened: Default::default(),
            site: site(),
            ops: Ops::default(),
            session: H3Session::new(16_384),
            streams: Fake::default(),
        };
        c.session.start(CONTROL, &mut c.streams);
        c
    }

    /// Bytes on stream `id`, opening it first if it is new (as QUIC hands
    /// a stream over before its bytes).
    fn send(&mut self, id: u64, bytes: &[u8], fin: bool) {
        if self.opened.insert(id) {
            self.session.on_open(id, &mut self.streams);
        }
        let mut loan = SessionLoan {
            site: &mut self.site,
            ops: &mut self.ops,
            client: 0,
            secure: true,
        };
        self.session
            .on_data(id, bytes, fin, &mut loan, &mut self.streams);
    }

    /// The client's control stream (id 2) opening with SETTINGS.
    fn open_control(&mut self) {
        let mut bytes = vec![frame::stream::CONTROL as u8];
        frame::write_head(&mut bytes, kind::SETTINGS, 0);
        self.send(2, &bytes, false);
    }

    /// The frames written to stream `id`: (type, payload).
    fn frames(&self, id: u64) -> Vec<(u64, Vec<u8>)> {
        let bytes = self.streams.written.get(&id).cloned().unwrap_or_default();
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(head) = frame::read_head(&bytes[at..]) {
            let end = at + head.size + head.len as usize;
            assert!(end <= bytes.len(), "a frame cut short on stream {id}");
            out.push((head.kind, bytes[at + head.size..end].to_vec()));
            at = end;
        }
        assert_eq!(at, bytes.len(), "stray bytes on stream {id}");
        out
    }

    /// The answer on stream `id`: its fields and its body.
    fn answer(&self, id: u64) -> (Vec<(String, String)>, Vec<u8>) {
        let frames = self.frames(id);
        let (first, rest) = frames.split_first().expect("a HEADERS frame");
        assert_eq!(first.0, kind::HEADERS);
        let mut fields = Vec::new();
        qpack::decode(&first.1, 1 << 16, &mut Vec::new(), |n, v| {
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            fields.push((s(n), s(v)));
        })
        .expect("our own field section decodes");
        let mut body = Vec::new();
        for (k, payload) in rest {
            assert_eq!(*k, kind::DATA);
            body.extend_from_slice(payload);
        }
        (fields, body)
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A HEADERS frame for a GET of `path`, with `extra` fields.
fn get(path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    request("GET", path, extra)
}

/// A HEADERS frame for `method` `path`, with `extra` fields.
fn request(method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    qpack::begin(&mut block);
    let mut list = vec![
        (":method", method),
        (":scheme", "https"),
        (":authority", "localhost"),
        (":path", path),
    ];
    list.extend_from_slice(extra);
    for (n, v) in list {
        qpack::field(&mut block, n.as_bytes(), v.as_bytes());
    }
    let mut frame = Vec::new();
    frame::write_head(&mut frame, kind::HEADERS, block.len() as u64);
    frame.extend_from_slice(&block);
    frame
}

const HELLO: &[u8] = include_bytes!("../../site/hello.txt");

#[test]
fn the_control_stream_opens_with_settings() {
    let c = Client::new();
    let bytes = &c.streams.written[&CONTROL];
    let mut pos = 0;
    assert_eq!(
        frame::read_varint(bytes, &mut pos),
        Some(frame::stream::CONTROL)
    );
    let head = frame::read_head(&bytes[pos..]).expect("SETTINGS");
    assert_eq!(head.kind, kind::SETTINGS);
    let payload = &bytes[pos + head.size..];
    assert_eq!(
        frame::read_settings(payload).map(|s| s.max_field_section_size),
        Ok(Some(16_384))
    );
}

#[test]
fn a_get_is_answered_on_its_stream_and_the_stream_finished() {
    let mut c = Client::new();
    c.open_control();
    c.send(0, &get("/hello.txt", &[]), true);
    let (fields, body) = c.answer(0);
    assert_eq!(fields[0], (":status".into(), "200".into()));
    assert_eq!(
        field(&fields, "content-length"),
        Some(&*HELLO.len().to_string())
    );
    assert_eq!(body, HELLO);
    assert_eq!(c.streams.finished, [0]);
    assert!(
        c.streams.stops.is_empty(),
        "the request was whole: nothing to stop"
    );
    assert!(!c.session.is_busy());
    // HEAD: the same head, no DATA.
    c.send(4, &request("HEAD", "/hello.txt", &[]), true);
    let (fields, body) = c.answer(4);
    assert_eq!(
        field(&fields, "content-length"),
        Some(&*HELLO.len().to_string())
    );
    assert!(body.is_empty());
}

/// The same request cut in two at every byte gives the same answer.
#[test]
fn a_request_cut_anywhere_is_answered_the_same() {
    let request = get("/hello.txt", &[("user-agent", "cut")]);
    let mut whole = Client::new();
    whole.send(0, &request, true);
    let want = whole.streams.written[&0].clone();
    for cut in 0..=request.len() {
        let mut c = Client::new();
        c.send(0, &request[..cut], false);
        c.send(0, &request[cut..], true);
        assert_eq!(c.streams.written.get(&0), Some(&want), "cut at {cut}");
    }
}

/// A malformed request resets its own stream; a valid one beside it, in
/// the same flight, is answered.
#[test]
fn a_malformed_request_costs_its_stream_only() {
    let mut c = Client::new();
    c.open_control();
    let bad: [(&str, &[(&str, &str)]); 4] = [
        ("/hello.txt", &[("Upper", "case")]),
        ("/hello.txt", &[("connection", "close")]),
        ("/hello.txt", &[(":path", "/twice")]),
        ("no-slash", &[]),
    ];
    for (i, (path, extra)) in bad.iter().enumerate() {
        let id = 8 * i as u64;
        c.send(id, &get(path, extra), true);
        c.send(id + 4, &get("/hello.txt", &[]), true);
        assert!(
            c.streams.resets.contains(&(id, code::MESSAGE_ERROR)),
            "{path} {extra:?}"
        );
        assert_eq!(c.answer(id + 4).1, HELLO);
    }
    assert_eq!(c.streams.closed, None);
}

#[test]
fn frames_a_request_stream_may_not_carry_close_the_connection() {
    for k in [
        kind::DATA,
        kind::SETTINGS,
        kind::GOAWAY,
        kind::MAX_PUSH_ID,
        kind::CANCEL_PUSH,
        kind::PUSH_PROMISE,
        0x02,
        0x06,
    ] {
        let mut c = Client::new();
        let mut bytes = Vec::new();
        frame::write_head(&mut bytes, k, 1);
        bytes.push(0);
        bytes.extend_from_slice(&get("/hello.txt", &[]));
        c.send(0, &bytes, true);
        assert_eq!(
            c.streams.closed,
            Some(code::FRAME_UNEXPECTED),
            "type {k:#x}"
        );
        // Nothing is read after a connection error.
        c.send(4, &get("/hello.txt", &[]), true);
        assert!(!c.streams.written.contains_key(&4));
    }
}

#[test]
fn unknown_frames_are_passed_over_however_they_are_cut() {
    let mut bytes = Vec::new();
    // A reserved type (0x1f * 7 + 0x21) with 3,000 bytes of payload.
    frame::write_head(&mut bytes, 0x1f * 7 + 0x21, 3_000);
    bytes.extend(std::iter::repeat_n(0xaa, 3_000));
    bytes.extend_from_slice(&get("/hello.txt", &[]));
    for cut in [0, 1, 2, 3, 100, 3_002, 3_003, bytes.len() - 1] {
        let mut c = Client::new();
        c.send(0, &bytes[..cut], false);
        c.send(0, &bytes[cut..], true);
        assert_eq!(c.answer(0).1, HELLO, "cut at {cut}");
    }
}

#[test]
fn a_stream_that_ends_before_its_headers_is_reset_as_incomplete() {
    let mut c = Client::new();
    let request = get("/hello.txt", &[]);
    c.send(0, &request[..request.len() - 1], true);
    assert_eq!(c.streams.resets, [(0, code::REQUEST_INCOMPLETE)]);
    assert!(!c.session.is_busy());
}

#[test]
fn a_head_too_large_is_answered_431_and_its_body_stopped() {
    let mut c = Client::new();
    let long = "x".repeat(20_000);
    c.send(0, &get("/hello.txt", &[("x-long", &long)]), false);
    let (fields, _) = c.answer(0);
    assert_eq!(field(&fields, ":status"), Some("431"));
    assert_eq!(c.streams.stops, [(0, code::NO_ERROR)]);
    // Within the frame's length but past the bound decoded: also 431.
    let mut c = Client::new();
    let mut block = Vec::new();
    qpack::begin(&mut block);
    for _ in 0..400 {
        qpack::field(&mut block, b"accept", b"*/*"); // 1 byte, 41 decoded
    }
    let mut frame = Vec::new();
    frame::write_head(&mut frame, kind::HEADERS, block.len() as u64);
    frame.extend_from_slice(&block);
    c.send(0, &frame, true);
    assert_eq!(field(&c.answer(0).0, ":status"), Some("431"));
}

#[test]
fn a_reference_to_the_empty_dynamic_table_closes_the_connection() {
    let mut c = Client::new();
    // Required Insert Count 1, then an indexed dynamic field.
    let block = [0x02, 0x00, 0x80];
    let mut frame = Vec::new();
    frame::write_head(&mut frame, kind::HEADERS, block.len() as u64);
    frame.extend_from_slice(&block);
    c.send(0, &frame, true);
    assert_eq!(c.streams.closed, Some(code::QPACK_DECOMPRESSION_FAILED));
}

#[test]
fn the_control_stream_is_held_to_section_6_2_1() {
    let settings = |extra: &[u8]| {
        let mut b = vec![frame::stream::CONTROL as u8];
        frame::write_head(&mut b, kind::SETTINGS, 0);
        b.extend_from_slice(extra);
        b
    };
    let frame_of = |k: u64| {
        let mut b = Vec::new();
        frame::write_head(&mut b, k, 1);
        b.push(0);
        b
    };
    let cases: Vec<(Vec<u8>, bool, Option<u64>)> = vec![
        (settings(&[]), false, None),
        // GOAWAY and MAX_PUSH_ID from a client are read and let be.
        (settings(&frame_of(kind::GOAWAY)), false, None),
        (settings(&frame_of(kind::MAX_PUSH_ID)), false, None),
        (settings(&frame_of(0x21)), false, None),
        (
            frame_of(kind::GOAWAY)
                .into_iter()
                .fold(vec![0u8], |mut a, b| {
                    a.push(b);
                    a
                }),
            false,
            Some(code::MISSING_SETTINGS),
        ),
        (
            settings(&settings(&[])[1..]),
            false,
            Some(code::FRAME_UNEXPECTED),
        ),
        (
            settings(&frame_of(kind::DATA)),
            false,
            Some(code::FRAME_UNEXPECTED),
        ),
        (
            settings(&frame_of(kind::HEADERS)),
            false,
            Some(code::FRAME_UNEXPECTED),
        ),
        (
            settings(&frame_of(0x08)),
            false,
            Some(code::FRAME_UNEXPECTED),
        ),
        (settings(&[]), true, Some(code::CLOSED_CRITICAL_STREAM)),
    ];
    for (bytes, fin, want) in cases {
        let mut c = Client::new();
        c.send(2, &bytes, fin);
        assert_eq!(c.streams.closed, want, "{bytes:02x?} fin {fin}");
    }
    // Cut at every byte, a good opening is still good.
    let good = settings(&frame_of(kind::MAX_PUSH_ID));
    for cut in 0..good.len() {
        let mut c = Client::new();
        c.send(2, &good[..cut], false);
        c.send(2, &good[cut..], false);
        assert_eq!(c.streams.closed, None, "cut at {cut}");
    }
    // A second control stream.
    let mut c = Client::new();
    c.send(2, &settings(&[]), false);
    c.send(6, &[frame::stream::CONTROL as u8], false);
    assert_eq!(c.streams.closed, Some(code::STREAM_CREATION_ERROR));
}

#[test]
fn qpack_streams_may_say_only_what_an_empty_table_allows() {
    let cases: [(u8, &[u8], Option<u64>); 6] = [
        (frame::stream::QPACK_ENCODER as u8, &[0x20], None),
        (
            frame::stream::QPACK_ENCODER as u8,
            &[0x21],
            Some(code::QPACK_ENCODER_STREAM_ERROR),
        ),
        (
            frame::stream::QPACK_ENCODER as u8,
            &[0xc1, 0x00],
            Some(code::QPACK_ENCODER_STREAM_ERROR),
        ),
        (frame::stream::QPACK_DECODER as u8, &[0x44], None),
        (
            frame::stream::QPACK_DECODER as u8,
            &[0x80],
            Some(code::QPACK_DECODER_STREAM_ERROR),
        ),
        (
            frame::stream::QPACK_DECODER as u8,
            &[0x01],
            Some(code::QPACK_DECODER_STREAM_ERROR),
        ),
    ];
    for (kind, bytes, want) in cases {
        let mut c = Client::new();
        c.send(2, &[kind], false);
        c.send(2, bytes, false);
        assert_eq!(c.streams.closed, want, "{kind} {bytes:02x?}");
    }
    // A push stream from a client; an unknown type is stopped, not an error.
    let mut c = Client::new();
    c.send(2, &[frame::stream::PUSH as u8], false);
    assert_eq!(c.streams.closed, Some(code::STREAM_CREATION_ERROR));
    let mut c = Client::new();
    c.send(2, &[0x21, 1, 2, 3], false);
    assert_eq!(c.streams.closed, None);
    assert_eq!(c.streams.stops, [(2, code::STREAM_CREATION_ERROR)]);
}

/// Flow control: a stream that takes 100 bytes a write gets the whole
/// answer over many writable events, byte for byte.
#[test]
fn an_answer_goes_out_as_the_stream_takes_it() {
    let mut c = Client::new();
    c.streams.room = Some(100);
    c.send(0, &get("/", &[]), true);
    let mut turns = 0;
    while !c.streams.finished.contains(&0) {
        c.session.on_writable(0, &mut c.streams);
        turns += 1;
        assert!(turns < 1_000, "no progress");
    }
    let (fields, body) = c.answer(0);
    assert_eq!(field(&fields, ":status"), Some("200"));
    assert_eq!(
        field(&fields, "content-length"),
        Some(&*body.len().to_string())
    );
    assert!(turns > 1, "the page is larger than one write");
}

#[test]
fn a_drain_says_goaway_and_refuses_what_comes_after() {
    let mut c = Client::new();
    c.send(0, &get("/hello.txt", &[]), true);
    c.send(4, &get("/hello.txt", &[]), false);
    c.session.drain(&mut c.streams);
    let control = &c.streams.written[&CONTROL];
    let goaway = frame::goaway(8);
    assert!(control.ends_with(&goaway), "GOAWAY naming stream 8");
    c.send(8, &get("/hello.txt", &[]), true);
    assert!(c.streams.resets.contains(&(8, code::REQUEST_REJECTED)));
    assert!(!c.streams.written.contains_key(&8));
}

/// Ten thousand requests, each with a malformed one beside it: every
/// valid one answered, and nothing kept once they are.
#[test]
fn ten_thousand_streams_leave_nothing_behind() {
    let mut c = Client::new();
    c.open_control();
    let good = get("/hello.txt", &[]);
    let bad = get("/hello.txt", &[("te", "gzip")]);
    for i in 0..10_000u64 {
        c.send(8 * i, &bad, true);
        c.send(8 * i + 4, &good, true);
    }
    assert_eq!(c.streams.finished.len(), 10_000);
    assert_eq!(c.streams.resets.len(), 10_000);
    assert_eq!(c.session.requests(), 0);
    assert_eq!(c.streams.closed, None);
}

/// The same request again skips its decoding, and its answer's HEADERS
/// frame is the last one again, but only while they would come out the
/// same: a new second gets a new Date, another file its own fields.
#[test]
fn a_request_asked_again_is_answered_as_if_anew() {
    let mut c = Client::new();
    let hello = get("/hello.txt", &[]);
    c.send(0, &hello, true);
    c.send(4, &hello, true);
    assert_eq!(c.streams.written[&0], c.streams.written[&4]);
    // Another file in between, then the first again.
    c.send(8, &get("/", &[]), true);
    c.send(12, &hello, true);
    assert_eq!(c.streams.written[&0], c.streams.written[&12]);
    assert_ne!(c.answer(8).0, c.answer(0).0);
    // A second later the Date moves, and so does the frame.
    let later = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_001);
    c.site.refresh(later);
    c.send(16, &hello, true);
    let (was, now) = (c.answer(12).0, c.answer(16).0);
    assert_ne!(field(&was, "date"), field(&now, "date"));
    assert_eq!(c.answer(16).1, HELLO);
    // A malformed request sent twice is refused twice.
    let bad = get("/hello.txt", &[("connection", "close")]);
    c.send(20, &bad, true);
    c.send(24, &bad, true);
    assert!(c.streams.resets.contains(&(20, code::MESSAGE_ERROR)));
    assert!(c.streams.resets.contains(&(24, code::MESSAGE_ERROR)));
}

/// An idle session gives back its requests' room, only when idle, and
/// answers the next request as before.
#[test]
fn an_idle_session_gives_back_its_room_and_answers_on() {
    let mut c = Client::new();
    c.streams.room = Some(100);
    c.send(0, &get("/hello.txt", &[]), true);
    c.send(4, &get("/", &[]), true);
    assert!(!c.session.give_back(), "a request is still going out");
    while !(c.streams.finished.contains(&0) && c.streams.finished.contains(&4)) {
        c.session.on_writable(0, &mut c.streams);
        c.session.on_writable(4, &mut c.streams);
    }
    assert!(c.session.give_back());
    assert_eq!(c.session.head.fields().host, None, "the last head is gone");
    c.streams.room = None;
    c.send(8, &get("/hello.txt", &[]), true);
    assert_eq!(c.answer(8).1, HELLO);
    assert_eq!(c.answer(8).0, c.answer(0).0);
}

/// A malformed request and a valid one in the same flight, on two
/// streams, each cut at every byte and their pieces interleaved: the
/// malformed one is reset, the valid one answered, every time.
#[test]
fn a_malformed_request_beside_a_valid_one_cut_anywhere() {
    let bad = get("/hello.txt", &[("transfer-encoding", "chunked")]);
    let good = get("/hello.txt", &[]);
    for cut in 0..=bad.len().max(good.len()) {
        let mut c = Client::new();
        let (b, g) = (cut.min(bad.len()), cut.min(good.len()));
        c.send(0, &bad[..b], false);
        c.send(4, &good[..g], false);
        c.send(0, &bad[b..], true);
        c.send(4, &good[g..], true);
        assert_eq!(c.streams.resets, [(0, code::MESSAGE_ERROR)], "cut at {cut}");
        assert_eq!(c.answer(4).1, HELLO, "cut at {cut}");
        assert_eq!(c.streams.closed, None);
    }
}
