//! Downloads by slow and fast readers, HTTP and HTTPS, every body checked by hash.
//!
//! Downloads as people's clients make them, over loopback: slow readers
//! (a 4 KiB receive buffer and a pause between reads, a phone on a poor
//! link) and fast ones, over HTTP and HTTPS, files below and above the
//! cache, files of several MiB, ranges in the middle and at the tail. Each
//! body is checked by length and by hash, and every connection is asked
//! one more request afterwards, which must come back right too.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{PATIENCE, TempDir, start};
use oneloop::Config;
use socket2::{Domain, Protocol, Socket, Type};

/// Files above this are sent from disk, not memory.
const CACHE_FILE_MAX: u64 = 64 * 1024;

/// FNV-1a, 64 bits: a digest to compare and to print.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Pseudo-random bytes, different for each seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The site: one cached file and two sent from disk.
struct Site {
    dir: TempDir,
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Site {
    fn new(name: &str) -> Site {
        let dir = TempDir::new(name);
        let files = vec![
            ("small.bin", noise(20_000, 1)),
            ("mid.bin", noise(3_000_000, 2)),
            ("big.bin", noise(9_000_017, 3)),
        ];
        for (name, bytes) in &files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        Site { dir, files }
    }

    fn bytes(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

/// How the client reads.
#[derive(Debug, Clone, Copy)]
enum Reader {
    /// A 4 KiB receive buffer, 4 KiB reads, a pause after each.
    Slow,
    /// The system's buffers, 256 KiB reads.
    Fast,
}

/// A TCP connection to `addr` as `reader` reads.
fn tcp(addr: SocketAddr, reader: Reader) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if let Reader::Slow = reader {
        // Before connect, so the window the server sees is small from the
        // first segment.
        socket.set_recv_buffer_size(4096).unwrap();
    }
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Reads one response to a request for `want` (status 200, or 206 with
/// a range) from `conn`, as `reader` reads; checks its length and hash.
fn read_response(conn: &mut impl Read, reader: Reader, want: &[u8], ranged: bool, what: &str) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = conn
            .read(&mut byte)
            .unwrap_or_else(|e| panic!("{what}: head: {e}"));
        assert!(
            n == 1,
            "{what}: closed in the head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = if ranged {
        "HTTP/1.1 206 "
    } else {
        "HTTP/1.1 200 "
    };
    assert!(head.starts_with(status), "{what}: {head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap_or_else(|| panic!("{what}: no length: {head}"))
        .parse()
        .unwrap();
    assert_eq!(length, want.len(), "{what}: Content-Length");
    let step = match reader {
        Reader::Slow => 4096,
        Reader::Fast => 256 * 1024,
    };
    let mut body = Vec::with_capacity(length);
    let mut buf = vec![0u8; step];
    while body.len() < length {
        let room = step.min(length - body.len());
        match conn.read(&mut buf[..room]) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) => panic!("{what}: body after {} bytes: {e}", body.len()),
        }
        if let Reader::Slow = reader {
            std::thread::sleep(Duration::from_micros(300));
        }
    }
    assert_eq!(body.len(), want.len(), "{what}: body length");
    assert_eq!(
        hash(&body),
        hash(want),
        "{what}: body hash ({} bytes)",
        body.len()
    );
}

/// The downloads every kind of client makes: (path, range, first byte,
/// one past the last).
fn downloads(site: &Site, reader: Reader) -> Vec<(&'static str, Option<String>, usize, usize)> {
    let big = site.bytes("big.bin").len();
    let mut list = vec![
        ("small.bin", None, 0, 20_000),
        ("mid.bin", None, 0, 3_000_000),
        (
            "big.bin",
            Some("bytes=4000000-4999999".into()),
            4_000_000,
            5_000_000,
        ),
        ("big.bin", Some("bytes=-123457".into()), big - 123_457, big),
    ];
    if let Reader::Fast = reader {
        list.push(("big.bin", None, 0, big));
    }
    list
}

/// Each download on a fresh connection, then a second request on it.
fn run(site: &Site, reader: Reader, label: &str, open: &dyn Fn() -> Box<dyn ReadWrite>) {
    for (path, range, start, end) in downloads(site, reader) {
        let what = format!("{label} {reader:?} {path} {range:?}");
        let mut conn = open();
        let range_line = range
            .as_ref()
            .map(|r| format!("Range: {r}\r\n"))
            .unwrap_or_default();
        write!(conn, "GET /{path} HTTP/1.1\r\nHost: a\r\n{range_line}\r\n").unwrap();
        conn.flush().unwrap();
        read_response(
            &mut conn,
            reader,
            &site.bytes(path)[start..end],
            range.is_some(),
            &what,
        );
        // The connection is still good for another request.
        write!(conn, "GET /small.bin HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        conn.flush().unwrap();
        let what = format!("{what}, then small.bin");
        read_response(&mut conn, reader, site.bytes("small.bin"), false, &what);
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn config(site: &Site) -> Config {
    Config {
        root: Some(site.dir.path().to_path_buf()),
        cache_file_max: CACHE_FILE_MAX,
        ..Config::ephemeral()
    }
}

#[test]
fn http_downloads_arrive_whole_to_slow_and_fast_readers() {
    let site = Site::new("downloads-http");
    let server = start(config(&site));
    let addr = server.http[0];
    std::thread::scope(|s| {
        for reader in [Reader::Slow, Reader::Fast] {
            let site = &site;
            s.spawn(move || {
                run(site, reader, "http", &|| Box::new(tcp(addr, reader)));
            });
        }
    });
}

#[cfg(feature = "tls")]
#[test]
fn https_downloads_arrive_whole_to_slow_and_fast_readers() {
    use std::sync::Arc;

    use oneloop::config::CertPair;
    use rustls::pki_types::{CertificateDer, ServerName};

    let site = Site::new("downloads-https");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let pair = CertPair {
        cert: site.dir.path().join("cert.pem"),
        key: site.dir.path().join("key.pem"),
    };
    std::fs::write(&pair.cert, cert.pem()).unwrap();
    std::fs::write(&pair.key, key.serialize_pem()).unwrap();
    let server = start(Config {
        https: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec![pair],
        ..config(&site)
    });
    let addr = server.https[0];
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.der().to_vec()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: [&[&rustls::SupportedProtocolVersion]; 2] =
        [&[&rustls::version::TLS13], &[&rustls::version::TLS12]];
    std::thread::scope(|s| {
        for (reader, versions) in [Reader::Slow, Reader::Fast]
            .into_iter()
            .flat_map(|r| versions.map(|v| (r, v)))
        {
            let config = Arc::new(
                rustls::ClientConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(versions)
                    .unwrap()
                    .with_root_certificates(roots.clone())
                    .with_no_client_auth(),
            );
            let site = &site;
            s.spawn(move || {
                let label = format!("https {:?}", versions[0].version);
                let open = || -> Box<dyn ReadWrite> {
                    let name = ServerName::try_from("localhost").unwrap();
                    let tls = rustls::ClientConnection::new(config.clone(), name).unwrap();
                    Box::new(rustls::StreamOwned::new(tls, tcp(addr, reader)))
                };
                run(site, reader, &label, &open);
            });
        }
    });
}
