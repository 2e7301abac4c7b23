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
//! - The stream may also hold input the socket no longer shows: it opens
//!   at most [`RECORDS_PER_READ`] records a read (so a client sending
//!   thousands of tiny records cannot keep the loop to itself), and the
//!   client's close_notify may come in the read that brings a request. It
//!   says so ([`Stream::holds_input`]): the connection answers what it
//!   read and comes back for the rest on its next turn.
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
    /// Who seals and opens the records.
    engine: Engine,
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
                &matches!(&self.engine, Engine::Rustls(t) if t.is_handshaking()),
            )
            .field("own_records", &matches!(self.engine, Engine::Own(_)))
            .finish()
    }
}

/// Who seals and opens a stream's records. Either way the contract is
/// the same: opening runs over whole records in the scratch buffer,
/// delivers plaintext to the connection's buffer and says how many bytes
/// it used and why it stopped ([`Stop`]); sealing takes the plaintext of
/// a write's slices, up to four records, and says how much it took and
/// how many bytes of records it made (`driver.rs` for rustls, `own.rs`
/// for the stream's own).
enum Engine {
    /// rustls, through the handshake, and for good over TLS 1.2. Boxed:
    /// over TLS 1.3 its kilobyte is freed at the hand-over, and an idle
    /// HTTPS connection keeps only the keys.
    Rustls(Box<UnbufferedServerConnection>),
    /// After a TLS 1.3 handshake: the keys, and records sealed and opened
    /// here (records.rs); rustls keeps only what changes the keys.
    Own(Box<Records>),
    /// rustls gave up the keys but they could not be taken (a suite
    /// records.rs does not know): nothing seals or opens, and the
    /// connection closes on the error that said so.
    Lost,
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
            engine: Engine::Rustls(Box::new(tls)),
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
            let ran = match self.engine {
                Engine::Own(_) => self.open_records(&mut scratch[..have], buf, &mut filled),
                Engine::Rustls(_) | Engine::Lost => {
                    self.run(&mut scratch[..have], buf, &mut filled)
                }
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
        matches!(&self.engine, Engine::Rustls(tls) if tls.is_handshaking())
    }

    fn secure(&self) -> bool {
        true
    }

    fn alpn_h2(&self) -> bool {
        self.h2
    }
}

mod driver;
mod own;
#[cfg(test)]
mod tests;
