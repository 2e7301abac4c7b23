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
use std::net::SocketAddr;
use std::os::fd::RawFd;

use crate::sys::{self, interrupted, socket_addr as source, syscall, would_block};

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

#[cfg(test)]
mod tests {
    //! Sources read from the kernel's address layout, the batch's bounds,
    //! and a batch over a loopback socket: at most [`BATCH`] a call, each
    //! datagram whatever its size, and one reply to each source.

    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use super::*;

    /// The kernel's layout of `addr`.
    fn storage(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
        let sock = socket2::SockAddr::from(addr);
        // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
        let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        // SAFETY: `sock` holds `sock.len()` bytes of a sockaddr, which fit
        // in a sockaddr_storage.
        unsafe {
            std::ptr::copy_nonoverlapping(
                sock.as_ptr().cast::<u8>(),
                (&mut storage as *mut libc::sockaddr_storage).cast::<u8>(),
                sock.len() as usize,
            );
        }
        (storage, sock.len())
    }

    #[test]
    fn sources_are_read_as_ipv4_or_ipv6_and_nothing_else() {
        for addr in ["192.0.2.7:37", "[2001:db8::1]:4000", "[::ffff:192.0.2.7]:1"] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(source(&storage(addr).0), Some(addr));
        }
        // SAFETY: as above.
        let mut unix: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        unix.ss_family = libc::AF_UNIX as libc::sa_family_t;
        assert_eq!(source(&unix), None);
    }

    #[test]
    fn retain_keeps_the_accepted_in_order_and_never_reads_past_the_batch() {
        let mut batch = DatagramBatch::default();
        for (i, slot) in batch.addrs.iter_mut().enumerate() {
            let addr = SocketAddr::from(([127, 0, 0, 1], 1000 + i as u16));
            (*slot, batch.lens[i]) = storage(addr);
        }
        let mut seen = Vec::new();
        // Asked for more than a batch holds: it looks at BATCH sources.
        let kept = batch.retain(BATCH * 2, |a| {
            seen.push(a.port());
            a.port() % 2 == 1
        });
        assert_eq!(seen.len(), BATCH);
        assert_eq!(kept, BATCH / 2);
        let ports: Vec<u16> = batch.addrs[..kept]
            .iter()
            .map(|s| source(s).unwrap().port())
            .collect();
        let odd: Vec<u16> = (0..BATCH as u16)
            .map(|i| 1000 + i)
            .filter(|p| p % 2 == 1)
            .collect();
        assert_eq!(ports, odd);
    }

    #[test]
    fn a_batch_takes_at_most_64_datagrams_and_answers_each_source() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.set_nonblocking(true).unwrap();
        let to = server.local_addr().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // 70 datagrams, empty to 1,000 bytes: only the source counts.
        for i in 0..70 {
            client.send_to(&vec![7; (i * 15) % 1001], to).unwrap();
        }
        let mut batch = DatagramBatch::default();
        let fd = server.as_raw_fd();
        assert_eq!(batch.recv(fd).unwrap(), BATCH);
        assert_eq!(batch.recv(fd).unwrap(), 6, "the rest, in the next call");
        let again = batch.recv(fd).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
        // The last batch's six sources are the client: six replies.
        assert_eq!(batch.reply_all(fd, 6, b"time").unwrap(), 6);
        assert_eq!(batch.reply_all(fd, 0, b"time").unwrap(), 0);
        let mut buf = [0u8; 16];
        for _ in 0..6 {
            let (n, from) = client.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&b"time"[..], to));
        }
        client.set_nonblocking(true).unwrap();
        assert!(client.recv_from(&mut buf).is_err(), "six, not more");
    }
}
