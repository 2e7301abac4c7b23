//! (tests) Whole connections, plain and TLS, under thousands of seeded socket schedules.
//!
//! Seeded schedules: a connection serves cached, uncached and ranged
//! files while its socket's room for each write (0 to 64 KiB, or EAGAIN)
//! is drawn from a seed, plain and under TLS, over HTTP/1.1 and HTTP/2. What the client receives
//! must be exactly each file's bytes, once, in order, however the writes
//! were cut. A failure names its seed, which replays it.

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use super::{Conn, Next};
use crate::config::Limits;
use crate::date::DateLine;
use crate::fixture::{Pipe, Rng, Rooms, Scratch, World};
use crate::http::files::Files;
use crate::http::site::Site;
use crate::out::{FILE_CALLS_PER_TURN, SENDFILE_MAX};
use crate::stream::Stream;

/// Files above this are sent from disk (`sendfile`, or `pread` and seal
/// under TLS); below, from memory.
const CACHE_FILE_MAX: u64 = 64 * 1024;

/// The site's files: one cached, one sent from disk across several turns.
struct Tree {
    dir: Scratch,
    small: Vec<u8>,
    big: Vec<u8>,
}

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = Scratch::new(name);
        let mut rng = Rng::new(0x5eed);
        let small = rng.bytes(20_000);
        let big = rng.bytes(SENDFILE_MAX * FILE_CALLS_PER_TURN as usize + 150_001);
        std::fs::write(dir.path().join("small.bin"), &small).expect("write");
        std::fs::write(dir.path().join("big.bin"), &big).expect("write");
        Tree { dir, small, big }
    }

    fn site(&self) -> Site {
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut date = DateLine::default();
        date.update(wall);
        let files = Files::new(Some(self.dir.path()), CACHE_FILE_MAX, 1 << 20).expect("files");
        Site::new(files, date, Limits::default())
    }

    /// A request drawn from `rng`, and the body its answer must carry.
    fn request(&self, rng: &mut Rng) -> (String, Vec<u8>) {
        let (path, range, body) = self.pick(rng);
        let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
        let head = format!("GET /{path} HTTP/1.1\r\nHost: a\r\n{range}\r\n");
        (head, body)
    }

    /// A file drawn from `rng`, the `Range` value asked for it if any, and
    /// the body its answer must carry.
    fn pick(&self, rng: &mut Rng) -> (&'static str, Option<String>, Vec<u8>) {
        let len = self.big.len();
        match rng.below(5) {
            0 => ("small.bin", None, self.small.clone()),
            1 | 2 => ("big.bin", None, self.big.clone()),
            3 => {
                // A range in the middle, across step and turn boundaries.
                let a = rng.below(len as u64 / 2) as usize;
                let b = a + rng.below((len - a) as u64) as usize;
                (
                    "big.bin",
                    Some(format!("bytes={a}-{b}")),
                    self.big[a..=b].to_vec(),
                )
            }
            _ => {
                // The tail, up to the whole file.
                let n = 1 + rng.below(len as u64) as usize;
                (
                    "big.bin",
                    Some(format!("bytes=-{n}")),
                    self.big[len - n..].to_vec(),
                )
            }
        }
    }
}

/// The client's end: how requests reach the pipe and answers leave it.
trait Client {
    fn send(&mut self, pipe: &mut Pipe, bytes: &[u8]);
    /// Everything received so far, as plaintext.
    fn received(&mut self, pipe: &mut Pipe) -> Vec<u8>;
    /// Whether the server said it closed, as far as this layer can
    /// (TLS: close_notify arrived).
    fn saw_close(&self) -> bool;
}

/// A plain client: bytes as they are.
struct Plain;

impl Client for Plain {
    fn send(&mut self, pipe: &mut Pipe, bytes: &[u8]) {
        pipe.inbound.extend(bytes);
    }
    fn received(&mut self, pipe: &mut Pipe) -> Vec<u8> {
        pipe.outbound.clone()
    }
    fn saw_close(&self) -> bool {
        true
    }
}

#[cfg(feature = "tls")]
impl Client for crate::fixture::TlsClient {
    fn send(&mut self, pipe: &mut Pipe, bytes: &[u8]) {
        crate::fixture::TlsClient::send(self, bytes);
        self.turn(pipe);
    }
    fn received(&mut self, pipe: &mut Pipe) -> Vec<u8> {
        self.turn(pipe);
        self.plain.clone()
    }
    fn saw_close(&self) -> bool {
        self.closed
    }
}

/// Splits `got` into responses; checks each against its expected body
/// (status 200 or 206, `Content-Length`, bytes). Returns how many are
/// complete.
fn check(got: &[u8], want: &[Vec<u8>], seed: u64) -> usize {
    let mut at = 0;
    for (i, body) in want.iter().enumerate() {
        let Some(end) = got[at..].windows(4).position(|w| w == b"\r\n\r\n") else {
            return i;
        };
        let head = std::str::from_utf8(&got[at..at + end]).expect("an ASCII head");
        assert!(
            head.starts_with("HTTP/1.1 200 ") || head.starts_with("HTTP/1.1 206 "),
            "seed {seed:#x}, response {i}: {head}"
        );
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .expect("a length")
            .parse()
            .expect("a number");
        assert_eq!(length, body.len(), "seed {seed:#x}, response {i}");
        let start = at + end + 4;
        if got.len() < start + length {
            return i;
        }
        assert!(
            got[start..start + length] == body[..],
            "seed {seed:#x}, response {i}: the body's bytes differ"
        );
        at = start + length;
    }
    assert_eq!(
        at,
        got.len(),
        "seed {seed:#x}: bytes after the last response"
    );
    want.len()
}

/// What a schedule starts from: the site's files served to a connection
/// whose pipe takes writes of a room drawn from `seed` (salted, so that
/// the requests drawn from the returned generator differ from the rooms).
fn begin(tree: &Tree, seed: u64, salt: u64, pipe: &mut Pipe) -> (World, Rng) {
    let mut world = World::new(16 * 1024);
    world.site = tree.site();
    let mut rng = Rng::new(seed);
    pipe.rooms = Rooms::Random {
        rng: Rng::new(seed ^ salt),
        max: 64 * 1024,
        block_one_in: 2 + rng.below(4),
    };
    (world, rng)
}

/// One schedule: a connection over a pipe whose rooms come from `seed`,
/// asked one to three requests at a time, twice. Half the time the last
/// says `Connection: close` with bytes behind it, so the connection ends
/// with a lingering close: the last response, (TLS) close_notify, then
/// our FIN, in that order, whatever the socket's room.
fn run<S: Stream>(
    tree: &Tree,
    seed: u64,
    conn: &mut Conn<S>,
    pipe: impl Fn(&mut Conn<S>) -> &mut Pipe,
    client: &mut impl Client,
) {
    let (mut world, mut rng) = begin(tree, seed, 0xa5a5, pipe(conn));
    let mut want = Vec::new();
    let closing = rng.below(2) == 0;
    for round in 0..2 {
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let (head, body) = tree.request(&mut rng);
            batch.write_all(head.as_bytes()).expect("memory");
            want.push(body);
        }
        let last = round == 1 && closing;
        if last {
            // `Connection: close` on the last request, and the start of
            // another that will never be read.
            let end = batch.len() - 2;
            batch.splice(end..end, b"Connection: close\r\n".iter().copied());
            batch.extend_from_slice(b"GET /unread HTTP/1.1\r\n");
        }
        client.send(pipe(conn), &batch);
        let mut readable = true;
        let mut turns = 0;
        loop {
            turns += 1;
            assert!(turns < 100_000, "seed {seed:#x}: no progress");
            let next = conn.on_event(0, readable, false, &mut world.at(0));
            assert_ne!(next, Next::Close, "seed {seed:#x}: closed early");
            let before = pipe(conn).inbound.len();
            let got = client.received(pipe(conn));
            // New bytes from the client (a TLS handshake's) are an edge.
            readable = pipe(conn).inbound.len() > before;
            if check(&got, &want, seed) == want.len()
                && (!last || (pipe(conn).shut && client.saw_close()))
            {
                break;
            }
        }
    }
    assert_eq!(
        world.ops.metrics.responses.iter().sum::<u64>(),
        want.len() as u64
    );
}

/// Schedules per kind of stream: each is a fresh connection.
const SCHEDULES: u64 = 2000;

#[test]
fn plain_files_arrive_exactly_under_thousands_of_socket_schedules() {
    let tree = Tree::new("plain-schedules");
    for seed in 0..SCHEDULES {
        let mut conn = Conn::new(Pipe::new(Rooms::Unlimited));
        run(&tree, seed, &mut conn, |c| c.socket(), &mut Plain);
    }
}

#[cfg(feature = "tls")]
#[test]
fn https_files_arrive_exactly_under_thousands_of_socket_schedules() {
    use crate::fixture::{TlsClient, tls_pair};
    use crate::tls::TlsStream;
    use rustls::version::{TLS12, TLS13};

    let tree = Tree::new("tls-schedules");
    let pairs = [tls_pair(&TLS13), tls_pair(&TLS12)];
    for seed in 0..SCHEDULES {
        let (tls, config) = &pairs[(seed % 2) as usize];
        let mut conn: Conn<TlsStream<Pipe>> =
            Conn::new(tls.accept(Pipe::new(Rooms::Unlimited)).expect("accept"));
        let mut client = TlsClient::new(config);
        run(&tree, seed, &mut conn, |c| c.socket().inner(), &mut client);
    }
}

/// Schedules per kind of stream for HTTP/2 (each is a fresh connection).
const H2_SCHEDULES: u64 = 600;

/// One HTTP/2 schedule: the preface and windows opened wide, then two
/// rounds of one to four requests (streams 1, 3, ...) whose DATA may
/// interleave; each stream's DATA must be exactly its file's bytes, and
/// its HEADERS a 200 or 206. Over TLS a file's frames are read into place
/// between their headers and sealed where they lie; on a plain socket they
/// leave by `sendfile` between headers: either way, cut by the socket at
/// every point the seed chooses.
fn run_h2<S: Stream>(
    tree: &Tree,
    seed: u64,
    conn: &mut Conn<S>,
    pipe: impl Fn(&mut Conn<S>) -> &mut Pipe,
    client: &mut impl Client,
) {
    use crate::http2::frame::{self, Frame, MAX_WINDOW, PREFACE, Parsed, flag, kind, setting};
    use crate::http2::hpack::{Decoder, Encoder, Indexing};
    use std::collections::BTreeMap;

    let (mut world, mut rng) = begin(tree, seed, 0x5a5a, pipe(conn));
    let mut first = PREFACE.to_vec();
    frame::write_settings(&mut first, &[(setting::INITIAL_WINDOW_SIZE, MAX_WINDOW)]);
    frame::write_window_update(&mut first, 0, MAX_WINDOW - 65_535);
    client.send(pipe(conn), &first);
    let (mut encoder, mut decoder) = (Encoder::new(4096), Decoder::new(4096));
    let mut want: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut got: BTreeMap<u32, (Vec<u8>, bool)> = BTreeMap::new();
    let (mut next_id, mut at) = (1u32, 0usize);
    for _round in 0..2 {
        let mut batch = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let (path, range, body) = tree.pick(&mut rng);
            let path = format!("/{path}");
            let mut block = Vec::new();
            encoder.begin(&mut block);
            let mut fields = vec![
                (":method", "GET"),
                (":scheme", "https"),
                (":authority", "a"),
                (":path", path.as_str()),
            ];
            if let Some(range) = &range {
                fields.push(("range", range));
            }
            for (n, v) in fields {
                encoder.field(
                    &mut block,
                    n.as_bytes(),
                    v.as_bytes(),
                    Indexing::Incremental,
                );
            }
            frame::write_header(
                &mut batch,
                block.len(),
                kind::HEADERS,
                flag::END_HEADERS | flag::END_STREAM,
                next_id,
            );
            batch.extend_from_slice(&block);
            want.insert(next_id, body);
            next_id += 2;
        }
        client.send(pipe(conn), &batch);
        let mut readable = true;
        let mut turns = 0;
        loop {
            turns += 1;
            assert!(turns < 100_000, "seed {seed:#x}: no progress");
            let next = conn.on_event(0, readable, false, &mut world.at(0));
            assert_ne!(next, Next::Close, "seed {seed:#x}: closed early");
            let before = pipe(conn).inbound.len();
            let bytes = client.received(pipe(conn));
            readable = pipe(conn).inbound.len() > before;
            while let Ok(Parsed::Frame(f, n)) = frame::parse(&bytes[at..], 1 << 24) {
                at += n;
                match f {
                    Frame::Headers { stream, block, .. } => {
                        let mut status = Vec::new();
                        decoder
                            .decode(block, 1 << 16, |n, v| {
                                if n == b":status" {
                                    status = v.to_vec();
                                }
                            })
                            .expect("the server's block decodes");
                        assert!(
                            status == b"200" || status == b"206",
                            "seed {seed:#x}: stream {stream}: status {status:?}"
                        );
                        got.entry(stream).or_default();
                    }
                    Frame::Data {
                        stream,
                        data,
                        end_stream,
                        ..
                    } => {
                        let (body, done) = got.entry(stream).or_default();
                        assert!(!*done, "seed {seed:#x}: DATA after END_STREAM");
                        body.extend_from_slice(data);
                        *done = end_stream;
                    }
                    Frame::Settings { .. } | Frame::WindowUpdate { .. } => {}
                    other => panic!("seed {seed:#x}: unexpected {other:?}"),
                }
            }
            if want.keys().all(|id| got.get(id).is_some_and(|g| g.1)) {
                break;
            }
        }
    }
    for (id, body) in &want {
        assert!(
            got[id].0 == *body,
            "seed {seed:#x}: stream {id}: {} bytes, {} wanted, or different",
            got[id].0.len(),
            body.len()
        );
    }
    assert_eq!(
        world.ops.metrics.responses.iter().sum::<u64>(),
        want.len() as u64
    );
}

#[test]
fn http2_files_arrive_exactly_under_socket_schedules() {
    let tree = Tree::new("h2c-schedules");
    for seed in 0..H2_SCHEDULES {
        let mut conn = Conn::new(Pipe::new(Rooms::Unlimited));
        run_h2(&tree, seed, &mut conn, |c| c.socket(), &mut Plain);
    }
}

#[cfg(feature = "tls")]
#[test]
fn http2_over_tls_files_arrive_exactly_under_socket_schedules() {
    use crate::fixture::{TlsClient, tls_pair_offering};
    use crate::tls::TlsStream;
    use rustls::version::{TLS12, TLS13};

    let tree = Tree::new("h2-schedules");
    let pairs = [
        tls_pair_offering(&TLS13, b"h2"),
        tls_pair_offering(&TLS12, b"h2"),
    ];
    for seed in 0..H2_SCHEDULES {
        let (tls, config) = &pairs[(seed % 2) as usize];
        let mut conn: Conn<TlsStream<Pipe>> =
            Conn::new(tls.accept(Pipe::new(Rooms::Unlimited)).expect("accept"));
        let mut client = TlsClient::new(config);
        run_h2(&tree, seed, &mut conn, |c| c.socket().inner(), &mut client);
        assert_eq!(
            client.conn.alpn_protocol(),
            Some(&b"h2"[..]),
            "seed {seed:#x}"
        );
    }
}
