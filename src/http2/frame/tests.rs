//! Every rule RFC 9113 §4 and §6 state about a single frame.

use super::*;

fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, payload.len(), kind, flags, stream);
    out.extend_from_slice(payload);
    out
}

fn one(bytes: &[u8]) -> Result<Frame<'_>, H2Error> {
    match parse(bytes, DEFAULT_MAX_FRAME)? {
        Parsed::Frame(f, n) => {
            assert_eq!(n, bytes.len());
            Ok(f)
        }
        // A stream error takes its whole frame, so the next is read.
        Parsed::Refused(e, n) => {
            assert_eq!(n, bytes.len());
            Err(e)
        }
        Parsed::Partial => panic!("partial: {bytes:?}"),
    }
}

fn code(r: Result<Frame<'_>, H2Error>) -> (bool, ErrorCode) {
    match r {
        Err(H2Error::Connection(c, _)) => (true, c),
        Err(H2Error::Stream(_, c, _)) => (false, c),
        Ok(f) => panic!("accepted: {f:?}"),
    }
}

use ErrorCode::{FlowControl, FrameSize, Protocol};

#[test]
fn a_frame_arrives_in_pieces() {
    let bytes = raw(kind::PING, 0, 0, b"12345678");
    for cut in 0..bytes.len() {
        assert_eq!(
            parse(&bytes[..cut], DEFAULT_MAX_FRAME),
            Ok(Parsed::Partial),
            "cut {cut}"
        );
    }
    let mut two = bytes.clone();
    two.extend_from_slice(&raw(kind::SETTINGS, flag::ACK, 0, b""));
    let Ok(Parsed::Frame(Frame::Ping { ack: false, data }, n)) = parse(&two, DEFAULT_MAX_FRAME)
    else {
        panic!("a ping first");
    };
    assert_eq!((&data, n), (b"12345678", 17));
    assert_eq!(
        one(&two[n..]),
        Ok(Frame::Settings {
            ack: true,
            params: b""
        })
    );
}

#[test]
fn the_reserved_bit_is_ignored_and_unknown_types_pass() {
    let mut bytes = raw(kind::WINDOW_UPDATE, 0, 3, &[0x80, 0, 0, 1]);
    bytes[5] |= 0x80; // R bit of the stream id
    assert_eq!(
        one(&bytes),
        Ok(Frame::WindowUpdate {
            stream: 3,
            increment: 1
        })
    );
    assert_eq!(
        one(&raw(0xfa, 0xff, 7, b"whatever")),
        Ok(Frame::Unknown { kind: 0xfa })
    );
}

#[test]
fn a_frame_over_the_limit_is_refused_before_its_payload_arrives() {
    let header = header_bytes(DEFAULT_MAX_FRAME + 1, kind::DATA, 0, 1);
    assert_eq!(
        code(parse(&header, DEFAULT_MAX_FRAME).map(|_| Frame::Unknown { kind: 0 })),
        (true, FrameSize)
    );
    // At the limit exactly, it is a frame.
    let bytes = raw(kind::DATA, 0, 1, &vec![0; DEFAULT_MAX_FRAME]);
    assert!(matches!(one(&bytes), Ok(Frame::Data { .. })));
}

#[test]
fn data_and_headers_need_a_stream_and_padding_that_fits() {
    assert_eq!(code(one(&raw(kind::DATA, 0, 0, b"x"))), (true, Protocol));
    assert_eq!(code(one(&raw(kind::HEADERS, 0, 0, b"x"))), (true, Protocol));
    assert_eq!(
        code(one(&raw(kind::CONTINUATION, 0, 0, b"x"))),
        (true, Protocol)
    );
    // Padded DATA: pad length 2, "hi", two zero bytes.
    let bytes = raw(
        kind::DATA,
        flag::PADDED | flag::END_STREAM,
        1,
        &[2, b'h', b'i', 0, 0],
    );
    assert_eq!(
        one(&bytes),
        Ok(Frame::Data {
            stream: 1,
            data: b"hi",
            flow_len: 5,
            end_stream: true
        })
    );
    // Padding as long as the rest is fine; one more is not.
    assert!(one(&raw(kind::DATA, flag::PADDED, 1, &[2, 0, 0])).is_ok());
    assert_eq!(
        code(one(&raw(kind::DATA, flag::PADDED, 1, &[3, 0, 0]))),
        (true, Protocol)
    );
    assert_eq!(
        code(one(&raw(kind::DATA, flag::PADDED, 1, &[]))),
        (true, FrameSize)
    );
    assert_eq!(
        code(one(&raw(kind::HEADERS, flag::PADDED, 1, &[9, 0x82]))),
        (true, Protocol)
    );
}

#[test]
fn headers_with_priority() {
    let mut payload = vec![0x80, 0, 0, 3, 15]; // exclusive, on stream 3, weight 16
    payload.push(0x82);
    let bytes = raw(
        kind::HEADERS,
        flag::PRIORITY | flag::END_HEADERS,
        5,
        &payload,
    );
    assert_eq!(
        one(&bytes),
        Ok(Frame::Headers {
            stream: 5,
            block: &[0x82],
            end_stream: false,
            end_headers: true,
            depends_on: Some(3)
        })
    );
    // On itself: passed on with its block, which must be decoded before
    // the stream is refused (§5.3.1, §4.3).
    let mut own = vec![0, 0, 0, 5, 15];
    own.push(0x82);
    assert_eq!(
        one(&raw(kind::HEADERS, flag::PRIORITY, 5, &own)),
        Ok(Frame::Headers {
            stream: 5,
            block: &[0x82],
            end_stream: false,
            end_headers: false,
            depends_on: Some(5)
        })
    );
    assert_eq!(
        code(one(&raw(kind::HEADERS, flag::PRIORITY, 5, &[0, 0]))),
        (true, FrameSize)
    );
}

#[test]
fn fixed_lengths() {
    assert_eq!(
        code(one(&raw(kind::PRIORITY, 0, 1, &[0; 4]))),
        (false, FrameSize)
    );
    assert_eq!(
        code(one(&raw(kind::PRIORITY, 0, 0, &[0; 5]))),
        (true, Protocol)
    );
    assert_eq!(
        one(&raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 3, 0])),
        Ok(Frame::Priority {
            stream: 1,
            depends_on: 3
        })
    );
    assert_eq!(
        code(one(&raw(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 0]))),
        (false, Protocol)
    );
    assert_eq!(
        code(one(&raw(kind::RST_STREAM, 0, 1, &[0; 3]))),
        (true, FrameSize)
    );
    assert_eq!(
        code(one(&raw(kind::RST_STREAM, 0, 0, &[0; 4]))),
        (true, Protocol)
    );
    assert_eq!(
        one(&raw(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8])),
        Ok(Frame::RstStream {
            stream: 1,
            code: ErrorCode::Cancel
        })
    );
    assert_eq!(
        code(one(&raw(kind::PING, 0, 0, &[0; 7]))),
        (true, FrameSize)
    );
    assert_eq!(code(one(&raw(kind::PING, 0, 1, &[0; 8]))), (true, Protocol));
    assert_eq!(
        code(one(&raw(kind::GOAWAY, 0, 0, &[0; 7]))),
        (true, FrameSize)
    );
    assert_eq!(
        code(one(&raw(kind::GOAWAY, 0, 3, &[0; 8]))),
        (true, Protocol)
    );
    let bytes = raw(
        kind::GOAWAY,
        0,
        0,
        &[0, 0, 0, 7, 0, 0, 0, 0xb, b'd', b'b', b'g'],
    );
    assert_eq!(
        one(&bytes),
        Ok(Frame::GoAway {
            last_stream: 7,
            code: ErrorCode::EnhanceYourCalm
        })
    );
    // An unknown error code is INTERNAL_ERROR to us.
    assert_eq!(
        one(&raw(kind::RST_STREAM, 0, 1, &[0, 0, 1, 0])),
        Ok(Frame::RstStream {
            stream: 1,
            code: ErrorCode::Internal
        })
    );
}

#[test]
fn window_updates() {
    assert_eq!(
        code(one(&raw(kind::WINDOW_UPDATE, 0, 0, &[0; 4]))),
        (true, Protocol)
    );
    assert_eq!(
        code(one(&raw(kind::WINDOW_UPDATE, 0, 9, &[0; 4]))),
        (false, Protocol)
    );
    assert_eq!(
        code(one(&raw(kind::WINDOW_UPDATE, 0, 9, &[0; 5]))),
        (true, FrameSize)
    );
    let bytes = raw(kind::WINDOW_UPDATE, 0, 0, &[0x7f, 0xff, 0xff, 0xff]);
    assert_eq!(
        one(&bytes),
        Ok(Frame::WindowUpdate {
            stream: 0,
            increment: MAX_WINDOW
        })
    );
}

#[test]
fn settings_rules() {
    let mut out = Vec::new();
    write_settings(
        &mut out,
        &[(setting::MAX_CONCURRENT_STREAMS, 100), (0xff, 7)],
    );
    let Ok(Frame::Settings { ack: false, params }) = one(&out) else {
        panic!()
    };
    assert_eq!(settings(params).collect::<Vec<_>>(), [(3, 100), (0xff, 7)]);
    assert_eq!(code(one(&raw(kind::SETTINGS, 0, 1, b""))), (true, Protocol));
    assert_eq!(
        code(one(&raw(kind::SETTINGS, flag::ACK, 0, &[0; 6]))),
        (true, FrameSize)
    );
    assert_eq!(
        code(one(&raw(kind::SETTINGS, 0, 0, &[0; 5]))),
        (true, FrameSize)
    );
    let bad: &[((u16, u32), ErrorCode)] = &[
        ((setting::ENABLE_PUSH, 2), Protocol),
        ((setting::INITIAL_WINDOW_SIZE, MAX_WINDOW + 1), FlowControl),
        ((setting::MAX_FRAME_SIZE, 16_383), Protocol),
        ((setting::MAX_FRAME_SIZE, 1 << 24), Protocol),
        ((setting::NO_RFC7540_PRIORITIES, 2), Protocol),
    ];
    for &(pair, want) in bad {
        let mut out = Vec::new();
        write_settings(&mut out, &[pair]);
        assert_eq!(code(one(&out)), (true, want), "{pair:?}");
    }
    for ok in [
        (setting::MAX_FRAME_SIZE, 16_384),
        (setting::MAX_FRAME_SIZE, (1 << 24) - 1),
        (setting::INITIAL_WINDOW_SIZE, MAX_WINDOW),
    ] {
        let mut out = Vec::new();
        write_settings(&mut out, &[ok]);
        assert!(one(&out).is_ok(), "{ok:?}");
    }
}

#[test]
fn push_promise_from_a_client_is_a_protocol_error() {
    assert_eq!(
        code(one(&raw(kind::PUSH_PROMISE, 0, 1, &[0, 0, 0, 2]))),
        (true, Protocol)
    );
}

#[test]
fn what_the_server_writes_reads_back() {
    let mut out = Vec::new();
    write_settings_ack(&mut out);
    write_ping_ack(&mut out, *b"abcdefgh");
    write_goaway(&mut out, 41, ErrorCode::NoError);
    write_rst_stream(&mut out, 3, ErrorCode::RefusedStream);
    write_window_update(&mut out, 0, 65_535);
    let mut at = 0;
    let mut got = Vec::new();
    while let Ok(Parsed::Frame(f, n)) = parse(&out[at..], DEFAULT_MAX_FRAME) {
        got.push(f);
        at += n;
    }
    assert_eq!(at, out.len());
    assert_eq!(
        got,
        [
            Frame::Settings {
                ack: true,
                params: b""
            },
            Frame::Ping {
                ack: true,
                data: *b"abcdefgh"
            },
            Frame::GoAway {
                last_stream: 41,
                code: ErrorCode::NoError
            },
            Frame::RstStream {
                stream: 3,
                code: ErrorCode::RefusedStream
            },
            Frame::WindowUpdate {
                stream: 0,
                increment: 65_535
            },
        ]
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = crate::fixture::Rng::new(9113);
    for _ in 0..100_000 {
        let len = rng.below(32) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        if bytes.len() >= 3 {
            // Mostly small lengths, so whole frames are common.
            bytes[0] = 0;
            bytes[1] = 0;
            bytes[2] %= 24;
        }
        let _ = parse(&bytes, DEFAULT_MAX_FRAME);
    }
}

#[test]
fn priority_update_rules() {
    // RFC 9218 §7.1: on stream 0, at least a stream id, which names a
    // stream a client opens (odd); the field value follows, unparsed.
    assert_eq!(
        one(&raw(kind::PRIORITY_UPDATE, 0, 0, b"\x80\0\0\x05u=1, i")),
        Ok(Frame::PriorityUpdate {
            prioritized: 5,
            value: b"u=1, i"
        })
    );
    assert_eq!(
        one(&raw(kind::PRIORITY_UPDATE, 0, 0, &[0, 0, 0, 7])),
        Ok(Frame::PriorityUpdate {
            prioritized: 7,
            value: b""
        })
    );
    assert_eq!(
        code(one(&raw(kind::PRIORITY_UPDATE, 0, 1, b"\0\0\0\x01u=1"))),
        (true, Protocol),
        "on a stream"
    );
    assert_eq!(
        code(one(&raw(kind::PRIORITY_UPDATE, 0, 0, &[0, 0, 1]))),
        (true, FrameSize),
        "shorter than 4 bytes"
    );
    for id in [0u32, 2, 0x8000_0000] {
        assert_eq!(
            code(one(&raw(kind::PRIORITY_UPDATE, 0, 0, &id.to_be_bytes()))),
            (true, Protocol),
            "stream {id:#x}: 0 or a server's"
        );
    }
}
