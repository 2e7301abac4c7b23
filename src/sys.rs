//! Raw syscalls behind syscall! (sendfile, MSG_MORE, setsockopt, rlimits, ...); would_block, interrupted.
//!
//! The raw system calls std and mio do not wrap, each in one small safe
//! function, plus the two error tests every non-blocking loop repeats.
//!
//! Every call goes through `syscall!`, as in mio's `sys/unix`: a negative
//! return becomes `io::Error::last_os_error()`, so no call site checks
//! `rc < 0` by hand. Errors are returned bare; callers name the call when
//! they log or pass one up (`"sendfile: ..."`). The only other raw calls
//! are the batched datagram calls in `batch.rs`, whose buffers are
//! that module's whole subject.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

/// Calls a libc function and turns a negative return into the OS error.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)? ) ) => {{
        #[allow(unused_unsafe)]
        // SAFETY: each call site below states why its arguments are valid.
        let rc = unsafe { libc::$fn($($arg, )*) };
        if rc < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }};
}
pub(crate) use syscall;

/// Sets how late the kernel may end this thread's sleeps and timeouts
/// (50 µs by default), so that a pause of a few tens of microseconds is
/// what it says.
pub fn set_timer_slack(nanos: u64) -> io::Result<()> {
    // SAFETY: PR_SET_TIMERSLACK takes a value, no pointer.
    syscall!(prctl(
        libc::PR_SET_TIMERSLACK,
        nanos as libc::c_ulong,
        0,
        0,
        0
    ))
    .map(drop)
}

/// The socket has nothing for us now (EAGAIN): wait for the next edge.
pub fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

/// A signal arrived during the call (EINTR): simply try again.
pub fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

/// Prefixes an error with the syscall that failed.
pub fn context(e: io::Error, syscall: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{syscall}: {e}"))
}

/// `sendfile(2)`: up to `count` bytes of `file` from `offset` to `sock`,
/// without copying them through user space. The file position is not used,
/// so any number of responses can send from one shared descriptor.
pub fn sendfile(sock: RawFd, file: &File, offset: u64, count: usize) -> io::Result<usize> {
    let mut offset = offset as libc::off_t;
    // The descriptors are open for the duration of the call (the caller
    // holds both), and `offset` is a valid, exclusive pointer.
    let sent = syscall!(sendfile(sock, file.as_raw_fd(), &mut offset, count))?;
    Ok(sent as usize)
}

/// Asks glibc's allocator to keep up to 1 MiB of freed memory at the top
/// of the heap instead of giving it back at once (the default is 128 KiB).
/// HTTP/2 over TLS reads file ranges of 64 KiB into buffers that live
/// until the socket takes them: with the default, the heap shrank and grew
/// again under every download, a page fault per 4 KiB each time (a tenth
/// of the CPU of a 1 MiB download). What it keeps is given back in the
/// first quiet second ([`trim_freed_memory`]). Other C libraries (musl)
/// keep their own policy.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable; it is called at start-up.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 20);
    }
}

/// Gives the allocator's free memory back to the system (glibc's
/// `malloc_trim`): called in a quiet second, when no connection has
/// output waiting, so that what [`keep_freed_memory`] kept while data
/// flowed does not stay in an idle server's RSS.
pub fn trim_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `pread(2)` of `buf.len()` bytes of `file` at `offset` into memory that
/// need not be initialized (a fresh buffer is not zeroed first only to be
/// overwritten); returns the bytes read, fewer only at the end of the file.
pub fn pread_uninit(file: &File, buf: &mut [MaybeUninit<u8>], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // The kernel writes at most `rest.len()` bytes into `rest`, which
        // the caller lends exclusively; the descriptor is open (borrowed).
        let n = match syscall!(pread(
            file.as_raw_fd(),
            rest.as_mut_ptr().cast(),
            rest.len(),
            (offset + done as u64) as libc::off_t
        )) {
            Ok(0) => break,
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        done += n;
    }
    Ok(done)
}

/// `preadv(2)`: the bytes of `file` from `offset` scattered over `slots` in
/// order, each filled whole before the next, into memory that need not be
/// initialized. One call for up to sixteen slots (HTTP/2 DATA payloads
/// read straight into the gaps between their frame headers); returns the
/// bytes read, fewer only at the end of the file.
pub fn preadv_uninit(
    file: &File,
    slots: &mut [&mut [MaybeUninit<u8>]],
    offset: u64,
) -> io::Result<usize> {
    const BATCH: usize = 16;
    let (mut done, mut slot, mut within) = (0usize, 0usize, 0usize);
    loop {
        // Slots already full (or empty to begin with) are passed over.
        while slot < slots.len() && within == slots[slot].len() {
            (slot, within) = (slot + 1, 0);
        }
        if slot == slots.len() {
            return Ok(done);
        }
        let mut iov = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        let mut count = 0;
        for (i, s) in slots[slot..].iter_mut().take(BATCH).enumerate() {
            let rest = &mut s[if i == 0 { within } else { 0 }..];
            iov[i] = libc::iovec {
                iov_base: rest.as_mut_ptr().cast(),
                iov_len: rest.len(),
            };
            count = i + 1;
        }
        // The kernel writes at most `iov_len` bytes at each `iov_base`, all
        // inside slots the caller lends exclusively; the file is open.
        let n = match syscall!(preadv(
            file.as_raw_fd(),
            iov.as_ptr(),
            count as libc::c_int,
            (offset + done as u64) as libc::off_t
        )) {
            Ok(0) => return Ok(done),
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        done += n;
        let mut left = n;
        while left > 0 {
            let room = slots[slot].len() - within;
            if left < room {
                within += left;
                break;
            }
            left -= room;
            (slot, within) = (slot + 1, 0);
        }
    }
}

/// Slices adding up to at most this many bytes are sent as one buffer.
pub const GATHER_MAX: usize = 4096;

/// Sends `slices` on a socket: one slice as it is, a few small ones (a
/// response head and a small body, or a pipelined batch of them) copied
/// into one buffer on the stack, each with one `send(2)`; larger ones with
/// `writev(2)`. The copy is the cheaper way: the kernel's writev path
/// (importing and checking the iovec array, then copying segment by
/// segment) was 3% of a keep-alive request's CPU in perf, and on loopback
/// a 243-byte response in two slices cost a median 7.1 µs of CPU a call by
/// writev and 6.5 µs copied and sent.
pub fn send_gathered(sock: RawFd, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    if let [one] = slices {
        return send(sock, one);
    }
    let total: usize = slices.iter().map(|s| s.len()).sum();
    if total > GATHER_MAX {
        // IoSlice is ABI-compatible with iovec on Unix; the kernel only
        // reads the slices, which outlive the call. (Its count is an int;
        // the queue hands at most 64.)
        let count = slices.len().min(libc::c_int::MAX as usize) as libc::c_int;
        let sent = syscall!(writev(sock, slices.as_ptr().cast::<libc::iovec>(), count))?;
        return Ok(sent as usize);
    }
    let mut storage = [MaybeUninit::<u8>::uninit(); GATHER_MAX];
    let base = storage.as_mut_ptr().cast::<u8>();
    let mut at = 0;
    for slice in slices {
        // SAFETY: `at + slice.len()` is at most `total`, at most
        // GATHER_MAX, so the copy stays inside `storage`, which no slice
        // can overlap (it is ours, on this stack frame).
        unsafe { std::ptr::copy_nonoverlapping(slice.as_ptr(), base.add(at), slice.len()) };
        at += slice.len();
    }
    // SAFETY: the loop above wrote the first `total` bytes.
    send(sock, unsafe { std::slice::from_raw_parts(base, total) })
}

/// `send(2)` of one buffer. MSG_NOSIGNAL: a peer that has gone is an EPIPE
/// for one connection, not a SIGPIPE for the process.
fn send(sock: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // `bytes` is valid for its length for the whole call.
    let sent = syscall!(send(
        sock,
        bytes.as_ptr().cast(),
        bytes.len(),
        libc::MSG_NOSIGNAL
    ))?;
    Ok(sent as usize)
}

/// `sendmsg(2)` of `slices` with MSG_MORE: more data follows at once, so the
/// kernel holds these bytes to share segments with what comes next.
pub fn send_more(sock: RawFd, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix (std documents it); the
    // kernel only reads the slices, which outlive the call.
    msg.msg_iov = slices.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = slices.len() as _;
    // `msg` points at valid iovecs and names no address or control data.
    let sent = syscall!(sendmsg(sock, &msg, libc::MSG_MORE | libc::MSG_NOSIGNAL))?;
    Ok(sent as usize)
}

/// `setsockopt(2)` for an integer option.
pub fn setsockopt(fd: RawFd, level: libc::c_int, name: libc::c_int, value: i32) -> io::Result<()> {
    // `value` lives across the call and its size is passed with it.
    syscall!(setsockopt(
        fd,
        level,
        name,
        (&value as *const libc::c_int).cast(),
        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    ))
    .map(drop)
}

/// Raises the soft limit on open files to the hard limit and returns the
/// limit in force.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // getrlimit and setrlimit only read and write the struct passed.
    syscall!(getrlimit(libc::RLIMIT_NOFILE, &mut lim)).map_err(|e| context(e, "getrlimit"))?;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        syscall!(setrlimit(libc::RLIMIT_NOFILE, &raised)).map_err(|e| context(e, "setrlimit"))?;
    }
    // rlim_t is 32 bits on 32-bit ARM (RLIM_INFINITY is u32::MAX there).
    #[allow(clippy::useless_conversion)]
    let max = u64::from(lim.rlim_max);
    Ok(max)
}

/// Switches the process to `name`'s user and group, for good: groups first,
/// then gid, then uid (after setuid the others could no longer be changed).
pub fn become_user(name: &str) -> io::Result<()> {
    let cname =
        CString::new(name).map_err(|_| io::Error::other("a user name cannot contain NUL"))?;
    // SAFETY: passwd is plain data; all-zero is a valid value.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // getpwnam_r fills `pwd` and points its strings into `buf`, which
    // outlives every use of them; it returns an error number, not -1.
    let rc = syscall!(getpwnam_r(
        cname.as_ptr(),
        &mut pwd,
        buf.as_mut_ptr(),
        buf.len(),
        &mut result,
    ))?;
    if rc != 0 {
        return Err(context(io::Error::from_raw_os_error(rc), "getpwnam_r"));
    }
    if result.is_null() {
        return Err(io::Error::other("no such user"));
    }
    let (uid, gid) = (pwd.pw_uid, pwd.pw_gid);
    // Plain calls on this process's credentials.
    syscall!(setgroups(1, &gid)).map_err(|e| context(e, "setgroups"))?;
    syscall!(setgid(gid)).map_err(|e| context(e, "setgid"))?;
    syscall!(setuid(uid)).map_err(|e| context(e, "setuid"))?;
    Ok(())
}

/// The effective user id, for messages that say who could not read what.
pub fn uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Whether this process may list `dir` and open what is in it (read and
/// search permission, checked for the effective user as `open` would).
pub fn can_enter_dir(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("a path cannot contain NUL"))?;
    // SAFETY: `path` is a valid C string for the call.
    syscall!(faccessat(
        libc::AT_FDCWD,
        path.as_ptr(),
        libc::R_OK | libc::X_OK,
        libc::AT_EACCESS
    ))?;
    Ok(())
}

/// One entry of a directory, as [`each_entry`] reads it: the name's bytes
/// (borrowed from the directory stream) and what `stat` says of the file
/// it names, symlinks followed.
#[derive(Debug, Clone, Copy)]
pub struct DirEntry<'a> {
    /// The name, without a path.
    pub name: &'a [u8],
    /// A directory (else a regular file).
    pub dir: bool,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, Unix seconds.
    pub modified: i64,
}

/// Calls `f` with each regular file and directory in `dir` (not `.` and
/// `..`, not devices, FIFOs, sockets or dangling symlinks), in the order
/// the filesystem gives, until `f` returns false. Nothing is allocated per
/// entry: the name points into the stream's own buffer.
pub fn each_entry(
    dir: &std::path::Path,
    mut f: impl FnMut(DirEntry<'_>) -> bool,
) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::other("a path cannot contain NUL"))?;
    // SAFETY: `path` is a valid C string; a null result is an error.
    let stream = unsafe { libc::opendir(path.as_ptr()) };
    if stream.is_null() {
        return Err(context(io::Error::last_os_error(), "opendir"));
    }
    // SAFETY: `stream` is an open directory stream.
    let fd = unsafe { libc::dirfd(stream) };
    loop {
        // SAFETY: `stream` is open; the entry it returns stays valid until
        // the next readdir or closedir, and is not used after either.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            break; // the end (or an error: what was read is listed)
        }
        // SAFETY: d_name is a NUL-terminated name inside the entry.
        let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." {
            continue;
        }
        // SAFETY: stat is plain data; all-zero is a valid value.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is the stream's descriptor, `name` a valid C
        // string, `st` valid for writes.
        if unsafe { libc::fstatat(fd, name.as_ptr(), &mut st, 0) } != 0 {
            continue;
        }
        let dir = match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => true,
            libc::S_IFREG => false,
            _ => continue,
        };
        // time_t is 32 bits on armhf.
        #[allow(clippy::useless_conversion)]
        let modified = i64::from(st.st_mtime);
        let entry = DirEntry {
            name: bytes,
            dir,
            size: st.st_size as u64,
            modified,
        };
        if !f(entry) {
            break;
        }
    }
    // SAFETY: `stream` is open and not used after this.
    unsafe { libc::closedir(stream) };
    Ok(())
}

/// An IPv4 or IPv6 source address as the standard library's type.
pub fn socket_addr(addr: &libc::sockaddr_storage) -> Option<SocketAddr> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    /// Each way `send_gathered` takes (one slice, small slices copied,
    /// large ones by writev, and the edge between) delivers the slices'
    /// bytes in order over a real socket.
    #[test]
    fn gathered_sends_deliver_every_slice_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        let pattern: Vec<u8> = (0..30_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        // (slice lengths): one; small ones with an empty one among them;
        // exactly GATHER_MAX; one byte over it; many over it.
        let cases: [&[usize]; 5] = [
            &[243],
            &[230, 0, 13, 1],
            &[4000, 96],
            &[4000, 97],
            &[5000, 3, 6000, 1, 2000],
        ];
        let mut at = 0;
        for lengths in cases {
            let mut slices = Vec::new();
            let start = at;
            for &n in lengths {
                slices.push(IoSlice::new(&pattern[at..at + n]));
                at += n;
            }
            let total = at - start;
            // A blocking socket with room for all of it takes it in one call.
            let sent = send_gathered(writer.as_raw_fd(), &slices).unwrap();
            assert_eq!(sent, total, "{lengths:?}");
            let mut got = vec![0; total];
            reader.read_exact(&mut got).unwrap();
            assert!(got == pattern[start..at], "{lengths:?}: bytes out of order");
        }
    }

    /// Short sends: a non-blocking socket with a small send buffer and a
    /// slow reader takes part of a batch, or nothing (EAGAIN), at any
    /// byte; the caller goes on from the count returned, as the output
    /// queue does, and the reader gets every byte once, in order.
    #[test]
    fn a_short_gathered_send_resumes_where_it_stopped() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut reader, _) = listener.accept().unwrap();
        setsockopt(writer.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, 4096).unwrap();
        writer.set_nonblocking(true).unwrap();
        // Slices of 1 to 700 bytes, batches of 1 to 9 of them: mostly
        // gathered, some over GATHER_MAX (writev), some single.
        let pattern: Vec<u8> = (0..400_000u32).map(|i| (i ^ (i >> 9)) as u8).collect();
        let expected = pattern.clone();
        let slow = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0; 1500];
            while got.len() < expected.len() {
                let n = reader.read(&mut buf).unwrap();
                assert!(n > 0, "the writer closed early");
                got.extend_from_slice(&buf[..n]);
                if got.len() % 7 == 0 {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
            }
            assert!(
                got == expected,
                "the reader's bytes differ from what was sent"
            );
        });
        let (mut at, mut seed, mut short) = (0, 1u32, 0);
        while at < pattern.len() {
            // A batch of slices from `at`, lengths from a small LCG.
            let mut slices = Vec::new();
            let mut end = at;
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            for k in 0..=(seed >> 16) % 9 {
                let n = (1 + (seed >> (k % 8)) % 700) as usize;
                let next = (end + n).min(pattern.len());
                slices.push(IoSlice::new(&pattern[end..next]));
                end = next;
            }
            match send_gathered(writer.as_raw_fd(), &slices) {
                Ok(n) => {
                    short += usize::from(at + n < end);
                    at += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_micros(100));
                }
                Err(e) => panic!("send: {e}"),
            }
        }
        slow.join().unwrap();
        assert!(short > 0, "no send was short: the test did not test");
    }
}
