//! Records: TLS 1.3 records sealed and opened by the stream itself after the handshake.
//!
//! rustls's unbuffered API seals a record by copying its plaintext into a
//! fresh vector, encrypting it there, and copying the result into the
//! caller's buffer: two copies and an allocation for each 16 KiB, 7% of
//! the CPU of a 1 MiB download over HTTP/2. Once a TLS 1.3 handshake is
//! done, the record layer left is small (RFC 8446 §5): a 5-byte header,
//! then the plaintext and its content type sealed with the traffic key
//! under a nonce made from the record's sequence number. rustls hands the
//! keys over for exactly this (`dangerous_into_kernel_connection`, meant
//! for kernel TLS) and keeps what changes them (KeyUpdate); this module
//! does the rest with the AEADs of ring, the ones rustls itself uses. A
//! record is sealed in the buffer that goes to the socket, with one copy
//! of its plaintext, and opened in place where it was read.
//!
//! What a TLS 1.3 client may send after the handshake, and what is done
//! with it: application data (delivered), alerts (close_notify ends the
//! input, user_canceled is ignored, any other ends the connection) and
//! KeyUpdate (the read key moves on; asked to, so does the write key,
//! after a KeyUpdate of ours). Anything else (another handshake message,
//! a change_cipher_spec, a record longer than 2^14 + 256 bytes, one that
//! does not open) is answered with the alert RFC 8446 names for it, and
//! the connection ends. The write key is also changed before it reaches
//! the suite's confidentiality limit (§5.5; 2^24 records for AES-GCM, as
//! rustls counts it). TLS 1.2 connections stay with rustls.

use std::ops::Range;

use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::kernel::KernelConnection;
use rustls::server::ServerConnectionData;
use rustls::{ConnectionTrafficSecrets, ExtractedSecrets};

/// A record's header: content type, legacy version, length.
pub const HEADER: usize = 5;
/// The AEAD tag (16 bytes for all three TLS 1.3 suites).
const TAG: usize = 16;
/// What sealing adds to a record's plaintext: the header, the inner
/// content type and the tag.
pub const OVERHEAD: usize = HEADER + 1 + TAG;
/// The most plaintext a record carries (§5.1).
pub const MAX_PLAIN: usize = 1 << 14;
/// The longest record a peer may send (§5.2).
const MAX_SEALED: usize = MAX_PLAIN + 256;

/// Content types (§5.1).
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

/// The handshake message type of KeyUpdate (§4.6.3).
const KEY_UPDATE: u8 = 24;

/// Alert descriptions (§6) this side sends or reads.
pub mod alert {
    pub const CLOSE_NOTIFY: u8 = 0;
    pub const UNEXPECTED_MESSAGE: u8 = 10;
    pub const BAD_RECORD_MAC: u8 = 20;
    pub const RECORD_OVERFLOW: u8 = 22;
    pub const ILLEGAL_PARAMETER: u8 = 47;
    pub const DECODE_ERROR: u8 = 50;
    pub const INTERNAL_ERROR: u8 = 80;
    pub const USER_CANCELED: u8 = 90;
}

/// The room a KeyUpdate of ours takes: one record of a 5-byte message.
const KEY_UPDATE_RECORD: usize = OVERHEAD + 5;

/// One direction's key, IV and sequence number.
struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    fn new(seq: u64, secrets: &ConnectionTrafficSecrets) -> Option<Keys> {
        let (alg, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return None,
        };
        Some(Keys {
            key: LessSafeKey::new(UnboundKey::new(alg, key.as_ref()).ok()?),
            iv: iv.as_ref().try_into().ok()?,
            seq,
        })
    }

    /// The next record's nonce (§5.3): the IV with the sequence number
    /// xored into its last 8 bytes; the number moves on.
    fn next_nonce(&mut self) -> Nonce {
        let mut nonce = self.iv;
        for (n, s) in nonce[NONCE_LEN - 8..]
            .iter_mut()
            .zip(self.seq.to_be_bytes())
        {
            *n ^= s;
        }
        self.seq += 1;
        Nonce::assume_unique_for_key(nonce)
    }
}

/// What one record held.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Application data: this range of the bytes given to [`Records::open`].
    Data(Range<usize>),
    /// Nothing for the connection (a KeyUpdate, user_canceled, an empty record).
    Nothing,
    /// close_notify: the client's input is over.
    Closed,
}

/// Why a record ends the connection: the alert to send (none when the
/// client's own alert ended it), and a word for the log.
#[derive(Debug, PartialEq, Eq)]
pub struct Fatal {
    pub alert: Option<u8>,
    pub why: &'static str,
}

fn fatal(alert: u8, why: &'static str) -> Fatal {
    Fatal {
        alert: Some(alert),
        why,
    }
}

/// A TLS 1.3 connection's record layer, once the handshake is done.
pub struct Records {
    tx: Keys,
    rx: Keys,
    /// rustls's side: new secrets when a key changes.
    kernel: KernelConnection<ServerConnectionData>,
    /// Records the write key may seal before it must change.
    limit: u64,
    /// A KeyUpdate of ours goes before the next record: the client asked
    /// for one, or the write key neared its limit.
    update_owed: bool,
}

impl Records {
    /// The record layer for a TLS 1.3 connection rustls has handed over;
    /// `None` for TLS 1.2 or a suite this module does not know.
    pub fn new(
        secrets: ExtractedSecrets,
        kernel: KernelConnection<ServerConnectionData>,
    ) -> Option<Records> {
        let limit = kernel
            .negotiated_cipher_suite()
            .tls13()?
            .common
            .confidentiality_limit;
        Some(Records {
            tx: Keys::new(secrets.tx.0, &secrets.tx.1)?,
            rx: Keys::new(secrets.rx.0, &secrets.rx.1)?,
            kernel,
            limit,
            update_owed: false,
        })
    }

    /// Records sealed under the current write key (tests: it starts again
    /// at 0 after a KeyUpdate of ours).
    #[cfg(test)]
    pub fn write_seq(&self) -> u64 {
        self.tx.seq
    }

    /// The room sealing `len` bytes of plaintext needs in `out`, counting
    /// a KeyUpdate that may have to go first.
    pub fn room(&self, len: usize) -> usize {
        len + OVERHEAD + KEY_UPDATE_RECORD
    }

    /// Seals `len` bytes of application data (at most [`MAX_PLAIN`]) that
    /// `fill` writes into the slice it is given, as one record at the
    /// start of `out`, which has [`Records::room`] for it; returns the
    /// bytes of `out` used (a KeyUpdate of ours may come first).
    pub fn seal(
        &mut self,
        len: usize,
        out: &mut [u8],
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<usize, Fatal> {
        let mut used = 0;
        if self.update_owed || self.tx.seq >= self.limit.saturating_sub(1) {
            // update_not_requested: this side's key changes; the client
            // need not change its own (§4.6.3).
            used = self.seal_record(HANDSHAKE, 5, out, |m| {
                m.copy_from_slice(&[KEY_UPDATE, 0, 0, 1, 0]);
            })?;
            let (seq, secrets) = self
                .kernel
                .update_tx_secret()
                .map_err(|_| fatal(alert::INTERNAL_ERROR, "TLS: no new write key"))?;
            self.tx = Keys::new(seq, &secrets).ok_or(fatal(
                alert::INTERNAL_ERROR,
                "TLS: a new write key of no known suite",
            ))?;
            self.update_owed = false;
        }
        Ok(used + self.seal_record(APPLICATION_DATA, len, &mut out[used..], fill)?)
    }

    /// An alert record at the start of `out` (room for [`OVERHEAD`] + 2).
    pub fn seal_alert(&mut self, description: u8, out: &mut [u8]) -> Result<usize, Fatal> {
        let level = if description == alert::CLOSE_NOTIFY {
            1
        } else {
            2
        };
        self.seal_record(ALERT, 2, out, |m| m.copy_from_slice(&[level, description]))
    }

    /// One record of `content`, its `len` bytes of plaintext written by
    /// `fill` in place, sealed there.
    fn seal_record(
        &mut self,
        content: u8,
        len: usize,
        out: &mut [u8],
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<usize, Fatal> {
        let sealed = len + 1 + TAG;
        let (header, body) = out[..HEADER + sealed].split_at_mut(HEADER);
        header[0] = APPLICATION_DATA;
        header[1..3].copy_from_slice(&[3, 3]);
        header[3..5].copy_from_slice(&(sealed as u16).to_be_bytes());
        let (inner, tag_room) = body.split_at_mut(len + 1);
        fill(&mut inner[..len]);
        inner[len] = content;
        let nonce = self.tx.next_nonce();
        let tag = (self.tx.key)
            .seal_in_place_separate_tag(nonce, Aad::from(header), inner)
            .map_err(|_| fatal(alert::INTERNAL_ERROR, "TLS: a record could not be sealed"))?;
        tag_room.copy_from_slice(tag.as_ref());
        Ok(HEADER + sealed)
    }

    /// Opens the record at the start of `bytes`, in place: `Ok(None)` if
    /// it is not whole yet, else the bytes it took and what it held.
    pub fn open(&mut self, bytes: &mut [u8]) -> Result<Option<(usize, Opened)>, Fatal> {
        let Some(header) = bytes.first_chunk::<HEADER>() else {
            return Ok(None);
        };
        let header = *header;
        let sealed = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if header[0] != APPLICATION_DATA {
            // After the handshake every record is protected (§5), and a
            // change_cipher_spec is no longer allowed.
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: an unprotected record",
            ));
        }
        if sealed > MAX_SEALED {
            return Err(fatal(alert::RECORD_OVERFLOW, "TLS: a record too long"));
        }
        let Some(record) = bytes.get_mut(HEADER..HEADER + sealed) else {
            return Ok(None);
        };
        let nonce = self.rx.next_nonce();
        let Ok(inner) = (self.rx.key).open_in_place(nonce, Aad::from(header), record) else {
            return Err(fatal(
                alert::BAD_RECORD_MAC,
                "TLS: a record that does not open",
            ));
        };
        // The content type is the last byte that is not zero padding.
        let Some(end) = inner.iter().rposition(|&b| b != 0) else {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a record without a type",
            ));
        };
        if end > MAX_PLAIN {
            return Err(fatal(alert::RECORD_OVERFLOW, "TLS: too much plaintext"));
        }
        let used = HEADER + sealed;
        let opened = match inner[end] {
            APPLICATION_DATA => Opened::Data(HEADER..HEADER + end),
            ALERT => match inner[..end] {
                [_, alert::CLOSE_NOTIFY] => Opened::Closed,
                [_, alert::USER_CANCELED] => Opened::Nothing,
                [_, _] => {
                    return Err(Fatal {
                        alert: None,
                        why: "TLS: the client sent an alert",
                    });
                }
                _ => return Err(fatal(alert::DECODE_ERROR, "TLS: an alert not 2 bytes")),
            },
            HANDSHAKE => {
                let message: [u8; 5] = inner[..end].try_into().map_err(|_| {
                    fatal(
                        alert::UNEXPECTED_MESSAGE,
                        "TLS: a handshake message after the handshake",
                    )
                })?;
                self.key_update(message)?;
                Opened::Nothing
            }
            _ => {
                return Err(fatal(
                    alert::UNEXPECTED_MESSAGE,
                    "TLS: a record of unknown type",
                ));
            }
        };
        Ok(Some((used, opened)))
    }

    /// A KeyUpdate from the client (§4.6.3): its key changes, so ours for
    /// reading does; asked to, ours for writing changes too, announced by
    /// a KeyUpdate of ours before the next record.
    fn key_update(&mut self, message: [u8; 5]) -> Result<(), Fatal> {
        let [KEY_UPDATE, 0, 0, 1, request] = message else {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a handshake message after the handshake",
            ));
        };
        if request > 1 {
            return Err(fatal(
                alert::ILLEGAL_PARAMETER,
                "TLS: a KeyUpdate asking neither",
            ));
        }
        let (seq, secrets) = self
            .kernel
            .update_rx_secret()
            .map_err(|_| fatal(alert::INTERNAL_ERROR, "TLS: no new read key"))?;
        self.rx = Keys::new(seq, &secrets).ok_or(fatal(
            alert::INTERNAL_ERROR,
            "TLS: a new read key of no known suite",
        ))?;
        self.update_owed |= request == 1;
        Ok(())
    }
}
