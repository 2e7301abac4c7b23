//! The hot path allocates nothing, counted by a global allocator.
//!
//! The hot path allocates nothing: keep-alive and pipelined requests for a
//! cached file are served without a single heap allocation, proven by a
//! counting allocator that counts what the server's thread allocates.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the server's thread only: the test harness and the client
    /// allocate as they please.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Sizes of the first allocations counted, to say what they were.
static SIZES: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

static RECORDED: AtomicU64 = AtomicU64::new(0);
static MEASURING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn count(size: usize) {
    if COUNTED.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        if MEASURING.load(Ordering::Relaxed) {
            let n = RECORDED.fetch_add(1, Ordering::Relaxed) as usize;
            if let Some(slot) = SIZES.get(n) {
                slot.store(size as u64, Ordering::Relaxed);
            }
        }
    }
}

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ONE: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n";
/// Each response to ONE is this long; the Date line has a fixed width.
fn response_len(server: std::net::SocketAddr) -> usize {
    common::get(server, std::str::from_utf8(ONE).unwrap());
    let mut s = common::connect(server);
    s.write_all(ONE).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].ends_with(b"Hello\n"));
    n
}

/// Reads exactly `len` bytes into `buf` without allocating.
fn read_exactly(s: &mut std::net::TcpStream, buf: &mut [u8], len: usize) {
    s.read_exact(&mut buf[..len]).unwrap();
}

#[test]
fn serving_cached_files_allocates_nothing_per_request() {
    // The server runs on a thread of ours, marked for counting.
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        COUNTED.with(|c| c.set(true));
        let server = oneloop::Server::bind(oneloop::Config::ephemeral()).expect("bind");
        tx.send((server.http_addrs()[0], server.handle()))
            .expect("send");
        server.run()
    });
    let (addr, handle) = rx.recv().expect("server started");
    let len = response_len(addr);
    let mut pipelined = Vec::new();
    for _ in 0..16 {
        pipelined.extend_from_slice(ONE);
    }
    let mut s = common::connect(addr);
    let mut buf = vec![0u8; len * 16];
    // Warm up this connection: the first batch may grow the lent queue, and
    // a request split across two reads gives the connection's state room
    // for a partial head (under load, batches split at any byte).
    s.write_all(&pipelined).unwrap();
    read_exactly(&mut s, &mut buf, len * 16);
    s.write_all(&ONE[..10]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    s.write_all(&ONE[10..]).unwrap();
    read_exactly(&mut s, &mut buf, len);

    let started = Instant::now();
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    MEASURING.store(true, Ordering::SeqCst);
    let mut requests = 0;
    for _ in 0..500 {
        s.write_all(ONE).unwrap();
        read_exactly(&mut s, &mut buf, len);
        requests += 1;
    }
    for _ in 0..100 {
        s.write_all(&pipelined).unwrap();
        read_exactly(&mut s, &mut buf, len * 16);
        requests += 16;
    }
    let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
    // The Date line and the file's whole head are rendered anew each
    // second: two allocations per second are expected (two or three seconds
    // may be touched), none per request.
    let seconds = started.elapsed().as_secs() + 2;
    assert!(
        allocations <= 2 * seconds,
        "{allocations} allocations for {requests} requests in {seconds} s; sizes {:?}",
        SIZES[..(allocations as usize).min(16)]
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect::<Vec<_>>()
    );
    eprintln!("{allocations} allocations for {requests} requests");
    drop(s);
    handle.shutdown();
    thread.join().expect("server thread").expect("server ran");
}
