//! Accepting HTTP connections, and pausing when no more can be taken.
//!
//! The HTTP listener defers accepting until the request has arrived
//! (TCP_DEFER_ACCEPT), so [`accept_http`] serves each new connection at
//! once, before it is registered: a `Connection: close` exchange then costs
//! accept, read, one write, close and never touches epoll, and a keep-alive
//! one is registered with the interest its state needs.
//!
//! At the connection cap, or when `accept` fails for lack of descriptors
//! (EMFILE, ENFILE) or memory, accepting pauses ([`Pause`]): the pending
//! connections wait in the kernel's backlog, and the loop comes back for
//! them when a connection closes or a short retry time has passed.
//! Accepting again at once would fail the same way and spin the loop.

use std::io;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Registry, Token};

use crate::conn::{Conn, ConnLoan, Next, Transport};
use crate::conns::Conns;
use crate::metrics::Metrics;
use crate::rfc868::Backlog;
use crate::sys::{interrupted, would_block};

/// How long accepting pauses after running out of descriptors.
pub const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// How an accept loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// `accept` said WouldBlock: nothing is pending.
    Empty,
    /// The connection cap was reached with connections still pending.
    AtCap,
    /// A turn's worth ([`ACCEPTS_PER_TURN`]) was taken and more may wait:
    /// the loop comes back to this listener after everyone else has had a
    /// turn, as it does for a connection that yields (edge triggering
    /// raises no new edge for what is already queued).
    Again,
}

/// An RFC 868 listener's turn ends the way an HTTP one's does, and is
/// paused by the same rules (out of descriptors).
impl From<Backlog> for Accepted {
    fn from(backlog: Backlog) -> Accepted {
        match backlog {
            Backlog::Empty => Accepted::Empty,
            Backlog::Again => Accepted::Again,
        }
    }
}

/// Connections one listener may accept (and serve) in one turn of the
/// loop: a flood of connects, or a kernel that never says WouldBlock, does
/// not keep the rest of the loop (or a signal) waiting.
pub const ACCEPTS_PER_TURN: usize = 256;

/// Connections the HTTPS listener may accept in one turn. Each runs the
/// first flight of a full handshake at once (a key exchange and a
/// signature: about 300 µs of CPU here, thirty times a plain accept and
/// answer), so a turn of 256 would hold every established connection for
/// most of 80 ms while a crowd connects. Four keep the turn near a
/// millisecond; the rest wait in the backlog for the next turn, after
/// everyone else. Measured with ten keep-alive HTTP clients while bursts of
/// 300 TLS connections arrived: their p99 went from 15-23 ms to 5-9 ms, and
/// a handshake costs the same (`tls-close`: 283-326 µs per connection
/// either way).
pub const HANDSHAKES_PER_TURN: usize = 4;

/// Accepts pending HTTP connections, at most `budget` of them, serving each
/// at once and adding those that stay open to `conns` (at most `max_conns`
/// in all).
pub fn accept_http(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut Conns,
    max_conns: usize,
    loan: &mut ConnLoan<'_>,
    wrap: &mut dyn FnMut(TcpStream) -> Option<Transport>,
    budget: usize,
) -> io::Result<Accepted> {
    for _ in 0..budget {
        if conns.len() >= max_conns {
            return Ok(Accepted::AtCap);
        }
        loan.ops.metrics.io.other += 1;
        let (tcp, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if would_block(&e) => return Ok(Accepted::Empty),
            // The peer gave up between its handshake and our accept.
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) if interrupted(&e) => continue,
            Err(e) => return Err(e),
        };
        // TCP_NODELAY is inherited from the listener (Linux copies it).
        // HTTPS puts TLS on it.
        let Some(sock) = wrap(tcp) else {
            continue;
        };
        let tls = sock.is_tls();
        let open = conns.len() as u64;
        let key = conns.next_key();
        loan.ops.metrics.accepted += 1;
        // It is open while it is served, before it has a slab entry.
        loan.ops.metrics.open = open + 1;
        loan.ops.metrics.https_open += u64::from(tls);
        loan.ops.connected(key, peer.ip());
        log::trace!("connection {key}: accepted from {peer}; its request is read at once");
        let mut conn = Conn::new(sock);
        let next = conn.on_event(key, true, false, loan);
        let wait = match next {
            Next::Close => {
                log::trace!("connection {key}: closed (close), never registered");
                loan.ops.metrics.io.other += 1;
                loan.ops.metrics.open = open;
                loan.ops.metrics.https_open -= u64::from(tls);
                continue; // dropping `conn` closes it
            }
            Next::Wait(wait) => wait,
            // A first response too large for one turn: the socket is
            // writable, so registering for WRITABLE brings it back at once.
            Next::Again(wait) => wait,
        };
        // Readiness that arrived between our read and this registration is
        // not lost: EPOLL_CTL_ADD reports the socket's current state.
        loan.ops.metrics.io.other += 1;
        if let Err(e) = registry.register(conn.socket(), Token(key), wait.interest) {
            log::warn!("epoll_ctl: {e}");
            loan.ops.metrics.open = open;
            loan.ops.metrics.https_open -= u64::from(tls);
            continue;
        }
        log::trace!(
            "connection {key}: registered for {:?} (epoll_ctl ADD)",
            wait.interest
        );
        conns.insert(conn, wait.deadline);
    }
    Ok(Accepted::Again)
}

/// Whether accepting is paused, and whether that has been said.
#[derive(Debug, Default)]
pub struct Pause {
    /// Paused until this time, and until a slot is free.
    until: Option<Instant>,
    /// A pause has been logged; said once per episode, not at every retry.
    warned: bool,
}

impl Pause {
    /// Whether accepting is paused.
    pub fn is_paused(&self) -> bool {
        self.until.is_some()
    }

    /// When the loop must look again, if paused for a time.
    pub fn retry_at(&self) -> Option<Instant> {
        self.until
    }

    /// Learns from how an accept loop on a TCP listener ended (`open`
    /// connections now; `syscall` names the call for the log).
    pub fn after(
        &mut self,
        result: &io::Result<Accepted>,
        syscall: &str,
        open: usize,
        now: Instant,
        metrics: &mut Metrics,
    ) {
        match result {
            Ok(Accepted::Empty | Accepted::Again) => {
                if self.warned {
                    log::info!("accepting again");
                    self.warned = false;
                }
            }
            Ok(Accepted::AtCap) => {
                metrics.paused_at_cap += 1;
                if !self.warned {
                    let open = crate::trace::plural(open as u64, "connection", "connections");
                    log::warn!("{open}, the cap: not accepting until one closes");
                    self.warned = true;
                }
                self.until = Some(now);
            }
            Err(e) if out_of_resources(e) => {
                metrics.paused_no_resources += 1;
                if self.warned {
                    log::debug!("{syscall}: {e}: still pausing accepts");
                } else {
                    log::warn!("{syscall}: {e}: pausing accepts, retrying every {ACCEPT_RETRY:?}");
                    self.warned = true;
                }
                self.until = Some(now + ACCEPT_RETRY);
            }
            Err(e) => log::warn!("{syscall}: {e}"),
        }
    }

    /// Ends the pause if its time is over and a slot is free; then every
    /// TCP listener must be emptied again, since its queued connections
    /// will not raise a new edge.
    pub fn resume(&mut self, now: Instant, open: usize, max_conns: usize) -> bool {
        match self.until {
            Some(until) if now >= until && open < max_conns => {
                self.until = None;
                log::debug!("resuming accepts ({open} connections)");
                true
            }
            _ => false,
        }
    }
}

/// Errors that mean "no resources now", not "this connection failed".
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    //! The pause, pinned without a socket; the accept loop's bounds (its
    //! budget and the cap) over loopback sockets that never send a byte.

    use std::net::TcpStream as StdStream;
    use std::time::Duration;

    use mio::Poll;

    use super::*;
    use crate::fixture::World;
    use crate::listeners::tcp_listener;

    #[test]
    fn at_the_cap_the_pause_lasts_until_a_slot_is_free() {
        let (mut pause, mut m, now) = (Pause::default(), Metrics::default(), Instant::now());
        pause.after(&Ok(Accepted::AtCap), "accept", 10, now, &mut m);
        assert!(pause.is_paused());
        assert_eq!(m.paused_at_cap, 1);
        // Later, still at the cap: paused (and no timer would help).
        assert!(!pause.resume(now + Duration::from_secs(5), 10, 10));
        assert!(pause.is_paused());
        // One closed: accepting resumes, and every listener must be
        // emptied again.
        assert!(pause.resume(now + Duration::from_secs(5), 9, 10));
        assert!(!pause.is_paused());
        assert_eq!(pause.retry_at(), None);
    }

    #[test]
    fn out_of_descriptors_the_pause_retries_after_its_time() {
        let (mut pause, mut m, now) = (Pause::default(), Metrics::default(), Instant::now());
        let emfile = Err(io::Error::from_raw_os_error(libc::EMFILE));
        pause.after(&emfile, "accept", 3, now, &mut m);
        assert_eq!(pause.retry_at(), Some(now + ACCEPT_RETRY));
        assert_eq!(m.paused_no_resources, 1);
        assert!(!pause.resume(now + ACCEPT_RETRY / 2, 3, 10), "too soon");
        assert!(pause.resume(now + ACCEPT_RETRY, 3, 10));
        // Any other error is one connection's, and pauses nothing.
        let reset = Err(io::Error::from_raw_os_error(libc::EPROTO));
        pause.after(&reset, "accept", 3, now, &mut m);
        assert!(!pause.is_paused());
        assert_eq!(m.paused_no_resources, 1);
    }

    /// Runs `accept_http` on `listener` with this budget and cap.
    fn accept(
        listener: &TcpListener,
        poll: &Poll,
        conns: &mut Conns,
        max_conns: usize,
        budget: usize,
    ) -> Accepted {
        let mut world = World::new(64 * 1024);
        let mut wrap = |tcp| Some(Transport::Plain(tcp));
        let loan = &mut world.at(0);
        accept_http(
            listener,
            poll.registry(),
            conns,
            max_conns,
            loan,
            &mut wrap,
            budget,
        )
        .expect("accept")
    }

    #[test]
    fn an_accept_turn_stops_at_its_budget_and_at_the_cap() {
        let listener = tcp_listener("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = listener.local_addr().unwrap();
        let poll = Poll::new().unwrap();
        let mut conns = Conns::new(Instant::now(), 100);
        // Five clients that connect and send nothing: each is accepted,
        // read once (nothing yet), registered and kept.
        let clients: Vec<StdStream> = (0..5).map(|_| StdStream::connect(addr).unwrap()).collect();
        assert_eq!(
            accept(&listener, &poll, &mut conns, 100, 2),
            Accepted::Again
        );
        assert_eq!(conns.len(), 2, "a turn takes its budget and no more");
        assert_eq!(
            accept(&listener, &poll, &mut conns, 4, 256),
            Accepted::AtCap
        );
        assert_eq!(conns.len(), 4, "the cap holds");
        assert_eq!(
            accept(&listener, &poll, &mut conns, 100, 256),
            Accepted::Empty
        );
        assert_eq!(conns.len(), 5);
        drop(clients);
    }
}
