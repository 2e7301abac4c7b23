//! One TLS connection as a [`Stream`]: records in from the socket,
//! plaintext out to the connection, and the reverse.
//!
//! What readiness means changes under TLS, and this is where it is kept
//! honest for the edge-triggered connection above:
//!
//! - A readable socket may yield no plaintext (half a record, or handshake
//!   messages only), so `read` goes on reading records until it has
//!   plaintext or the socket says WouldBlock. It returns a short read only
//!   when the socket is drained, as a plain socket does, because the
//!   connection stops reading on a short read and no new edge would come.
//! - rustls may hold records the socket has not taken (the handshake's
//!   flight, or a response larger than the socket's room): the stream
//!   says so ([`Stream::holds_output`]) and the connection keeps WRITABLE
//!   interest until they are sent. A write is short only when the socket
//!   is full, never because rustls's own buffer filled.
//! - There is no `sendfile` under TLS (this kernel offers no kTLS): a file
//!   is read (`pread`) into a 64 KiB stack buffer, four records at a time,
//!   and encrypted. With kTLS, the keys would be handed to the kernel after
//!   the handshake and `send_file` would go back to `sendfile(2)`.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::FileExt;

use mio::net::TcpStream;
use rustls::HandshakeKind;
use rustls::server::ServerConnection;

use crate::stream::Stream;
use crate::sys::{interrupted, would_block};

/// The most plaintext one TLS record carries (RFC 8446 §5.1).
const RECORD: usize = 16 * 1024;
/// A small response's record, gathered in a buffer this size.
const SMALL: usize = 2 * 1024;

/// Bytes read (for files) and encrypted at a time: four full records,
/// sent with one `writev` (one record per write measured 87 to 136
/// syscalls per 1 MiB response; four, 39).
const FILE_STEP: usize = 64 * 1024;

/// How a handshake ended, for the loop to count once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Done with a full handshake.
    Full,
    /// Done by resuming an earlier session.
    Resumed,
    /// Failed; the reason, as a metrics label.
    Failed(&'static str),
}

/// A TCP socket with rustls on it.
pub struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
    /// How the handshake ended, until the loop takes it.
    outcome: Option<Handshake>,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("tcp", &self.tcp)
            .field("handshaking", &self.tls.is_handshaking())
            .finish()
    }
}

impl TlsStream {
    /// Wraps an accepted socket and a fresh rustls server connection.
    pub fn new(tcp: TcpStream, tls: ServerConnection) -> TlsStream {
        TlsStream {
            tcp,
            tls,
            outcome: None,
        }
    }

    /// The socket, for the poller.
    pub fn tcp(&mut self) -> &mut TcpStream {
        &mut self.tcp
    }

    /// How the handshake ended, once.
    pub fn take_handshake(&mut self) -> Option<Handshake> {
        self.outcome.take()
    }

    /// Feeds the records just read to rustls. An error ends the
    /// connection; the alert rustls wrote for it is sent first, as far as
    /// the socket takes it.
    fn process(&mut self) -> io::Result<()> {
        let was_handshaking = self.tls.is_handshaking();
        if let Err(e) = self.tls.process_new_packets() {
            log::trace!("TLS: {e}: sending an alert and closing");
            if was_handshaking {
                self.outcome = Some(Handshake::Failed(reason(&e)));
            }
            let _ = self.tls.write_tls(&mut self.tcp);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        if was_handshaking && !self.tls.is_handshaking() {
            self.outcome = Some(match self.tls.handshake_kind() {
                Some(HandshakeKind::Resumed) => Handshake::Resumed,
                _ => Handshake::Full,
            });
            log::trace!(
                "TLS: handshake done ({:?}, {}, ALPN {})",
                self.tls.protocol_version(),
                match self.outcome {
                    Some(Handshake::Resumed) => "session resumed",
                    _ => "full handshake",
                },
                self.tls
                    .alpn_protocol()
                    .map_or("none".into(), String::from_utf8_lossy)
            );
        } else if was_handshaking && self.tls.wants_write() {
            log::trace!("TLS: ClientHello read; the server's flight is ready to send");
        }
        Ok(())
    }

    /// Encrypts from `bufs`, skipping their first `skip` bytes, one record's
    /// worth: the slices are gathered into one record first. rustls makes a
    /// record of each slice it is given, and a response is a head and a
    /// body (sixteen pipelined ones, thirty-two slices): one record for all
    /// of them is one AEAD seal and one header for the client to open.
    fn encrypt(&mut self, bufs: &[IoSlice<'_>], skip: usize) -> io::Result<usize> {
        // A slice of a record or more (a file's body) goes to rustls as it
        // is: it makes full records of it, and gathering would only copy.
        let mut offset = skip;
        for b in bufs {
            if offset >= b.len() {
                offset -= b.len();
                continue;
            }
            if b.len() - offset >= RECORD {
                return self.tls.writer().write(&b[offset..]);
            }
            break;
        }
        // Most writes are one response of a few hundred bytes: a small
        // buffer spares zeroing a whole record's on the stack for each.
        let total: usize = bufs.iter().map(|b| b.len()).sum::<usize>() - skip;
        if total <= SMALL {
            self.gather::<SMALL>(bufs, skip)
        } else {
            self.gather::<RECORD>(bufs, skip)
        }
    }

    /// Copies up to `N` bytes of `bufs` (after `skip`) into one record.
    // Never inlined: its record buffer would otherwise sit in the frame of
    // whatever called it, and a plain connection's writes (which share the
    // dispatch in `Socket`) would probe that much stack on every call.
    #[inline(never)]
    fn gather<const N: usize>(
        &mut self,
        bufs: &[IoSlice<'_>],
        mut skip: usize,
    ) -> io::Result<usize> {
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
        self.tls.writer().write(&record[..len])
    }
}

/// The socket as rustls reads it, noting whether the last read came back
/// shorter than asked: the kernel then had nothing more.
struct Probe<'a> {
    tcp: &'a mut TcpStream,
    short: bool,
}

impl Read for Probe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = Read::read(self.tcp, buf)?;
        self.short = n < buf.len();
        Ok(n)
    }
}

/// A short name for a rustls error, as a metrics label.
fn reason(e: &rustls::Error) -> &'static str {
    match e {
        rustls::Error::InvalidMessage(_) => "malformed",
        rustls::Error::PeerIncompatible(_) => "incompatible",
        rustls::Error::PeerMisbehaved(_) => "misbehaved",
        rustls::Error::AlertReceived(_) => "alert",
        _ => "other",
    }
}

impl Stream for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            // Plaintext already decrypted comes first.
            match self.tls.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled), // close_notify: the end
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            let mut probe = Probe {
                tcp: &mut self.tcp,
                short: false,
            };
            match self.tls.read_tls(&mut probe) {
                Ok(0) => {
                    if self.tls.is_handshaking() && self.outcome.is_none() {
                        self.outcome = Some(Handshake::Failed("closed"));
                    }
                    return Ok(filled);
                }
                Ok(_) => {
                    let drained = probe.short;
                    self.process()?;
                    // The handshake's replies go out as soon as they exist.
                    match self.send_held() {
                        Err(e) if !would_block(&e) => return Err(e),
                        _ => {}
                    }
                    // The socket gave less than rustls asked for: it is
                    // drained, so once the plaintext is out, a short read
                    // tells the truth without a read that says EAGAIN.
                    if drained {
                        match self.tls.reader().read(&mut buf[filled..]) {
                            Ok(0) => return Ok(filled), // close_notify
                            Ok(n) => filled += n,
                            Err(e) if would_block(&e) => {}
                            Err(e) => return Err(e),
                        }
                        return match filled {
                            0 => Err(io::ErrorKind::WouldBlock.into()),
                            n => Ok(n),
                        };
                    }
                }
                // Drained: a short read now tells the truth.
                Err(e) if would_block(&e) && filled > 0 => return Ok(filled),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // Records held from before go first; if they cannot, nothing new
        // is taken.
        self.send_held()?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut done = 0;
        while done < total {
            // Up to four records, then one write for all of them.
            let mut batch = 0;
            while done < total && batch < FILE_STEP {
                let n = self.encrypt(bufs, done)?;
                if n == 0 {
                    break; // rustls's own buffer is full
                }
                done += n;
                batch += n;
            }
            match self.send_held() {
                Ok(()) if batch > 0 => {}
                Ok(()) => break,
                // The socket is full: what was encrypted waits in rustls,
                // and the write is short, as a full socket's is.
                Err(e) if would_block(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    // Never inlined, for its 64 KiB buffer: see `gather`.
    #[inline(never)]
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        let mut buf = [0u8; FILE_STEP];
        let mut sent = 0;
        while sent < count {
            let want = (count - sent).min(FILE_STEP);
            let n = file.read_at(&mut buf[..want], offset + sent as u64)?;
            if n == 0 {
                break; // the file shrank: the caller reports it
            }
            let taken = self.write_vectored(&[IoSlice::new(&buf[..n])])?;
            sent += taken;
            if taken < n {
                break; // the socket is full
            }
        }
        Ok(sent)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tls.send_close_notify();
        let _ = self.send_held();
        self.tcp.shutdown(Shutdown::Write)
    }

    fn holds_output(&self) -> bool {
        self.tls.wants_write()
    }

    fn send_held(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    fn secure(&self) -> bool {
        true
    }
}
