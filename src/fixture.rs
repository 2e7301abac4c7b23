//! (tests) A socket whose room follows a script or a seed, a TLS client, a pinned World.
//!
//! Test fixtures that several modules' tests stand on (compiled for tests
//! only): a socket whose room for each write follows a script or a seeded
//! schedule, the generator behind the schedule, a scratch directory, and
//! (with TLS) a real TLS client to read what a server stream sends.
//!
//! Why a schedule: a data path is right only if it is right however the
//! kernel splits its writes. A socket on loopback almost always takes
//! everything; a phone on a poor link takes a few KiB at a time and says
//! EAGAIN in between. [`Pipe`] lets a test say exactly where each write is
//! cut, and [`Rng`] lets it try thousands of cuttings, each reproducible
//! from its seed.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::stream::Stream;

/// splitmix64: small, seeded, and the same sequence on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Pseudo-random bytes, so a misplaced or repeated range shows.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// How much room the socket has for each write.
#[derive(Debug, Clone)]
pub enum Rooms {
    /// As much as is offered.
    Unlimited,
    /// The scripted rooms in order (0 is EAGAIN), then as much as offered.
    Script(VecDeque<usize>),
    /// Drawn from the generator: EAGAIN one write in `block_one_in`, else
    /// 1 to `max` bytes, often a small number.
    Random {
        rng: Rng,
        max: usize,
        block_one_in: u64,
    },
}

impl Rooms {
    /// Rooms for the writes after this one, cut at `cuts` (0 is EAGAIN).
    pub fn script(cuts: &[usize]) -> Rooms {
        Rooms::Script(cuts.iter().copied().collect())
    }

    fn next(&mut self) -> usize {
        match self {
            Rooms::Unlimited => usize::MAX,
            Rooms::Script(rooms) => rooms.pop_front().unwrap_or(usize::MAX),
            Rooms::Random {
                rng,
                max,
                block_one_in,
            } => {
                if rng.below(*block_one_in) == 0 {
                    return 0;
                }
                // Half the draws are small (under 4 KiB, a slow reader's
                // window), half anywhere up to `max`.
                let limit = if rng.below(2) == 0 {
                    4096.min(*max)
                } else {
                    *max
                };
                1 + rng.below(limit as u64) as usize
            }
        }
    }
}

/// A socket standing in for a real one: `read` takes from `inbound` (what
/// the peer sent), writes append to `outbound` as far as the room allows.
#[derive(Debug)]
pub struct Pipe {
    /// Bytes the peer has sent and the server has not read.
    pub inbound: VecDeque<u8>,
    /// The peer closed its side: reads return 0 once `inbound` is empty.
    pub peer_closed: bool,
    /// Everything the server wrote, in order.
    pub outbound: Vec<u8>,
    /// The room for each write.
    pub rooms: Rooms,
    /// Write calls made (each `write_vectored` or `send_file`).
    pub writes: usize,
    /// The server shut its write side.
    pub shut: bool,
}

impl Pipe {
    pub fn new(rooms: Rooms) -> Pipe {
        Pipe {
            inbound: VecDeque::new(),
            peer_closed: false,
            outbound: Vec::new(),
            rooms,
            writes: 0,
            shut: false,
        }
    }

    /// The room for the next write, or EAGAIN; a write after our own FIN
    /// is a bug in the caller, and fails as it would on a socket.
    fn room(&mut self) -> io::Result<usize> {
        self.writes += 1;
        if self.shut {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        match self.rooms.next() {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            room => Ok(room),
        }
    }
}

impl Stream for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbound.is_empty() {
            return match self.peer_closed {
                true => Ok(0),
                false => Err(io::ErrorKind::WouldBlock.into()),
            };
        }
        let n = buf.len().min(self.inbound.len());
        for (b, byte) in buf.iter_mut().zip(self.inbound.drain(..n)) {
            *b = byte;
        }
        Ok(n)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut room = self.room()?;
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(room);
            self.outbound.extend_from_slice(&b[..take]);
            room -= take;
            n += take;
        }
        Ok(n)
    }

    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        let room = self.room()?;
        let mut buf = vec![0; count.min(room)];
        let n = file.read_at(&mut buf, offset)?;
        self.outbound.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shut = true;
        Ok(())
    }
}

/// A directory under the system's temporary one, removed when dropped.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A fresh directory named for the test (and the process, and a
    /// counter: tests run in parallel threads).
    pub fn new(name: &str) -> Scratch {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("oneloop-unit-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(feature = "tls")]
pub use tls::{TlsClient, tls_pair, tls_pair_offering};

#[cfg(feature = "tls")]
mod tls {
    use std::io::{Read, Write};
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore};

    use super::{Pipe, Scratch};
    use crate::config::CertPair;
    use crate::tls::Tls;

    /// The server's TLS state for a fresh self-signed `localhost`
    /// certificate, and a client configuration that trusts it and speaks
    /// only `version` (TLS 1.2 and 1.3 frame records differently).
    pub fn tls_pair(
        version: &'static rustls::SupportedProtocolVersion,
    ) -> (Tls, Arc<ClientConfig>) {
        tls_pair_offering(version, b"http/1.1")
    }

    /// [`tls_pair`] whose client offers `alpn` alone (`h2`: the server,
    /// which then offers HTTP/2 too, takes it).
    pub fn tls_pair_offering(
        version: &'static rustls::SupportedProtocolVersion,
        alpn: &[u8],
    ) -> (Tls, Arc<ClientConfig>) {
        let dir = Scratch::new("tls");
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("a certificate");
        let pair = CertPair {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        std::fs::write(&pair.cert, cert.pem()).expect("write cert");
        std::fs::write(&pair.key, key.serialize_pem()).expect("write key");
        let http2 = alpn == b"h2";
        let server = Tls::new(&[pair], http2, Default::default()).expect("the server's TLS");
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(cert.der().to_vec()))
            .expect("a root");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.alpn_protocols = vec![alpn.to_vec()];
        (server, Arc::new(client))
    }

    /// A rustls client at the far end of a [`Pipe`]: it writes into the
    /// pipe's `inbound` and reads the server's records from `outbound`.
    pub struct TlsClient {
        pub conn: ClientConnection,
        /// Plaintext received, in order.
        pub plain: Vec<u8>,
        /// The server's close_notify arrived.
        pub closed: bool,
        /// Ciphertext of the server's taken so far (an offset into
        /// `outbound`).
        seen: usize,
    }

    impl TlsClient {
        pub fn new(config: &Arc<ClientConfig>) -> TlsClient {
            let name = ServerName::try_from("localhost").expect("a name");
            TlsClient {
                conn: ClientConnection::new(config.clone(), name).expect("a client"),
                plain: Vec::new(),
                closed: false,
                seen: 0,
            }
        }

        /// Queues `bytes` of plaintext to send.
        pub fn send(&mut self, bytes: &[u8]) {
            self.conn.writer().write_all(bytes).expect("client write");
        }

        /// One turn of the client: reads every record the server has
        /// written since the last turn, keeps their plaintext, and puts
        /// what it has to send into the pipe. A record the client cannot
        /// open is a failed test.
        pub fn turn(&mut self, pipe: &mut Pipe) {
            while self.seen < pipe.outbound.len() {
                let mut rest = &pipe.outbound[self.seen..];
                let n = self.conn.read_tls(&mut rest).expect("client read_tls");
                self.seen += n;
                if let Err(e) = self.conn.process_new_packets() {
                    panic!("the client cannot open the server's records: {e}");
                }
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match self.conn.reader().read(&mut buf) {
                        Ok(0) => {
                            self.closed = true;
                            break;
                        }
                        Ok(n) => self.plain.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("client read: {e}"),
                    }
                }
            }
            let mut out = Vec::new();
            while self.conn.wants_write() {
                self.conn.write_tls(&mut out).expect("client write_tls");
            }
            pipe.inbound.extend(out);
        }
    }
}

/// The embedded site with its clock pinned to 2001-09-09 01:46:40 UTC, for
/// the sessions' tests (HTTP/1.x and HTTP/2 alike).
pub fn site() -> crate::http::site::Site {
    let now = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let mut date = crate::date::DateLine::default();
    date.update(now);
    let files = crate::http::files::Files::new(None, 1 << 20, 1 << 20).expect("embedded site");
    crate::http::site::Site::new(files, date, crate::config::Limits::default())
}

/// What the loop lends a connection, with the clocks pinned: the
/// monotonic one at `t0`, the wall clock at 2001-09-09 01:46:40 UTC (the
/// embedded site of [`site`]).
pub struct World {
    pub buf: Vec<u8>,
    pub site: crate::http::site::Site,
    pub ops: crate::ops::Ops,
    pub pool: crate::conn::WorkPool,
    pub t0: std::time::Instant,
}

impl World {
    /// A world whose read buffer holds `buf` bytes.
    pub fn new(buf: usize) -> World {
        World {
            buf: vec![0; buf],
            site: site(),
            ops: crate::ops::Ops::default(),
            pool: crate::conn::WorkPool::default(),
            t0: std::time::Instant::now(),
        }
    }

    /// The loan at `ms` milliseconds after `t0`.
    pub fn at(&mut self, ms: u64) -> crate::conn::ConnLoan<'_> {
        crate::conn::ConnLoan {
            buf: &mut self.buf,
            site: &mut self.site,
            ops: &mut self.ops,
            pool: &mut self.pool,
            now: self.t0 + std::time::Duration::from_millis(ms),
            timeouts: crate::config::Timeouts::default(),
        }
    }

    /// `ms` milliseconds after `t0`, and `plus`.
    pub fn time(&self, ms: u64, plus: std::time::Duration) -> std::time::Instant {
        self.t0 + std::time::Duration::from_millis(ms) + plus
    }
}
