//! The chunk queue: writev, sendfile, advance on short writes, turns.
//!
//! The write path: a queue of chunks that borrow instead of copy, flushed
//! with one vectored write.
//!
//! A response is a few chunks: a header block rendered once per file and
//! shared (`Rc<[u8]>`), the `Date` line rendered once a second and shared, a
//! `&'static` connection line, and the body (a shared cached file, a static
//! embedded file, or a range of an open file for `sendfile(2)`). Queuing a
//! response copies no bytes and, for cached files, allocates nothing.
//!
//! [`OutQueue::flush`] gathers as many chunks as it can into one write
//! (`writev`, or on a bare socket one `send` when they are few and small),
//! advances across chunks on a short write, and reports whether the socket
//! took everything ([`Flush::Done`], no WRITABLE interest needed), is full
//! ([`Flush::Blocked`], wait for WRITABLE), or could take more but the
//! connection has had its turn of file bytes ([`Flush::Again`]). Pipelined
//! requests therefore leave together: sixteen responses, one syscall.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::rc::Rc;

use crate::stream::Stream;
use crate::sys::{interrupted, would_block};

/// Most slices handed to one `writev`. Linux allows 1024 (IOV_MAX); 64 covers
/// sixteen pipelined responses of four chunks each while keeping the array
/// on the stack small. A longer queue simply takes more than one write.
pub const MAX_IOVECS: usize = 64;

/// Largest amount handed to one `sendfile` call. 128 KiB, measured beside
/// builds at 64, 256, 512 KiB and 2 MiB on ten clients of 1 MiB files
/// (docs/bench/2026-12-07-sendfile-turn.md): 5,847 to 5,888 MiB/s at 161
/// to 170 µs of CPU a MiB, against 3,471 at 64 KiB, 4,608 at 256, 4,792 at
/// 512 (207 µs a MiB) and 1,894 at 2 MiB. A longer call holds the socket's
/// lock longer, and the receiver's acknowledgements that arrive meanwhile
/// wait in the socket's backlog for the sender to process when the call
/// ends (in perf, the sender's `__release_sock` fell from 10% to 7% of the
/// core at 128 KiB); a shorter one pays more calls and wakeups than it
/// saves.
pub const SENDFILE_MAX: usize = 128 << 10;

/// `sendfile` calls in a connection's turn: bounding the turn keeps one
/// large download from holding the loop while other connections wait.
/// Four calls, 512 KiB, as the turn was before the calls were cut: the
/// throughput is the calls' (6,134 MiB/s against 6,021 with a turn of one
/// call, side by side), and a turn is a pass through the loop, whose
/// instructions a turn of one call made 9,273 a MiB against 5,384. A fifth
/// call is made when it ends the file (see `OutQueue::send_file`).
pub const FILE_CALLS_PER_TURN: u32 = 4;

/// The most bytes an [`Chunk::Inline`] carries: a chunk is no larger for it.
pub const INLINE: usize = 16;

/// One piece of output. Each variant advances in place on a partial write.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes that live as long as the program: canned replies, the embedded site.
    Static(&'static [u8]),
    /// `buf[start..end]` of a buffer shared with other responses.
    Shared {
        /// The shared buffer.
        buf: Rc<[u8]>,
        /// First byte not yet written.
        start: usize,
        /// One past the last byte to write.
        end: usize,
    },
    /// A few bytes of its own (an HTTP/2 frame header): `bytes[start..end]`,
    /// carried in the chunk rather than allocated.
    Inline {
        /// The bytes.
        bytes: [u8; INLINE],
        /// First byte not yet written.
        start: u8,
        /// One past the last byte to write.
        end: u8,
    },
    /// `pos..end` of an open file, sent with `sendfile(2)`. The file is
    /// shared: `sendfile` with an explicit offset never moves the file
    /// position, so any number of responses can send from one descriptor.
    File {
        /// The open file.
        file: Rc<File>,
        /// Next file offset to send.
        pos: u64,
        /// One past the last offset to send.
        end: u64,
    },
}

impl Chunk {
    /// The whole of a shared buffer.
    pub fn shared(buf: &Rc<[u8]>) -> Chunk {
        Chunk::Shared {
            buf: Rc::clone(buf),
            start: 0,
            end: buf.len(),
        }
    }

    /// Up to [`INLINE`] bytes carried in the chunk itself (more are cut).
    pub fn inline(from: &[u8]) -> Chunk {
        let mut bytes = [0u8; INLINE];
        let n = from.len().min(INLINE);
        bytes[..n].copy_from_slice(&from[..n]);
        Chunk::Inline {
            bytes,
            start: 0,
            end: n as u8,
        }
    }

    /// The whole of a shared buffer, taking this reference.
    pub fn owned(buf: Rc<[u8]>) -> Chunk {
        let end = buf.len();
        Chunk::Shared { buf, start: 0, end }
    }

    /// Bytes left to send.
    pub fn len(&self) -> u64 {
        match self {
            Chunk::Static(s) => s.len() as u64,
            Chunk::Shared { start, end, .. } => (end - start) as u64,
            Chunk::Inline { start, end, .. } => u64::from(end - start),
            Chunk::File { pos, end, .. } => end - pos,
        }
    }

    /// Whether nothing is left to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in memory, or `None` for a file chunk.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Chunk::Static(s) => Some(s),
            Chunk::Shared { buf, start, end } => Some(&buf[*start..*end]),
            Chunk::Inline { bytes, start, end } => {
                Some(&bytes[usize::from(*start)..usize::from(*end)])
            }
            Chunk::File { .. } => None,
        }
    }

    /// Marks `n` bytes (at most `self.len()`) as sent.
    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Static(s) => *s = &s[n..],
            Chunk::Shared { start, .. } => *start += n,
            Chunk::Inline { start, .. } => *start += n as u8,
            Chunk::File { pos, .. } => *pos += n as u64,
        }
    }

    /// Whether this is a range of a file (sent with `sendfile`).
    pub fn is_file(&self) -> bool {
        matches!(self, Chunk::File { .. })
    }

    /// A file range read into memory laid out for framing: before every
    /// `every` bytes of the file (the last piece may be shorter), the `G`
    /// bytes `gap(piece_len, is_last)` returns. One `preadv` puts each
    /// piece straight into its place, so a frame's header and payload end
    /// up side by side without a copy. This is HTTP/2 over TLS, where the
    /// bytes are encrypted from memory anyway: a DATA frame and its header
    /// are sized to fill one TLS record, so a turn is one chunk and no
    /// record has to be gathered from two. Other chunks are returned as
    /// they are.
    pub fn read_framed<const G: usize>(
        self,
        every: usize,
        mut gap: impl FnMut(usize, bool) -> [u8; G],
    ) -> io::Result<Chunk> {
        let Chunk::File { file, pos, end } = self else {
            return Ok(self);
        };
        let len = (end - pos) as usize;
        let every = every.max(1);
        let pieces = len.div_ceil(every);
        // Fresh memory, not zeroed first: zeroing cost as much as the read
        // (and, pages being new, a fault each).
        let mut buf = Rc::<[u8]>::new_uninit_slice(len + pieces * G);
        let Some(bytes) = Rc::get_mut(&mut buf) else {
            return Err(io::Error::other("a new buffer is shared")); // cannot be
        };
        let mut slots = Vec::with_capacity(pieces);
        let mut left = len;
        for frame in bytes.chunks_mut(G + every) {
            let (head, payload) = frame.split_at_mut(G);
            left -= payload.len();
            for (to, from) in head.iter_mut().zip(gap(payload.len(), left == 0)) {
                to.write(from);
            }
            slots.push(payload);
        }
        let n = crate::sys::preadv_uninit(&file, &mut slots, pos)
            .map_err(|e| crate::sys::context(e, "preadv"))?;
        if n < len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "preadv: the file is shorter than when it was opened",
            ));
        }
        // SAFETY: every byte is written: the gaps above, and all `len`
        // bytes of the slots, which tile the rest, by preadv.
        let buf = unsafe { buf.assume_init() };
        Ok(Chunk::owned(buf))
    }

    /// The first `n` bytes (at most all of them) as a chunk of their own,
    /// this one keeping the rest: how an HTTP/2 body is cut into DATA
    /// frames without copying a byte.
    pub fn split_to(&mut self, n: u64) -> Chunk {
        let n = n.min(self.len());
        let front = match self {
            Chunk::Static(s) => Chunk::Static(&s[..n as usize]),
            Chunk::Shared { buf, start, .. } => Chunk::Shared {
                buf: Rc::clone(buf),
                start: *start,
                end: *start + n as usize,
            },
            Chunk::Inline { bytes, start, .. } => Chunk::Inline {
                bytes: *bytes,
                start: *start,
                end: *start + n as u8,
            },
            Chunk::File { file, pos, .. } => Chunk::File {
                file: Rc::clone(file),
                pos: *pos,
                end: *pos + n,
            },
        };
        self.advance(n as usize);
        front
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Everything queued was handed to the kernel.
    Done,
    /// The socket's send buffer is full; wait for WRITABLE.
    Blocked,
    /// The socket could take more, but this connection has had its turn
    /// ([`FILE_CALLS_PER_TURN`] calls of `sendfile`, or one more when it
    /// ends the file): serve the others, then come back. Large downloads
    /// interleave instead of one hogging the loop, and the receivers read
    /// their sockets while the next chunk goes out.
    Again,
}

impl Flush {
    /// What the outcome means for the loop, for the trace narration.
    pub fn meaning(self) -> &'static str {
        match self {
            Flush::Done => ", all sent",
            Flush::Blocked => " (short write: socket full, waiting for WRITABLE)",
            Flush::Again => " (its turn is over: the others go first)",
        }
    }
}

/// The output waiting for one connection.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Chunk>,
    /// Bytes queued; kept so backpressure checks are O(1).
    queued: u64,
    /// Bytes handed to the stream since the queue was new or cleared: a
    /// response queued when `pushed()` was N has gone once this reaches
    /// N (the access log logs it then, with what was really sent).
    sent: u64,
    /// The connection's FIN follows what is queued now (see
    /// [`OutQueue::fin_follows`]).
    fin_follows: bool,
}

impl OutQueue {
    /// Appends a chunk (empty chunks are dropped at once).
    pub fn push(&mut self, chunk: Chunk) {
        if !chunk.is_empty() {
            self.queued += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Moves every chunk of `other` to the end of this queue.
    pub fn take_all(&mut self, other: &mut OutQueue) {
        self.queued += other.queued;
        other.queued = 0;
        self.chunks.append(&mut other.chunks);
    }

    /// Drops everything queued, keeping the storage.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.queued = 0;
        self.sent = 0;
        self.fin_follows = false;
    }

    /// Says that nothing more will be queued and the connection's FIN
    /// follows once this is sent (`close` or `shutdown` right after). The
    /// last `writev` then goes with MSG_MORE, so the kernel keeps the final
    /// segment back and the FIN rides on it: one segment fewer each way per
    /// closed connection, and on loopback each segment is the receiver's
    /// softirq run on the sender's core (`Connection: close` at 50 clients:
    /// 12.5 -> 9.2 µs of CPU per connection).
    pub fn fin_follows(&mut self) {
        self.fin_follows = true;
    }

    /// Bytes handed to the stream since the queue was new or cleared.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes ever queued since the queue was new or cleared: the position,
    /// in what the connection sends, where the last queued byte ends.
    pub fn pushed(&self) -> u64 {
        self.sent + self.queued
    }

    /// Gives back storage beyond `chunks` chunks (kept for reuse otherwise).
    pub fn shrink_to(&mut self, chunks: usize) {
        self.chunks.shrink_to(chunks);
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes waiting to be sent.
    pub fn queued_bytes(&self) -> u64 {
        self.queued
    }

    /// Number of chunks waiting.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Writes as much as the socket takes: one `writev` per run of in-memory
    /// chunks, one `sendfile` per file chunk. Each call made is added to
    /// `calls` (the live page shows responses and bytes per write).
    pub fn flush<S: Stream>(&mut self, sock: &mut S, calls: &mut u64) -> io::Result<Flush> {
        // The file calls this connection has had in this turn.
        let mut file_calls = 0;
        // Bytes just sent with MSG_MORE ahead of a file: the first sendfile
        // is that much shorter, so that head and file fill whole calls. A
        // call of [`SENDFILE_MAX`] is a whole number of 64 KiB loopback
        // segments; without this, every call of a download would end in a
        // runt segment of the head's size (measured when a call was a
        // turn: 6.4-6.9 GB/s before, 7.2 after, on the 1 MiB bench; 256
        // KiB calls went from 5.4 to 7.0).
        let mut lead = 0;
        // A layer under the queue (TLS) may hold bytes of its own from the
        // last flush: they go first, and nothing new is written before.
        if sock.holds_output() {
            *calls += 1;
            match sock.send_held() {
                Ok(()) => {}
                Err(e) if would_block(&e) => return Ok(Flush::Blocked),
                Err(e) => return Err(e),
            }
        }
        while let Some(front) = self.chunks.front() {
            if front.bytes().is_none() {
                match self.send_file(sock, calls, &mut file_calls, lead)? {
                    Some(flushed) => return Ok(flushed),
                    None => lead = 0,
                }
                continue;
            }
            let wanted = self.memory_run_len();
            *calls += 1;
            let n = match self.write_memory(sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if would_block(&e) => return Ok(Flush::Blocked),
                Err(e) if interrupted(&e) => continue,
                Err(e) => return Err(e),
            };
            // (A run of memory chunks ends at the first file chunk, if one
            // is within reach: that is when MSG_MORE was used.)
            let file_follows = self
                .chunks
                .iter()
                .take(MAX_IOVECS + 1)
                .any(|c| c.bytes().is_none());
            lead = if file_follows { n % SENDFILE_MAX } else { 0 };
            self.advance(n);
            if n < wanted {
                // A short writev means the send buffer is full: waiting
                // for WRITABLE costs nothing, while trying again would
                // cost a syscall that says EAGAIN.
                return Ok(Flush::Blocked);
            }
        }
        // Everything was handed over, but a layer under the queue may still
        // hold part of it: the socket is full, so wait for WRITABLE.
        if sock.holds_output() {
            return Ok(Flush::Blocked);
        }
        Ok(Flush::Done)
    }

    /// How many bytes the next write is asked to send: the leading
    /// in-memory chunks, as many as one write takes.
    fn memory_run_len(&self) -> usize {
        self.chunks
            .iter()
            .take(MAX_IOVECS)
            .map_while(Chunk::bytes)
            .map(<[u8]>::len)
            .sum()
    }

    /// One write of the leading in-memory chunks (a bare socket sends a
    /// few small ones as one buffer: see `sys::send_gathered`).
    fn write_memory<S: Stream>(&self, sock: &mut S) -> io::Result<usize> {
        // Only the slots used are written: filling all 64 with empty
        // slices first cost a quarter of this function's time on
        // keep-alive (a kilobyte of stores for a two-slice response).
        let mut storage = [const { MaybeUninit::<IoSlice<'_>>::uninit() }; MAX_IOVECS];
        let mut count = 0;
        for bytes in self.chunks.iter().map_while(Chunk::bytes).take(MAX_IOVECS) {
            storage[count].write(IoSlice::new(bytes));
            count += 1;
        }
        // SAFETY: the first `count` slots were written just above, and
        // MaybeUninit<T> has T's layout.
        let slices =
            unsafe { std::slice::from_raw_parts(storage.as_ptr().cast::<IoSlice<'_>>(), count) };
        if let Some(Chunk::File { .. }) = self.chunks.get(count) {
            // A file follows: MSG_MORE holds these bytes back so the head
            // and the first bytes of the file leave in the same segments.
            return sock.write_vectored_more(slices);
        }
        if self.fin_follows && count == self.chunks.len() {
            // The last bytes of the connection: the FIN shares their segment.
            return sock.write_vectored_more(slices);
        }
        sock.write_vectored(slices)
    }

    /// `sendfile` calls from the front chunk, a file, in a loop of their
    /// own (the chunk stays in place, and only its offset moves): `None`
    /// once the file is sent, or how the flush ends, if the socket is full
    /// or the turn is over first. `lead`: bytes of this turn already sent
    /// ahead of the file, which the first call leaves out.
    // Not inlined: inside `flush`, this loop made the memory path's
    // code worse (16 pipelined requests counted 1,220 instructions each
    // against 1,196, keep-alive 2,458 against 2,417 with it apart).
    #[inline(never)]
    fn send_file<S: Stream>(
        &mut self,
        sock: &mut S,
        calls: &mut u64,
        file_calls: &mut u32,
        mut lead: usize,
    ) -> io::Result<Option<Flush>> {
        let Some(Chunk::File { file, pos, end }) = self.chunks.front_mut() else {
            return Ok(None);
        };
        while *pos < *end {
            let left = *end - *pos;
            // Other connections get their chunk before this one sends
            // more (see `Flush::Again`); but the call that ends the file
            // joins the turn. Ending a file on its own would cost a pass
            // through the loop for what is left once the head's lead has
            // shifted the calls (a 1 MiB file is eight full calls and a
            // tail of the head's size): a third of the download's passes.
            if *file_calls >= FILE_CALLS_PER_TURN
                && !(*file_calls == FILE_CALLS_PER_TURN && left <= SENDFILE_MAX as u64)
            {
                return Ok(Some(Flush::Again));
            }
            let wanted = left.min((SENDFILE_MAX - lead) as u64) as usize;
            lead = 0;
            *calls += 1;
            match sock.send_file(file, *pos, wanted) {
                // The file shrank under us: what we promised in
                // Content-Length can no longer be kept, so the connection
                // must end.
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "sendfile: file shorter than its Content-Length",
                    ));
                }
                Ok(n) => {
                    *pos += n as u64;
                    self.queued -= n as u64;
                    self.sent += n as u64;
                    // A short sendfile proves less than a short writev: it
                    // can stop early without the socket recording that it
                    // ran out of room, and then no WRITABLE edge would ever
                    // come. Go on until the kernel says EAGAIN itself.
                    if n == wanted {
                        *file_calls += 1;
                    }
                }
                Err(e) if would_block(&e) => return Ok(Some(Flush::Blocked)),
                Err(e) if interrupted(&e) => {}
                Err(e) => return Err(e),
            }
        }
        self.chunks.pop_front();
        Ok(None)
    }

    /// Drops `n` written bytes from the front of the queue.
    fn advance(&mut self, mut n: usize) {
        self.queued -= n as u64;
        self.sent += n as u64;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            let len = front.len();
            if (n as u64) < len {
                front.advance(n);
                return;
            }
            n -= len as usize;
            self.chunks.pop_front();
        }
    }
}

/// Everything queued, as text, by flushing into memory (tests only; file
/// chunks are not supported).
#[cfg(test)]
pub(crate) fn text_of(out: &mut OutQueue) -> String {
    let mut memory = Memory::default();
    out.flush(&mut memory, &mut 0)
        .expect("memory takes everything");
    String::from_utf8(memory.0).expect("text")
}

/// Everything queued, as bytes, by flushing into memory (tests only).
#[cfg(test)]
pub(crate) fn bytes_of(out: &mut OutQueue) -> Vec<u8> {
    let mut memory = Memory::default();
    while !out.is_empty() {
        out.flush(&mut memory, &mut 0)
            .expect("memory takes everything");
    }
    memory.0
}

/// A stream that takes everything into memory (tests only; file chunks
/// are read with `pread`).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Memory(pub Vec<u8>);

#[cfg(test)]
impl Stream for Memory {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        bufs.iter().for_each(|b| self.0.extend_from_slice(b));
        Ok(bufs.iter().map(|b| b.len()).sum())
    }
    fn send_file(&mut self, file: &File, offset: u64, count: usize) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; count];
        let n = file.read_at(&mut buf, offset)?;
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn shutdown_write(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket stand-in that accepts at most `room` bytes, then WouldBlock.
    struct Sink {
        got: Vec<u8>,
        room: usize,
        calls: usize,
        /// Calls with MSG_MORE.
        more: usize,
    }

    impl Sink {
        fn with_room(room: usize) -> Sink {
            Sink {
                got: vec![],
                room,
                calls: 0,
                more: 0,
            }
        }
    }

    impl Stream for Sink {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn send_file(&mut self, _: &File, _: u64, _: usize) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn write_vectored_more(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.more += 1;
            self.write_vectored(bufs)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.room);
                self.got.extend_from_slice(&b[..take]);
                self.room -= take;
                n += take;
            }
            Ok(n)
        }
    }

    fn queue(parts: &[&'static [u8]]) -> OutQueue {
        let mut q = OutQueue::default();
        for p in parts {
            q.push(Chunk::Static(p));
        }
        let shared: Rc<[u8]> = Rc::from(&b"-shared"[..]);
        q.push(Chunk::shared(&shared));
        q
    }

    #[test]
    fn one_write_when_it_all_fits() {
        let mut q = queue(&[b"ab", b"", b"cde"]);
        let mut s = Sink::with_room(100);
        assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
        assert_eq!(s.got, b"abcde-shared");
        assert_eq!(s.calls, 1);
        assert!(q.is_empty());
        assert_eq!(q.queued_bytes(), 0);
    }

    #[test]
    fn the_last_write_before_the_fin_says_more_follows() {
        // Cut at every point: only the writev that takes the end of the
        // queue, once the FIN is known to follow, goes with MSG_MORE.
        for cut in 0..12 {
            for fin in [false, true] {
                let mut q = queue(&[b"ab", b"cde"]);
                if fin {
                    q.fin_follows();
                }
                let mut s = Sink::with_room(cut);
                assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Blocked);
                s.room = 100;
                assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
                assert_eq!(s.got, b"abcde-shared", "cut {cut}");
                let want = if fin { s.calls } else { 0 };
                assert_eq!(s.more, want, "cut {cut}, fin {fin}");
            }
        }
        // A queue longer than one writev: only the last says more.
        let mut q = OutQueue::default();
        for _ in 0..MAX_IOVECS + 1 {
            q.push(Chunk::Static(b"x"));
        }
        q.fin_follows();
        let mut s = Sink::with_room(10_000);
        assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
        assert_eq!((s.calls, s.more), (2, 1));
        // Cleared for the next connection, it forgets.
        let mut q = queue(&[b"ab"]);
        q.fin_follows();
        q.clear();
        q.push(Chunk::Static(b"x"));
        let mut s = Sink::with_room(100);
        assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
        assert_eq!((s.calls, s.more), (1, 0));
    }

    #[test]
    fn a_file_range_read_framed_is_that_range_between_its_gaps() {
        let dir = crate::fixture::Scratch::new("read-framed");
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        // Every length and piece size around the edges, each range read
        // back as gap, piece, gap, piece: the pieces are the file's bytes
        // in order, each gap says its piece's length and whether it is last.
        for (pos, end, every) in [
            (3, 12, 4),
            (3, 12, 9),
            (3, 12, 100),
            (0, 5000, 1000),
            (0, 5000, 999),
            (17, 4999, 16),
            (100, 100, 8),
        ] {
            let mut calls = Vec::new();
            let framed = Chunk::File {
                file: Rc::clone(&file),
                pos,
                end,
            }
            .read_framed(every, |len, last| {
                calls.push((len, last));
                [b'<', len as u8, (len >> 8) as u8, u8::from(last)]
            })
            .unwrap();
            let got = framed.bytes().unwrap();
            let (mut at, mut want) = (0, &bytes[pos as usize..end as usize]);
            let mut seen = Vec::new();
            while at < got.len() {
                let len = usize::from(got[at + 1]) | usize::from(got[at + 2]) << 8;
                assert_eq!(got[at], b'<');
                seen.push((len, got[at + 3] == 1));
                assert_eq!(
                    &got[at + 4..at + 4 + len],
                    &want[..len],
                    "{pos}..{end} by {every}"
                );
                want = &want[len..];
                at += 4 + len;
            }
            assert!(want.is_empty(), "{pos}..{end} by {every}: all of it");
            assert_eq!(seen, calls);
            let n = (end - pos) as usize;
            assert_eq!(calls.len(), n.div_ceil(every));
            assert!(
                calls
                    .iter()
                    .rev()
                    .skip(1)
                    .all(|&(len, last)| len == every && !last)
            );
            if let Some(&(len, last)) = calls.last() {
                assert!(last && len == n - every * (calls.len() - 1));
            }
        }
        // Past the end of the file: an error, not short bytes.
        let file = Rc::new(File::open(&path).unwrap());
        assert!(
            Chunk::File {
                file,
                pos: 4990,
                end: 5040
            }
            .read_framed(16, |_, _| [0u8; 9])
            .is_err()
        );
        // Memory stays memory.
        assert_eq!(
            Chunk::Static(b"x")
                .read_framed(4, |_, _| [0u8; 9])
                .unwrap()
                .bytes(),
            Some(&b"x"[..])
        );
    }

    /// A socket that takes every call whole, or with `room` that many
    /// bytes of files more and then says WouldBlock; it remembers each
    /// sendfile's offset and length.
    #[derive(Default)]
    struct Calls {
        room: Option<usize>,
        files: Vec<(u64, usize)>,
    }

    impl Calls {
        /// The lengths of the sendfile calls from the `from`th on.
        fn lengths(&self, from: usize) -> Vec<usize> {
            self.files[from..].iter().map(|&(_, n)| n).collect()
        }
    }

    impl Stream for Calls {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            Ok(bufs.iter().map(|b| b.len()).sum())
        }
        fn send_file(&mut self, _: &File, offset: u64, count: usize) -> io::Result<usize> {
            let count = match &mut self.room {
                Some(0) => return Err(io::ErrorKind::WouldBlock.into()),
                Some(room) => {
                    let n = count.min(*room);
                    *room -= n;
                    n
                }
                None => count,
            };
            self.files.push((offset, count));
            Ok(count)
        }
        fn shutdown_write(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// An empty file to name in file chunks (`Calls` never reads it), and
    /// the scratch directory that holds it.
    fn empty_file(name: &str) -> (crate::fixture::Scratch, Rc<File>) {
        let dir = crate::fixture::Scratch::new(name);
        let path = dir.path().join("f");
        std::fs::write(&path, b"").unwrap();
        let file = Rc::new(File::open(&path).unwrap());
        (dir, file)
    }

    /// Flushes `q` to the end, turn by turn: each turn's sendfile lengths.
    fn turns(q: &mut OutQueue) -> Vec<Vec<usize>> {
        let mut sock = Calls::default();
        let mut turns = vec![];
        loop {
            let before = sock.files.len();
            let flushed = q.flush(&mut sock, &mut 0).unwrap();
            turns.push(sock.lengths(before));
            match flushed {
                Flush::Again => continue,
                Flush::Done => return turns,
                Flush::Blocked => panic!("Calls takes everything"),
            }
        }
    }

    #[test]
    fn a_turn_is_four_calls_and_the_call_that_ends_the_file() {
        let (_dir, file) = empty_file("turns");
        let range = |len: usize| Chunk::File {
            file: Rc::clone(&file),
            pos: 0,
            end: len as u64,
        };
        const M: usize = SENDFILE_MAX;
        // A head, then 1 MiB: the head's lead shifts the calls, and the
        // tail it leaves goes out with the second turn, not in a third.
        let mut q = OutQueue::default();
        q.push(Chunk::Static(&[b'h'; 200]));
        q.push(range(8 * M));
        assert_eq!(
            turns(&mut q),
            [vec![M - 200, M, M, M], vec![M, M, M, M, 200]]
        );
        // More than one call left after four: the turn ends.
        q.push(range(5 * M + 1));
        assert_eq!(turns(&mut q), [vec![M; 4], vec![M, 1]]);
        // A fifth call ends the first file; the next file waits its turn.
        q.push(range(4 * M + 10));
        q.push(range(3));
        assert_eq!(turns(&mut q), [vec![M, M, M, M, 10], vec![3]]);
        // Exactly five calls' worth: one turn, never more than five calls.
        q.push(range(5 * M));
        q.push(range(6 * M));
        assert_eq!(turns(&mut q), [vec![M; 5], vec![M; 4], vec![M, M]]);
    }

    #[test]
    fn a_file_resumes_where_a_full_socket_stopped_it() {
        let (_dir, file) = empty_file("resume");
        const M: usize = SENDFILE_MAX;
        let len = 3 * M + 5;
        let mut q = OutQueue::default();
        q.push(Chunk::Static(&[b'h'; 100]));
        q.push(Chunk::File {
            file,
            pos: 0,
            end: len as u64,
        });
        // Room for a call and a half of the file: a short sendfile, then
        // EAGAIN, and the flush waits for WRITABLE.
        let mut sock = Calls {
            room: Some(M + M / 2),
            ..Calls::default()
        };
        let mut calls = 0;
        assert_eq!(q.flush(&mut sock, &mut calls).unwrap(), Flush::Blocked);
        // The head went with MSG_MORE and took its length off the first
        // call; the second was cut short by the socket, the third refused.
        assert_eq!(sock.lengths(0), [M - 100, M / 2 + 100]);
        assert_eq!(calls, 4);
        assert_eq!(q.sent(), (100 + M + M / 2) as u64);
        assert_eq!(q.queued_bytes(), (len - M - M / 2) as u64);
        // Room again: the file goes on from where it stopped, to its end.
        sock.room = Some(usize::MAX);
        assert_eq!(q.flush(&mut sock, &mut calls).unwrap(), Flush::Done);
        let mut at = 0;
        for &(offset, n) in &sock.files {
            assert_eq!(offset, at, "each call begins where the last ended");
            at += n as u64;
        }
        assert_eq!(at, len as u64);
        assert_eq!((q.sent(), q.queued_bytes()), (len as u64 + 100, 0));
        assert!(q.is_empty());
    }

    #[test]
    fn inline_chunks_carry_their_bytes_through_short_writes() {
        for cut in 0..9 {
            let mut q = OutQueue::default();
            q.push(Chunk::inline(b"head"));
            let mut body = Chunk::Static(b"body!");
            q.push(body.split_to(2));
            q.push(Chunk::inline(&[b'x'; 40])); // cut to INLINE bytes
            q.push(body);
            assert_eq!(q.queued_bytes(), 9 + INLINE as u64);
            let mut s = Sink::with_room(cut);
            let _ = q.flush(&mut s, &mut 0).unwrap();
            s.room = 100;
            assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
            let mut want = b"headbo".to_vec();
            want.extend_from_slice(&[b'x'; INLINE]);
            want.extend_from_slice(b"dy!");
            assert_eq!(s.got, want, "cut {cut}");
        }
    }

    #[test]
    fn short_writes_advance_across_chunks() {
        // Cut the 12 bytes at every possible point, then finish.
        for cut in 0..12 {
            let mut q = queue(&[b"ab", b"cde"]);
            let mut s = Sink::with_room(cut);
            assert_eq!(
                q.flush(&mut s, &mut 0).unwrap(),
                Flush::Blocked,
                "cut {cut}"
            );
            assert_eq!(q.queued_bytes(), 12 - cut as u64);
            s.room = 100;
            assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
            assert_eq!(s.got, b"abcde-shared", "cut {cut}");
        }
    }

    #[test]
    fn long_queues_take_several_writes() {
        let mut q = OutQueue::default();
        for _ in 0..MAX_IOVECS * 2 + 1 {
            q.push(Chunk::Static(b"x"));
        }
        let mut s = Sink::with_room(10_000);
        assert_eq!(q.flush(&mut s, &mut 0).unwrap(), Flush::Done);
        assert_eq!(s.got.len(), MAX_IOVECS * 2 + 1);
        assert_eq!(s.calls, 3);
    }
}
