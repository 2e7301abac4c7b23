//! (tests) The session as an attacker meets it: stream errors among valid requests, cut anywhere, and floods.
//!
//! A bad frame alone in a read proves little: each of these sends it with
//! the next valid request, as real stacks and attackers merge writes, and
//! requires that request's answer, whatever the cut; floods of frames
//! that make this side reset streams ("MadeYouReset") end in GOAWAY; and
//! a client that opens every window and reads nothing holds a bounded
//! queue, on every transport.

use super::*;

/// Stream errors of every kind a frame can carry, each in the same input
/// as the next valid request, which reuses what the refused header block
/// put in the HPACK table; then a PING. Built with `c`'s encoder (each
/// client must encode the same blocks).
fn stream_errors_then_a_request(c: &mut Client) -> Vec<u8> {
    let mut input = frame::PREFACE.to_vec();
    frame::write_settings(&mut input, &[]);
    // PRIORITY on itself (stream 1) and of the wrong length (stream 3).
    frame::write_header(&mut input, 5, kind::PRIORITY, 0, 1);
    input.extend_from_slice(&[0, 0, 0, 1, 16]);
    frame::write_header(&mut input, 4, kind::PRIORITY, 0, 3);
    input.extend_from_slice(&[0, 0, 0, 0]);
    // HEADERS on itself (stream 5), whose block adds x-seen to the table.
    let mut fields = get("/hello.txt");
    fields.push(("x-seen", "in a refused block"));
    let block = c.block(&fields);
    let flags = flag::END_HEADERS | flag::END_STREAM | flag::PRIORITY;
    frame::write_header(&mut input, 5 + block.len(), kind::HEADERS, flags, 5);
    input.extend_from_slice(&[0, 0, 0, 5, 16]);
    input.extend_from_slice(&block);
    // WINDOW_UPDATE of 0 on a stream (7).
    frame::write_header(&mut input, 4, kind::WINDOW_UPDATE, 0, 7);
    input.extend_from_slice(&[0, 0, 0, 0]);
    // The valid request: its x-seen is an index into the table.
    input.extend(c.headers(9, &fields, true));
    frame::write_header(&mut input, 8, kind::PING, 0, 0);
    input.extend_from_slice(b"stillok!");
    input
}

#[test]
fn stream_errors_merged_with_a_request_leave_it_answered_whatever_the_cut() {
    let mut c = Client::new();
    c.take();
    let input = stream_errors_then_a_request(&mut c);
    c.send(&input);
    let whole = c.take();
    let groups = by_stream(whole.clone());
    assert_eq!(groups[&1], [Got::Rst(1, ErrorCode::Protocol)]);
    assert_eq!(groups[&3], [Got::Rst(3, ErrorCode::FrameSize)]);
    assert_eq!(groups[&5], [Got::Rst(5, ErrorCode::Protocol)]);
    assert_eq!(groups[&7], [Got::Rst(7, ErrorCode::Protocol)]);
    assert!(
        matches!(&groups[&9][..], [Got::Headers(9, f, false), Got::Data(9, d, true)]
            if status(f) == "200" && d == b"Hello\n"),
        "{whole:?}"
    );
    assert!(whole.contains(&Got::Ping(*b"stillok!")), "{whole:?}");
    for cut in 1..input.len() {
        let mut c = Client::new();
        c.take();
        stream_errors_then_a_request(&mut c);
        let used = c.send(&input[..cut]);
        let mut kept = input[used..cut].to_vec();
        kept.extend_from_slice(&input[cut..]);
        assert_eq!(c.send(&kept), kept.len(), "cut {cut}");
        assert_eq!(by_stream(c.take()), groups, "cut {cut}");
    }
}

#[test]
fn the_preface_must_end_with_settings() {
    let mut c = Client::new();
    c.take();
    let mut input = frame::PREFACE.to_vec();
    frame::write_header(&mut input, 8, kind::PING, 0, 0);
    input.extend_from_slice(&[0; 8]);
    c.send(&input);
    assert_eq!(c.take(), [Got::GoAway(0, ErrorCode::Protocol)]);
    assert!(!c.session.reading());
}

#[test]
fn a_body_that_does_not_match_content_length_gets_no_answer() {
    // A GET announcing 10 bytes and sending 5 with END_STREAM, in one
    // input: malformed (§8.1.1), reset, never answered; the request after
    // it is.
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let mut fields = get("/hello.txt");
    fields.push(("content-length", "10"));
    let mut input = c.headers(1, &fields, false);
    frame::write_header(&mut input, 5, kind::DATA, flag::END_STREAM, 1);
    input.extend_from_slice(b"12345");
    input.extend(c.headers(3, &get("/hello.txt"), true));
    c.send(&input);
    let got = by_stream(c.take());
    assert_eq!(got[&1], [Got::Rst(1, ErrorCode::Protocol)]);
    assert!(matches!(&got[&3][..], [Got::Headers(3, f, false), _] if status(f) == "200"));
    // With its whole body, the same request is answered at the body's end.
    let mut input = c.headers(5, &fields, false);
    frame::write_header(&mut input, 10, kind::DATA, 0, 5);
    input.extend_from_slice(b"1234567890");
    c.send(&input);
    assert!(
        !c.take().iter().any(|g| matches!(g, Got::Headers(5, ..))),
        "no answer before END_STREAM"
    );
    let mut end = Vec::new();
    frame::write_header(&mut end, 0, kind::DATA, flag::END_STREAM, 5);
    c.send(&end);
    let got = c.take();
    assert!(
        matches!(&got[..], [Got::Headers(5, f, false), Got::Data(5, _, true)] if status(f) == "200"),
        "{got:?}"
    );
}

#[test]
fn a_header_list_past_the_limit_gets_431_and_the_table_stays_in_step() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    // Past the list's limit first, then a field the table keeps: the
    // block must be decoded to its end all the same.
    let mut fields = get("/hello.txt");
    let filler = "v".repeat(4000);
    let names: Vec<String> = (0..5).map(|i| format!("x-fill-{i}")).collect();
    for n in &names {
        fields.push((n, &filler));
    }
    fields.push(("x-late", "kept in the table"));
    let block = c.block(&fields);
    assert!(block.len() > MAX_HEADER_LIST && block.len() < 2 * DEFAULT_MAX_FRAME);
    let mut input = Vec::new();
    let (first, rest) = block.split_at(DEFAULT_MAX_FRAME);
    frame::write_header(&mut input, first.len(), kind::HEADERS, flag::END_STREAM, 1);
    input.extend_from_slice(first);
    frame::write_header(
        &mut input,
        rest.len(),
        kind::CONTINUATION,
        flag::END_HEADERS,
        1,
    );
    input.extend_from_slice(rest);
    // The next request names x-late by its index.
    let mut next = get("/hello.txt");
    next.push(("x-late", "kept in the table"));
    input.extend(c.headers(3, &next, true));
    c.send(&input);
    let got = by_stream(c.take());
    assert!(
        matches!(&got[&1][0], Got::Headers(1, f, _) if status(f) == "431"),
        "{got:?}"
    );
    assert!(
        matches!(&got[&3][0], Got::Headers(3, f, _) if status(f) == "200"),
        "{got:?}"
    );
    assert!(c.session.reading());
}

#[test]
fn resets_this_side_is_made_to_send_are_counted_like_the_clients() {
    // "MadeYouReset": each request followed by a frame that resets it.
    type Reset = fn(&mut Vec<u8>, u32);
    let makers: [(&str, Reset); 3] = [
        ("WINDOW_UPDATE of 0", |b, id| {
            frame::write_header(b, 4, kind::WINDOW_UPDATE, 0, id);
            b.extend_from_slice(&[0, 0, 0, 0]);
        }),
        ("PRIORITY on itself", |b, id| {
            frame::write_header(b, 5, kind::PRIORITY, 0, id);
            b.extend_from_slice(&id.to_be_bytes());
            b.push(16);
        }),
        ("DATA after END_STREAM", |b, id| {
            frame::write_header(b, 1, kind::DATA, 0, id);
            b.push(b'x');
        }),
    ];
    for (name, reset) in makers {
        let mut c = Client::new();
        c.take();
        // Windows of 0: each answer waits, so its stream is still open
        // (half-closed) when the frame that resets it comes.
        c.start(&[(setting::INITIAL_WINDOW_SIZE, 0)]);
        let mut input = Vec::new();
        for i in 0..1_000 {
            let id = 1 + 2 * i;
            input.extend(c.headers(id, &get("/hello.txt"), true));
            reset(&mut input, id);
        }
        c.send(&input);
        let got = c.take();
        let resets = got.iter().filter(|g| matches!(g, Got::Rst(..))).count();
        assert_eq!(
            got.last(),
            Some(&Got::GoAway(
                1 + 2 * RESETS_ALLOWED,
                ErrorCode::EnhanceYourCalm
            )),
            "{name}"
        );
        assert_eq!(resets, RESETS_ALLOWED as usize + 1, "{name}");
        assert!(!c.session.reading(), "{name}");
    }
}

#[test]
fn data_on_a_stream_closed_both_ways_ends_the_connection_and_after_our_reset_is_ignored() {
    let mut c = Client::new();
    c.take();
    c.start(&[]);
    let req = c.headers(1, &get("/hello.txt"), true);
    c.send(&req);
    c.take();
    // Stream 3 is reset by this side (a bad content-length); DATA the
    // client had sent before it knew is ignored.
    let mut post = get("/");
    post[0].1 = "POST";
    post.push(("content-length", "1"));
    let mut input = c.headers(3, &post, false);
    frame::write_header(&mut input, 2, kind::DATA, 0, 3);
    input.extend_from_slice(b"xy");
    frame::write_header(&mut input, 1, kind::DATA, flag::END_STREAM, 3);
    input.push(b'z');
    c.send(&input);
    assert_eq!(c.take(), [Got::Rst(3, ErrorCode::Protocol)]);
    // Stream 1 ended both ways: DATA on it is a connection error.
    let mut input = Vec::new();
    frame::write_header(&mut input, 1, kind::DATA, 0, 1);
    input.push(b'x');
    c.send(&input);
    assert_eq!(c.take(), [Got::GoAway(3, ErrorCode::StreamClosed)]);
}

#[test]
fn a_client_that_opens_every_window_and_reads_nothing_holds_a_bounded_queue() {
    let dir = crate::fixture::Scratch::new("h2-bound");
    std::fs::write(dir.path().join("big.bin"), vec![7u8; 1 << 20]).unwrap();
    for secure in [false, true] {
        let mut c = Client::new();
        c.secure = secure;
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let files = crate::http::files::Files::new(Some(dir.path()), 0, 0).unwrap();
        let mut date = crate::date::DateLine::default();
        date.update(now);
        c.site = Site::new(files, date, crate::config::Limits::default());
        c.take();
        let max = frame::MAX_WINDOW;
        c.start(&[(setting::INITIAL_WINDOW_SIZE, max)]);
        let mut input = Vec::new();
        frame::write_window_update(&mut input, 0, max - 65_535);
        for i in 0..100 {
            input.extend(c.headers(1 + 2 * i, &get("/big.bin"), true));
        }
        // As the socket of a client that reads nothing: the queue is
        // never taken.
        let mut loan = SessionLoan {
            site: &mut c.site,
            ops: &mut c.ops,
            client: 0,
            secure,
        };
        c.session.on_input(&input, &mut loan, &mut c.out);
        c.session.on_writable(&mut c.out);
        let queued = c.out.queued_bytes();
        assert!(
            queued <= READ_AHEAD + 4 * DEFAULT_MAX_FRAME as u64 + 100 * 200,
            "secure {secure}: {queued} bytes queued"
        );
        assert!(
            c.out.len() < 1_000,
            "secure {secure}: {} chunks",
            c.out.len()
        );
    }
}
