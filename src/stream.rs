//! The Stream trait under a connection, for mio's TcpStream (and a Box of any Stream).
//!
//! A connection and its output queue need five things from a socket: read,
//! write a batch of slices, write a batch that more bytes will follow at
//! once (MSG_MORE), send part of a file (`sendfile`), and shut the write
//! side. A layer with state of its own (TLS) answers six more, each with a
//! default for a bare socket: whether it holds output the socket has not
//! taken, sending that, whether it holds input the socket will not
//! announce, whether it is still handshaking, whether it is encrypted,
//! and whether ALPN chose HTTP/2. [`Stream`] names exactly those eleven,
//! so anything that provides them can stand under a connection:
//! a TCP socket here, a scripted fake in the fixture tests, and
//! [`crate::tls::TlsStream`] (which reads and writes records and has no
//! `sendfile`), itself over any of these.

use std::fs::File;
use std::io::{self, IoSlice, Read};
use std::net::Shutdown;
use std::os::fd::AsRawFd;

use mio::net::TcpStream;

use crate::sys;

/// What a connection needs of its socket. Every method is non-blocking:
/// "nothing now" is `io::ErrorKind::WouldBlock`.
pub trait Stream {
    /// `read(2)`: 0 means the peer closed its side.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// `writev(2)`: may take fewer bytes than offered.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// As [`Stream::write_vectored`], saying more follows at once (a file),
    /// so the bytes may wait to share segments with it.
    fn write_vectored_more(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write_vectored(bufs)
    }
    /// Up to `count` bytes of `file` from `offset`; 0 only if the file ended.
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize>;
    /// Shuts the write side (our FIN), keeping the read side open. A
    /// layer that holds output (TLS: its records, then close_notify) sends
    /// the FIN once that is sent, and holds output until then.
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Whether the stream holds output of its own that the socket has not
    /// taken yet (a TLS layer's records): while it does, the connection
    /// waits for WRITABLE even with its queue empty.
    fn holds_output(&self) -> bool {
        false
    }

    /// Sends what the stream holds; `WouldBlock` if the socket cannot take
    /// all of it now.
    fn send_held(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Whether the stream holds input that no read of the socket would
    /// announce (whole records it stopped opening so that others get
    /// their turn, or the client's close_notify not yet read as the end):
    /// a short read does not mean the stream is empty.
    fn holds_input(&self) -> bool {
        false
    }

    /// Whether the stream is still setting itself up (a TLS handshake):
    /// that counts as the head of the first request, under its deadline.
    fn handshaking(&self) -> bool {
        false
    }

    /// Whether what goes through it is encrypted (HTTPS).
    fn secure(&self) -> bool {
        false
    }

    /// Whether the peer chose HTTP/2 by ALPN (RFC 9113 §3.2).
    fn alpn_h2(&self) -> bool {
        false
    }
}

impl Stream for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(self, buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::send_gathered(self.as_raw_fd(), bufs)
    }

    fn write_vectored_more(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::send_more(self.as_raw_fd(), bufs)
    }

    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        sys::sendfile(self.as_raw_fd(), file, offset, count)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// A boxed stream is the stream.
impl<T: Stream + ?Sized> Stream for Box<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read(buf)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).write_vectored(bufs)
    }
    fn write_vectored_more(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (**self).write_vectored_more(bufs)
    }
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        (**self).send_file(file, offset, count)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }
    fn holds_output(&self) -> bool {
        (**self).holds_output()
    }
    fn send_held(&mut self) -> io::Result<()> {
        (**self).send_held()
    }
    fn holds_input(&self) -> bool {
        (**self).holds_input()
    }
    fn alpn_h2(&self) -> bool {
        (**self).alpn_h2()
    }
    fn handshaking(&self) -> bool {
        (**self).handshaking()
    }
    fn secure(&self) -> bool {
        (**self).secure()
    }
}
