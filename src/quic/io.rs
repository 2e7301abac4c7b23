//! The UDP socket under QUIC: datagrams in by the batch (recvmmsg), out by the train (UDP GSO) and the batch (sendmmsg), and what to do when the kernel says no.
//!
//! Every client's packets arrive on one socket, so reading them one
//! `recvfrom` at a time is a syscall per packet. [`Inbox`] takes up to
//! [`SLOTS`] in one `recvmmsg(2)`. Going out, quinn writes a connection's
//! next datagrams back to back into one buffer, all of one size but the
//! last, when it is asked for more than one; with UDP generic
//! segmentation offload (`UDP_SEGMENT`, Linux 4.18) the kernel cuts such
//! a train into datagrams itself, so a 1 MiB download is a few dozen
//! sends instead of 750. A kernel or device that refuses it (EIO: no
//! checksum offload, as under some virtual NICs) turns it off for good,
//! and each datagram is sent on its own. And what every connection has to
//! send in one turn of the loop is queued ([`Outbox`]) and leaves in one
//! `sendmmsg(2)`: with a hundred clients, a turn answers many of them, and
//! a syscall each was a third of the CPU a request cost.

use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

use quinn_proto::Transmit;
use socket2::SockAddr;

use crate::sys::{socket_addr, would_block};
use crate::trace::plural;

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
                    libc::MSG_DONTWAIT as _,
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

/// Datagrams queued in one turn of the loop, at most.
const QUEUED: usize = 64;

/// Bytes queued in one turn, at most (each train is under 64 KiB).
const QUEUED_BYTES: usize = 512 * 1024;

/// One queued send: where its bytes are in the arena, where they go, and
/// the datagram size a train is cut at.
#[derive(Debug, Clone)]
struct Queued {
    start: usize,
    len: usize,
    to: SocketAddr,
    /// `to` as the kernel reads it, made once.
    name: SockAddr,
    segment: Option<u16>,
}

/// The headers of one `sendmmsg`, kept from call to call so that a turn's
/// send allocates nothing (they point into the arena while a call runs).
#[derive(Default)]
struct Headers {
    iovs: Vec<libc::iovec>,
    controls: Vec<[u64; 4]>,
    msgs: Vec<libc::mmsghdr>,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Headers").finish_non_exhaustive()
    }
}

/// How datagrams leave: queued through a turn of the loop, every
/// connection's together, then one `sendmmsg(2)` for them all; each a
/// train cut by the kernel (UDP GSO) while it takes them.
#[derive(Debug)]
pub struct Outbox {
    /// UDP GSO works here (until a send says otherwise).
    pub gso: bool,
    arena: Vec<u8>,
    queued: Vec<Queued>,
    headers: Headers,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox {
            gso: true,
            arena: Vec::new(),
            queued: Vec::with_capacity(QUEUED),
            headers: Headers::default(),
        }
    }
}

impl Outbox {
    /// How many datagrams to ask quinn for at once.
    pub fn train(&self) -> usize {
        if self.gso { TRAIN } else { 1 }
    }

    /// Queues what quinn wrote in `buf` for `transmit`, sending what was
    /// queued first if there is no room; returns the syscalls made.
    pub fn queue(&mut self, fd: RawFd, transmit: &Transmit, buf: &[u8]) -> u64 {
        let bytes = &buf[..transmit.size.min(buf.len())];
        let calls =
            match self.queued.len() == QUEUED || self.arena.len() + bytes.len() > QUEUED_BYTES {
                true => self.flush(fd),
                false => 0,
            };
        let segment = transmit
            .segment_size
            .filter(|&seg| bytes.len() > seg)
            .map(|seg| seg as u16);
        self.queued.push(Queued {
            start: self.arena.len(),
            len: bytes.len(),
            to: transmit.destination,
            name: SockAddr::from(transmit.destination),
            segment,
        });
        self.arena.extend_from_slice(bytes);
        calls
    }

    /// Sends everything queued; returns the syscalls made. A full socket
    /// buffer drops what did not fit: QUIC sends it again as a loss, as it
    /// would one the network dropped.
    pub fn flush(&mut self, fd: RawFd) -> u64 {
        let mut calls = 0;
        let mut at = 0;
        while at < self.queued.len() {
            calls += 1;
            match self.sendmmsg(fd, at) {
                Ok(sent) => at += sent.max(1),
                Err(e) => {
                    let q = self.queued[at].clone();
                    let refused = e.raw_os_error() == Some(libc::EIO)
                        || e.raw_os_error() == Some(libc::EINVAL);
                    if let (Some(segment), true) = (q.segment, refused) {
                        log::info!(
                            "HTTP/3: UDP segmentation offload refused ({e}); datagrams go one by one"
                        );
                        self.gso = false;
                        let bytes = &self.arena[q.start..q.start + q.len];
                        for datagram in bytes.chunks(usize::from(segment)) {
                            calls += 1;
                            if let Err(e) = sendmsg(fd, datagram, &q.name, None) {
                                report(&e, q.to);
                                break;
                            }
                        }
                    } else {
                        report(&e, q.to);
                    }
                    at += 1;
                }
            }
        }
        if calls > 0 {
            log::trace!(
                "HTTP/3: {} ({} bytes) in {}",
                plural(self.queued.len() as u64, "send", "sends"),
                self.arena.len(),
                plural(calls, "syscall", "syscalls")
            );
        }
        self.queued.clear();
        self.arena.clear();
        calls
    }

    /// One `sendmmsg` of the queued sends from `from` on: how many the
    /// kernel took.
    fn sendmmsg(&mut self, fd: RawFd, from: usize) -> io::Result<usize> {
        let queued = &self.queued[from..];
        let Headers {
            iovs,
            controls,
            msgs,
        } = &mut self.headers;
        iovs.clear();
        iovs.extend(queued.iter().map(|q| libc::iovec {
            iov_base: self.arena[q.start..].as_ptr() as *mut libc::c_void,
            iov_len: q.len,
        }));
        controls.clear();
        controls.resize(queued.len(), [0; 4]);
        msgs.clear();
        // SAFETY: all-zero mmsghdrs are valid; each is filled below with
        // pointers into `queued`, `iovs` and `controls`, which are not
        // touched again until the call has returned.
        msgs.resize(queued.len(), unsafe { std::mem::zeroed() });
        for (i, q) in queued.iter().enumerate() {
            let msg = &mut msgs[i].msg_hdr;
            msg.msg_name = q.name.as_ptr() as *mut libc::c_void;
            msg.msg_namelen = q.name.len();
            msg.msg_iov = &mut iovs[i];
            msg.msg_iovlen = 1;
            if let Some(segment) = q.segment {
                // SAFETY: as in `sendmsg`: one cmsg carrying a u16 fits in
                // the 32 bytes of this message's control buffer.
                unsafe { set_segment(msg, controls[i].as_mut_ptr().cast(), segment) };
            }
        }
        loop {
            // SAFETY: every header points at data valid for the call.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs.as_mut_ptr(),
                    msgs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT as _,
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Puts a UDP_SEGMENT cmsg of `segment` into `msg`, in the 32 bytes at
/// `control`.
///
/// # Safety
/// `control` must point at 32 writable bytes, aligned for `cmsghdr`, that
/// outlive every use of `msg`.
unsafe fn set_segment(msg: &mut libc::msghdr, control: *mut libc::c_void, segment: u16) {
    // SAFETY: the caller gives room for CMSG_SPACE of a u16 (24 bytes).
    unsafe {
        msg.msg_control = control;
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<u16>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = libc::SOL_UDP;
        (*cmsg).cmsg_type = UDP_SEGMENT;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<u16>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<u16>(), segment);
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
fn sendmsg(fd: RawFd, bytes: &[u8], to: &SockAddr, segment: Option<u16>) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let mut control = [0u64; 4];
    // SAFETY: an all-zero msghdr is valid; every pointer set below points
    // at data that outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = to.as_ptr() as *mut libc::c_void;
    msg.msg_namelen = to.len();
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if let Some(segment) = segment {
        // SAFETY: `control` is 32 bytes, aligned for cmsghdr, and lives
        // through the call.
        unsafe { set_segment(&mut msg, control.as_mut_ptr().cast(), segment) };
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
