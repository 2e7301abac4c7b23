//! What an edge says, and the one read that keeps it honest.
//!
//! mio reports readiness edges, so a connection remembers what the last
//! edge said ([`Ready`]) until a read disproves it. [`read`] is the only
//! read a connection makes: it clears `readable` when the kernel had no
//! more (WouldBlock, or a read shorter than the buffer), which is what
//! keeps a keep-alive request at one `read` and no read that says EAGAIN.

use std::io;

use crate::stream::Stream;
use crate::sys::{interrupted, would_block};

/// What an edge told us and no read has disproved yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// The socket may hold unread bytes (see the module docs).
    pub readable: bool,
    /// The poller reported the peer's FIN (EPOLLRDHUP). Then a short read
    /// no longer proves the socket empty: the EOF behind the data must
    /// still be read, and no new edge will announce it.
    pub hup: bool,
}

/// What one `read` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// This many bytes (more than zero).
    Data(usize),
    /// The client closed its side.
    Eof,
    /// Nothing now (EAGAIN): the socket is empty.
    WouldBlock,
}

/// One `read`, keeping `ready.readable` honest: cleared when the read would
/// block or comes back shorter than the buffer (the kernel gave all it had,
/// so another read would only say EAGAIN), unless the peer's FIN is known
/// to be queued behind the data (`ready.hup`) or the stream holds input
/// of its own ([`Stream::holds_input`]: then the connection yields, and
/// reads again on its next turn). Each call is counted.
pub fn read<S: Stream>(
    sock: &mut S,
    buf: &mut [u8],
    ready: &mut Ready,
    calls: &mut u64,
) -> io::Result<Got> {
    loop {
        *calls += 1;
        match sock.read(buf) {
            Ok(0) => {
                ready.readable = false;
                return Ok(Got::Eof);
            }
            Ok(n) => {
                if n < buf.len() && !ready.hup && !sock.holds_input() {
                    ready.readable = false;
                }
                return Ok(Got::Data(n));
            }
            Err(e) if interrupted(&e) => continue,
            Err(e) if would_block(&e) => {
                ready.readable = sock.holds_input();
                return Ok(Got::WouldBlock);
            }
            Err(e) => return Err(e),
        }
    }
}
