//! The loop: Poll, tokens, dispatch, applying a connection's Next, deadlines, shutdown.
//!
//! The loop: one `mio::Poll`, its listeners, the slab of HTTP connections,
//! dispatch, deadlines and shutdown.
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
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::{Events, Interest, Poll, Token, Waker};

use crate::accept::{ACCEPTS_PER_TURN, Accepted, HANDSHAKES_PER_TURN, Pause, accept_http};
use crate::access_log::AccessLog;
use crate::batch::DatagramBatch;
use crate::coalesce::{Coalesce, Plan, Polled};
use crate::config::{Clock, Config, Timeouts};
use crate::conn::{ConnLoan, Next, Transport, WorkPool};
use crate::conns::Conns;
use crate::http::site::Site;
use crate::listeners::{Listener, Listeners, TimeKinds};
use crate::metrics::{ConnStates, Metrics, TlsCounts};
use crate::ops::Ops;
use crate::rfc868;
use crate::sys::{self, context, interrupted};
#[cfg(feature = "tls")]
use crate::tls::Tls;
use crate::trace::plural;
use crate::trace::{self, NameToken};

/// Signals (SIGINT, SIGTERM, SIGHUP) arrive on this token.
const SIGNALS: Token = Token(usize::MAX);
/// [`Handle::shutdown`] wakes the loop on this token.
const WAKER: Token = Token(usize::MAX - 1);
/// Listener `i` has token `LISTENER_BASE - i`; connections use their slab
/// key, which stays far below.
const LISTENER_BASE: usize = usize::MAX - 2;

/// Size of the loop's one read buffer, shared by every connection.
const READ_BUF: usize = 64 * 1024;

/// Longest time buffered access log lines wait to be written.
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// Whose event it is: what a token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Signals,
    Waker,
    /// Listener `i` (of `listeners` the server was bound with).
    Listener(usize),
    /// The connection with this slab key.
    Conn(usize),
}

/// The one place tokens are read, with `listeners` listeners open.
/// Listeners are numbered down from [`LISTENER_BASE`], so every token
/// below the last of them is a slab key. (Once shutdown has dropped the
/// listeners, a stale event of one names a key far above any in the slab,
/// and finds no connection.)
fn owner(token: Token, listeners: usize) -> Owner {
    match token {
        SIGNALS => Owner::Signals,
        WAKER => Owner::Waker,
        Token(t) if t > LISTENER_BASE - listeners => Owner::Listener(LISTENER_BASE - t),
        Token(key) => Owner::Conn(key),
    }
}

/// The token of listener `i`.
fn listener_token(i: usize) -> Token {
    Token(LISTENER_BASE - i)
}

/// Names tokens for the trace narration.
struct Tokens<'a>(&'a [Listener]);

impl NameToken for Tokens<'_> {
    fn name(&self, token: Token, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match owner(token, self.0.len()) {
            Owner::Signals => f.write_str("signals"),
            Owner::Waker => f.write_str("waker"),
            Owner::Listener(i) => {
                let kind = self.0.get(i).map_or("closed", Listener::service);
                write!(f, "listener {i} ({kind})")
            }
            Owner::Conn(key) => write!(f, "connection {key}"),
        }
    }
}

/// What the loop may have to wake up for, besides events.
#[derive(Debug, Clone, Copy, Default)]
struct Due {
    /// Connections or listeners wait for another turn.
    turns_waiting: bool,
    /// Until the wheel's next slot holding a deadline.
    deadline: Option<Duration>,
    /// Access log lines wait to be written.
    log_pending: bool,
    /// A paused accept's retry time.
    accept_retry: Option<Instant>,
    /// Fewer connections are open than the cap.
    below_cap: bool,
    /// A drain ends then.
    drain_until: Option<Instant>,
}

/// The poll timeout: zero while turns wait; otherwise the soonest of the
/// next deadline's tick, a second while access log lines wait, a paused
/// accept's retry, and the end of a drain; `None` (block until an event)
/// when none of them is due.
fn poll_timeout(due: Due, now: Instant) -> Option<Duration> {
    if due.turns_waiting {
        return Some(Duration::ZERO);
    }
    let soonest = |t: Option<Duration>, d: Duration| Some(t.map_or(d, |t| t.min(d)));
    let mut timer = due.deadline;
    if due.log_pending {
        timer = soonest(timer, LOG_FLUSH);
    }
    // A paused accept retries at its time. If that time passed while
    // this wakeup's events were handled (after `resume_accepting` last
    // looked), the retry is due now: without this the loop could sleep
    // until some other deadline, leaving clients in the backlog.
    // (At the connection cap the pause ends with a close, an event of
    // its own: no timer then, or the loop would spin.)
    if let Some(until) = due.accept_retry
        && (until > now || due.below_cap)
    {
        timer = soonest(timer, until.saturating_duration_since(now));
    }
    if let Some(until) = due.drain_until {
        timer = soonest(timer, until.saturating_duration_since(now));
    }
    timer
}

/// Stops a running server from another thread.
#[derive(Debug, Clone)]
pub struct Handle {
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
}

impl Handle {
    /// Begins a graceful shutdown, as SIGTERM does.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            log::error!("wake the loop: {e}");
        }
    }
}

/// Where the server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    /// Accepting and serving.
    Serving,
    /// Listeners closed; finishing responses in flight until `until`.
    Draining { until: Instant },
}

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
    /// (`Accepted::More`, `rfc868::Backlog::More`): served again after
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
}

impl Server {
    /// Binds every address in `config` (port 0 picks a free port; see
    /// [`Server::http_addrs`]) and prepares the loop. Errors name the
    /// address and the reason.
    pub fn bind(config: Config) -> io::Result<Server> {
        config.validate()?;
        let poll = Poll::new().map_err(|e| context(e, "epoll_create"))?;
        let Listeners {
            list: mut listeners,
            http_addrs,
            https_addrs,
            time_addrs,
            time_kinds,
        } = Listeners::open(&config)?;
        // Each TLS stream counts its own handshake here as it ends.
        let tls_counts = Rc::<TlsCounts>::default();
        #[cfg(feature = "tls")]
        let tls = if https_addrs.is_empty() {
            None
        } else {
            Some(Tls::new(&config.tls, config.http2, tls_counts.clone())?)
        };
        for (i, l) in listeners.iter_mut().enumerate() {
            let token = listener_token(i);
            let registry = poll.registry();
            match l {
                Listener::Http(l) | Listener::Https(l) | Listener::Time(l) => {
                    registry.register(l, token, Interest::READABLE)
                }
                Listener::TimeUdp(u) => registry.register(u, token, Interest::READABLE),
            }
            .map_err(|e| context(e, "epoll_ctl"))?;
        }
        let signals = if config.handle_signals {
            let mut s =
                signal_hook_mio::v1_0::Signals::new([libc::SIGINT, libc::SIGTERM, libc::SIGHUP])
                    .map_err(|e| context(e, "sigaction"))?;
            poll.registry()
                .register(&mut s, SIGNALS, Interest::READABLE)
                .map_err(|e| context(e, "epoll_ctl"))?;
            Some(s)
        } else {
            None
        };
        let waker =
            Arc::new(Waker::new(poll.registry(), WAKER).map_err(|e| context(e, "eventfd"))?);

        let wall = (config.clock)();
        let ports = crate::http::welcome::Ports {
            http: http_addrs.first().map(SocketAddr::port),
            https: https_addrs.first().map(SocketAddr::port),
            time: time_addrs.first().map(SocketAddr::port),
            http2: config.http2,
        };
        let site = Site::configure(&config, wall, &ports)?;
        let now_secs = site.date.second().unwrap_or(0);
        let now = Instant::now();
        let ops = Ops {
            metrics: Metrics {
                started: now_secs,
                started_at: Some(now),
                tls: tls_counts,
                ..Metrics::default()
            },
            access_log: config
                .access_log
                .as_deref()
                .map(|path| AccessLog::open(path, config.access_log_format))
                .transpose()?,
        };
        Ok(Server {
            poll,
            listeners,
            http_addrs,
            time_addrs,
            time_kinds,
            conns: Conns::new(now, config.max_conns),
            shared: Shared {
                buf: vec![0; READ_BUF.max(config.limits.max_head_bytes + 1)],
                site,
                ops,
                pool: WorkPool::default(),
                timeouts: config.timeouts,
            },
            expired: Vec::new(),
            again: Vec::new(),
            listeners_again: Vec::new(),
            max_conns: config.max_conns,
            accept: Pause::default(),
            #[cfg(feature = "tls")]
            tls,
            https_addrs,
            datagrams: DatagramBatch::default(),
            udp_policy: rfc868::UdpPolicy::new(config.udp_low_ports, config.udp_rate),
            signals,
            handle: Handle {
                waker,
                stop: Arc::new(AtomicBool::new(false)),
            },
            state: ServerState::Serving,
            clock: config.clock,
            shutdown_timeout: config.shutdown_timeout,
            coalesce: config.coalesce,
            spin: config.spin,
            chores_second: now_secs,
        })
    }

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
        let mut waiting = Coalesce::new(self.coalesce, self.spin);
        loop {
            let polled = match self.wait_for_events(&mut events, &mut waiting) {
                Ok(Some(polled)) => polled,
                Ok(None) => continue,
                Err(e) => return Err(context(e, "epoll_wait")),
            };
            waiting.woke(events.iter().count(), polled);
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
                    Owner::Listener(i) => self.on_listener(i, now, wall),
                    Owner::Conn(key) => {
                        waiting.saw(key);
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

            if let ServerState::Draining { until } = self.state
                && (self.conns.is_empty() || now >= until)
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
    /// idle HTTP/2 connections give back their per-request room, and write
    /// out the access log's buffered lines.
    fn every_second(&mut self) {
        let mut states = ConnStates::default();
        for (_, conn) in self.conns.iter_mut() {
            conn.count_state(&mut states);
            conn.rest();
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

    /// Waits for events as the policy says (see [`crate::coalesce`]):
    /// blocks, looks without blocking for a while first, or pauses and then
    /// looks. Returns what the poll did, or `None` if a signal interrupted
    /// it (poll again).
    fn wait_for_events(
        &mut self,
        events: &mut Events,
        waiting: &mut Coalesce,
    ) -> io::Result<Option<Polled>> {
        let before = Instant::now();
        let (timeout, spin) = match waiting.plan(self.next_timeout(before)) {
            Plan::Block(timeout) => (timeout, None),
            Plan::LookThenBlock { spin, timeout } => (timeout, Some(spin)),
            Plan::PauseThenLook(pause) => {
                std::thread::sleep(pause);
                self.metrics().io.coalesced += 1;
                return match self.poll.poll(events, Some(Duration::ZERO)) {
                    Ok(()) => Ok(Some(Polled::Looked)),
                    Err(e) if interrupted(&e) => Ok(None),
                    Err(e) => Err(e),
                };
            }
        };
        let mut spun = false;
        if let Some(spin) = spin {
            // Look until something comes or the spin is over; each empty
            // look is one epoll_wait that returns at once.
            loop {
                match self.poll.poll(events, Some(Duration::ZERO)) {
                    Ok(()) if !events.is_empty() => return Ok(Some(Polled::Caught)),
                    Ok(()) => {}
                    Err(e) if interrupted(&e) => return Ok(None),
                    Err(e) => return Err(e),
                }
                self.metrics().io.spins += 1;
                if before.elapsed() >= spin {
                    break;
                }
                std::hint::spin_loop();
            }
            spun = true;
        }
        let asleep = Instant::now();
        let timeout = timeout.map(|t| t.saturating_sub(asleep - before));
        match self.poll.poll(events, timeout) {
            Ok(()) => Ok(Some(Polled::Blocked {
                slept: asleep.elapsed(),
                spun,
            })),
            Err(e) if interrupted(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The poll timeout, from what is due (see [`poll_timeout`]).
    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        poll_timeout(
            Due {
                turns_waiting: !self.again.is_empty() || !self.listeners_again.is_empty(),
                deadline: self.conns.next_timeout(now),
                log_pending: (self.shared.ops.access_log.as_ref()).is_some_and(AccessLog::pending),
                accept_retry: self.accept.retry_at(),
                below_cap: self.conns.len() < self.max_conns,
                drain_until: match self.state {
                    ServerState::Serving => None,
                    ServerState::Draining { until } => Some(until),
                },
            },
            now,
        )
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
                rfc868::serve_tcp(l, wall, stats, rfc868::TCP_PER_TURN).map(|backlog| match backlog
                {
                    rfc868::Backlog::Empty => Accepted::Empty,
                    rfc868::Backlog::More => Accepted::More,
                })
            }
            Listener::TimeUdp(u) => {
                let (batch, policy) = (&mut self.datagrams, &mut self.udp_policy);
                let stats = &mut self.shared.ops.metrics.time;
                match rfc868::serve_udp(u, batch, wall, policy, stats, rfc868::UDP_BATCHES_PER_TURN)
                {
                    Ok(rfc868::Backlog::More) => self.listeners_again.push(i),
                    Ok(rfc868::Backlog::Empty) => {}
                    Err(e) => log::warn!("{}: {e}", listener.syscall()),
                }
                return;
            }
        };
        if let Ok(Accepted::More) = result {
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

    fn on_signals(&mut self, now: Instant) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        let received: Vec<i32> = signals.pending().collect();
        for signal in received {
            log::info!("received {}", signal_name(signal));
            if signal == libc::SIGHUP {
                if let Some(log) = self.shared.ops.access_log.as_mut() {
                    log.reopen();
                }
                #[cfg(feature = "tls")]
                if let Some(tls) = &self.tls {
                    match tls.reload() {
                        Ok(()) => log::info!("certificates reloaded"),
                        Err(e) => log::error!("reload certificates: {e}; keeping the old ones"),
                    }
                }
            } else {
                self.begin_shutdown(now);
            }
        }
    }

    /// Stops accepting and lets connections finish; a second request while
    /// draining cuts it short.
    fn begin_shutdown(&mut self, now: Instant) {
        if let ServerState::Draining { .. } = self.state {
            log::warn!(
                "second stop request: closing {} now",
                plural(self.conns.len() as u64, "connection", "connections")
            );
            self.state = ServerState::Draining { until: now };
            return;
        }
        let time = self.shared.ops.metrics.time;
        log::info!(
            "shutting down: {} to finish, {} sent",
            plural(self.conns.len() as u64, "connection", "connections"),
            plural(
                time.tcp_replies + time.udp_replies,
                "RFC 868 reply",
                "RFC 868 replies"
            )
        );
        for mut l in self.listeners.drain(..) {
            let registry = self.poll.registry();
            let _ = match &mut l {
                Listener::Http(l) | Listener::Https(l) | Listener::Time(l) => {
                    registry.deregister(l)
                }
                Listener::TimeUdp(u) => registry.deregister(u),
            };
        }
        self.state = ServerState::Draining {
            until: now + self.shutdown_timeout,
        };
        self.shared.site.routes.draining = true;
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let registered = conn.interest();
            let next = conn.drain(key, &mut self.shared.lend(now));
            self.apply(key, registered, next);
        }
    }
}

/// A signal by its name, as people know it (`SIGTERM`, not 15).
fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    //! The loop's pure decisions, pinned without a socket: whose event a
    //! token is, and how long the loop may sleep.

    use super::*;

    #[test]
    fn tokens_name_signals_the_waker_each_listener_and_every_key_below() {
        assert_eq!(owner(SIGNALS, 3), Owner::Signals);
        assert_eq!(owner(WAKER, 3), Owner::Waker);
        for i in 0..3 {
            assert_eq!(owner(listener_token(i), 3), Owner::Listener(i));
        }
        // The first token below the listeners, and the keys a slab hands
        // out, are connections.
        assert_eq!(owner(listener_token(3), 3), Owner::Conn(LISTENER_BASE - 3));
        assert_eq!(owner(Token(0), 3), Owner::Conn(0));
        assert_eq!(owner(Token(1_000_000), 3), Owner::Conn(1_000_000));
        // Listeners dropped (shutdown): their tokens find no listener.
        assert_eq!(owner(listener_token(0), 0), Owner::Conn(LISTENER_BASE));
    }

    #[test]
    fn the_loop_sleeps_until_the_soonest_thing_due_and_no_longer() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let due = Due::default();
        assert_eq!(poll_timeout(due, now), None, "nothing due: block");
        // Turns waiting: poll without blocking, whatever else is due.
        let turns = Due {
            turns_waiting: true,
            deadline: Some(ms(500)),
            ..due
        };
        assert_eq!(poll_timeout(turns, now), Some(Duration::ZERO));
        let deadline = Due {
            deadline: Some(ms(2500)),
            ..due
        };
        assert_eq!(poll_timeout(deadline, now), Some(ms(2500)));
        // Log lines wait at most a second.
        let log = Due {
            log_pending: true,
            ..deadline
        };
        assert_eq!(poll_timeout(log, now), Some(LOG_FLUSH));
        assert_eq!(
            poll_timeout(
                Due {
                    log_pending: true,
                    ..due
                },
                now
            ),
            Some(LOG_FLUSH)
        );
        // A paused accept: its retry time, or now if that passed, unless
        // the pause is the cap's (a close ends it, with an event).
        let retry = Due {
            accept_retry: Some(now + ms(100)),
            ..deadline
        };
        assert_eq!(poll_timeout(retry, now), Some(ms(100)));
        let passed = Due {
            accept_retry: Some(now),
            below_cap: true,
            ..deadline
        };
        assert_eq!(poll_timeout(passed, now + ms(5)), Some(Duration::ZERO));
        let at_cap = Due {
            accept_retry: Some(now),
            below_cap: false,
            ..due
        };
        assert_eq!(poll_timeout(at_cap, now + ms(5)), None);
        // A drain ends on time, even with nothing else due.
        let drain = Due {
            drain_until: Some(now + ms(300)),
            ..due
        };
        assert_eq!(poll_timeout(drain, now), Some(ms(300)));
        assert_eq!(
            poll_timeout(drain, now + ms(400)),
            Some(Duration::ZERO),
            "a drain past its end wakes at once"
        );
        let both = Due {
            drain_until: Some(now + ms(300)),
            ..deadline
        };
        assert_eq!(poll_timeout(both, now), Some(ms(300)));
    }
}
