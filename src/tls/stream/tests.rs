//! (tests) The TLS stream under a scripted socket cut at every point, a rustls client beyond.
//!
//! The TLS stream under a socket that takes short writes and says
//! WouldBlock at every point that matters: in the handshake's flight, with
//! records held, between the steps of a file, at close_notify. A real
//! rustls client at the other end of the [`Pipe`] opens every record, and
//! what it reads must be exactly what was written, once.

use std::fs::File;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::version::{TLS12, TLS13};

use super::{FILE_STEP, TlsStream};
use crate::fixture::{Pipe, Rng, Rooms, Scratch, TlsClient, tls_pair};
use crate::metrics::{Handshake, TlsFailure};
use crate::out::{Chunk, Flush, OutQueue};
use crate::stream::Stream;

/// A server stream over a pipe, and the client at its other end.
struct Ends {
    server: TlsStream<Pipe>,
    client: TlsClient,
}

impl Ends {
    fn new(version: &'static rustls::SupportedProtocolVersion, rooms: Rooms) -> Ends {
        let (tls, config) = tls_pair(version);
        Ends::with(&tls, &config, rooms)
    }

    fn with(tls: &crate::tls::Tls, config: &Arc<ClientConfig>, rooms: Rooms) -> Ends {
        Ends {
            server: tls.accept(Pipe::new(rooms)).expect("accept"),
            client: TlsClient::new(config),
        }
    }

    fn pipe(&mut self) -> &mut Pipe {
        self.server.inner()
    }

    /// What the loop does on an event: read until WouldBlock, and send
    /// what the stream holds (WRITABLE). Returns the plaintext read.
    fn server_turn(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.server.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("server read: {e}"),
            }
        }
        if self.server.holds_output() {
            match self.server.send_held() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("server send_held: {e}"),
            }
        }
        got
    }

    /// Turns both ends until the handshake is over on both sides.
    fn handshake(&mut self) {
        for _ in 0..200 {
            let Ends { server, client } = self;
            client.turn(server.inner());
            let got = self.server_turn();
            assert!(got.is_empty(), "no plaintext was sent");
            if !self.server.handshaking()
                && !self.client.conn.is_handshaking()
                && !self.server.holds_output()
            {
                return;
            }
        }
        panic!("the handshake never ended");
    }

    /// Turns both ends until the stream holds nothing (what the socket
    /// did not take goes on WRITABLE, once it has room).
    fn settle(&mut self) {
        for _ in 0..100 {
            self.server_turn();
            let Ends { server, client } = self;
            client.turn(server.inner());
            if !self.server.holds_output() {
                return;
            }
        }
        panic!("the stream never sent what it holds");
    }

    /// Flushes `out` over the stream until it is all sent, as the
    /// connection does: a Blocked or Yield flush waits for the next turn
    /// (the client reads, the socket has room again).
    fn flush_all(&mut self, out: &mut OutQueue) {
        for _ in 0..100_000 {
            let flushed = out.flush(&mut self.server, &mut 0).expect("flush");
            let Ends { server, client } = self;
            client.turn(server.inner());
            if flushed == Flush::Done {
                return;
            }
        }
        panic!("the queue never emptied");
    }
}

/// A file of `len` pseudo-random bytes, and its bytes.
fn file(dir: &Scratch, len: usize, seed: u64) -> (Rc<File>, Vec<u8>) {
    let bytes = Rng::new(seed).bytes(len);
    let path = dir.path().join(format!("f{seed}"));
    std::fs::write(&path, &bytes).expect("write file");
    (Rc::new(File::open(&path).expect("open file")), bytes)
}

/// How many bytes the server's first flight is, with nothing in its way.
fn first_flight(version: &'static rustls::SupportedProtocolVersion) -> usize {
    let mut ends = Ends::new(version, Rooms::Unlimited);
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    ends.server_turn();
    ends.pipe().outbound.len()
}

#[test]
fn the_handshake_survives_a_short_write_at_every_point_of_its_flight() {
    for version in [&TLS13, &TLS12] {
        let (tls, config) = tls_pair(version);
        let flight = first_flight(version);
        assert!(flight > 500, "a flight with a certificate: {flight}");
        // Every cut in the first and last 64 bytes (the record headers),
        // then every 7th byte: each point the socket may stop.
        let cuts = (0..=flight).filter(|c| *c < 64 || flight - c < 64 || c % 7 == 0);
        for cut in cuts {
            for then in [0, 1, 100] {
                let mut ends = Ends::with(&tls, &config, Rooms::script(&[cut, 0, then, 0]));
                ends.handshake();
                // Then a request and its answer both ways.
                ends.client.send(b"ping");
                let Ends { server, client } = &mut ends;
                client.turn(server.inner());
                assert_eq!(ends.server_turn(), b"ping", "{version:?} cut {cut}/{then}");
                let n = ends
                    .server
                    .write_vectored(&[IoSlice::new(b"pong")])
                    .unwrap();
                assert_eq!(n, 4, "sealed whole, sent or held");
                ends.settle();
                assert_eq!(ends.client.plain, b"pong", "{version:?} cut {cut}/{then}");
            }
        }
    }
}

#[test]
fn a_file_step_whose_records_wait_in_the_stream_is_counted_once() {
    // The first step of a file is sealed whole and the socket takes only
    // part of it: the rest waits in the stream. The next step must not
    // lose the count of bytes already taken (they would be sent again).
    let dir = Scratch::new("tls-held");
    let (f, bytes) = file(&dir, 3 * FILE_STEP + 17, 1);
    for version in [&TLS13, &TLS12] {
        for first in [0, 1, 1000, FILE_STEP - 1, FILE_STEP, FILE_STEP + 100] {
            let mut ends = Ends::new(version, Rooms::Unlimited);
            ends.handshake();
            ends.pipe().rooms = Rooms::script(&[first, 0]);
            let at = ends.pipe().outbound.len();
            let sent = match ends.server.send_file(&f, 0, bytes.len()) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => panic!("send_file: {e}"),
            };
            assert!(sent <= bytes.len());
            // Once the held records go, the client has exactly what
            // send_file said it took.
            ends.pipe().rooms = Rooms::Unlimited;
            ends.server.send_held().expect("send_held");
            assert!(ends.pipe().outbound.len() > at);
            let Ends { server, client } = &mut ends;
            client.turn(server.inner());
            assert_eq!(
                ends.client.plain.len(),
                sent,
                "{version:?} first write {first}: send_file's count is what was sent"
            );
            assert_eq!(ends.client.plain, bytes[..sent]);
        }
    }
}

#[test]
fn files_cached_uncached_and_ranged_arrive_whole_however_the_socket_cuts_them() {
    let dir = Scratch::new("tls-cuts");
    let (big, big_bytes) = file(&dir, 2 * 512 * 1024 + 12_345, 2);
    let shared: Rc<[u8]> = Rng::new(3).bytes(40_000).into();
    for version in [&TLS13, &TLS12] {
        let (tls, config) = tls_pair(version);
        // Every cut of the first write in the first record and around the
        // first step's end, then an EAGAIN, then unlimited.
        let cuts = (0..20_000)
            .step_by(997)
            .chain(FILE_STEP - 300..FILE_STEP + 300)
            .step_by(7);
        for cut in cuts {
            let mut ends = Ends::with(&tls, &config, Rooms::Unlimited);
            ends.handshake();
            ends.pipe().rooms = Rooms::script(&[cut, 0, cut / 2 + 1, 0, 0, 5]);
            let mut out = OutQueue::default();
            out.push(Chunk::Static(b"head\r\n"));
            out.push(Chunk::shared(&shared));
            out.push(Chunk::File {
                file: big.clone(),
                pos: 0,
                end: big_bytes.len() as u64,
            });
            out.push(Chunk::File {
                file: big.clone(),
                pos: 100_000,
                end: 300_001,
            });
            ends.flush_all(&mut out);
            let mut want = b"head\r\n".to_vec();
            want.extend_from_slice(&shared);
            want.extend_from_slice(&big_bytes);
            want.extend_from_slice(&big_bytes[100_000..300_001]);
            assert_eq!(ends.client.plain.len(), want.len(), "{version:?} cut {cut}");
            assert!(
                ends.client.plain == want,
                "{version:?} cut {cut}: bytes differ"
            );
        }
    }
}

#[test]
fn close_notify_waits_for_room_and_the_fin_waits_for_it() {
    for version in [&TLS13, &TLS12] {
        for held in [false, true] {
            let mut ends = Ends::new(version, Rooms::Unlimited);
            ends.handshake();
            // A response whose tail is held (or not), then the close, with
            // the socket full.
            ends.pipe().rooms = Rooms::script(if held { &[10, 0, 0] } else { &[] });
            let body = Rng::new(4).bytes(30_000);
            let n = ends.server.write_vectored(&[IoSlice::new(&body)]).unwrap();
            assert_eq!(n, body.len(), "sealed whole; the socket took what it could");
            assert_eq!(ends.server.holds_output(), held);
            ends.pipe().rooms = Rooms::script(&[0, 0]);
            ends.server.shutdown_write().expect("shutdown");
            assert!(ends.server.holds_output(), "the close_notify waits");
            assert!(!ends.pipe().shut, "our FIN must not overtake our records");
            // Still no room: nothing changes.
            assert!(ends.server.send_held().is_err());
            assert!(!ends.pipe().shut);
            // Room: the records, the close_notify, then the FIN.
            ends.server.send_held().expect("send_held");
            assert!(!ends.server.holds_output());
            assert!(ends.pipe().shut, "the FIN follows the last record");
            let Ends { server, client } = &mut ends;
            client.turn(server.inner());
            assert!(ends.client.plain == body, "{version:?} held {held}");
            assert!(ends.client.closed, "the client saw close_notify");
        }
    }
}

#[test]
fn each_handshake_is_counted_once_the_moment_it_ends() {
    let (tls, config) = tls_pair(&TLS13);
    let count = |h| tls.counts().get(h);
    let mut ends = Ends::with(&tls, &config, Rooms::Unlimited);
    // The ClientHello alone ends nothing.
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    ends.server_turn();
    assert_eq!(count(Handshake::Full), 0);
    ends.handshake();
    assert_eq!(count(Handshake::Full), 1);
    // Traffic and a close after it count nothing more; the client keeps
    // the session ticket that came after the handshake.
    ends.client.send(b"ping");
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    assert_eq!(ends.server_turn(), b"ping");
    ends.pipe().peer_closed = true;
    ends.server_turn();
    assert_eq!(count(Handshake::Full), 1);
    assert_eq!(count(Handshake::Failed(TlsFailure::Closed)), 0);

    // The same client again resumes.
    let mut again = Ends::with(&tls, &config, Rooms::Unlimited);
    again.handshake();
    assert_eq!(count(Handshake::Resumed), 1);
    assert_eq!(count(Handshake::Full), 1);

    // Plaintext HTTP on the TLS port fails, as malformed (and the
    // connection closes on the error).
    let mut plain = Ends::with(&tls, &config, Rooms::Unlimited);
    plain
        .pipe()
        .inbound
        .extend(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 4096];
    assert!(plain.server.read(&mut buf).is_err());
    assert_eq!(count(Handshake::Failed(TlsFailure::Malformed)), 1);
    assert_eq!(count(Handshake::Failed(TlsFailure::Closed)), 0);

    // A client that leaves after its ClientHello.
    let mut gone = Ends::with(&tls, &config, Rooms::Unlimited);
    let Ends { server, client } = &mut gone;
    client.turn(server.inner());
    gone.pipe().peer_closed = true;
    // The ClientHello's read was short (the socket gave all it had); the
    // EOF is the next read's, as on the edge that reports it.
    gone.server_turn();
    assert_eq!(count(Handshake::Failed(TlsFailure::Closed)), 0);
    gone.server_turn();
    assert_eq!(count(Handshake::Failed(TlsFailure::Closed)), 1);
    assert_eq!(count(Handshake::Full) + count(Handshake::Resumed), 2);
}

#[test]
fn after_a_tls13_handshake_the_stream_holds_the_keys_and_tls12_stays_with_rustls() {
    for (version, own) in [(&TLS13, true), (&TLS12, false)] {
        let mut ends = Ends::new(version, Rooms::Unlimited);
        ends.handshake();
        // A request and an answer, each way through whoever holds the keys.
        ends.client.send(b"GET / HTTP/1.1\r\n\r\n");
        let Ends { server, client } = &mut ends;
        client.turn(server.inner());
        assert_eq!(ends.server_turn(), b"GET / HTTP/1.1\r\n\r\n");
        let body = Rng::new(8).bytes(70_000);
        let mut sent = 0;
        while sent < body.len() {
            sent += ends
                .server
                .write_vectored(&[IoSlice::new(&body[sent..])])
                .unwrap();
        }
        ends.settle();
        assert!(ends.client.plain == body, "{version:?}");
        assert_eq!(
            matches!(ends.server.engine, super::Engine::Own(_)),
            own,
            "{version:?}"
        );
    }
}

#[test]
fn key_updates_from_the_client_move_both_keys_on() {
    let mut ends = Ends::new(&TLS13, Rooms::Unlimited);
    ends.handshake();
    ends.client.send(b"first");
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    assert_eq!(ends.server_turn(), b"first");
    assert!(matches!(ends.server.engine, super::Engine::Own(_)));
    for round in 0..3 {
        // rustls's client asks for our update too (update_requested):
        // what it sends next is under its new key, and what we send next
        // must come after a KeyUpdate of ours, under our new key.
        ends.client.conn.refresh_traffic_keys().expect("refresh");
        let asked = format!("after update {round}");
        ends.client.send(asked.as_bytes());
        let Ends { server, client } = &mut ends;
        client.turn(server.inner());
        assert_eq!(ends.server_turn(), asked.as_bytes(), "round {round}");
        let answer = format!("answer {round}");
        ends.server
            .write_vectored(&[IoSlice::new(answer.as_bytes())])
            .unwrap();
        // Our KeyUpdate went under the old key; the answer is the first
        // record under the new one.
        let super::Engine::Own(records) = &ends.server.engine else {
            panic!("own records");
        };
        assert_eq!(records.write_seq(), 1, "round {round}: a new write key");
        ends.client.plain.clear();
        let Ends { server, client } = &mut ends;
        client.turn(server.inner());
        assert_eq!(ends.client.plain, answer.as_bytes(), "round {round}");
    }
}

#[test]
fn a_record_that_does_not_open_ends_the_connection_with_bad_record_mac() {
    let mut ends = Ends::new(&TLS13, Rooms::Unlimited);
    ends.handshake();
    ends.client.send(b"hello");
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    assert_eq!(ends.server_turn(), b"hello");
    // The next record, one bit of its ciphertext flipped on the way.
    ends.client.send(b"tampered");
    let before = ends.pipe().inbound.len();
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    let at = before + 10;
    assert!(ends.pipe().inbound.len() > at);
    ends.pipe().inbound[at] ^= 1;
    let mut buf = [0u8; 100];
    let err = ends.server.read(&mut buf).expect_err("refused");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // The client is told why: a fatal alert it can open.
    let Ends { server, client } = &mut ends;
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.turn(server.inner());
    }));
    let why = seen.expect_err("the client read an alert and failed");
    let why = why.downcast_ref::<String>().expect("a message");
    assert!(why.contains("BadRecordMac"), "{why}");
}

#[test]
fn junk_after_the_handshake_is_refused_never_a_panic() {
    let mut rng = Rng::new(8446);
    let (tls, config) = tls_pair(&TLS13);
    for i in 0..300 {
        let mut ends = Ends::with(&tls, &config, Rooms::Unlimited);
        ends.handshake();
        ends.client.send(b"x");
        let Ends { server, client } = &mut ends;
        client.turn(server.inner());
        assert_eq!(ends.server_turn(), b"x");
        // A header that may or may not look like one, and random bytes.
        let len = rng.below(300) as usize;
        let mut junk = rng.bytes(5 + len);
        if i % 2 == 0 {
            junk[..5].copy_from_slice(&[23, 3, 3, (len >> 8) as u8, len as u8]);
        }
        ends.pipe().inbound.extend(&junk);
        let mut buf = [0u8; 512];
        match ends.server.read(&mut buf) {
            Err(e) => assert!(
                [io::ErrorKind::InvalidData, io::ErrorKind::WouldBlock].contains(&e.kind()),
                "{e}"
            ),
            Ok(n) => panic!("junk {i} read as {n} bytes"),
        }
    }
}

#[test]
fn the_clients_close_notify_ends_its_input_and_ours_reaches_it() {
    let mut ends = Ends::new(&TLS13, Rooms::Unlimited);
    ends.handshake();
    ends.client.send(b"bye");
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    assert_eq!(ends.server_turn(), b"bye");
    assert!(matches!(ends.server.engine, super::Engine::Own(_)));
    ends.client.conn.send_close_notify();
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    let mut buf = [0u8; 100];
    assert_eq!(ends.server.read(&mut buf).unwrap(), 0, "end of input");
    ends.server.shutdown_write().expect("shutdown");
    assert!(ends.pipe().shut);
    let Ends { server, client } = &mut ends;
    client.turn(server.inner());
    assert!(ends.client.closed, "the client saw our close_notify");
}
