//! TlsStream: rustls (unbuffered) over any Stream, as a Stream; one scratch buffer per thread.
//!
//! One TLS connection as a [`Stream`]: records in from the socket,
//! plaintext out to the connection, and the reverse.
//!
//! This is rustls's unbuffered API: rustls keeps the connection's state
//! (the handshake, the keys) and nothing else, and the caller owns every
//! byte of ciphertext. So a connection keeps no buffer while it is idle:
//! what it reads and what it encrypts pass through one scratch buffer
//! that every connection of the thread shares (the loop is one thread), and
//! only what must outlive a call stays with the connection: part of a
//! record the client has not finished sending, records the socket has not
//! taken, plaintext the connection's buffer had no room for. Each is
//! freed once empty.
//!
//! What readiness means changes under TLS, and this is where it is kept
//! honest for the edge-triggered connection above:
//!
//! - A readable socket may yield no plaintext (half a record, or handshake
//!   messages only), so `read` goes on reading records until it has
//!   plaintext or the socket is empty. It returns a short read only
//!   then, as a plain socket does, because the connection stops reading on
//!   a short read and no new edge would come. It knows the socket is
//!   empty when a read comes back shorter than asked, without the read
//!   that says EAGAIN.
//! - The stream may hold records the socket has not taken (the handshake's
//!   flight, or a response larger than the socket's room): it says so
//!   ([`Stream::holds_output`]) and the connection keeps WRITABLE interest
//!   until they are sent. A write is short only when the socket is full.
//! - After a TLS 1.3 handshake rustls hands the traffic keys over and the
//!   stream seals and opens records itself ([`super::records`]), one copy
//!   of the plaintext per record instead of rustls's two; rustls keeps what
//!   changes keys. TLS 1.2 connections stay with rustls.
//! - There is no `sendfile` under TLS (this kernel offers no kTLS): a file
//!   is read (`pread`) into a 64 KiB stack buffer, four records at a time,
//!   and encrypted. With kTLS, the keys would be handed to the kernel after
//!   the handshake and `send_file` would go back to `sendfile(2)`.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::rc::Rc;

use mio::net::TcpStream;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedStatus,
};
use rustls::{HandshakeKind, ProtocolVersion};

use super::records::{Fatal, MAX_PLAIN, OVERHEAD as SEALING, Opened, Records, alert};
use crate::metrics::{Handshake, TlsCounts, TlsFailure};
use crate::stream::Stream;
use crate::sys::{self, interrupted, would_block};

/// The most plaintext one TLS record carries (RFC 8446 §5.1).
const RECORD: usize = 16 * 1024;
/// What a record adds to its plaintext, at most: the header, an explicit
/// nonce (TLS 1.2), the tag, the content type and padding (TLS 1.3).
const OVERHEAD: usize = 256;
/// A small response's record, gathered in a buffer this size.
const SMALL: usize = 2 * 1024;

/// Bytes read (for files) and encrypted at a time: four full records,
/// sent with one `writev` (one record per write measured 87 to 136
/// syscalls per 1 MiB response; four, 39).
const FILE_STEP: usize = 64 * 1024;

/// The shared scratch buffer: four records and their overhead, which is
/// also more than any one record a client may send.
const SCRATCH: usize = FILE_STEP + 4 * OVERHEAD;

/// Records opened in one read at most: a client that sends many records
/// carrying little (1-byte records, KeyUpdates between them) gets its
/// turn, and the others theirs, and the rest waits for the next turn.
const RECORDS_PER_READ: usize = 256;

thread_local! {
    /// The ciphertext of whichever connection is reading or writing. Its
    /// pages are touched only when HTTPS is served.
    static SCRATCH_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// A byte stream with rustls on it: a TCP socket when serving, a scripted
/// socket in the fixture tests (`stream/tests.rs`), which is why it is
/// generic over what lies beneath, as a connection is.
pub struct TlsStream<S = TcpStream> {
    io: S,
    /// rustls, through the handshake (and for good over TLS 1.2).
    tls: Option<UnbufferedServerConnection>,
    /// After a TLS 1.3 handshake: the keys, and records sealed and
    /// opened here (records.rs).
    records: Option<Box<Records>>,
    /// The client chose HTTP/2 by ALPN (kept once rustls is gone).
    h2: bool,
    /// The start of a record the client has not finished sending.
    incoming: Vec<u8>,
    /// Records the socket has not taken yet.
    outgoing: Vec<u8>,
    /// Plaintext the connection's buffer had no room for.
    plaintext: Vec<u8>,
    /// The client closed (close_notify, or the socket's EOF): nothing it
    /// sends after is read (RFC 8446 §6.1).
    eof: bool,
    /// ... and a read has said so (returned 0).
    eof_told: bool,
    /// A read stopped at [`RECORDS_PER_READ`] with whole records unread.
    more: bool,
    /// This side said its last word: a fatal alert, or close_notify.
    said_goodbye: bool,
    /// How the handshake ended, once it has.
    outcome: Option<Handshake>,
    /// Where it is counted, the moment it ends (shared with the metrics).
    counts: Rc<TlsCounts>,
    /// Our side is closing: the FIN waits until `outgoing` (which ends
    /// with close_notify) is sent, or it would overtake those records.
    fin_pending: bool,
}

impl<S: std::fmt::Debug> std::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("io", &self.io)
            .field(
                "handshaking",
                &self.tls.as_ref().is_some_and(|t| t.is_handshaking()),
            )
            .field("own_records", &self.records.is_some())
            .finish()
    }
}

/// Where a run of rustls over the bytes read stopped.
enum Stop {
    /// It needs more bytes from the client.
    NeedData,
    /// The connection's buffer is full of plaintext.
    Full,
    /// The client closed the TLS session.
    Closed,
    /// The TLS 1.3 handshake is done: the keys move here before another
    /// record of the client's is read.
    HandOver,
    /// [`RECORDS_PER_READ`] records were opened in this read.
    Budget,
}

impl<S: Stream> TlsStream<S> {
    /// Wraps an accepted socket and a fresh rustls server connection.
    pub fn new(io: S, tls: UnbufferedServerConnection, counts: Rc<TlsCounts>) -> TlsStream<S> {
        TlsStream {
            io,
            tls: Some(tls),
            records: None,
            h2: false,
            incoming: Vec::new(),
            outgoing: Vec::new(),
            plaintext: Vec::new(),
            eof: false,
            eof_told: false,
            more: false,
            said_goodbye: false,
            outcome: None,
            counts,
            fin_pending: false,
        }
    }

    /// The stream beneath (the socket, for the poller).
    pub fn inner(&mut self) -> &mut S {
        &mut self.io
    }

    /// How the handshake ended, if it has.
    pub fn handshake(&self) -> Option<Handshake> {
        self.outcome
    }

    /// Notes and counts how the handshake ended, the first time only (a
    /// failure may be followed by the socket's EOF).
    fn ended(&mut self, how: Handshake) {
        if self.outcome.is_none() {
            self.outcome = Some(how);
            self.counts.count(how);
        }
    }

    /// Runs rustls over `incoming` (ciphertext, in the scratch buffer):
    /// plaintext goes to `buf[*filled..]`, handshake records to the socket.
    /// Returns how many bytes of `incoming` it used, and why it stopped.
    fn run(
        &mut self,
        incoming: &mut [u8],
        buf: &mut [u8],
        filled: &mut usize,
    ) -> io::Result<(usize, Stop)> {
        let mut used = 0;
        // While the handshake lasts, rustls is given one more whole record
        // each time it asks for more, so that it stops at the client's
        // Finished: what follows is for the keys' next holder (see
        // `take_keys`). rustls would go on to act on it when it has no
        // session ticket to send.
        let mut fed = 0;
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return Err(io::Error::other("TLS: rustls is gone"));
            };
            let was_handshaking = tls.is_handshaking();
            let end = if was_handshaking {
                fed = fed.max(record_end(incoming, used));
                fed
            } else {
                incoming.len()
            };
            let UnbufferedStatus { mut discard, state } =
                tls.process_tls_records(&mut incoming[used..end]);
            let state = match state {
                Ok(state) => state,
                Err(e) => return Err(self.fail(e, was_handshaking)),
            };
            let stop = match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        let record =
                            record.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                        discard += record.discard;
                        deliver(record.payload, buf, filled, &mut self.plaintext);
                    }
                    None
                }
                ConnectionState::EncodeTlsData(mut data) => {
                    encode(&mut self.outgoing, |out| data.encode(out))?;
                    None
                }
                ConnectionState::TransmitTlsData(data) => {
                    if was_handshaking {
                        log::trace!(
                            "TLS: {} bytes of handshake records to send",
                            self.outgoing.len()
                        );
                    }
                    // The handshake's replies go out as soon as they exist;
                    // what the socket does not take waits for WRITABLE.
                    match send(&mut self.io, &mut self.outgoing) {
                        Err(e) if !would_block(&e) => return Err(e),
                        _ => data.done(),
                    }
                    None
                }
                ConnectionState::BlockedHandshake | ConnectionState::WriteTraffic(_) => {
                    Some(Stop::NeedData)
                }
                ConnectionState::PeerClosed | ConnectionState::Closed => Some(Stop::Closed),
                // No early data is accepted (no 0-RTT), and nothing else is
                // expected of a server.
                _ => return Err(io::Error::other("TLS: unexpected state")),
            };
            used += discard;
            if was_handshaking && !self.handshaking() {
                self.handshake_done();
                if self.protocol() == Some(ProtocolVersion::TLSv1_3) {
                    return Ok((used, Stop::HandOver));
                }
            }
            if *filled == buf.len() && !matches!(stop, Some(Stop::Closed)) {
                return Ok((used, Stop::Full));
            }
            if let (true, Some(Stop::NeedData)) = (was_handshaking, &stop)
                && fed < incoming.len()
            {
                fed = record_end(incoming, fed);
                continue;
            }
            if let Some(stop) = stop {
                return Ok((used, stop));
            }
        }
    }

    /// Notes how the handshake ended.
    fn handshake_done(&mut self) {
        let Some(tls) = self.tls.as_ref() else {
            return;
        };
        let how = match tls.handshake_kind() {
            Some(HandshakeKind::Resumed) => Handshake::Resumed,
            _ => Handshake::Full,
        };
        self.h2 = tls.alpn_protocol() == Some(b"h2");
        log::trace!(
            "TLS: handshake done ({:?}, {}, ALPN {})",
            tls.protocol_version(),
            match how {
                Handshake::Resumed => "session resumed",
                _ => "full handshake",
            },
            tls.alpn_protocol()
                .map_or("none".into(), String::from_utf8_lossy)
        );
        self.ended(how);
    }

    /// The version rustls negotiated, while rustls has the connection.
    fn protocol(&self) -> Option<ProtocolVersion> {
        self.tls.as_ref().and_then(|t| t.protocol_version())
    }

    /// Over TLS 1.3, once the handshake is done, the keys move here and
    /// rustls keeps only what changes them. No record the client sent
    /// after its Finished is given to rustls first: one it acted on (a
    /// KeyUpdate asking for ours) would leave rustls holding a message of
    /// its own that handing over the keys drops. What rustls made by
    /// itself (the session ticket) is sent first.
    fn take_keys(&mut self) -> io::Result<()> {
        if self.records.is_some()
            || self.handshaking()
            || self.protocol() != Some(ProtocolVersion::TLSv1_3)
        {
            return Ok(());
        }
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return Ok(());
            };
            let error = match tls.process_tls_records(&mut []).state {
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode(&mut self.outgoing, |out| data.encode(out))?;
                    continue;
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    match send(&mut self.io, &mut self.outgoing) {
                        Err(e) if !would_block(&e) => return Err(e),
                        _ => data.done(),
                    }
                    continue;
                }
                Ok(ConnectionState::WriteTraffic(_)) => break,
                Ok(_) => return Err(io::Error::other("TLS: the keys are not ready")),
                Err(e) => e,
            };
            return Err(self.fail(error, false));
        }
        let Some(tls) = self.tls.take() else {
            return Ok(());
        };
        let (secrets, kernel) = tls
            .dangerous_into_kernel_connection()
            .map_err(|e| io::Error::other(format!("TLS: the keys could not be taken: {e}")))?;
        let records = Records::new(secrets, kernel)
            .ok_or_else(|| io::Error::other("TLS: keys of a suite records.rs does not know"))?;
        log::trace!("TLS: records sealed and opened here from now on");
        self.records = Some(Box::new(records));
        Ok(())
    }

    /// A rustls error ends the connection: counted, and the alert rustls
    /// made for it sent first, as far as the socket takes it.
    fn fail(&mut self, e: rustls::Error, was_handshaking: bool) -> io::Error {
        log::trace!("TLS: {e}: sending an alert and closing");
        self.said_goodbye = true;
        if was_handshaking {
            self.ended(Handshake::Failed(reason(&e)));
        }
        // The alert waits in rustls as a record to encode; a few turns of
        // the state machine bring it out.
        for _ in 0..4 {
            let Some(tls) = self.tls.as_mut() else {
                break;
            };
            let UnbufferedStatus { state, .. } = tls.process_tls_records(&mut []);
            match state {
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    if encode(&mut self.outgoing, |out| data.encode(out)).is_err() {
                        break;
                    }
                }
                Ok(ConnectionState::TransmitTlsData(data)) => {
                    let _ = send(&mut self.io, &mut self.outgoing);
                    data.done();
                }
                _ => break,
            }
        }
        io::Error::new(io::ErrorKind::InvalidData, e)
    }

    /// Reads and decrypts into `buf`, with `scratch` for the ciphertext.
    fn read_with(&mut self, buf: &mut [u8], scratch: &mut [u8]) -> io::Result<usize> {
        // Plaintext left over from last time comes first.
        let mut filled = self.plaintext.len().min(buf.len());
        buf[..filled].copy_from_slice(&self.plaintext[..filled]);
        self.plaintext.drain(..filled);
        if self.plaintext.is_empty() {
            self.plaintext = Vec::new();
        }
        self.more = false;
        if filled == buf.len() {
            return Ok(filled);
        }
        if self.eof {
            self.eof_told = filled == 0;
            return Ok(filled);
        }
        // Then the part of a record kept from last time, and what the
        // socket has.
        let mut have = self.incoming.len();
        scratch[..have].copy_from_slice(&self.incoming);
        self.incoming = Vec::new();
        let mut emptied = false;
        let result = loop {
            let ran = if self.records.is_some() {
                self.open_records(&mut scratch[..have], buf, &mut filled)
            } else {
                self.run(&mut scratch[..have], buf, &mut filled)
            };
            let (used, stop) = match ran {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            scratch.copy_within(used..have, 0);
            have -= used;
            match stop {
                Stop::Full => break Ok(()),
                Stop::Closed => {
                    // What follows close_notify is never read (RFC 8446
                    // §6.1).
                    self.eof = true;
                    have = 0;
                    break Ok(());
                }
                Stop::HandOver => match self.take_keys() {
                    Ok(()) => continue,
                    Err(e) => break Err(e),
                },
                Stop::Budget => {
                    self.more = true;
                    break Ok(());
                }
                Stop::NeedData if emptied || self.eof => break Ok(()),
                Stop::NeedData => {}
            }
            // A record is at most 16 KiB and its overhead: the scratch
            // always has room for the rest of one.
            match self.io.read(&mut scratch[have..]) {
                Ok(0) => {
                    if self.handshaking() {
                        self.ended(Handshake::Failed(TlsFailure::Closed));
                    }
                    self.eof = true;
                }
                Ok(n) => {
                    // The socket gave less than asked: it is empty, so
                    // once this is decrypted, a short read tells the truth.
                    emptied = n < scratch.len() - have;
                    have += n;
                }
                Err(e) if would_block(&e) => emptied = true,
                Err(e) if interrupted(&e) => {}
                Err(e) => break Err(e),
            }
        };
        if have > 0 {
            self.incoming = scratch[..have].to_vec();
        }
        result?;
        match filled {
            0 if self.eof => {
                self.eof_told = true;
                Ok(0)
            }
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// Encrypts `bufs` after their first `skip` bytes into `scratch`, a
    /// record at a time, up to four records; returns the plaintext taken
    /// and the ciphertext made.
    fn seal(
        &mut self,
        bufs: &[IoSlice<'_>],
        skip: usize,
        scratch: &mut [u8],
    ) -> io::Result<(usize, usize)> {
        if self.records.is_some() {
            return self.seal_records(bufs, skip, scratch);
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let (mut taken, mut made) = (0, 0);
        loop {
            let Some(tls) = self.tls.as_mut() else {
                return Err(io::Error::other("TLS: rustls is gone"));
            };
            let UnbufferedStatus { mut discard, state } =
                tls.process_tls_records(&mut self.incoming);
            match state {
                Ok(ConnectionState::WriteTraffic(mut traffic)) => {
                    while skip + taken < total && taken < FILE_STEP {
                        let n = gathered(bufs, skip + taken, |plain| {
                            traffic.encrypt(plain, &mut scratch[made..])
                        });
                        match n {
                            Ok((plain, sealed)) => {
                                taken += plain;
                                made += sealed;
                            }
                            Err(EncryptError::InsufficientSize(_)) => break,
                            // The keys may seal no more records (2^64 of them).
                            Err(_) => return Err(io::Error::other("TLS: the keys are used up")),
                        }
                    }
                    self.incoming.drain(..discard);
                    return Ok((taken, made));
                }
                // Whole records kept when the connection's buffer was
                // full (a long pipeline, a large body): their plaintext
                // waits for the next read.
                Ok(ConnectionState::ReadTraffic(mut traffic)) => {
                    while let Some(record) = traffic.next_record() {
                        let record =
                            record.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                        discard += record.discard;
                        deliver(record.payload, &mut [], &mut 0, &mut self.plaintext);
                    }
                }
                // Records rustls made on its own (a ticket, a key update):
                // they go first.
                Ok(ConnectionState::EncodeTlsData(mut data)) => {
                    encode(&mut self.outgoing, |out| data.encode(out))?;
                }
                Ok(ConnectionState::TransmitTlsData(data)) => data.done(),
                Ok(_) => return Err(io::Error::other("TLS: no application data yet")),
                Err(e) => return Err(self.fail(e, false)),
            }
            self.incoming.drain(..discard);
        }
    }

    /// Writes with `scratch` for the records.
    fn write_with(&mut self, bufs: &[IoSlice<'_>], scratch: &mut [u8]) -> io::Result<usize> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut done = 0;
        while done < total {
            let (taken, made) = self.seal(bufs, done, scratch)?;
            if taken == 0 {
                break;
            }
            done += taken;
            // Records made on their own are older: they go first.
            if !self.outgoing.is_empty() {
                self.outgoing.extend_from_slice(&scratch[..made]);
                match self.send_held() {
                    Err(e) if would_block(&e) => break,
                    r => r?,
                }
                continue;
            }
            let (sent, result) = write_all(&mut self.io, &scratch[..made]);
            match result {
                Err(e) if !would_block(&e) => return Err(e),
                _ => {}
            }
            if sent < made {
                // The socket is full: the records wait here, and the write
                // is short, as a full socket's is.
                self.outgoing.extend_from_slice(&scratch[sent..made]);
                break;
            }
        }
        Ok(done)
    }
}

impl<S: Stream> TlsStream<S> {
    /// The connection is closing: close_notify (RFC 8446 §6.1), sent as
    /// far as the socket takes it now, unless our last word was said.
    pub fn close_notify(&mut self) {
        self.seal_close_notify();
        let _ = send(&mut self.io, &mut self.outgoing);
    }

    /// Puts close_notify behind the records held, once: not after a
    /// fatal alert, nor in the middle of the handshake. Records still
    /// unread need not come out first (a lingering close discards its
    /// input anyway).
    fn seal_close_notify(&mut self) {
        if std::mem::replace(&mut self.said_goodbye, true) {
            return;
        }
        if let Some(records) = self.records.as_mut() {
            let start = self.outgoing.len();
            self.outgoing.resize(start + SEALING + 2, 0);
            let n = records.seal_alert(alert::CLOSE_NOTIFY, &mut self.outgoing[start..]);
            self.outgoing.truncate(start + n.unwrap_or(0));
        } else if let Some(tls) = self.tls.as_mut() {
            let UnbufferedStatus { discard, state } = tls.process_tls_records(&mut self.incoming);
            if let Ok(ConnectionState::WriteTraffic(mut traffic)) = state {
                let _ = encode(&mut self.outgoing, |out| {
                    traffic.queue_close_notify(out).map_err(|e| match e {
                        EncryptError::InsufficientSize(s) => EncodeError::InsufficientSize(s),
                        _ => EncodeError::AlreadyEncoded,
                    })
                });
            }
            self.incoming.drain(..discard);
        }
    }

    /// Opens the whole records at the start of `incoming` with the keys
    /// taken from rustls: plaintext to `buf[*filled..]`, as [`Self::run`]
    /// does. Returns how many bytes of `incoming` it used, and why it
    /// stopped.
    fn open_records(
        &mut self,
        incoming: &mut [u8],
        buf: &mut [u8],
        filled: &mut usize,
    ) -> io::Result<(usize, Stop)> {
        let mut used = 0;
        for _ in 0..RECORDS_PER_READ {
            let Some(records) = self.records.as_mut() else {
                return Err(io::Error::other("TLS: no keys"));
            };
            let (n, opened) = match records.open(&mut incoming[used..]) {
                Ok(Some(record)) => record,
                Ok(None) => return Ok((used, Stop::NeedData)),
                Err(fatal) => return Err(self.fail_records(fatal)),
            };
            match opened {
                Opened::Data(range) => {
                    let plain = &incoming[used + range.start..used + range.end];
                    deliver(plain, buf, filled, &mut self.plaintext);
                }
                Opened::Nothing => {}
                Opened::Closed => return Ok((used + n, Stop::Closed)),
            }
            used += n;
            if *filled == buf.len() {
                return Ok((used, Stop::Full));
            }
        }
        Ok((used, Stop::Budget))
    }

    /// Seals `bufs` after their first `skip` bytes into `scratch` with the
    /// keys taken from rustls, a record at a time (each one copy of its
    /// plaintext, gathered from the slices), up to four records; returns
    /// the plaintext taken and the ciphertext made.
    fn seal_records(
        &mut self,
        bufs: &[IoSlice<'_>],
        skip: usize,
        scratch: &mut [u8],
    ) -> io::Result<(usize, usize)> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let (mut taken, mut made) = (0, 0);
        let Some(records) = self.records.as_mut() else {
            return Err(io::Error::other("TLS: no keys"));
        };
        let mut failed = None;
        while skip + taken < total && taken < FILE_STEP {
            let len = (total - skip - taken).min(MAX_PLAIN);
            if scratch.len() - made < records.room(len) {
                break;
            }
            let from = skip + taken;
            match records.seal(len, &mut scratch[made..], |plain| {
                copy_out(bufs, from, plain)
            }) {
                Ok(n) => {
                    taken += len;
                    made += n;
                }
                Err(fatal) => {
                    failed = Some(fatal);
                    break;
                }
            }
        }
        match failed {
            Some(fatal) => Err(self.fail_records(fatal)),
            None => Ok((taken, made)),
        }
    }

    /// A record that ends the connection: the alert it calls for is sent
    /// (as far as the socket takes it), and the error names why.
    fn fail_records(&mut self, fatal: Fatal) -> io::Error {
        log::trace!("{}: closing", fatal.why);
        self.said_goodbye = true;
        if let (Some(description), Some(records)) = (fatal.alert, self.records.as_mut()) {
            let start = self.outgoing.len();
            self.outgoing.resize(start + SEALING + 2, 0);
            let n = records.seal_alert(description, &mut self.outgoing[start..]);
            self.outgoing.truncate(start + n.unwrap_or(0));
            let _ = send(&mut self.io, &mut self.outgoing);
        }
        io::Error::new(io::ErrorKind::InvalidData, fatal.why)
    }
}

/// Where the record that starts at `at` in `bytes` ends, if it is whole;
/// else the end of `bytes` (rustls waits for the rest, or refuses a
/// header that is none).
fn record_end(bytes: &[u8], at: usize) -> usize {
    match bytes.get(at..at + 5) {
        Some(&[_, _, _, high, low]) => {
            let end = at + 5 + usize::from(u16::from_be_bytes([high, low]));
            end.min(bytes.len())
        }
        _ => bytes.len(),
    }
}

/// Copies `out.len()` bytes of `bufs`, from `skip` bytes in, into `out`.
fn copy_out(bufs: &[IoSlice<'_>], mut skip: usize, out: &mut [u8]) {
    let mut at = 0;
    for b in bufs {
        if at == out.len() {
            return;
        }
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        let part = &b[skip..];
        skip = 0;
        let take = part.len().min(out.len() - at);
        out[at..at + take].copy_from_slice(&part[..take]);
        at += take;
    }
}

/// Appends one record rustls has ready to `outgoing`, growing it to the
/// size rustls asks for.
fn encode(
    outgoing: &mut Vec<u8>,
    mut encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
) -> io::Result<()> {
    let start = outgoing.len();
    let mut size = 1024;
    loop {
        outgoing.resize(start + size, 0);
        match encode(&mut outgoing[start..]) {
            Ok(n) => {
                outgoing.truncate(start + n);
                return Ok(());
            }
            Err(EncodeError::InsufficientSize(InsufficientSizeError { required_size })) => {
                size = required_size;
            }
            Err(_) => {
                outgoing.truncate(start);
                return Err(io::Error::other(
                    "TLS: a handshake record was encoded twice",
                ));
            }
        }
    }
}

/// Sends what `outgoing` holds, as far as the socket takes it; frees it
/// once empty.
fn send(io: &mut impl Stream, outgoing: &mut Vec<u8>) -> io::Result<()> {
    let (sent, result) = write_all(io, outgoing);
    if sent == outgoing.len() {
        *outgoing = Vec::new();
    } else {
        outgoing.drain(..sent);
    }
    result
}

/// Writes `bytes` until they are all sent or the socket refuses more;
/// returns how many went, and the error that stopped it (WouldBlock when
/// the socket is full).
fn write_all(io: &mut impl Stream, bytes: &[u8]) -> (usize, io::Result<()>) {
    let mut sent = 0;
    while sent < bytes.len() {
        match io.write_vectored(&[IoSlice::new(&bytes[sent..])]) {
            Ok(0) => return (sent, Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => sent += n,
            Err(e) if interrupted(&e) => {}
            Err(e) => return (sent, Err(e)),
        }
    }
    (sent, Ok(()))
}

/// Copies a record's plaintext into `buf[*filled..]` as far as it has
/// room, and the rest to `rest`, for the next read.
fn deliver(payload: &[u8], buf: &mut [u8], filled: &mut usize, rest: &mut Vec<u8>) {
    let take = payload.len().min(buf.len() - *filled);
    buf[*filled..*filled + take].copy_from_slice(&payload[..take]);
    *filled += take;
    rest.extend_from_slice(&payload[take..]);
}

/// Calls `seal` with the plaintext of `bufs` after `skip`, one record's
/// worth, gathered into one slice: a response is a head and a body
/// (sixteen pipelined ones, thirty-two slices), and one record for all of
/// them is one AEAD seal and one header for the client to open. A slice of
/// a record or more (a file's body) is passed as it is. Returns the
/// plaintext taken and what `seal` returned.
fn gathered<E>(
    bufs: &[IoSlice<'_>],
    skip: usize,
    seal: impl FnOnce(&[u8]) -> Result<usize, E>,
) -> Result<(usize, usize), E> {
    let mut offset = skip;
    for b in bufs {
        if offset >= b.len() {
            offset -= b.len();
            continue;
        }
        if b.len() - offset >= RECORD {
            let plain = &b[offset..offset + RECORD];
            return seal(plain).map(|n| (RECORD, n));
        }
        break;
    }
    // Most writes are one response of a few hundred bytes: a small buffer
    // spares zeroing a whole record's on the stack for each.
    let total: usize = bufs.iter().map(|b| b.len()).sum::<usize>() - skip;
    if total <= SMALL {
        gather::<SMALL, E>(bufs, skip, seal)
    } else {
        gather::<RECORD, E>(bufs, skip, seal)
    }
}

/// Copies up to `N` bytes of `bufs` (after `skip`) into one record's
/// plaintext and seals it.
// Never inlined: its record buffer would otherwise sit in the frame of
// whatever called it, and a plain connection's writes (which share the
// dispatch in `Socket`) would probe that much stack on every call.
#[inline(never)]
fn gather<const N: usize, E>(
    bufs: &[IoSlice<'_>],
    mut skip: usize,
    seal: impl FnOnce(&[u8]) -> Result<usize, E>,
) -> Result<(usize, usize), E> {
    let mut record = [0u8; N];
    let mut len = 0;
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
            continue;
        }
        let part = &b[skip..];
        skip = 0;
        let take = part.len().min(N - len);
        record[len..len + take].copy_from_slice(&part[..take]);
        len += take;
        if len == N {
            break;
        }
    }
    seal(&record[..len]).map(|n| (len, n))
}

/// Why a handshake failed, from rustls's error.
fn reason(e: &rustls::Error) -> TlsFailure {
    match e {
        rustls::Error::InvalidMessage(_) => TlsFailure::Malformed,
        rustls::Error::PeerIncompatible(_) => TlsFailure::Incompatible,
        rustls::Error::PeerMisbehaved(_) => TlsFailure::Misbehaved,
        rustls::Error::AlertReceived(_) => TlsFailure::Alert,
        _ => TlsFailure::Other,
    }
}

impl<S: Stream> Stream for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.take_keys()?;
        SCRATCH_BUF.with_borrow_mut(|scratch| self.read_with(buf, scratch))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.take_keys()?;
        // Records held from before go first; if they cannot, nothing new
        // is taken.
        self.send_held()?;
        SCRATCH_BUF.with_borrow_mut(|scratch| self.write_with(bufs, scratch))
    }

    // Never inlined, for its 64 KiB buffer: see `gather`.
    #[inline(never)]
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        // Not zeroed first: pread overwrites what is used, and zeroing
        // 64 KiB a step would be one more pass over the bytes for nothing.
        let mut buf = [MaybeUninit::<u8>::uninit(); FILE_STEP];
        let mut sent = 0;
        while sent < count {
            let want = (count - sent).min(FILE_STEP);
            let n = sys::pread_uninit(file, &mut buf[..want], offset + sent as u64)
                .map_err(|e| sys::context(e, "pread"))?;
            if n == 0 {
                break; // the file shrank: the caller reports it
            }
            // SAFETY: pread wrote the first `n` bytes.
            let read = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
            let taken = match self.write_vectored(&[IoSlice::new(read)]) {
                Ok(taken) => taken,
                // The steps before were taken (sent, or sealed and held):
                // their count must reach the caller, or it would send
                // the same range again.
                Err(e) if sent > 0 && would_block(&e) => break,
                Err(e) => return Err(e),
            };
            sent += taken;
            if taken < n || self.holds_output() {
                // The socket is full: sealing more now would only grow
                // what the stream holds.
                break;
            }
        }
        Ok(sent)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.seal_close_notify();
        self.fin_pending = true;
        match self.send_held() {
            Err(e) if would_block(&e) => Ok(()),
            r => r,
        }
    }

    fn holds_input(&self) -> bool {
        self.more || !self.plaintext.is_empty() || (self.eof && !self.eof_told)
    }

    fn holds_output(&self) -> bool {
        !self.outgoing.is_empty()
    }

    fn send_held(&mut self) -> io::Result<()> {
        send(&mut self.io, &mut self.outgoing)?;
        if self.fin_pending {
            self.fin_pending = false;
            return self.io.shutdown_write();
        }
        Ok(())
    }

    fn handshaking(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.is_handshaking())
    }

    fn secure(&self) -> bool {
        true
    }

    fn alpn_h2(&self) -> bool {
        self.h2
    }
}

#[cfg(test)]
mod tests;
