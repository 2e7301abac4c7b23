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
//! with it, as rustls's own record layer does (rustls's `conn.rs` and
//! `common_state.rs`; a test and a fuzz target hold the two to the same
//! answers): application data (delivered), alerts (close_notify ends the
//! input, a warning user_canceled is ignored, any other ends the
//! connection) and KeyUpdate (the read key moves on; asked to, so does the
//! write key, after a KeyUpdate of ours), which may span records as any
//! handshake message may (§5.1). Anything else (another handshake message,
//! a change_cipher_spec, a record longer than 2^14 + 256 bytes or with
//! more than 2^14 + 1 bytes of inner plaintext, a legacy version that is
//! no TLS version, one that does not open) is answered with the alert
//! RFC 8446 names for it, and the connection ends.
//!
//! Records that carry nothing cost the reader as much as those that do,
//! so they are counted as rustls counts them: 32 empty records in a row,
//! 4 warning alerts, 32 KeyUpdates without application data between, and
//! the next one ends the connection. The write key is also changed before
//! it reaches the suite's confidentiality limit (§5.5; 2^24 records for
//! AES-GCM, as rustls counts it). TLS 1.2 connections stay with rustls.

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
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// Heartbeat (RFC 6520): a type rustls knows, so its records are opened.
const HEARTBEAT: u8 = 24;

/// The handshake message type of KeyUpdate (§4.6.3).
const KEY_UPDATE: u8 = 24;
/// A handshake message's header: its type and a 24-bit length.
const MESSAGE_HEADER: usize = 4;
/// The longest handshake message rustls gathers across records.
const MAX_MESSAGE: usize = 0xffff;

/// Alert levels (§6).
const WARNING: u8 = 1;
const FATAL: u8 = 2;

/// How many of each record that carries nothing a client may send before
/// the connection ends (rustls's figures, after BoringSSL's): empty
/// records in a row, warning alerts, KeyUpdates with no application data
/// between.
const EMPTY_IN_A_ROW: u8 = 32;
const WARNINGS: u8 = 4;
const KEY_UPDATES: u8 = 32;

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
pub struct Keys {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    seq: u64,
}

impl Keys {
    /// The keys rustls hands over, from record `seq` on; `None` for a
    /// suite this module does not know.
    pub fn new(seq: u64, secrets: &ConnectionTrafficSecrets) -> Option<Keys> {
        let (alg, key, iv) = match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => (&aead::AES_128_GCM, key, iv),
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => (&aead::AES_256_GCM, key, iv),
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                (&aead::CHACHA20_POLY1305, key, iv)
            }
            _ => return None,
        };
        Keys::from_parts(alg, key.as_ref(), iv.as_ref(), seq)
    }

    /// Keys from their bytes (the tests: RFC 8448's traces).
    pub fn from_parts(
        alg: &'static aead::Algorithm,
        key: &[u8],
        iv: &[u8],
        seq: u64,
    ) -> Option<Keys> {
        Some(Keys {
            key: LessSafeKey::new(UnboundKey::new(alg, key).ok()?),
            iv: iv.try_into().ok()?,
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

/// Where the next key comes from when one changes (§7.2): rustls's key
/// schedule when serving; a schedule from known secrets in the tests.
pub trait Schedule {
    /// Our next write key (a KeyUpdate of ours announces it).
    fn next_write(&mut self) -> Option<Keys>;
    /// The client's next write key, which is our read key (after its
    /// KeyUpdate).
    fn next_read(&mut self) -> Option<Keys>;
}

impl Schedule for KernelConnection<ServerConnectionData> {
    fn next_write(&mut self) -> Option<Keys> {
        let (seq, secrets) = self.update_tx_secret().ok()?;
        Keys::new(seq, &secrets)
    }

    fn next_read(&mut self) -> Option<Keys> {
        let (seq, secrets) = self.update_rx_secret().ok()?;
        Keys::new(seq, &secrets)
    }
}

/// What one record held.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// Application data: this range of the bytes given to [`Records::open`].
    Data(Range<usize>),
    /// Nothing for the connection (a KeyUpdate or part of one,
    /// user_canceled, an empty record).
    Nothing,
    /// close_notify: the client's input is over.
    Closed,
}

/// Why a record ends the connection: the alert to send (none when the
/// client's own alert ended it, or where rustls sends none), and a word
/// for the log.
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

/// An end without an alert of ours (rustls sends none for these either).
fn silent(why: &'static str) -> Fatal {
    Fatal { alert: None, why }
}

/// A TLS 1.3 connection's record layer, once the handshake is done.
pub struct Records<K = KernelConnection<ServerConnectionData>> {
    tx: Keys,
    rx: Keys,
    /// Where new keys come from (rustls's side, when serving).
    schedule: K,
    /// Records the write key may seal before it must change.
    limit: u64,
    /// A KeyUpdate of ours goes before the next record: the client asked
    /// for one, or the write key neared its limit.
    update_owed: bool,
    /// What is left of each allowance (see the module docs).
    empty_left: u8,
    warnings_left: u8,
    key_updates_left: u8,
    /// A handshake message not yet whole (it may span records, §5.1);
    /// nothing else may come between its records.
    message: Vec<u8>,
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
        let tx = Keys::new(secrets.tx.0, &secrets.tx.1)?;
        let rx = Keys::new(secrets.rx.0, &secrets.rx.1)?;
        Some(Records::with(tx, rx, kernel, limit))
    }
}

impl<K: Schedule> Records<K> {
    /// The record layer with these keys, changed by `schedule`, the write
    /// key changing before it has sealed `limit` records.
    pub fn with(tx: Keys, rx: Keys, schedule: K, limit: u64) -> Records<K> {
        Records {
            tx,
            rx,
            schedule,
            limit,
            update_owed: false,
            empty_left: EMPTY_IN_A_ROW,
            warnings_left: WARNINGS,
            key_updates_left: KEY_UPDATES,
            message: Vec::new(),
        }
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
            self.tx = (self.schedule.next_write())
                .ok_or(fatal(alert::INTERNAL_ERROR, "TLS: no new write key"))?;
            self.update_owed = false;
        }
        Ok(used + self.seal_record(APPLICATION_DATA, len, &mut out[used..], fill)?)
    }

    /// An alert record at the start of `out` (room for [`OVERHEAD`] + 2).
    pub fn seal_alert(&mut self, description: u8, out: &mut [u8]) -> Result<usize, Fatal> {
        let level = if description == alert::CLOSE_NOTIFY {
            WARNING
        } else {
            FATAL
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
        header.copy_from_slice(&aad(sealed));
        let (inner, tag_room) = body.split_at_mut(len + 1);
        fill(&mut inner[..len]);
        inner[len] = content;
        let nonce = self.tx.next_nonce();
        let tag = (self.tx.key)
            .seal_in_place_separate_tag(nonce, Aad::from(aad(sealed)), inner)
            .map_err(|_| fatal(alert::INTERNAL_ERROR, "TLS: a record could not be sealed"))?;
        tag_room.copy_from_slice(tag.as_ref());
        Ok(HEADER + sealed)
    }

    /// Opens the record at the start of `bytes`, in place: `Ok(None)` if
    /// it is not whole yet, else the bytes it took and what it held.
    pub fn open(&mut self, bytes: &mut [u8]) -> Result<Option<(usize, Opened)>, Fatal> {
        let Some(&header) = bytes.first_chunk::<HEADER>() else {
            return Ok(None);
        };
        let sealed = check_header(header)?;
        let Some(record) = bytes.get_mut(HEADER..HEADER + sealed) else {
            return Ok(None);
        };
        let used = HEADER + sealed;
        // The additional data is the header as TLS 1.3 writes it (§5.2),
        // whatever legacy version the client put there: the version "MUST
        // be ignored for all purposes" (§5.1), as rustls ignores it.
        let nonce = self.rx.next_nonce();
        let Ok(inner) = (self.rx.key).open_in_place(nonce, Aad::from(aad(sealed)), record) else {
            return Err(fatal(
                alert::BAD_RECORD_MAC,
                "TLS: a record that does not open",
            ));
        };
        // Padding counts toward the limit of the inner plaintext (§5.4).
        if inner.len() > MAX_PLAIN + 1 {
            return Err(fatal(alert::RECORD_OVERFLOW, "TLS: too much plaintext"));
        }
        // The content type is the last byte that is not zero padding.
        let Some(end) = inner.iter().rposition(|&b| b != 0) else {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a record without a type",
            ));
        };
        let content = inner[end];
        if content == CHANGE_CIPHER_SPEC {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a protected change_cipher_spec",
            ));
        }
        if end > MAX_PLAIN {
            return Err(fatal(alert::RECORD_OVERFLOW, "TLS: too much plaintext"));
        }
        if !self.message.is_empty() && content != HANDSHAKE {
            return Err(silent("TLS: a record between the parts of a message"));
        }
        self.count_empty(end)?;
        let opened = match content {
            APPLICATION_DATA => {
                self.key_updates_left = KEY_UPDATES;
                if end == 0 {
                    Opened::Nothing
                } else {
                    Opened::Data(HEADER..HEADER + end)
                }
            }
            ALERT => self.alert(&inner[..end])?,
            HANDSHAKE => {
                self.message.extend_from_slice(&inner[..end]);
                self.handshake()?;
                Opened::Nothing
            }
            _ => return Err(fatal(alert::DECODE_ERROR, "TLS: a record of unknown type")),
        };
        Ok(Some((used, opened)))
    }

    /// Counts a record that carries `len` bytes: empty ones in a row are
    /// allowed [`EMPTY_IN_A_ROW`] times.
    fn count_empty(&mut self, len: usize) -> Result<(), Fatal> {
        if len > 0 {
            self.empty_left = EMPTY_IN_A_ROW;
            return Ok(());
        }
        self.empty_left = (self.empty_left.checked_sub(1))
            .ok_or(silent("TLS: too many empty records in a row"))?;
        Ok(())
    }

    /// An alert from the client (§6): close_notify ends its input, a
    /// warning user_canceled is let pass (a few times); anything else
    /// ends the connection.
    fn alert(&mut self, alert: &[u8]) -> Result<Opened, Fatal> {
        let &[level, description] = alert else {
            return Err(fatal(alert::DECODE_ERROR, "TLS: an alert not 2 bytes"));
        };
        if level != WARNING && level != FATAL {
            return Err(fatal(
                alert::ILLEGAL_PARAMETER,
                "TLS: an alert of no known level",
            ));
        }
        if description == alert::CLOSE_NOTIFY {
            return Ok(Opened::Closed);
        }
        if level == FATAL {
            return Err(silent("TLS: the client sent an alert"));
        }
        self.warnings_left =
            (self.warnings_left.checked_sub(1)).ok_or(silent("TLS: too many warning alerts"))?;
        if description != alert::USER_CANCELED {
            // TLS 1.3 has no warnings but user_canceled (§6).
            return Err(fatal(alert::DECODE_ERROR, "TLS: a warning alert"));
        }
        Ok(Opened::Nothing)
    }

    /// The handshake message gathered so far, once it is whole: only a
    /// KeyUpdate may come after the handshake.
    fn handshake(&mut self) -> Result<(), Fatal> {
        let Some(&[kind, a, b, c]) = self.message.first_chunk::<MESSAGE_HEADER>() else {
            return Ok(()); // its header spans records
        };
        let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        if len > MAX_MESSAGE {
            return Err(fatal(
                alert::DECODE_ERROR,
                "TLS: a handshake message too long",
            ));
        }
        if self.message.len() < MESSAGE_HEADER + len {
            return Ok(()); // its body spans records
        }
        if kind != KEY_UPDATE {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a handshake message after the handshake",
            ));
        }
        let &[request] = &self.message[MESSAGE_HEADER..MESSAGE_HEADER + len] else {
            return Err(fatal(alert::DECODE_ERROR, "TLS: a KeyUpdate not 1 byte"));
        };
        // The key changes at the end of a record: a KeyUpdate must end
        // one (§5.1).
        if self.message.len() > MESSAGE_HEADER + len {
            return Err(fatal(
                alert::UNEXPECTED_MESSAGE,
                "TLS: a KeyUpdate that does not end its record",
            ));
        }
        self.message = Vec::new();
        self.key_update(request)
    }

    /// A KeyUpdate from the client (§4.6.3): its key changes, so ours for
    /// reading does; asked to, ours for writing changes too, announced by
    /// a KeyUpdate of ours before the next record.
    fn key_update(&mut self, request: u8) -> Result<(), Fatal> {
        self.key_updates_left = (self.key_updates_left.checked_sub(1))
            .ok_or(silent("TLS: too many KeyUpdates without data"))?;
        if request > 1 {
            return Err(fatal(
                alert::ILLEGAL_PARAMETER,
                "TLS: a KeyUpdate asking neither",
            ));
        }
        self.rx = (self.schedule.next_read())
            .ok_or(fatal(alert::INTERNAL_ERROR, "TLS: no new read key"))?;
        self.update_owed |= request == 1;
        Ok(())
    }
}

/// A record header's checks before the record is opened (§5.1, §5.2, as
/// rustls makes them); returns the length of what follows the header.
fn check_header(header: [u8; HEADER]) -> Result<usize, Fatal> {
    let [content, major, minor, high, low] = header;
    let sealed = usize::from(u16::from_be_bytes([high, low]));
    if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&content) {
        return Err(fatal(alert::DECODE_ERROR, "TLS: a record of no known type"));
    }
    // Any 0x03XX, and the other versions rustls knows by name (SSL 2's
    // and DTLS's numbers): "ignored for all purposes" (§5.1) as long as
    // it is a version at all.
    if major != 3 && !matches!([major, minor], [0, 2] | [0xfe, 0xff | 0xfd | 0xfc]) {
        return Err(fatal(
            alert::DECODE_ERROR,
            "TLS: a record of no TLS version",
        ));
    }
    if content != APPLICATION_DATA && sealed == 0 {
        return Err(fatal(alert::DECODE_ERROR, "TLS: an empty record"));
    }
    if content == CHANGE_CIPHER_SPEC {
        // After the handshake every record is protected (§5), and a
        // change_cipher_spec is no longer allowed.
        return Err(fatal(
            alert::UNEXPECTED_MESSAGE,
            "TLS: a change_cipher_spec after the handshake",
        ));
    }
    if sealed > MAX_SEALED {
        return Err(fatal(alert::RECORD_OVERFLOW, "TLS: a record too long"));
    }
    Ok(sealed)
}

/// A protected record's header, which is also its additional data (§5.2).
fn aad(sealed: usize) -> [u8; HEADER] {
    let [high, low] = (sealed as u16).to_be_bytes();
    [APPLICATION_DATA, 3, 3, high, low]
}

#[cfg(test)]
mod tests;
