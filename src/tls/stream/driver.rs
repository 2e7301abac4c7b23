//! The rustls side of a TLS stream: the handshake, TLS 1.2 for good, and handing TLS 1.3's keys over.
//!
//! rustls's unbuffered API is run over the bytes read ([`TlsStream::run`]):
//! plaintext goes to the connection, handshake records to the socket.
//! During the handshake rustls is given one whole record more each time
//! it asks, so that it stops at the client's Finished; then, over TLS 1.3,
//! the keys move to the stream's own records ([`TlsStream::take_keys`],
//! `own.rs`), and over TLS 1.2 rustls seals and opens every record.

use super::*;

impl<S: Stream> TlsStream<S> {
    /// Runs rustls over `incoming` (ciphertext, in the scratch buffer):
    /// plaintext goes to `buf[*filled..]`, handshake records to the socket.
    /// Returns how many bytes of `incoming` it used, and why it stopped.
    pub(super) fn run(
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
            let Engine::Rustls(tls) = &mut self.engine else {
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
        let Engine::Rustls(tls) = &self.engine else {
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
    pub(super) fn protocol(&self) -> Option<ProtocolVersion> {
        match &self.engine {
            Engine::Rustls(tls) => tls.protocol_version(),
            Engine::Own(_) | Engine::Lost => None,
        }
    }

    /// Over TLS 1.3, once the handshake is done, the keys move here and
    /// rustls keeps only what changes them. No record the client sent
    /// after its Finished is given to rustls first: one it acted on (a
    /// KeyUpdate asking for ours) would leave rustls holding a message of
    /// its own that handing over the keys drops. What rustls made by
    /// itself (the session ticket) is sent first.
    pub(super) fn take_keys(&mut self) -> io::Result<()> {
        if !matches!(self.engine, Engine::Rustls(_))
            || self.handshaking()
            || self.protocol() != Some(ProtocolVersion::TLSv1_3)
        {
            return Ok(());
        }
        loop {
            let Engine::Rustls(tls) = &mut self.engine else {
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
        let Engine::Rustls(tls) = std::mem::replace(&mut self.engine, Engine::Lost) else {
            return Ok(());
        };
        let (secrets, kernel) = (*tls)
            .dangerous_into_kernel_connection()
            .map_err(|e| io::Error::other(format!("TLS: the keys could not be taken: {e}")))?;
        let records = Records::new(secrets, kernel)
            .ok_or_else(|| io::Error::other("TLS: keys of a suite records.rs does not know"))?;
        log::trace!("TLS: records sealed and opened here from now on");
        self.engine = Engine::Own(Box::new(records));
        Ok(())
    }

    /// A rustls error ends the connection: counted, and the alert rustls
    /// made for it sent first, as far as the socket takes it.
    pub(super) fn fail(&mut self, e: rustls::Error, was_handshaking: bool) -> io::Error {
        log::trace!("TLS: {e}: sending an alert and closing");
        self.said_goodbye = true;
        if was_handshaking {
            self.ended(Handshake::Failed(reason(&e)));
        }
        // The alert waits in rustls as a record to encode; a few turns of
        // the state machine bring it out.
        for _ in 0..4 {
            let Engine::Rustls(tls) = &mut self.engine else {
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

    /// Encrypts `bufs` after their first `skip` bytes into `scratch`, a
    /// record at a time, up to four records; returns the plaintext taken
    /// and the ciphertext made.
    pub(super) fn seal(
        &mut self,
        bufs: &[IoSlice<'_>],
        skip: usize,
        scratch: &mut [u8],
    ) -> io::Result<(usize, usize)> {
        if let Engine::Own(_) = self.engine {
            return self.seal_records(bufs, skip, scratch);
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let (mut taken, mut made) = (0, 0);
        loop {
            let Engine::Rustls(tls) = &mut self.engine else {
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

/// Appends one record rustls has ready to `outgoing`, growing it to the
/// size rustls asks for.
pub(super) fn encode(
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
