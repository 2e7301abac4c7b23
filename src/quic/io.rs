//! The UDP socket under QUIC: one datagram in, one out, and what to do when the kernel says no.

use std::io;
use std::net::SocketAddr;

use quinn_proto::Transmit;

use crate::sys::would_block;

/// The largest datagram read or written: any UDP payload.
pub const DATAGRAM_MAX: usize = 65_536;

/// One datagram into `buf`: its length and sender, or `None` when none is
/// waiting.
pub fn recv(
    socket: &mio::net::UdpSocket,
    buf: &mut [u8],
) -> io::Result<Option<(usize, SocketAddr)>> {
    loop {
        match socket.recv_from(buf) {
            Ok(got) => return Ok(Some(got)),
            Err(e) if would_block(&e) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // An ICMP error for an earlier send (the peer's port closed)
            // is reported on the next call: it is that peer's, not ours.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends what quinn wrote in `buf` for `transmit`; returns the syscalls
/// made. A full socket buffer drops the datagram: QUIC sends it again as
/// a loss, as it would one the network dropped.
pub fn send(socket: &mio::net::UdpSocket, transmit: &Transmit, buf: &[u8]) -> u64 {
    let datagram = &buf[..transmit.size.min(buf.len())];
    match socket.send_to(datagram, transmit.destination) {
        Ok(_) => {}
        Err(e) if would_block(&e) => log::trace!("HTTP/3: socket full, a datagram dropped"),
        Err(e) => log::debug!("HTTP/3 sendto {}: {e}", transmit.destination),
    }
    1
}
