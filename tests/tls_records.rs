//! Hostile TLS 1.3 records over real sockets: crafted with the client's keys, merged with the next request.
//!
//! After the server takes the keys from rustls it seals and opens TLS 1.3
//! records itself; these tests hold it to rustls's record layer from
//! outside. A rustls client shakes hands over a real socket, then hands
//! over its keys (as the server does), and the test seals records as an
//! attacker would shape them: empty, over-padded, of no TLS version,
//! alerts of every level, KeyUpdates split across records, thousands of
//! records that carry nothing. Each bad record goes in the same write as
//! a valid request where that request must still be answered (or must not
//! be, after close_notify), and the server's own records are opened to
//! see which alert it sent, and that close_notify precedes its FIN.
#![cfg(feature = "tls")]

mod common;
#[path = "../fuzz/harness/records.rs"]
mod records_harness;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PATIENCE, TempDir, certificate, connect, get, get_req, start};
use oneloop::Config;
use oneloop::config::Timeouts;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use rustls::crypto::ring::cipher_suite;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ConnectionTrafficSecrets, KeyLog, RootCertStore};

const APPLICATION_DATA: u8 = 23;
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
const KEY_UPDATE: u8 = 24;
const CLOSE_NOTIFY: u8 = 0;
const DECODE_ERROR: u8 = 50;
const RECORD_OVERFLOW: u8 = 22;
const ILLEGAL_PARAMETER: u8 = 47;
const USER_CANCELED: u8 = 90;

/// A server with HTTPS on an ephemeral port, and what a client needs to
/// trust it.
struct Site {
    _dir: TempDir,
    server: oneloop::Running,
    roots: RootCertStore,
    version: &'static rustls::SupportedProtocolVersion,
}

/// The traffic secrets a client logs (as SSLKEYLOGFILE would have them).
#[derive(Debug, Default)]
struct Secrets(Mutex<Vec<(String, Vec<u8>)>>);

impl KeyLog for Secrets {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        let mut logged = self.0.lock().unwrap();
        logged.push((label.to_string(), secret.to_vec()));
    }
    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

impl Secrets {
    fn get(&self, label: &str) -> Vec<u8> {
        let logged = self.0.lock().unwrap();
        let found = logged.iter().find(|(l, _)| l == label);
        found.expect("a logged secret").1.clone()
    }
}

impl Site {
    fn new(
        name: &str,
        timeouts: Timeouts,
        version: &'static rustls::SupportedProtocolVersion,
    ) -> Site {
        let dir = TempDir::new(name);
        let pair = certificate(dir.path(), "localhost", &["localhost"]);
        let cert = CertificateDer::from_pem_file(&pair.cert).unwrap();
        let server = start(Config {
            https: vec!["127.0.0.1:0".parse().unwrap()],
            tls: vec![pair],
            timeouts,
            ..Config::ephemeral()
        });
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        Site {
            _dir: dir,
            server,
            roots,
            version,
        }
    }

    fn tls13(name: &str) -> Site {
        Site::new(name, Timeouts::default(), &rustls::version::TLS13)
    }

    fn addr(&self) -> SocketAddr {
        self.server.https[0]
    }

    /// A rustls client over a fresh socket, its handshake not begun.
    fn client(&self) -> (ClientConnection, TcpStream) {
        let (conn, sock, _) = self.logged_client();
        (conn, sock)
    }

    /// A client (AES-128-GCM with SHA-256, whose key schedule the test
    /// follows) that logs its secrets and may hand over its keys.
    fn logged_client(&self) -> (ClientConnection, TcpStream, Arc<Secrets>) {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = vec![
            cipher_suite::TLS13_AES_128_GCM_SHA256,
            cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ];
        let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(&[self.version])
            .unwrap()
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.enable_secret_extraction = true;
        let secrets = Arc::new(Secrets::default());
        config.key_log = secrets.clone();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        (conn, connect(self.addr()), secrets)
    }
}

/// Turns a rustls client until its side of the handshake is done; its
/// Finished is left unsent, for the caller to send with what follows.
fn handshake(conn: &mut ClientConnection, sock: &mut TcpStream) {
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(sock).unwrap();
        }
        if !conn.is_handshaking() {
            break;
        }
        conn.read_tls(sock).unwrap();
        conn.process_new_packets().unwrap();
    }
}

/// One direction's key as the test holds it, and the traffic secret it
/// came from (RFC 8446 §7.2: the next one is derived from it).
struct Key {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    secret: Vec<u8>,
}

/// HKDF-Expand-Label (RFC 8446 §7.1), SHA-256, no context.
fn expand_label(secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let full = format!("tls13 {label}");
    let info = [
        &(len as u16).to_be_bytes()[..],
        &[full.len() as u8],
        full.as_bytes(),
        &[0],
    ];
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let mut out = vec![0; len];
    prk.expand(&info, Len(len)).unwrap().fill(&mut out).unwrap();
    out
}

impl Key {
    /// The key rustls handed over, checked against the one derived from
    /// the logged secret.
    fn new((seq, secrets): (u64, ConnectionTrafficSecrets), secret: Vec<u8>) -> Key {
        let ConnectionTrafficSecrets::Aes128Gcm { key, iv } = &secrets else {
            panic!("AES-128-GCM");
        };
        let derived = Key::from_secret(secret, seq);
        assert_eq!(
            derived.iv[..],
            *iv.as_ref(),
            "the logged secret is the key's"
        );
        let _ = key;
        derived
    }

    fn from_secret(secret: Vec<u8>, seq: u64) -> Key {
        let key = expand_label(&secret, "key", 16);
        Key {
            key: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).unwrap()),
            iv: expand_label(&secret, "iv", 12).try_into().unwrap(),
            seq,
            secret,
        }
    }

    /// The key after a KeyUpdate.
    fn next(&self) -> Key {
        Key::from_secret(expand_label(&self.secret, "traffic upd", 32), 0)
    }

    fn nonce(&mut self) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(nonce)
    }
}

/// What the server sent, opened.
#[derive(Debug, Default)]
struct Heard {
    plain: Vec<u8>,
    /// The alerts it sent, by description, in order.
    alerts: Vec<u8>,
    /// Its FIN arrived.
    fin: bool,
}

/// A client with its keys in hand: it seals any record it likes.
struct Raw {
    sock: TcpStream,
    tx: Key,
    rx: Key,
    /// The server's bytes not yet a whole record.
    pending: Vec<u8>,
}

impl Raw {
    /// A TLS 1.3 connection whose handshake is done, the client's Finished
    /// sent, and the keys in the test's hands.
    fn connect(site: &Site) -> Raw {
        let (mut conn, mut sock, logged) = site.logged_client();
        handshake(&mut conn, &mut sock);
        while conn.wants_write() {
            conn.write_tls(&mut sock).unwrap();
        }
        #[allow(deprecated)] // no KeyUpdate is left to rustls: the test follows them
        let secrets = conn.dangerous_extract_secrets().unwrap();
        Raw {
            sock,
            tx: Key::new(secrets.tx, logged.get("CLIENT_TRAFFIC_SECRET_0")),
            rx: Key::new(secrets.rx, logged.get("SERVER_TRAFFIC_SECRET_0")),
            pending: Vec::new(),
        }
    }

    /// A record of `content` holding `plain`, then `pad` zero bytes.
    fn record(&mut self, content: u8, plain: &[u8], pad: usize) -> Vec<u8> {
        let mut inner = plain.to_vec();
        inner.push(content);
        inner.resize(inner.len() + pad, 0);
        let len = (inner.len() + 16) as u16;
        let mut out = vec![APPLICATION_DATA, 3, 3];
        out.extend(len.to_be_bytes());
        let aad = Aad::from([APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8]);
        let nonce = self.tx.nonce();
        self.tx
            .key
            .seal_in_place_append_tag(nonce, aad, &mut inner)
            .unwrap();
        out.extend(inner);
        out
    }

    /// Application data.
    fn data(&mut self, plain: &[u8]) -> Vec<u8> {
        self.record(APPLICATION_DATA, plain, 0)
    }

    /// A KeyUpdate record (the write key moves on after it).
    fn key_update(&mut self, requested: bool) -> Vec<u8> {
        let record = self.record(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, requested as u8], 0);
        self.next_write_key();
        record
    }

    fn next_write_key(&mut self) {
        self.tx = self.tx.next();
    }

    fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).unwrap();
    }

    /// Reads and opens the server's records until `enough` says so or the
    /// server closes (or the patience runs out, which fails).
    fn hear_until(&mut self, enough: impl Fn(&Heard) -> bool) -> Heard {
        let mut heard = Heard::default();
        let mut buf = [0u8; 65536];
        while !enough(&heard) {
            while self.open_one(&mut heard) {}
            if enough(&heard) || heard.fin {
                break;
            }
            match self.sock.read(&mut buf) {
                Ok(0) => heard.fin = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => heard.fin = true,
                Err(e) => panic!("read: {e} after {heard:?}"),
            }
        }
        heard
    }

    /// Everything until the server's FIN.
    fn hear_all(&mut self) -> Heard {
        self.hear_until(|_| false)
    }

    /// Opens one whole record of the server's, if there is one.
    fn open_one(&mut self, heard: &mut Heard) -> bool {
        let Some(&[_, _, _, high, low]) = self.pending.first_chunk::<5>() else {
            return false;
        };
        let len = usize::from(u16::from_be_bytes([high, low]));
        if self.pending.len() < 5 + len {
            return false;
        }
        let header: [u8; 5] = self.pending[..5].try_into().unwrap();
        let mut body = self.pending[5..5 + len].to_vec();
        self.pending.drain(..5 + len);
        let nonce = self.rx.nonce();
        let inner = self
            .rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut body)
            .expect("the server's records open");
        let end = inner.iter().rposition(|&b| b != 0).expect("a type");
        match inner[end] {
            APPLICATION_DATA => heard.plain.extend_from_slice(&inner[..end]),
            ALERT => heard.alerts.push(inner[1]),
            HANDSHAKE if inner[0] == KEY_UPDATE => {
                self.rx = self.rx.next();
            }
            HANDSHAKE => {} // a session ticket
            other => panic!("a record of type {other}"),
        }
        true
    }
}

/// Whether `heard` holds `n` whole responses.
fn responses(heard: &Heard) -> usize {
    String::from_utf8_lossy(&heard.plain)
        .matches("HTTP/1.1 200 OK")
        .count()
}

fn request() -> Vec<u8> {
    get_req("/hello.txt").into_bytes()
}

#[test]
fn a_key_update_asked_for_with_the_clients_finished_is_answered() {
    let site = Site::tls13("tls-first-flight");
    for requested in [true, false] {
        // rustls's client writes its Finished, its KeyUpdate and the GET
        // in one write: the server must answer under a key the client
        // was told of.
        let (mut conn, mut sock) = site.client();
        handshake(&mut conn, &mut sock);
        if requested {
            conn.refresh_traffic_keys().unwrap();
        }
        conn.writer().write_all(&request()).unwrap();
        let mut flight = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut flight).unwrap();
        }
        sock.write_all(&flight).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains("Hello") {
            conn.read_tls(&mut sock).expect("read");
            conn.process_new_packets().expect("the answer opens");
            let n = match conn.reader().read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
                Err(e) => panic!("{e}"),
            };
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 OK"), "requested {requested}");
    }
}

#[test]
fn records_that_carry_nothing_end_the_connection_as_rustls_would() {
    let site = Site::tls13("tls-empty");
    // Thirty-two empty records then a request: answered.
    let mut raw = Raw::connect(&site);
    let mut write = Vec::new();
    for _ in 0..32 {
        write.extend(raw.data(b""));
    }
    write.extend(raw.data(&request()));
    raw.send(&write);
    assert_eq!(responses(&raw.hear_until(|h| responses(h) == 1)), 1);

    // Ten thousand empty records, then a request, in one write: the
    // connection ends at the 33rd, the request unanswered; the server
    // serves others all the while.
    let mut raw = Raw::connect(&site);
    let mut write = Vec::new();
    for _ in 0..10_000 {
        write.extend(raw.data(b""));
    }
    write.extend(raw.data(&request()));
    let mut sock = raw.sock.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let _ = sock.write_all(&write);
    });
    let heard = raw.hear_all();
    assert_eq!(responses(&heard), 0);
    assert!(heard.fin);
    sender.join().unwrap();
    let plain = get(site.server.http[0], &get_req("/hello.txt"));
    assert_eq!(plain.status, 200);

    // Warnings: four user_canceled pass, the fifth ends it; KeyUpdates:
    // 32 without data between pass, the 33rd ends it.
    for (kind, allowed) in [("warning", 4), ("key update", 32)] {
        for sent in [allowed, allowed + 1] {
            let mut raw = Raw::connect(&site);
            let mut write = Vec::new();
            for _ in 0..sent {
                let record = match kind {
                    "warning" => raw.record(ALERT, &[1, USER_CANCELED], 0),
                    _ => raw.key_update(false),
                };
                write.extend(record);
            }
            write.extend(raw.data(&request()));
            raw.send(&write);
            let heard = raw.hear_until(|h| responses(h) == 1);
            let want = usize::from(sent == allowed);
            assert_eq!(responses(&heard), want, "{sent} {kind}s");
        }
    }
}

#[test]
fn many_small_records_with_key_updates_between_are_all_read_and_answered() {
    // A request cut into one-byte records with a KeyUpdate after each
    // (data between, so no limit is reached), ten requests in one write:
    // thousands of records, opened a few hundred a turn; every answer
    // comes.
    let site = Site::tls13("tls-small-records");
    let mut raw = Raw::connect(&site);
    let mut write = Vec::new();
    for _ in 0..10 {
        for byte in request() {
            write.extend(raw.data(&[byte]));
            write.extend(raw.key_update(false));
        }
    }
    let mut sock = raw.sock.try_clone().unwrap();
    let sender = std::thread::spawn(move || sock.write_all(&write).unwrap());
    let heard = raw.hear_until(|h| responses(h) == 10);
    assert_eq!(responses(&heard), 10);
    sender.join().unwrap();
}

#[test]
fn bad_records_merged_with_a_request_get_rustlss_alert_and_no_answer() {
    let site = Site::tls13("tls-bad-records");
    type Craft = fn(&mut Raw) -> Vec<u8>;
    let cases: [(&str, Craft, u8); 7] = [
        (
            "padding past 2^14 + 1",
            |r| r.record(APPLICATION_DATA, b"x", 1 << 14),
            RECORD_OVERFLOW,
        ),
        (
            "version 0x0000",
            |r| version(r.data(b"x"), [0, 0]),
            DECODE_ERROR,
        ),
        (
            "version 0x1234",
            |r| version(r.data(b"x"), [0x12, 0x34]),
            DECODE_ERROR,
        ),
        (
            "a warning not user_canceled",
            |r| r.record(ALERT, &[1, 20], 0),
            DECODE_ERROR,
        ),
        (
            "an alert of no level",
            |r| r.record(ALERT, &[7, USER_CANCELED], 0),
            ILLEGAL_PARAMETER,
        ),
        (
            "a KeyUpdate of 2 bytes",
            |r| r.record(HANDSHAKE, &[KEY_UPDATE, 0, 0, 2, 0, 0], 0),
            DECODE_ERROR,
        ),
        (
            "a KeyUpdate asking neither",
            |r| r.record(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 2], 0),
            ILLEGAL_PARAMETER,
        ),
    ];
    for (what, craft, alert) in cases {
        let mut raw = Raw::connect(&site);
        let mut write = craft(&mut raw);
        write.extend(raw.data(&request()));
        raw.send(&write);
        let heard = raw.hear_all();
        assert_eq!(heard.alerts, [alert], "{what}");
        assert_eq!(responses(&heard), 0, "{what}");
    }
    // TLS 1.0's version number is ignored, as RFC 8446 §5.1 says.
    let mut raw = Raw::connect(&site);
    let write = version(raw.data(&request()), [3, 1]);
    raw.send(&write);
    assert_eq!(responses(&raw.hear_until(|h| responses(h) == 1)), 1);
}

fn version(mut record: Vec<u8>, v: [u8; 2]) -> Vec<u8> {
    record[1..3].copy_from_slice(&v);
    record
}

#[test]
fn a_key_update_split_across_records_then_a_request_is_answered() {
    let site = Site::tls13("tls-split-key-update");
    for cut in 1..5 {
        let mut raw = Raw::connect(&site);
        let message = [KEY_UPDATE, 0, 0, 1, 1];
        let mut write = raw.record(HANDSHAKE, &message[..cut], 0);
        write.extend(raw.record(HANDSHAKE, &message[cut..], 0));
        raw.next_write_key();
        write.extend(raw.data(&request()));
        raw.send(&write);
        let heard = raw.hear_until(|h| responses(h) == 1);
        assert_eq!(responses(&heard), 1, "cut {cut}");
    }
}

#[test]
fn close_notify_with_a_request_is_seen_at_once_and_nothing_after_it_is_read() {
    let site = Site::new(
        "tls-close-notify",
        Timeouts {
            idle: Duration::from_secs(60),
            ..Timeouts::default()
        },
        &rustls::version::TLS13,
    );
    // A request and close_notify in one write: the answer, our
    // close_notify, our FIN, long before the idle timeout (60 s; the
    // reads give up after 10).
    let mut raw = Raw::connect(&site);
    let mut write = raw.data(&request());
    write.extend(raw.record(ALERT, &[1, CLOSE_NOTIFY], 0));
    // A request after close_notify is never read (RFC 8446 §6.1).
    write.extend(raw.data(&request()));
    raw.send(&write);
    let heard = raw.hear_all();
    assert_eq!(responses(&heard), 1);
    assert_eq!(heard.alerts, [CLOSE_NOTIFY]);
    assert!(heard.fin);
    // The same with rustls's client over TLS 1.2, whose records rustls
    // opens on the server's side too: a request and close_notify in one
    // write.
    let site = Site::new(
        "tls12-close-notify",
        Timeouts {
            idle: Duration::from_secs(60),
            ..Timeouts::default()
        },
        &rustls::version::TLS12,
    );
    let (mut conn, mut sock) = site.client();
    handshake(&mut conn, &mut sock);
    conn.writer().write_all(&request()).unwrap();
    conn.send_close_notify();
    let mut write = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut write).unwrap();
    }
    sock.write_all(&write).unwrap();
    let (plain, closed) = read_to_fin(&mut conn, &mut sock);
    let text = String::from_utf8_lossy(&plain);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 1, "{text}");
    assert!(closed, "close_notify before the FIN");
}

/// The ways a server closes an HTTPS connection, each of which must say
/// close_notify before its FIN (RFC 8446 §6.1), over TLS 1.3 and 1.2.
#[test]
fn every_close_of_ours_says_close_notify_first() {
    for version in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let site = Site::new(
            "tls-closes",
            Timeouts {
                idle: Duration::from_millis(300),
                ..Timeouts::default()
            },
            version,
        );
        // Connection: close; the client's own FIN; the idle timeout.
        let close = b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        for how in ["connection close", "client FIN", "idle"] {
            let (mut conn, mut sock) = site.client();
            handshake(&mut conn, &mut sock);
            match how {
                "connection close" => conn.writer().write_all(close).unwrap(),
                "client FIN" => conn.writer().write_all(&request()).unwrap(),
                _ => {}
            }
            while conn.wants_write() {
                conn.write_tls(&mut sock).unwrap();
            }
            if how == "client FIN" {
                sock.shutdown(Shutdown::Write).unwrap();
            }
            let (plain, closed) = read_to_fin(&mut conn, &mut sock);
            let want_answer = how != "idle";
            assert_eq!(
                plain.starts_with(b"HTTP/1.1 200 OK"),
                want_answer,
                "{version:?} {how}"
            );
            assert!(closed, "{version:?} {how}: close_notify before the FIN");
        }
    }
}

#[test]
fn a_drain_says_close_notify_to_idle_connections() {
    let site = Site::tls13("tls-drain");
    let (mut conn, mut sock) = site.client();
    handshake(&mut conn, &mut sock);
    conn.writer().write_all(&request()).unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut sock).unwrap();
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("Hello") {
        conn.read_tls(&mut sock).unwrap();
        conn.process_new_packets().unwrap();
        if let Ok(n) = conn.reader().read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
    }
    site.server.handle().shutdown();
    let (_, closed) = read_to_fin(&mut conn, &mut sock);
    assert!(closed, "close_notify before the drain's FIN");
}

/// Reads through rustls until the server's FIN: the plaintext, and
/// whether close_notify came first.
fn read_to_fin(conn: &mut ClientConnection, sock: &mut TcpStream) -> (Vec<u8>, bool) {
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut plain = Vec::new();
    let mut buf = [0u8; 4096];
    let mut closed = false;
    loop {
        match conn.read_tls(sock) {
            Ok(0) => return (plain, closed),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (plain, closed),
            Err(e) => panic!("read: {e}"),
        }
        let state = conn
            .process_new_packets()
            .expect("the server's records open");
        closed |= state.peer_has_closed();
        loop {
            match conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => plain.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
    }
}

/// The same records through the server's record layer and rustls's (the
/// harness the `records` fuzz target runs): every kind this file sends
/// over sockets, then a thousand lists built from seeded bytes.
#[test]
fn the_record_layer_answers_as_rustlss_own() {
    use records_harness::{Spec, compare};
    let data = |p: &[u8]| Spec::new(APPLICATION_DATA, p);
    let mut cases: Vec<Vec<Spec>> = vec![
        vec![data(b"hello"), data(b""), data(b"world")],
        (0..32).map(|_| data(b"")).chain([data(b"32")]).collect(),
        (0..4)
            .map(|_| Spec::new(ALERT, &[1, USER_CANCELED]))
            .chain([data(b"4")])
            .collect(),
        (0..5)
            .map(|_| Spec::new(ALERT, &[1, USER_CANCELED]))
            .chain([data(b"5")])
            .collect(),
        (0..33).map(|_| data(b"")).chain([data(b"33")]).collect(),
        vec![Spec::new(ALERT, &[1, 20]), data(b"x")],
        vec![Spec::new(ALERT, &[7, USER_CANCELED])],
        vec![Spec::new(ALERT, &[2, 80])],
        vec![Spec::new(ALERT, &[1, CLOSE_NOTIFY]), data(b"after")],
        vec![Spec::new(HANDSHAKE, &[KEY_UPDATE, 0, 0, 2, 0, 0])],
        vec![Spec::new(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 2])],
        vec![Spec::new(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 1, KEY_UPDATE])],
        vec![Spec::new(HANDSHAKE, &[KEY_UPDATE, 0]), data(b"between")],
        vec![Spec::new(99, b"x")],
        vec![Spec::new(20, &[1])],
        vec![Spec::new(0, b"")],
    ];
    for cut in 1..5 {
        let message = [KEY_UPDATE, 0, 0, 1, 1];
        cases.push(vec![
            Spec::new(HANDSHAKE, &message[..cut]),
            Spec::new(HANDSHAKE, &message[cut..]),
            data(b"after"),
        ]);
    }
    let mut padded = data(b"x");
    padded.pad = 1 << 14;
    cases.push(vec![padded]);
    for v in [
        [0, 0],
        [0x12, 0x34],
        [3, 1],
        [0, 2],
        [0xfe, 0xfd],
        [0xfe, 0xfe],
    ] {
        let mut odd = data(b"x");
        odd.version = Some(v);
        cases.push(vec![odd]);
    }
    let mut flipped = data(b"flipped");
    flipped.flip = Some(9);
    cases.push(vec![data(b"ok"), flipped]);
    for specs in &cases {
        if let Err(how) = compare(specs) {
            panic!("{specs:?}: {how}");
        }
    }
    for (round, bytes) in common::noise(64 * 1_000).chunks(64).enumerate() {
        let specs = Spec::list(bytes);
        if let Err(how) = compare(&specs) {
            panic!("round {round}, {specs:?}: {how}");
        }
    }
}
