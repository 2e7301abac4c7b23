//! Datagrams in batches: `recvmmsg(2)` and `sendmmsg(2)`.
//!
//! An RFC 868 request over UDP is any datagram, and its reply is the same
//! four bytes for every datagram of a wakeup. Receiving up to [`BATCH`]
//! datagrams in one call and answering them all in another turns two
//! syscalls per reply into two per batch. The datagrams' contents are never
//! looked at, so each is received into one byte (the kernel truncates the
//! rest); only their source addresses are kept.
//!
//! One byte, not none: Linux takes a message with no iovec, but qemu-user
//! (how the ARM builds are tested) answers such a `recvmmsg` with a full
//! batch of nothing, every time, and never takes the datagram.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

use crate::sys::{self, interrupted, syscall, would_block};

/// Most datagrams taken or answered per call.
pub const BATCH: usize = 64;

/// Source addresses of one batch of received datagrams.
pub struct DatagramBatch {
    addrs: Box<[libc::sockaddr_storage; BATCH]>,
    lens: [libc::socklen_t; BATCH],
    /// The one byte each datagram is received into (and truncated at).
    scratch: [u8; BATCH],
}

impl Default for DatagramBatch {
    fn default() -> Self {
        DatagramBatch {
            // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
            addrs: Box::new(unsafe { std::mem::zeroed() }),
            lens: [0; BATCH],
            scratch: [0; BATCH],
        }
    }
}

impl std::fmt::Debug for DatagramBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatagramBatch").finish_non_exhaustive()
    }
}

/// An IPv4 or IPv6 source address as the standard library's type.
fn source(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
    let storage = addr as *const libc::sockaddr_storage;
    match i32::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let v4 = unsafe { &*storage.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*storage.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(v6.sin6_port))))
        }
        _ => None,
    }
}

const STORAGE_LEN: libc::socklen_t =
    std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;

impl DatagramBatch {
    /// Receives up to [`BATCH`] datagrams without blocking and returns how
    /// many arrived (`WouldBlock` when none). Their payloads are discarded.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: mmsghdr and iovec are plain old data; all-zero is valid.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut iovs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let slots = self.addrs.iter_mut().zip(self.scratch.iter_mut());
        for ((msg, iov), (addr, byte)) in msgs.iter_mut().zip(iovs.iter_mut()).zip(slots) {
            msg.msg_hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            msg.msg_hdr.msg_namelen = STORAGE_LEN;
            // One byte: the rest of the payload is truncated away.
            iov.iov_base = (byte as *mut u8).cast();
            iov.iov_len = 1;
            msg.msg_hdr.msg_iov = iov;
            msg.msg_hdr.msg_iovlen = 1;
        }
        // Every msg_name points into `self.addrs` with its true length, and
        // every iovec at one byte of `self.scratch`: both outlive the call.
        let n = syscall!(recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_DONTWAIT as _,
            std::ptr::null_mut(),
        ))? as usize;
        for (len, msg) in self.lens.iter_mut().zip(&msgs[..n]) {
            *len = msg.msg_hdr.msg_namelen;
        }
        Ok(n)
    }

    /// Keeps, among the first `n` sources, those `keep` accepts, moved to
    /// the front; returns how many.
    pub fn retain(&mut self, n: usize, mut keep: impl FnMut(SocketAddr) -> bool) -> usize {
        let mut kept = 0;
        for i in 0..n.min(BATCH) {
            if source(&self.addrs[i]).is_some_and(&mut keep) {
                self.addrs.swap(kept, i);
                self.lens.swap(kept, i);
                kept += 1;
            }
        }
        kept
    }

    /// Sends `payload` to the sources of the first `n` datagrams received,
    /// in as few calls as the kernel allows. Returns how many were sent;
    /// those the socket could not take now (a full send buffer) are dropped,
    /// as UDP may drop them.
    pub fn reply_all(&mut self, fd: RawFd, n: usize, payload: &[u8]) -> io::Result<usize> {
        let mut iov = libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: payload.len(),
        };
        // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let sources = self.addrs.iter_mut().zip(&self.lens);
        for (msg, (addr, &len)) in msgs.iter_mut().zip(sources).take(n) {
            let hdr = &mut msg.msg_hdr;
            hdr.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            hdr.msg_namelen = len;
            hdr.msg_iov = &mut iov;
            hdr.msg_iovlen = 1;
        }
        let mut sent = 0;
        while sent < n {
            // The raw system call, not libc's wrapper: musl's sendmmsg on
            // 64-bit targets is a loop of sendmsg calls (its msghdr differs
            // from the kernel's by padding), which would undo the batching.
            // Our headers are zeroed, padding included, and carry no control
            // data, so the kernel reads them as its own on either libc.
            // Each header points at an address in `self.addrs` and at `iov`,
            // which points at `payload`; all outlive the call, and the
            // kernel only reads them.
            let rc = syscall!(syscall(
                libc::SYS_sendmmsg,
                fd,
                msgs[sent..].as_mut_ptr(),
                (n - sent) as libc::c_uint,
                libc::MSG_DONTWAIT,
            ));
            match rc {
                Ok(rc) => sent += rc as usize,
                Err(e) if interrupted(&e) => {}
                Err(e) if would_block(&e) => return Ok(sent),
                // One unreachable peer must not cost the others their
                // replies: skip it and go on.
                Err(e) if sent + 1 < n => {
                    log::debug!("sendmmsg: {e}");
                    sent += 1;
                }
                Err(e) => return Err(sys::context(e, "sendmmsg")),
            }
        }
        Ok(sent)
    }
}
