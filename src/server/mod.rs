//! The loop: one Poll, dispatch by token, applying a connection's Next, deadlines; bind, wait and shutdown beside it.
//!
//! The loop: one `mio::Poll`, its listeners, the slab of HTTP connections,
//! dispatch and deadlines, read top to bottom in [`Server::run`]. Beside
//! it: `bind.rs` (everything made ready before the first poll),
//! `tokens.rs` (whose event a token is), `wait.rs` (how long and how the
//! loop sleeps) and `shutdown.rs` (signals, the [`Handle`], the drain).
//!
//! ```text
//! Server::run
//!   loop {
//!     poll(events, until the next deadline)        one epoll_wait; after a
//!                                                  wakeup with a few events,
//!                                                  look without blocking for
//!                                                  a while first (coalesce.rs)
//!     read the clocks once; refresh the Date line
//!     a new second: sample connection states, write the access log
//!     for each event:
//!       SIGNALS / WAKER  -> begin (or, the second time, cut short) shutdown;
//!                           SIGHUP reopens the access log
//!       HTTP listener    -> accept until WouldBlock; serve each at once, then
//!                           register it only if it stays open
//!       time listener    -> accept until WouldBlock; write 4 bytes; close
//!       time UDP socket  -> recvmmsg until empty; one sendmmsg per batch
//!       connection k     -> conns[k].on_event(..) -> Wait(interest, deadline)
//!                           | Again(..) | Close; the loop reregisters and arms
//!     expire deadlines
//!     connections that yielded take their next turn
//!     draining and no connection left -> return
//!   }
//! ```
//!
//! The loop owns everything a connection needs (the read buffer, the site,
//! the counters, the pool of work states) and lends it for one event in a
//! [`ConnLoan`]. A connection never touches the poller or the wheel: it returns
//! a [`Next`], and `Server::apply` registers and arms. Listeners are
//! registered when bound, before the first `poll`.
//!
//! After start-up nothing here returns an error for one client's sake: a
//! failed syscall on a connection closes that connection; a failed `accept`
//! is logged and the listener tried again on its next event.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Interest, Poll, Token};

use crate::accept::{ACCEPTS_PER_TURN, Accepted, HANDSHAKES_PER_TURN, Pause, accept_http};
use crate::batch::DatagramBatch;
use crate::coalesce::Coalesce;
use crate::config::{Clock, Timeouts};
use crate::conn::{ConnLoan, Next, Transport, WorkPool};
use crate::conns::Conns;
use crate::http::site::Site;
use crate::listeners::{Listener, TimeKinds};
use crate::metrics::{ConnStates, Metrics};
use crate::ops::Ops;
use crate::rfc868;
use crate::sys::{self, context};
#[cfg(feature = "tls")]
use crate::tls::Tls;
use crate::trace::{self, plural};

mod bind;
#[cfg(feature = "http3")]
mod http3;
mod shutdown;
mod tokens;
mod wait;

pub use shutdown::Handle;
use shutdown::ServerState;
use tokens::{Owner, Tokens, owner};

/// Size of the loop's one read buffer, shared by every connection.
const READ_BUF: usize = 64 * 1024;

/// Longest time buffered access log lines wait to be written.
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// What the loop owns on behalf of every connection and lends, as a
/// [`ConnLoan`], to whichever one has the event: kept apart from the slab
/// so both can be borrowed at once.
struct Shared {
    /// The one read buffer.
    buf: Vec<u8>,
    site: Site,
    ops: Ops,
    pool: WorkPool,
    timeouts: Timeouts,
}

impl Shared {
    /// The loan for one event at `now`.
    fn lend(&mut self, now: Instant) -> ConnLoan<'_> {
        ConnLoan {
            buf: &mut self.buf,
            site: &mut self.site,
            ops: &mut self.ops,
            pool: &mut self.pool,
            now,
            timeouts: self.timeouts,
        }
    }
}

/// The server: bound sockets and everything the loop owns.
pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    http_addrs: Vec<SocketAddr>,
    time_addrs: Vec<SocketAddr>,
    /// Over which transports each of `time_addrs` is served.
    time_kinds: Vec<TimeKinds>,
    conns: Conns,
    shared: Shared,
    /// Connections whose deadline passed, reused from wakeup to wakeup.
    expired: Vec<usize>,
    /// Connections that yielded with more to write (see `Next::Again`).
    again: Vec<usize>,
    /// Listeners that spent their turn's budget with more waiting
    /// (`Accepted::Again`, `rfc868::Backlog::Again`): served again after
    /// everyone else, like connections that yield.
    listeners_again: Vec<usize>,
    max_conns: usize,
    /// Whether accepting is paused (at the cap, or out of descriptors).
    accept: Pause,
    /// What HTTPS connections share, when there are HTTPS listeners.
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
    https_addrs: Vec<SocketAddr>,
    datagrams: DatagramBatch,
    udp_policy: rfc868::UdpPolicy,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    handle: Handle,
    state: ServerState,
    clock: Clock,
    shutdown_timeout: Duration,
    /// The pause before a busy loop's next poll ([`Coalesce`]; zero: none).
    coalesce: Duration,
    /// The longest look before a lightly loaded loop blocks ([`Coalesce`]).
    spin: Duration,
    /// The Unix second of the last once-a-second chores.
    chores_second: u64,
    /// HTTP/3, when it is served: its socket and QUIC's connections.
    #[cfg(feature = "http3")]
    http3: Option<http3::Http3>,
    /// HTTP/3's socket spent its turn with more waiting.
    http3_again: bool,
}

impl Server {
    /// The bound HTTP addresses, in configuration order.
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http_addrs
    }

    /// The bound HTTPS addresses.
    pub fn https_addrs(&self) -> &[SocketAddr] {
        &self.https_addrs
    }

    /// The bound RFC 868 addresses (TCP and UDP share each one).
    pub fn time_addrs(&self) -> &[SocketAddr] {
        &self.time_addrs
    }

    /// Whether each of [`Server::time_addrs`] is served over TCP, UDP or
    /// both (under socket activation, what systemd passed).
    pub fn time_kinds(&self) -> &[TimeKinds] {
        &self.time_kinds
    }

    /// A handle that stops the server from another thread.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// QUIC connections still open (none without HTTP/3).
    fn http3_busy(&self) -> usize {
        #[cfg(feature = "http3")]
        return self.http3_open();
        #[cfg(not(feature = "http3"))]
        0
    }

    fn metrics(&mut self) -> &mut Metrics {
        &mut self.shared.ops.metrics
    }

    /// Runs the loop until shutdown completes. Returns an error only if the
    /// poller itself fails.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        if !self.coalesce.is_zero() {
            // A pause of 40 µs should not become 90.
            if let Err(e) = sys::set_timer_slack(1_000) {
                log::warn!("prctl(PR_SET_TIMERSLACK): {e}");
            }
        }
        let mut policy = Coalesce::new(self.coalesce, self.spin);
        loop {
            let polled = match self.wait_for_events(&mut events, &mut policy) {
                Ok(Some(polled)) => polled,
                Ok(None) => continue,
                Err(e) => return Err(context(e, "epoll_wait")),
            };
            policy.woke(events.iter().count(), polled);
            // The clocks are read once per wakeup: every reply in it shares them.
            let now = Instant::now();
            let wall = (self.clock)();
            self.shared.site.refresh(wall);
            self.metrics().io.wakeups += 1;
            // A new second: its chores come first, so the state sample
            // shows the connections as the second found them, before this
            // wakeup's events.
            let second = self.shared.site.date.second().unwrap_or(0);
            if second != self.chores_second {
                self.chores_second = second;
                self.every_second();
            }
            log::trace!(
                "{}",
                trace::Wakeup {
                    events: &events,
                    names: &Tokens(&self.listeners),
                }
            );

            for event in events.iter() {
                self.metrics().io.events += 1;
                match owner(event.token(), self.listeners.len()) {
                    Owner::Signals => self.on_signals(now),
                    Owner::Waker if self.handle.stop.swap(false, Ordering::SeqCst) => {
                        self.begin_shutdown(now)
                    }
                    Owner::Waker => {}
                    #[cfg(feature = "http3")]
                    Owner::Http3 => self.on_http3(now),
                    #[cfg(not(feature = "http3"))]
                    Owner::Http3 => {}
                    Owner::Listener(i) => self.on_listener(i, now, wall),
                    Owner::Conn(key) => {
                        policy.saw(key);
                        let readable = event.is_readable() || event.is_error();
                        self.on_conn(key, readable, event.is_read_closed(), now);
                    }
                }
            }
            self.expire(now);
            self.resume_accepting(now, wall);
            // Connections that yielded take their next turn, round-robin,
            // after everyone with an event has had one. (A key reused since
            // it yielded just gets a spurious call, which is harmless.)
            let mut again = std::mem::take(&mut self.again);
            for &key in &again {
                self.on_conn(key, false, false, now);
            }
            // Those that yielded again are in `self.again` now; keep the
            // larger storage for the next round.
            again.clear();
            if self.again.is_empty() {
                self.again = again;
            }
            // Listeners that had more than a turn's worth queued.
            for i in std::mem::take(&mut self.listeners_again) {
                self.on_listener(i, now, wall);
            }
            #[cfg(feature = "http3")]
            if std::mem::take(&mut self.http3_again) {
                self.on_http3(now);
            }

            if let ServerState::Draining { until } = self.state
                && ((self.conns.is_empty() && self.http3_busy() == 0) || now >= until)
            {
                let left = self.conns.len();
                if left > 0 {
                    log::warn!(
                        "shutdown timeout: closing {} still busy",
                        plural(left as u64, "connection", "connections")
                    );
                    let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
                    for key in keys {
                        self.close(key);
                    }
                }
                // Every shutdown ends with this line, on time or not.
                log::info!("shutdown complete");
                self.flush_log();
                return Ok(());
            }
        }
    }

    /// Once a second: sample the connection states for the metrics, let
    /// idle HTTP/2 connections and HTTP/3 sessions give back their
    /// per-request room, fold QUIC's counts into the metrics, and write out
    /// the access log's buffered lines.
    fn every_second(&mut self) {
        let mut states = ConnStates::default();
        for (_, conn) in self.conns.iter_mut() {
            conn.count_state(&mut states);
            conn.give_back();
        }
        #[cfg(feature = "http3")]
        if let Some(h3) = self.http3.as_mut() {
            h3.quic.every_second(&mut self.shared.ops.metrics.h3);
        }
        // Nothing waits to be sent: a quiet moment to give back the heap
        // the allocator kept while data flowed (sys::keep_freed_memory).
        if states.writing == 0 {
            crate::sys::trim_freed_memory();
        }
        self.metrics().states = states;
        self.flush_log();
    }

    fn flush_log(&mut self) {
        if let Some(log) = self.shared.ops.access_log.as_mut() {
            log.flush();
        }
    }

    fn on_listener(&mut self, i: usize, now: Instant, wall: SystemTime) {
        let Some(listener) = self.listeners.get(i) else {
            return;
        };
        let result = match listener {
            // The queued connections wait in the kernel's backlog; the loop
            // comes back for them when it can take them.
            Listener::Http(_) | Listener::Https(_) | Listener::Time(_)
                if self.accept.is_paused() =>
            {
                return;
            }
            Listener::Http(l) => accept_http(
                l,
                self.poll.registry(),
                &mut self.conns,
                self.max_conns,
                &mut self.shared.lend(now),
                &mut |tcp| Some(Transport::Plain(tcp)),
                ACCEPTS_PER_TURN,
            ),
            #[cfg(feature = "tls")]
            Listener::Https(l) => {
                let tls = self.tls.as_ref();
                accept_http(
                    l,
                    self.poll.registry(),
                    &mut self.conns,
                    self.max_conns,
                    &mut self.shared.lend(now),
                    &mut |tcp| match tls?.accept(tcp) {
                        Ok(stream) => Some(Transport::Tls(Box::new(stream))),
                        Err(e) => {
                            log::warn!("{e}");
                            None
                        }
                    },
                    HANDSHAKES_PER_TURN,
                )
            }
            #[cfg(not(feature = "tls"))]
            Listener::Https(_) => return,
            Listener::Time(l) => {
                let stats = &mut self.shared.ops.metrics.time;
                rfc868::serve_tcp(l, wall, stats, rfc868::TCP_PER_TURN).map(Accepted::from)
            }
            Listener::TimeUdp(u) => {
                let (batch, policy) = (&mut self.datagrams, &mut self.udp_policy);
                let stats = &mut self.shared.ops.metrics.time;
                match rfc868::serve_udp(u, batch, wall, policy, stats, rfc868::UDP_BATCHES_PER_TURN)
                {
                    Ok(rfc868::Backlog::Again) => self.listeners_again.push(i),
                    Ok(rfc868::Backlog::Empty) => {}
                    Err(e) => log::warn!("{}: {e}", listener.syscall()),
                }
                return;
            }
        };
        if let Ok(Accepted::Again) = result {
            self.listeners_again.push(i);
        }
        let open = self.conns.len();
        let metrics = &mut self.shared.ops.metrics;
        (self.accept).after(&result, listener.syscall(), open, now, metrics);
    }

    /// Resumes accepting once the pause is over and a slot is free.
    fn resume_accepting(&mut self, now: Instant, wall: SystemTime) {
        if self.accept.resume(now, self.conns.len(), self.max_conns) {
            for i in 0..self.listeners.len() {
                self.on_listener(i, now, wall);
            }
        }
    }

    fn on_conn(&mut self, key: usize, readable: bool, hup: bool, now: Instant) {
        // A stale event for a key closed earlier in this batch finds nothing.
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        // A writable edge for a connection with nothing to write (one that
        // came before its last flush emptied the queue, or a turn for a key
        // reused since it yielded) changes nothing: not its interest, and
        // not its idle deadline, which is the client's to move.
        if !readable && !hup && conn.is_idle() {
            return;
        }
        let registered = conn.interest();
        let next = conn.on_event(key, readable, hup, &mut self.shared.lend(now));
        self.apply(key, registered, next);
    }

    /// Carries out a connection's [`Next`]: reregister if its interest
    /// changed from what was `registered` and arm its deadline, or close it.
    fn apply(&mut self, key: usize, registered: Interest, next: Next) {
        let wait = match next {
            Next::Close => return self.close(key),
            Next::Again(wait) => {
                self.again.push(key);
                wait
            }
            Next::Wait(wait) => wait,
        };
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if wait.interest != registered {
            log::trace!(
                "connection {key}: interest {registered:?} -> {:?} (epoll_ctl MOD)",
                wait.interest
            );
            self.shared.ops.metrics.io.other += 1;
            let registry = self.poll.registry();
            if let Err(e) = registry.reregister(conn.socket(), Token(key), wait.interest) {
                log::warn!("epoll_ctl: {e}");
                return self.close(key);
            }
        }
        self.conns.arm(key, wait.deadline);
    }

    fn close(&mut self, key: usize) {
        // Dropping the socket closes it, and closing removes it from the
        // epoll set: an explicit deregister would be one more syscall per
        // connection for nothing (the descriptor is never duplicated). Its
        // wheel entry goes with it, so the wheel only ever holds live keys.
        if let Some(mut conn) = self.conns.remove(key) {
            conn.socket().close_notify();
            // Lines of responses cut short are written with what was sent.
            if let Some(log) = self.shared.ops.access_log.as_mut() {
                log.settle(key, conn.sent(), true);
            }
            let open = self.conns.len() as u64;
            let tls = conn.socket().is_tls();
            let metrics = self.metrics();
            metrics.io.other += 1;
            metrics.open = open;
            metrics.https_open -= u64::from(tls);
            log::trace!("connection {key}: closed (close)");
        }
    }

    /// Closes connections whose deadline passed.
    fn expire(&mut self, now: Instant) {
        #[cfg(feature = "http3")]
        self.expire_http3(now);
        let mut expired = std::mem::take(&mut self.expired);
        self.conns.expire(now, &mut expired);
        for key in expired.drain(..) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let kind = conn.waiting();
            log::debug!("connection {key}: {kind:?} deadline passed");
            if kind == crate::metrics::Waiting::Idle {
                conn.farewell();
            }
            self.metrics().timeout(kind);
            self.close(key);
        }
        self.expired = expired;
    }
}
