//! The TLS 1.3 record layer beside rustls's: one list of records, sealed for each, opened by each, compared.
//!
//! The server seals and opens TLS 1.3 records itself once rustls has
//! handed it the keys (`src/tls/records.rs`); rustls's own record layer is
//! what it replaces, so the two must give the same answer to the same
//! records. A list of records is built from arbitrary bytes (content
//! type, plaintext, padding, legacy version, a flipped bit, KeyUpdates
//! whole or split), then sealed twice: for a rustls server after a real
//! handshake in memory (the client's keys from rustls and its key log),
//! and for the server's record layer made from known secrets
//! (`oneloop::tls::hook`). Each opens its copy; both must deliver the same
//! plaintext and end the same way: still open, at close_notify, or ended
//! with the same alert wherever rustls sends one.
//!
//! Used by the `records` fuzz target and by `tests/tls_records.rs`.

#![allow(dead_code)] // each user takes what it needs

use std::sync::{Arc, Mutex, OnceLock};

use oneloop::tls::hook::{End, Opener, expand_label};
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use rustls::crypto::ring::cipher_suite;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, ConnectionTrafficSecrets, KeyLog, RootCertStore, ServerConfig,
    ServerConnection,
};

const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const KEY_UPDATE: u8 = 24;
/// The longest record a peer may send (RFC 8446 §5.2).
const MAX_SEALED: usize = (1 << 14) + 256;

/// One record as an attacker may shape it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The inner content type.
    pub content: u8,
    pub plain: Vec<u8>,
    /// Zero bytes after the content type.
    pub pad: usize,
    /// The header's legacy version, if not 0x0303.
    pub version: Option<[u8; 2]>,
    /// A bit of the sealed record flipped (its index, modulo the length).
    pub flip: Option<usize>,
}

impl Spec {
    pub fn new(content: u8, plain: &[u8]) -> Spec {
        Spec {
            content,
            plain: plain.to_vec(),
            pad: 0,
            version: None,
            flip: None,
        }
    }

    /// Records from arbitrary bytes: each record an opcode, a length, and
    /// what those call for (see the match).
    pub fn list(mut input: &[u8]) -> Vec<Spec> {
        let mut specs: Vec<Spec> = Vec::new();
        let next = |input: &mut &[u8]| -> u8 {
            let (&b, rest) = input.split_first().unwrap_or((&0, &[]));
            *input = rest;
            b
        };
        while !input.is_empty() && specs.len() < 64 {
            let op = next(&mut input);
            let len = usize::from(next(&mut input));
            let take = len.min(input.len());
            let (bytes, rest) = input.split_at(take);
            match op % 9 {
                0..=2 => {
                    specs.push(Spec::new(APPLICATION_DATA, bytes));
                    input = rest;
                }
                3 => {
                    let alert = [next(&mut input) % 3, next(&mut input)];
                    specs.push(Spec::new(ALERT, &alert));
                }
                4 => {
                    // A KeyUpdate, whole or cut in two records.
                    let message = [KEY_UPDATE, 0, 0, 1, (len % 3) as u8];
                    let cut = usize::from(next(&mut input)) % 6;
                    if (1..5).contains(&cut) {
                        specs.push(Spec::new(HANDSHAKE, &message[..cut]));
                        specs.push(Spec::new(HANDSHAKE, &message[cut..]));
                    } else {
                        specs.push(Spec::new(HANDSHAKE, &message));
                    }
                }
                5 => {
                    specs.push(Spec::new(HANDSHAKE, bytes));
                    input = rest;
                }
                6 => {
                    let content = next(&mut input);
                    specs.push(Spec::new(content, bytes));
                    input = rest;
                }
                7 => {
                    if let Some(last) = specs.last_mut() {
                        last.pad = len * 65;
                        if op & 0x10 != 0 {
                            last.version = Some([next(&mut input), next(&mut input)]);
                        }
                    }
                }
                _ => {
                    if let Some(last) = specs.last_mut() {
                        last.flip = Some(len);
                    }
                }
            }
        }
        specs
    }
}

/// One direction's key, following KeyUpdates.
struct Sealer {
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
    secret: Vec<u8>,
    /// Handshake bytes sealed since the last whole message.
    message: Vec<u8>,
}

impl Sealer {
    fn new(secret: Vec<u8>, seq: u64) -> Sealer {
        let key = expand_label(&secret, "key", 16);
        Sealer {
            key: LessSafeKey::new(UnboundKey::new(&aead::AES_128_GCM, &key).expect("key")),
            iv: expand_label(&secret, "iv", 12).try_into().expect("iv"),
            seq,
            secret,
            message: Vec::new(),
        }
    }

    fn nonce(&mut self) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(nonce)
    }

    fn update(&mut self) {
        *self = Sealer::new(expand_label(&self.secret, "traffic upd", 32), 0);
    }

    /// The record `s` sealed; a KeyUpdate it completes moves the key on.
    fn seal(&mut self, s: &Spec) -> Vec<u8> {
        let mut inner = s.plain.clone();
        inner.push(s.content);
        inner.resize(inner.len() + s.pad, 0);
        let len = (inner.len() + 16).min(usize::from(u16::MAX)) as u16;
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        let nonce = self.nonce();
        (self.key)
            .seal_in_place_append_tag(nonce, Aad::from(header), &mut inner)
            .expect("seal");
        let mut out = header.to_vec();
        if let Some(v) = s.version {
            out[1..3].copy_from_slice(&v);
        }
        out.extend(inner);
        if let Some(at) = s.flip {
            let at = at % out.len();
            out[at] ^= 1;
        }
        if s.content == HANDSHAKE {
            self.message.extend_from_slice(&s.plain);
            if let [KEY_UPDATE, 0, 0, 1, 0 | 1] = self.message[..] {
                self.update();
            }
            if self.message.len() >= 4 {
                let want = 4
                    + (usize::from(self.message[1]) << 16
                        | usize::from(self.message[2]) << 8
                        | usize::from(self.message[3]));
                if self.message.len() >= want {
                    self.message.clear();
                }
            }
        }
        out
    }
}

/// The server's certificate, made once.
fn identity() -> &'static (CertificateDer<'static>, Vec<u8>) {
    static ID: OnceLock<(CertificateDer<'static>, Vec<u8>)> = OnceLock::new();
    ID.get_or_init(|| {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        (cert.der().clone(), key.serialize_der())
    })
}

/// The traffic secrets a client logs.
#[derive(Debug, Default)]
struct Logged(Mutex<Vec<(String, Vec<u8>)>>);

impl KeyLog for Logged {
    fn log(&self, label: &str, _random: &[u8], secret: &[u8]) {
        if let Ok(mut l) = self.0.lock() {
            l.push((label.to_string(), secret.to_vec()));
        }
    }
    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

impl Logged {
    fn get(&self, label: &str) -> Vec<u8> {
        let l = self.0.lock().expect("lock");
        l.iter()
            .find(|(n, _)| n == label)
            .expect("logged")
            .1
            .clone()
    }
}

fn configs() -> (Arc<ServerConfig>, ClientConfig) {
    let (cert, key) = identity();
    let provider = || {
        let mut p = rustls::crypto::ring::default_provider();
        p.cipher_suites = vec![cipher_suite::TLS13_AES_128_GCM_SHA256];
        Arc::new(p)
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone()));
    let server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .expect("server config");
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).expect("root");
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.enable_secret_extraction = true;
    (Arc::new(server), client)
}

/// Moves what `from` has to send into `to`.
fn pass<A, B>(from: &mut rustls::ConnectionCommon<A>, to: &mut rustls::ConnectionCommon<B>) {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).expect("write_tls");
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).expect("read_tls");
        to.process_new_packets().expect("the handshake");
    }
}

/// What rustls's server makes of the records.
pub fn rustls(specs: &[Spec]) -> (Vec<u8>, End) {
    let (server_config, mut client_config) = configs();
    let logged = Arc::new(Logged::default());
    client_config.key_log = logged.clone();
    let name = ServerName::try_from("localhost").expect("name");
    let mut client = ClientConnection::new(Arc::new(client_config), name).expect("client");
    let mut server = ServerConnection::new(server_config).expect("server");
    while client.is_handshaking() || server.is_handshaking() || client.wants_write() {
        pass(&mut *client, &mut *server);
        pass(&mut *server, &mut *client);
    }
    #[allow(deprecated)] // the test follows KeyUpdates itself
    let secrets = client.dangerous_extract_secrets().expect("secrets");
    let aes =
        |s: &ConnectionTrafficSecrets| matches!(s, ConnectionTrafficSecrets::Aes128Gcm { .. });
    assert!(aes(&secrets.tx.1) && aes(&secrets.rx.1));
    let mut tx = Sealer::new(logged.get("CLIENT_TRAFFIC_SECRET_0"), secrets.tx.0);
    let mut rx = Sealer::new(logged.get("SERVER_TRAFFIC_SECRET_0"), secrets.rx.0);
    let bytes: Vec<u8> = specs.iter().flat_map(|s| tx.seal(s)).collect();
    let mut input = &bytes[..];
    let mut plain = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = server.read_tls(&mut input) else {
            return (plain, End::Fatal(None));
        };
        let state = server.process_new_packets();
        loop {
            match std::io::Read::read(&mut server.reader(), &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => plain.extend_from_slice(&buf[..n]),
            }
        }
        match state {
            Err(_) => return (plain, End::Fatal(alert_sent(&mut server, &mut rx))),
            Ok(state) if state.peer_has_closed() => return (plain, End::Closed),
            Ok(_) if n == 0 || input.is_empty() => return (plain, End::Open),
            Ok(_) => {}
        }
    }
}

/// The alert the server sent last, opened with the client's read key.
fn alert_sent(server: &mut ServerConnection, rx: &mut Sealer) -> Option<u8> {
    let mut out = Vec::new();
    while server.wants_write() {
        if server.write_tls(&mut out).is_err() {
            break;
        }
    }
    let mut alert = None;
    let mut at = 0;
    while out.len() >= at + 5 {
        let len = usize::from(u16::from_be_bytes([out[at + 3], out[at + 4]]));
        let header: [u8; 5] = out[at..at + 5].try_into().ok()?;
        let mut body = out.get(at + 5..at + 5 + len)?.to_vec();
        at += 5 + len;
        let nonce = rx.nonce();
        let inner = rx
            .key
            .open_in_place(nonce, Aad::from(header), &mut body)
            .ok()?;
        let end = inner.iter().rposition(|&b| b != 0)?;
        match (inner[end], &inner[..end]) {
            (ALERT, [_, description]) => alert = Some(*description),
            (HANDSHAKE, [KEY_UPDATE, ..]) => rx.update(),
            _ => {}
        }
    }
    alert
}

/// What the server's own record layer makes of the records.
pub fn ours(specs: &[Spec]) -> (Vec<u8>, End) {
    let (client, server) = ([7u8; 32], [9u8; 32]);
    let mut opener = Opener::new(&client, &server).expect("an opener");
    let mut tx = Sealer::new(client.to_vec(), 0);
    let mut bytes: Vec<u8> = specs.iter().flat_map(|s| tx.seal(s)).collect();
    opener.open_all(&mut bytes)
}

/// Where the RFC and rustls part, and the server follows the RFC: a
/// record longer than 2^14 + 256 bytes is record_overflow before it is
/// opened (RFC 8446 §5.2; rustls tries to open it, or says
/// decode_error past 2^14 + 2048).
fn overlong(specs: &[Spec]) -> bool {
    specs
        .iter()
        .any(|s| s.plain.len() + 1 + s.pad + 16 > MAX_SEALED)
}

/// The same records through both: `Err` says how they differ.
pub fn compare(specs: &[Spec]) -> Result<(), String> {
    let (theirs, ours) = (rustls(specs), ours(specs));
    let agree = match (&theirs.1, &ours.1) {
        _ if theirs.0 != ours.0 => false,
        (a, b) if a == b => true,
        // rustls ends some connections without an alert (too many empty
        // records, an alert from the client); ours may name one.
        (End::Fatal(None), End::Fatal(_)) => true,
        (End::Fatal(_), End::Fatal(_)) if overlong(specs) => true,
        // Another handshake message after the handshake: rustls parses
        // it first (decode_error if it does not parse), the server does
        // not (unexpected_message).
        (End::Fatal(Some(50)), End::Fatal(Some(10)))
            if specs
                .iter()
                .any(|s| s.content == HANDSHAKE && s.plain.first() != Some(&KEY_UPDATE)) =>
        {
            true
        }
        _ => false,
    };
    if agree {
        Ok(())
    } else {
        Err(format!(
            "rustls: {} bytes, {:?}; ours: {} bytes, {:?}",
            theirs.0.len(),
            theirs.1,
            ours.0.len(),
            ours.1
        ))
    }
}
