//! Hook: the TLS 1.3 record layer on its own, from known secrets, for the fuzz target that holds it to rustls's.
//!
//! The server's record layer (`tls/records.rs`) takes its keys from
//! rustls after a real handshake. To compare it with rustls's own on the
//! same records, a harness needs it apart from any handshake: here it is
//! made from known traffic secrets (TLS_AES_128_GCM_SHA256, the key
//! schedule of RFC 8446 §7 done with ring's HKDF), and it opens what it
//! is given and says what it held. Nothing in the server uses this; it is
//! public only so that `fuzz/` and the tests can reach it.

use ring::aead::AES_128_GCM;
use ring::hkdf;

use super::records::{Keys, Opened, Records, Schedule};

/// HKDF-Expand-Label (RFC 8446 §7.1) with SHA-256 and no context.
pub fn expand_label(secret: &[u8], label: &str, len: usize) -> Vec<u8> {
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }
    let full = format!("tls13 {label}");
    let (len16, label_len) = ((len as u16).to_be_bytes(), [full.len() as u8]);
    let info = [&len16[..], &label_len, full.as_bytes(), &[0]];
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, secret);
    let mut out = vec![0; len];
    // Both fail only for lengths past 255 hashes: never asked here.
    if let Ok(okm) = prk.expand(&info, Len(len)) {
        let _ = okm.fill(&mut out);
    }
    out
}

/// The key and IV a traffic secret gives, from record `seq` on.
pub fn keys(secret: &[u8], seq: u64) -> Option<Keys> {
    let key = expand_label(secret, "key", 16);
    let iv = expand_label(secret, "iv", 12);
    Keys::from_parts(&AES_128_GCM, &key, &iv, seq)
}

/// A key schedule from known secrets: each update is the secret expanded
/// with "traffic upd" (§7.2).
#[derive(Debug)]
pub struct KnownSecrets {
    /// Ours (the server's) and the client's, as they stand.
    pub write: Vec<u8>,
    pub read: Vec<u8>,
}

impl Schedule for KnownSecrets {
    fn next_write(&mut self) -> Option<Keys> {
        self.write = expand_label(&self.write, "traffic upd", 32);
        keys(&self.write, 0)
    }
    fn next_read(&mut self) -> Option<Keys> {
        self.read = expand_label(&self.read, "traffic upd", 32);
        keys(&self.read, 0)
    }
}

/// How the records given to [`Opener::open_all`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Every whole record was opened (a partial one may be left).
    Open,
    /// close_notify: what follows is not read.
    Closed,
    /// The connection ends, with this alert of ours (or none).
    Fatal(Option<u8>),
}

/// The server's record layer for a client whose traffic secret is
/// `client`, from the client's first application record on.
pub struct Opener {
    records: Records<KnownSecrets>,
}

impl Opener {
    pub fn new(client: &[u8], server: &[u8]) -> Option<Opener> {
        let schedule = KnownSecrets {
            write: server.to_vec(),
            read: client.to_vec(),
        };
        let (tx, rx) = (keys(server, 0)?, keys(client, 0)?);
        Some(Opener {
            records: Records::with(tx, rx, schedule, u64::MAX),
        })
    }

    /// Opens the records at the start of `bytes` until one ends the
    /// input or the connection: the plaintext they carried, and how they
    /// ended.
    pub fn open_all(&mut self, bytes: &mut [u8]) -> (Vec<u8>, End) {
        let mut plain = Vec::new();
        let mut at = 0;
        loop {
            match self.records.open(&mut bytes[at..]) {
                Ok(None) => return (plain, End::Open),
                Ok(Some((n, opened))) => {
                    match opened {
                        Opened::Data(r) => {
                            plain.extend_from_slice(&bytes[at + r.start..at + r.end])
                        }
                        Opened::Nothing => {}
                        Opened::Closed => return (plain, End::Closed),
                    }
                    at += n;
                }
                Err(fatal) => return (plain, End::Fatal(fatal.alert)),
            }
        }
    }
}
