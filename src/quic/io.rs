//! The UDP socket under QUIC: datagrams in by the batch (recvmmsg), out by the train (UDP GSO), and what to do when the kernel says no.
//!
//! Every client's packets arrive on one socket, so reading them one
//! `recvfrom` at a time is a syscall per packet. [`Inbox`] takes up to
//! [`SLOTS`] in one `recvmmsg(2)`. Going out, quinn writes a connection's
//! next datagrams back to back into one buffer, all of one size but the
//! last, when it is asked for more than one; with UDP generic
//! segmentation offload (`UDP_SEGMENT`, Linux 4.18) the kernel cuts such
//! a train into datagrams itself, so a 1 MiB download is a dozen
//! `sendmsg` calls instead of 750 `sendto`. A kernel or device that
//! refuses it (EIO: no checksum offload, as under some virtual NICs) turns
//! it off for good, and each datagram is sent on its own.

use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use quinn_proto::Transmit;
use socket2::SockAddr;

use crate::sys::{socket_addr, would_block};

/// The largest UDP payload this endpoint takes (its transport parameter:
/// peers send no larger), under Ethernet's MTU with IPv6's header.
pub const PAYLOAD_MAX: u16 = 1452;

/// Datagrams taken per `recvmmsg`.
pub const SLOTS: usize = 32;

/// Room for one datagram: more than [`PAYLOAD_MAX`], so one that is
/// larger shows as truncated and is dropped.
const SLOT: usize = 2048;

/// Datagrams in one train. A train is one UDP send, so all of it must fit
/// in 64 KiB: 32 of the largest (46,464 bytes) do, 64 (the kernel's
/// UDP_MAX_SEGMENTS) do not. Measured (h3-big, 10 clients, 1 MiB files):
/// 10 a train, 1,302 MiB/s at 763 µs of CPU a MiB; 32, 1,517 at 655; one
/// datagram a `sendto`, 517 at 1,929.
pub const TRAIN: usize = 32;

/// `UDP_SEGMENT` (linux/udp.h), which the libc crate names only for
/// uClibc.
const UDP_SEGMENT: libc::c_int = 103;

/// Room for a batch of received datagrams and their senders.
pub struct Inbox {
    bufs: Box<[u8]>,
    names: Box<[libc::sockaddr_storage; SLOTS]>,
    msgs: Box<[libc::mmsghdr; SLOTS]>,
    iovs: Box<[libc::iovec; SLOTS]>,
    /// How many the last receive took.
    count: usize,
}

impl Default for Inbox {
    fn default() -> Inbox {
        Inbox {
            bufs: vec![0; SLOTS * SLOT].into_boxed_slice(),
            // SAFETY: these are plain C structures: all-zero is a valid
            // value of each (null pointers and zero lengths are set
            // before every call).
            names: Box::new(unsafe { std::mem::zeroed() }),
            msgs: Box::new(unsafe { std::mem::zeroed() }),
            iovs: Box::new(unsafe { std::mem::zeroed() }),
            count: 0,
        }
    }
}

impl Inbox {
    /// Takes up to [`SLOTS`] datagrams waiting on `fd`; how many (0: none
    /// was waiting).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let base = self.bufs.as_mut_ptr();
        for i in 0..SLOTS {
            // SAFETY: slot i lies within `bufs` (SLOTS * SLOT bytes).
            self.iovs[i] = libc::iovec {
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: SLOT,
            };
            let msg = &mut self.msgs[i].msg_hdr;
            msg.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_iov = &mut self.iovs[i];
            msg.msg_iovlen = 1;
            msg.msg_control = std::ptr::null_mut();
            msg.msg_controllen = 0;
            msg.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        loop {
            // SAFETY: every header points at buffers that live in `self`
            // for the call, with their true lengths.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.msgs.as_mut_ptr(),
                    SLOTS as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                self.count = n as usize;
                return Ok(self.count);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                _ if would_block(&e) => {
                    self.count = 0;
                    return Ok(0);
                }
                io::ErrorKind::Interrupted => continue,
                // An ICMP error for an earlier send (the peer's port
                // closed) is reported on the next call: it is that
                // peer's, not this socket's.
                io::ErrorKind::ConnectionRefused => continue,
                _ => return Err(e),
            }
        }
    }

    /// Datagram `i` of the last batch and its sender; `None` if it was cut
    /// short (larger than any a peer may send) or its sender is not IP.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if i >= self.count {
            return None;
        }
        let msg = &self.msgs[i];
        if msg.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return None;
        }
        let len = (msg.msg_len as usize).min(SLOT);
        let from = socket_addr(&self.names[i])?;
        Some((&self.bufs[i * SLOT..i * SLOT + len], from))
    }
}

/// How datagrams leave: in trains while the kernel takes them.
#[derive(Debug)]
pub struct Outbox {
    /// UDP GSO works here (until a send says otherwise).
    pub gso: bool,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox { gso: true }
    }
}

impl Outbox {
    /// How many datagrams to ask quinn for at once.
    pub fn train(&self) -> usize {
        if self.gso { TRAIN } else { 1 }
    }

    /// Sends what quinn wrote in `buf` for `transmit`: one train, or each
    /// datagram on its own; returns the syscalls made. A full socket
    /// buffer drops what did not fit: QUIC sends it again as a loss, as
    /// it would one the network dropped.
    pub fn send(&mut self, fd: RawFd, transmit: &Transmit, buf: &[u8]) -> u64 {
        let bytes = &buf[..transmit.size.min(buf.len())];
        let to = SockAddr::from(transmit.destination);
        match transmit.segment_size {
            Some(segment) if bytes.len() > segment && self.gso => {
                match sendmsg(fd, bytes, &to, Some(segment)) {
                    Ok(()) => return 1,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EIO)
                            || e.raw_os_error() == Some(libc::EINVAL) =>
                    {
                        log::info!(
                            "HTTP/3: UDP segmentation offload refused ({e}); datagrams go one by one"
                        );
                        self.gso = false;
                    }
                    Err(e) => {
                        report(&e, transmit.destination);
                        return 1;
                    }
                }
                let mut calls = 1;
                for datagram in bytes.chunks(segment) {
                    calls += 1;
                    if let Err(e) = sendmsg(fd, datagram, &to, None) {
                        report(&e, transmit.destination);
                        break;
                    }
                }
                calls
            }
            Some(segment) => {
                let mut calls = 0;
                for datagram in bytes.chunks(segment) {
                    calls += 1;
                    if let Err(e) = sendmsg(fd, datagram, &to, None) {
                        report(&e, transmit.destination);
                        break;
                    }
                }
                calls
            }
            None => {
                if let Err(e) = sendmsg(fd, bytes, &to, None) {
                    report(&e, transmit.destination);
                }
                1
            }
        }
    }
}

fn report(e: &io::Error, to: SocketAddr) {
    match would_block(e) {
        true => log::trace!("HTTP/3: socket full, datagrams to {to} dropped"),
        false => log::debug!("HTTP/3 sendmsg {to}: {e}"),
    }
}

/// One `sendmsg`: `bytes` to `to`, cut into datagrams of `segment` bytes
/// by the kernel when it is given.
fn sendmsg(fd: RawFd, bytes: &[u8], to: &SockAddr, segment: Option<usize>) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    // Room for one cmsg carrying a u16, aligned as cmsghdr wants.
    let mut control = MaybeUninit::<[u64; 4]>::zeroed();
    // SAFETY: an all-zero msghdr is valid; every pointer set below points
    // at data that outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = to.as_ptr() as *mut libc::c_void;
    msg.msg_namelen = to.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(segment) = segment {
        // SAFETY: CMSG_SPACE of a u16 is within the 32 bytes of `control`,
        // and CMSG_FIRSTHDR of a header with that length is its start.
        unsafe {
            let space = libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as usize;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = space;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_UDP;
            (*cmsg).cmsg_type = UDP_SEGMENT;
            (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as usize;
            std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment as u16);
        }
    }
    loop {
        // SAFETY: `msg` and all it points at are valid for the call.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
