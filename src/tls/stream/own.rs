//! The stream's own TLS 1.3 records: opened into the connection's buffer, sealed from its slices, and the goodbyes.
//!
//! Once rustls has handed over the keys ([`super::records`] does the
//! record layer), the stream opens the client's records in place in the
//! scratch buffer, at most [`RECORDS_PER_READ`] a read, and seals the
//! connection's writes a record at a time, each one copy of its
//! plaintext gathered from the slices. A record that ends the connection
//! is answered with its alert; every close of ours says close_notify
//! first, unless a fatal alert was our last word.

use super::driver::encode;
use super::*;

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
    pub(super) fn seal_close_notify(&mut self) {
        if std::mem::replace(&mut self.said_goodbye, true) {
            return;
        }
        if let Engine::Own(records) = &mut self.engine {
            let start = self.outgoing.len();
            self.outgoing.resize(start + SEALING + 2, 0);
            let n = records.seal_alert(alert::CLOSE_NOTIFY, &mut self.outgoing[start..]);
            self.outgoing.truncate(start + n.unwrap_or(0));
        } else if let Engine::Rustls(tls) = &mut self.engine {
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
    pub(super) fn open_records(
        &mut self,
        incoming: &mut [u8],
        buf: &mut [u8],
        filled: &mut usize,
    ) -> io::Result<(usize, Stop)> {
        let mut used = 0;
        for _ in 0..RECORDS_PER_READ {
            let Engine::Own(records) = &mut self.engine else {
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
    pub(super) fn seal_records(
        &mut self,
        bufs: &[IoSlice<'_>],
        skip: usize,
        scratch: &mut [u8],
    ) -> io::Result<(usize, usize)> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let (mut taken, mut made) = (0, 0);
        let Engine::Own(records) = &mut self.engine else {
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
    pub(super) fn fail_records(&mut self, fatal: Fatal) -> io::Error {
        log::trace!("{}: closing", fatal.why);
        self.said_goodbye = true;
        if let (Some(description), Engine::Own(records)) = (fatal.alert, &mut self.engine) {
            let start = self.outgoing.len();
            self.outgoing.resize(start + SEALING + 2, 0);
            let n = records.seal_alert(description, &mut self.outgoing[start..]);
            self.outgoing.truncate(start + n.unwrap_or(0));
            let _ = send(&mut self.io, &mut self.outgoing);
        }
        io::Error::new(io::ErrorKind::InvalidData, fatal.why)
    }
}
