//! (tests) One connection in each state and at each edge, over a scripted stream with the clock pinned.
//!
//! Fixtures, one per state and edge: a scripted stream stands in for
//! the socket, the clock is pinned, and each test checks what the
//! connection asks of the loop (interest, deadline, close) and what it
//! did to the stream (reads, bytes written, shutdown).

use super::*;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::io::IoSlice;

use crate::fixture::World;

/// What the fake stream's next `read` does.
#[derive(Debug, Clone)]
enum Step {
    Bytes(Vec<u8>),
    /// Bytes, after which the stream still holds input of its own
    /// (as TLS does past its per-read bound) until the next read.
    Held(Vec<u8>),
    Eof,
}

/// A scripted stream: reads follow `steps` (then WouldBlock); writes
/// take at most `room` bytes, then WouldBlock.
#[derive(Debug, Default)]
struct Fake {
    steps: VecDeque<Step>,
    reads: usize,
    written: Vec<u8>,
    room: usize,
    shut: bool,
    holding: bool,
}

impl Fake {
    fn with(steps: &[Step]) -> Fake {
        Fake {
            steps: steps.iter().cloned().collect(),
            room: usize::MAX,
            ..Fake::default()
        }
    }
}

impl Stream for Fake {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        self.holding = false;
        match self.steps.pop_front() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Step::Eof) => Ok(0),
            Some(Step::Held(bytes)) => {
                self.holding = true;
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
            Some(Step::Bytes(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    self.steps.push_front(Step::Bytes(bytes[n..].to_vec()));
                }
                Ok(n)
            }
        }
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(self.room);
            self.written.extend_from_slice(&b[..take]);
            self.room -= take;
            n += take;
        }
        Ok(n)
    }
    fn send_file(&mut self, _: &File, _: u64, _: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut = true;
        Ok(())
    }
    fn holds_input(&self) -> bool {
        self.holding
    }
}

const GET: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n";
const R: Interest = Interest::READABLE;

fn rw() -> Interest {
    Interest::READABLE | Interest::WRITABLE
}

fn wait(interest: Interest, deadline: Instant) -> Next {
    Next::Wait(Wait { interest, deadline })
}

fn responses(written: &[u8]) -> usize {
    written.windows(9).filter(|w| w == b"HTTP/1.1 ").count()
}

#[test]
fn open_a_whole_request_is_answered_and_the_connection_goes_idle() {
    let mut w = World::new(4096);
    let t = Timeouts::default();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert_eq!(next, wait(R, w.time(0, t.idle)));
    let sock = conn.socket();
    assert_eq!(responses(&sock.written), 1);
    assert!(sock.written.ends_with(b"\r\n\r\nHello\n"));
    assert_eq!(sock.reads, 1, "a short read proves the socket empty");
    assert!(conn.work.is_none(), "idle: the work state went back");
    assert_eq!(w.pool.spare(), 1);
    assert_eq!(conn.waiting(), Waiting::Idle);
    assert_eq!(w.ops.metrics.io.reads, 1);
    assert_eq!(w.ops.metrics.io.writes, 1);
}

#[test]
fn partial_read_waits_with_the_head_deadline_fixed_at_its_first_byte() {
    let mut w = World::new(4096);
    let t = Timeouts::default();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET[..10].to_vec())]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert_eq!(next, wait(R, w.time(0, t.head)));
    assert_eq!(conn.waiting(), Waiting::Head);
    assert!(conn.socket().written.is_empty());
    // More bytes a second later, still not the whole head: the
    // deadline stays where the first byte put it.
    conn.socket()
        .steps
        .push_back(Step::Bytes(GET[10..20].to_vec()));
    let next = conn.on_event(0, true, false, &mut w.at(1000));
    assert_eq!(next, wait(R, w.time(0, t.head)));
    // The rest: answered, and idle from then on.
    conn.socket()
        .steps
        .push_back(Step::Bytes(GET[20..].to_vec()));
    let next = conn.on_event(0, true, false, &mut w.at(2000));
    assert_eq!(next, wait(R, w.time(2000, t.idle)));
    assert_eq!(responses(&conn.socket().written), 1);
}

#[test]
fn eof_behind_data_is_read_when_the_poller_said_hup() {
    let mut w = World::new(4096);
    // With the FIN reported, a short read does not prove the socket
    // empty: the EOF is read in the same wakeup, the answer still
    // goes out, and the connection closes.
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec()), Step::Eof]));
    assert_eq!(conn.on_event(0, true, true, &mut w.at(0)), Next::Close);
    assert_eq!(conn.socket().reads, 2);
    assert_eq!(responses(&conn.socket().written), 1);
    // Without it, the short read ends reading until the next edge.
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec()), Step::Eof]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert!(matches!(next, Next::Wait(_)), "{next:?}");
    assert_eq!(conn.socket().reads, 1);
}

#[test]
fn a_stream_that_holds_input_is_answered_then_read_again_on_its_next_turn() {
    let mut w = World::new(4096);
    // The first read is short but the stream holds more (TLS records
    // past its bound): what came is answered, and the connection
    // yields instead of waiting for an edge that will not come.
    let mut conn = Conn::new(Fake::with(&[
        Step::Held(GET.to_vec()),
        Step::Bytes(GET.to_vec()),
    ]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert!(matches!(next, Next::Again(_)), "{next:?}");
    assert_eq!(conn.socket().reads, 1, "one read a turn");
    assert_eq!(responses(&conn.socket().written), 1);
    // Its next turn (no event): the rest is read and answered, and the
    // short read that holds nothing ends reading until an edge.
    let next = conn.on_event(0, false, false, &mut w.at(0));
    assert!(matches!(next, Next::Wait(_)), "{next:?}");
    assert_eq!(conn.socket().reads, 2);
    assert_eq!(responses(&conn.socket().written), 2);
}

#[test]
fn epollrdhup_alone_on_an_idle_connection_reads_the_eof_and_closes() {
    let mut w = World::new(4096);
    let mut conn = Conn::new(Fake::with(&[Step::Eof]));
    assert_eq!(conn.on_event(0, false, true, &mut w.at(0)), Next::Close);
    assert_eq!(conn.socket().reads, 1);
    assert!(!conn.socket().shut, "nothing unread: a plain close");
}

#[test]
fn short_write_asks_for_writable_under_the_send_deadline() {
    let mut w = World::new(4096);
    let t = Timeouts::default();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
    conn.socket().room = 10;
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert_eq!(next, wait(rw(), w.time(0, t.send)));
    assert_eq!(conn.waiting(), Waiting::Send);
    assert_eq!(conn.socket().written.len(), 10);
    // Room again, five seconds later: the rest goes, and it is idle.
    conn.socket().room = usize::MAX;
    let next = conn.on_event(0, false, false, &mut w.at(5000));
    assert_eq!(next, wait(R, w.time(5000, t.idle)));
    assert!(conn.socket().written.ends_with(b"Hello\n"));
    assert_eq!(w.ops.metrics.sent_bytes, conn.socket().written.len() as u64);
}

#[test]
fn backpressure_stops_reading_at_the_bound_and_resumes_when_the_client_reads() {
    // Requests of 64 bytes, 64 to a 4 KiB read; each answer is two
    // chunks, so the 1,024-chunk bound is reached after 8 reads.
    let mut one = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    one.resize(60, b'x');
    one.extend_from_slice(b"\r\n\r\n");
    assert_eq!(one.len(), 64);
    let read = one.repeat(64);
    let mut w = World::new(4096);
    let steps: Vec<Step> = (0..12).map(|_| Step::Bytes(read.clone())).collect();
    let mut conn = Conn::new(Fake::with(&steps));
    conn.socket().room = 0;
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert!(matches!(next, Next::Wait(Wait { interest, .. }) if interest == rw()));
    assert_eq!(
        conn.socket().reads,
        BACKLOG_CHUNKS / 128,
        "stopped at the bound"
    );
    // Another readable edge: still nothing read while the client reads nothing.
    conn.on_event(0, true, false, &mut w.at(10));
    assert_eq!(conn.socket().reads, 8);
    // The client reads: everything goes, and reading resumes.
    conn.socket().room = usize::MAX;
    conn.on_event(0, false, false, &mut w.at(20));
    assert_eq!(responses(&conn.socket().written), 12 * 64);
    assert!(conn.socket().steps.is_empty());
}

#[test]
fn a_refusal_with_bytes_unread_lingers_then_closes() {
    let mut w = World::new(4096);
    let t = Timeouts::default();
    let bad = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\nmore".to_vec();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(bad)]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert_eq!(next, wait(R, w.time(0, t.linger)), "lingering close");
    assert_eq!(conn.waiting(), Waiting::Linger);
    let sock = conn.socket();
    assert!(sock.shut, "our side is shut first");
    assert!(sock.written.starts_with(b"HTTP/1.1 400 "));
    // What the client still sends is read and dropped, until its FIN.
    sock.steps
        .extend([Step::Bytes(b"junk".to_vec()), Step::Eof]);
    assert_eq!(conn.on_event(0, true, true, &mut w.at(100)), Next::Close);
    assert_eq!(w.ops.metrics.io.other, 1, "one shutdown");
}

#[test]
fn connection_close_with_nothing_unread_closes_at_once() {
    let mut w = World::new(4096);
    let last = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".to_vec();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(last)]));
    assert_eq!(conn.on_event(0, true, false, &mut w.at(0)), Next::Close);
    assert!(!conn.socket().shut, "no lingering: nothing can follow");
    assert!(conn.socket().written.ends_with(b"Hello\n"));
}

#[test]
fn deadlines_follow_what_the_connection_waits_for() {
    let mut w = World::new(4096);
    let t = Timeouts::default();
    // A body arriving slowly is under the idle rule, counted from the
    // last bytes.
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab".to_vec();
    let mut conn = Conn::new(Fake::with(&[Step::Bytes(head)]));
    let next = conn.on_event(0, true, false, &mut w.at(0));
    assert_eq!(next, wait(R, w.time(0, t.idle)));
    assert_eq!(conn.waiting(), Waiting::Idle);
    conn.socket().steps.push_back(Step::Bytes(b"cd".to_vec()));
    let next = conn.on_event(0, true, false, &mut w.at(3000));
    assert_eq!(next, wait(R, w.time(3000, t.idle)));
    assert!(conn.work.is_some(), "a body in progress is not idle");
}

#[test]
fn drain_closes_the_idle_and_lets_the_busy_finish_with_close() {
    let mut w = World::new(4096);
    let mut idle = Conn::new(Fake::with(&[Step::Bytes(GET.to_vec())]));
    idle.on_event(0, true, false, &mut w.at(0));
    assert_eq!(idle.drain(0, &mut w.at(10)), Next::Close);

    let mut busy = Conn::new(Fake::with(&[Step::Bytes(GET[..10].to_vec())]));
    busy.on_event(1, true, false, &mut w.at(0));
    assert!(matches!(busy.drain(1, &mut w.at(10)), Next::Wait(_)));
    busy.socket()
        .steps
        .push_back(Step::Bytes(GET[10..].to_vec()));
    assert_eq!(busy.on_event(1, true, false, &mut w.at(20)), Next::Close);
    let text = String::from_utf8_lossy(&busy.socket().written).into_owned();
    assert!(text.contains("Connection: close\r\n"), "{text}");
}
