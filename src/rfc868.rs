//! The Time Protocol: encode and decode (pure), serve_tcp, serve_udp.
//!
//! The Time Protocol (RFC 868): the number of seconds since 1900-01-01 00:00 UTC
//! as a 32-bit big-endian integer.
//!
//! The protocol is so small that it needs no state machine at all:
//!
//! - over TCP the server accepts, sends the four bytes and closes. A time
//!   connection therefore never gets a slab entry or a registration with the
//!   poller; it lives and dies inside the accept loop ([`serve_tcp`]).
//! - over UDP every datagram, of any size, is a request and gets exactly one
//!   four-byte datagram back ([`serve_udp`]).
//!
//! The value is `(unix_seconds + UNIX_TO_1900) mod 2^32`. The counter wraps on
//! 2036-02-07 06:28:16 UTC and the protocol keeps working after: clients pick
//! the era nearest their own clock. When the clock cannot give a time (it
//! reads before 1970, or the system refuses), the RFC says the server closes
//! the TCP connection without sending anything and sends no UDP reply; that is
//! what `encode` returning `None` means.
//!
//! Everything that decides bytes is pure and takes the time as an argument,
//! so the tests pin the clock; only the two `serve_*` functions make syscalls.
//! Whatever the number of clients, one wakeup computes the value once.

use std::collections::HashMap;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use std::os::fd::AsRawFd;

use mio::net::{TcpListener, UdpSocket};

use crate::batch::{BATCH, DatagramBatch};
use crate::sys::{self, interrupted, would_block};

/// Seconds from 1900-01-01 00:00 UTC (RFC 868's epoch) to 1970-01-01 00:00 UTC.
pub const UNIX_TO_1900: u64 = 2_208_988_800;

/// Size of the Time Protocol's only message.
pub const TIME_BYTES: usize = 4;

/// The RFC 868 value for `now`, or `None` when `now` is before the Unix epoch
/// (the clock "cannot give a time").
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// // 1970-01-01 00:00:00 UTC is 2,208,988,800 seconds after 1900.
/// assert_eq!(oneloop::rfc868::encode(UNIX_EPOCH), Some(2_208_988_800u32.to_be_bytes()));
/// // The counter wraps to 0 on 2036-02-07 06:28:16 UTC.
/// let wrap = UNIX_EPOCH + Duration::from_secs(2_085_978_496);
/// assert_eq!(oneloop::rfc868::encode(wrap), Some([0, 0, 0, 0]));
/// ```
pub fn encode(now: SystemTime) -> Option<[u8; TIME_BYTES]> {
    let unix = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    // Truncation to 32 bits is the protocol's own modulo-2^32 arithmetic.
    let since_1900 = unix.wrapping_add(UNIX_TO_1900) as u32;
    Some(since_1900.to_be_bytes())
}

/// Decodes a reply relative to a reference Unix time: of all Unix times whose
/// low 32 bits (after the 1900 offset) equal `value`, the one nearest
/// `reference`. This is how a client survives the 2036 wrap.
pub fn decode_near(value: [u8; TIME_BYTES], reference: i64) -> i64 {
    const ERA: i64 = 1 << 32;
    let since_1900 = i64::from(u32::from_be_bytes(value));
    let reference_1900 = reference + UNIX_TO_1900 as i64;
    // Start in the reference's era, then step one era either way if closer.
    let base = reference_1900 - reference_1900.rem_euclid(ERA);
    let candidates = [base - ERA, base, base + ERA].map(|era| era + since_1900);
    let nearest = candidates
        .into_iter()
        .min_by_key(|c| (c - reference_1900).abs())
        .unwrap_or(base + since_1900);
    nearest - UNIX_TO_1900 as i64
}

/// Which datagrams deserve a reply.
///
/// Sources on ports below 1024 are services, not clients: answering one that
/// answers back (another time or echo service) would loop forever, so they
/// are dropped unless allowed, as BSD inetd and xinetd do. An optional cap
/// on replies per source address per second keeps the service from being
/// used to flood a spoofed address.
#[derive(Debug, Default)]
pub struct UdpPolicy {
    /// Answer sources on ports below 1024.
    pub low_ports: bool,
    /// Most replies per source address per second; 0 for no limit.
    pub per_source: u32,
    second: u64,
    counts: HashMap<IpAddr, u32>,
}

/// Most source addresses counted in one second; beyond it, new sources wait
/// for the next second (the map never outgrows this).
pub const RATE_SOURCES_MAX: usize = 65_536;

impl UdpPolicy {
    /// A policy with these settings.
    pub fn new(low_ports: bool, per_source: u32) -> UdpPolicy {
        UdpPolicy {
            low_ports,
            per_source,
            ..UdpPolicy::default()
        }
    }

    /// Whether to answer `source` in Unix second `second`, counting it.
    pub fn allow(&mut self, source: SocketAddr, second: u64) -> bool {
        if source.port() < 1024 && !self.low_ports {
            return false;
        }
        if self.per_source == 0 {
            return true;
        }
        if second != self.second {
            self.second = second;
            self.counts.clear();
        }
        if self.counts.len() >= RATE_SOURCES_MAX && !self.counts.contains_key(&source.ip()) {
            return false;
        }
        let count = self.counts.entry(source.ip()).or_insert(0);
        if *count >= self.per_source {
            return false;
        }
        *count += 1;
        true
    }
}

/// Counters for what the time service did, for logs and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TimeStats {
    /// TCP connections answered.
    pub tcp_replies: u64,
    /// UDP datagrams answered.
    pub udp_replies: u64,
    /// UDP datagrams dropped by the [`UdpPolicy`] (low source port, rate).
    pub udp_dropped: u64,
    /// Requests refused because the clock could not give a time.
    pub no_clock: u64,
}

/// How a drain of a time socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// The socket said WouldBlock (or a short batch said it would).
    Empty,
    /// The turn's budget was spent and more may wait: the loop comes back
    /// after everyone else has had a turn. A flood, or a socket that never
    /// says WouldBlock, cannot keep the loop (or a signal) waiting.
    Again,
}

/// Connections a time listener answers in one turn of the loop.
pub const TCP_PER_TURN: usize = 1024;

/// Batches of datagrams a time socket answers in one turn of the loop
/// (each up to [`crate::batch::BATCH`]).
pub const UDP_BATCHES_PER_TURN: usize = 16;

/// Accepts pending connections on a time listener, at most `budget`,
/// writes the four bytes and closes each (by dropping the socket). Returns
/// when `accept` would block or the budget is spent; an error other than
/// "try again" is returned to the caller, which logs it and keeps serving.
pub fn serve_tcp(
    listener: &TcpListener,
    now: SystemTime,
    stats: &mut TimeStats,
    budget: usize,
) -> io::Result<Backlog> {
    // One wakeup is one instant: every connection accepted in it gets the
    // same second, computed once.
    let reply = encode(now);
    let before = stats.tcp_replies;
    for _ in 0..budget {
        let (stream, _peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if would_block(&e) => {
                log::trace!(
                    "RFC 868 TCP: {} answered and closed, then accept: WouldBlock",
                    stats.tcp_replies - before
                );
                return Ok(Backlog::Empty);
            }
            // The peer gave up between SYN and accept: nothing to answer.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        };
        match reply {
            // A fresh socket's send buffer always has room for four bytes, so a
            // single non-blocking write either sends them all or the peer is
            // already gone (reset); in both cases the connection is done.
            // MSG_MORE keeps the segment back until the close just after,
            // so the FIN rides on it: one segment fewer each way.
            Some(bytes) => {
                if sys::send_more(stream.as_raw_fd(), &[IoSlice::new(&bytes)]).is_ok() {
                    stats.tcp_replies += 1;
                }
            }
            None => stats.no_clock += 1,
        }
        // Dropping `stream` closes it: the client reads four bytes then EOF.
    }
    log::trace!("RFC 868 TCP: {budget} answered; more may wait, back after the others");
    Ok(Backlog::Again)
}

/// Answers pending datagrams on a time socket with one four-byte datagram
/// each, until no more are queued or `budget` batches were answered. Datagrams are taken and answered in
/// batches (`recvmmsg`, `sendmmsg`): two syscalls for up to
/// [`crate::batch::BATCH`] replies. A batch smaller than the maximum means
/// the queue was empty, so no call is spent learning that it would block.
pub fn serve_udp(
    socket: &UdpSocket,
    batch: &mut DatagramBatch,
    now: SystemTime,
    policy: &mut UdpPolicy,
    stats: &mut TimeStats,
    budget: usize,
) -> io::Result<Backlog> {
    let reply = encode(now);
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let fd = socket.as_raw_fd();
    for _ in 0..budget {
        let received = match batch.recv(fd) {
            Ok(n) => n,
            Err(e) if would_block(&e) => return Ok(Backlog::Empty),
            Err(e) if interrupted(&e) => continue,
            // An ICMP error from an earlier reply surfaces here on Linux;
            // it concerns that peer only.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        };
        let n = batch.retain(received, |source| policy.allow(source, second));
        stats.udp_dropped += (received - n) as u64;
        log::trace!(
            "RFC 868 UDP: recvmmsg took {received} datagram(s); answering {n} with one sendmmsg"
        );
        match reply {
            Some(bytes) => stats.udp_replies += batch.reply_all(fd, n, &bytes)? as u64,
            None => stats.no_clock += n as u64,
        }
        if received < BATCH {
            return Ok(Backlog::Empty);
        }
    }
    Ok(Backlog::Again)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(unix: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(unix)
    }

    /// One turn takes at most its budget of batches; what is left is taken
    /// on the next turn, and a short batch ends the drain.
    #[test]
    fn a_udp_turn_stops_at_its_budget_and_takes_the_rest_next_turn() {
        let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let n = BATCH + 36;
        for _ in 0..n {
            client.send_to(b"", server.local_addr().unwrap()).unwrap();
        }
        let (mut batch, mut policy) = (DatagramBatch::default(), UdpPolicy::new(false, 0));
        let mut stats = TimeStats::default();
        let now = at(1_000_000_000);
        let turn = serve_udp(&server, &mut batch, now, &mut policy, &mut stats, 1).unwrap();
        assert_eq!((turn, stats.udp_replies), (Backlog::Again, BATCH as u64));
        let turn = serve_udp(&server, &mut batch, now, &mut policy, &mut stats, 1).unwrap();
        assert_eq!((turn, stats.udp_replies), (Backlog::Empty, n as u64));
        let mut reply = [0u8; 8];
        for _ in 0..n {
            assert_eq!(client.recv(&mut reply).unwrap(), 4);
        }
    }

    /// The same for connections to the TCP time listener.
    #[test]
    fn a_tcp_turn_stops_at_its_budget_and_takes_the_rest_next_turn() {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let clients: Vec<_> = (0..5)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        let mut stats = TimeStats::default();
        let now = at(1_000_000_000);
        assert_eq!(
            serve_tcp(&listener, now, &mut stats, 2).unwrap(),
            Backlog::Again
        );
        assert_eq!(stats.tcp_replies, 2);
        assert_eq!(
            serve_tcp(&listener, now, &mut stats, 2).unwrap(),
            Backlog::Again
        );
        assert_eq!(
            serve_tcp(&listener, now, &mut stats, 2).unwrap(),
            Backlog::Empty
        );
        assert_eq!(stats.tcp_replies, 5);
        for mut c in clients {
            let mut four = Vec::new();
            std::io::Read::read_to_end(&mut c, &mut four).unwrap();
            assert_eq!(four, encode(now).unwrap());
        }
    }

    #[test]
    fn encode_table() {
        // (unix seconds, RFC 868 value)
        let cases: &[(u64, u32)] = &[
            (0, 2_208_988_800),                   // 1970-01-01
            (1_000_000_000, 3_208_988_800),       // 2001-09-09
            (2_085_978_495, u32::MAX),            // 2036-02-07 06:28:15, last second of era 0
            (2_085_978_496, 0),                   // the wrap
            (2_085_978_497, 1),                   // one second into era 1
            (1_795_000_000, 4_003_988_800),       // 2026-11-18
            (4_294_967_296 + 100, 2_208_988_900), // 2106: wraps the 32-bit unix count too
        ];
        for &(unix, want) in cases {
            assert_eq!(encode(at(unix)), Some(want.to_be_bytes()), "unix {unix}");
        }
    }

    #[test]
    fn udp_policy_table() {
        let client: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let other: SocketAddr = "127.0.0.2:40000".parse().unwrap();
        let service: SocketAddr = "127.0.0.1:37".parse().unwrap();
        let mut open = UdpPolicy::new(false, 0);
        assert!(open.allow(client, 1));
        assert!(!open.allow(service, 1), "service ports are dropped");
        assert!(UdpPolicy::new(true, 0).allow(service, 1));
        let mut capped = UdpPolicy::new(false, 2);
        let firsts: Vec<bool> = (0..4).map(|_| capped.allow(client, 7)).collect();
        assert_eq!(firsts, [true, true, false, false]);
        assert!(capped.allow(other, 7), "each source has its own count");
        assert!(capped.allow(client, 8), "a new second, a new count");
    }

    #[test]
    fn before_1970_gives_nothing() {
        assert_eq!(encode(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(encode(UNIX_EPOCH - Duration::from_nanos(1)), None);
    }

    #[test]
    fn decode_picks_the_nearest_era() {
        // (value's unix time, reference) -> the unix time decoded
        let cases: &[(i64, i64)] = &[
            (1_795_000_000, 1_795_000_010),
            (2_085_978_500, 2_085_978_490), // reply just after the wrap, clock just before
            (2_085_978_490, 2_085_978_500), // reply just before, clock just after
            (0, 5),
        ];
        for &(unix, reference) in cases {
            let value = encode(at(unix as u64)).expect("after 1970");
            assert_eq!(decode_near(value, reference), unix, "reference {reference}");
        }
    }
}
