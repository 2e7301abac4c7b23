//! Micro-benchmarks of the pure hot path: parsing, queuing, RFC 868, the write queue, Huffman.
//!
//! Micro-benchmarks of the pure code on the hot path: request parsing,
//! response queuing, the RFC 868 encoding, the write-queue advance and
//! HPACK's Huffman decoding.
//! `cargo bench --bench micro`; throughput is reported in bytes where it
//! means something (httparse's habit).

use std::fs::File;
use std::hint::black_box;
use std::io::{self, IoSlice};
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use oneloop::Limits;
use oneloop::date::DateLine;
use oneloop::http::files::Files;
use oneloop::http::session::{Session, SessionLoan};
use oneloop::http::site::Site;
use oneloop::http1::request;
use oneloop::http1::session::H1Session;
use oneloop::ops::Ops;
use oneloop::out::{Chunk, OutQueue};
use oneloop::stream::Stream;

/// What wrk sends.
const WRK: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
/// What a browser sends.
const BROWSER: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n\r\n";

fn parse(c: &mut Criterion) {
    let limits = Limits::default();
    let mut g = c.benchmark_group("parse");
    for (name, req) in [("wrk", WRK), ("browser", BROWSER)] {
        g.throughput(Throughput::Bytes(req.len() as u64));
        g.bench_function(name, |b| b.iter(|| request::parse(black_box(req), &limits)));
    }
    g.finish();
}

fn site() -> Site {
    let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut date = DateLine::default();
    date.update(now);
    let files = Files::new(None, 1 << 20, 1 << 20).expect("embedded site");
    Site::new(files, date, Limits::default())
}

/// A socket stand-in that takes everything, or at most `room` bytes per call.
struct Sink {
    taken: usize,
    room: usize,
}

impl Stream for Sink {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum::<usize>().min(self.room);
        self.taken += n;
        Ok(n)
    }
    fn send_file(&mut self, _: &File, _: u64, _: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn respond(c: &mut Criterion) {
    let (mut site, mut ops) = (site(), Ops::default());
    let mut loan = SessionLoan {
        site: &mut site,
        ops: &mut ops,
        client: 0,
        secure: false,
    };
    let mut out = OutQueue::default();
    let mut sink = Sink {
        taken: 0,
        room: usize::MAX,
    };
    let batch: Vec<u8> = WRK.repeat(16);
    let mut g = c.benchmark_group("respond");
    for (name, input) in [("one", WRK), ("pipelined16", &batch[..])] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut session = H1Session::default();
                let used = session.on_input(black_box(input), &mut loan, &mut out);
                let _ = out.flush(&mut sink, &mut 0);
                used
            })
        });
    }
    g.finish();
}

fn rfc868(c: &mut Criterion) {
    let now = SystemTime::now();
    c.bench_function("rfc868/encode", |b| {
        b.iter(|| oneloop::rfc868::encode(black_box(now)))
    });
}

fn queue(c: &mut Criterion) {
    let head: Rc<[u8]> = Rc::from(&[b'h'; 150][..]);
    let date: Rc<[u8]> = Rc::from(&[b'd'; 37][..]);
    let body: Rc<[u8]> = Rc::from(&[b'b'; 6][..]);
    let mut out = OutQueue::default();
    let mut g = c.benchmark_group("queue");
    g.throughput(Throughput::Bytes(16 * 195));
    // Sixteen responses of four chunks, written 100 bytes at a time: the
    // advance across chunks on every short write is what is measured.
    g.bench_function("advance_16x4_short_writes", |b| {
        b.iter(|| {
            for _ in 0..16 {
                out.push(Chunk::shared(&head));
                out.push(Chunk::shared(&date));
                out.push(Chunk::Static(b"\r\n"));
                out.push(Chunk::shared(&body));
            }
            let mut sink = Sink {
                taken: 0,
                room: 100,
            };
            while !out.is_empty() {
                let _ = out.flush(&mut sink, &mut 0);
            }
            sink.taken
        })
    });
    g.finish();
}

/// HPACK's Huffman decoding of what clients send as literals on every
/// request (nghttp2 never indexes `:path`), and of a browser's
/// user-agent, sent once per connection.
fn huffman(c: &mut Criterion) {
    use oneloop::field_coding as huffman;
    let mut g = c.benchmark_group("huffman");
    for (name, text) in [
        ("path", &b"/hello.txt"[..]),
        (
            "user_agent",
            &b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"[..],
        ),
    ] {
        let mut coded = Vec::new();
        huffman::encode(text, &mut coded);
        let mut out = Vec::with_capacity(256);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                huffman::decode(black_box(&coded), &mut out).map(|()| out.len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, parse, respond, rfc868, queue, huffman);
criterion_main!(benches);
