//! The loop: one `mio::Poll`, its listeners, the slab of HTTP connections,
//! dispatch, deadlines and shutdown.
//!
//! ```text
//! Server::run
//!   loop {
//!     poll(events, until the next deadline)
//!     read the clocks once; refresh the Date line
//!     for each event:
//!       SIGNALS / WAKER  -> begin (or, the second time, cut short) shutdown;
//!                           SIGHUP reopens the access log
//!       HTTP listener    -> accept until WouldBlock; a slab entry each, READABLE
//!       time listener    -> accept until WouldBlock; write 4 bytes; close
//!       time UDP socket  -> recv_from until WouldBlock; send_to 4 bytes each
//!       connection k     -> conns[k].on_event(..) -> Keep(interest) | Close
//!     expire deadlines
//!     a new second: sample connection states, write the access log
//!     shutting down and no connection left -> return
//!   }
//! ```
//!
//! After start-up nothing here returns an error for one client's sake: a
//! failed syscall on a connection closes that connection; a failed `accept`
//! is logged and the listener tried again on its next event.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use slab::Slab;

use crate::access_log::AccessLog;
use crate::batch::DatagramBatch;
use crate::config::{Clock, Config, Timeouts};
use crate::http::conn::{ActivePool, Conn, Ctx, Next};
use crate::http::date::{self, DateLine};
use crate::http::files::Files;
use crate::http::session::HttpCtx;
use crate::metrics::ConnStates;
use crate::rfc868;
use crate::sockets;
use crate::timers::Timers;
use crate::trace::{self, NameToken};

/// Signals (SIGINT, SIGTERM) arrive on this token.
const SIGNALS: Token = Token(usize::MAX);
/// [`Handle::shutdown`] wakes the loop on this token.
const WAKER: Token = Token(usize::MAX - 1);
/// Listener `i` has token `LISTENER_BASE - i`; connections use their slab
/// key, which stays far below.
const LISTENER_BASE: usize = usize::MAX - 2;

/// Size of the loop's one read buffer, shared by every connection.
const READ_BUF: usize = 64 * 1024;

/// A listening socket and the service behind it.
#[derive(Debug)]
enum Listener {
    /// HTTP: accepted connections join the slab.
    Http(TcpListener),
    /// RFC 868 over TCP: accepted connections are answered and closed at once.
    Time(TcpListener),
    /// RFC 868 over UDP.
    TimeUdp(UdpSocket),
}

/// Names tokens for the trace narration.
struct Tokens<'a>(&'a [Listener]);

impl NameToken for Tokens<'_> {
    fn name(&self, token: Token, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match token {
            SIGNALS => f.write_str("signals"),
            WAKER => f.write_str("waker"),
            Token(t) if t > LISTENER_BASE - self.0.len() => {
                let i = LISTENER_BASE - t;
                let kind = match self.0.get(i) {
                    Some(Listener::Http(_)) => "HTTP",
                    Some(Listener::Time(_)) => "RFC 868 TCP",
                    Some(Listener::TimeUdp(_)) => "RFC 868 UDP",
                    None => "closed",
                };
                write!(f, "listener {i} ({kind})")
            }
            Token(key) => write!(f, "connection {key}"),
        }
    }
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

/// Where the loop stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Accepting and serving.
    Serving,
    /// Listeners closed; finishing responses in flight until `until`.
    Draining { until: Instant },
}

/// The server: bound sockets and everything the loop owns.
pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    http_addrs: Vec<SocketAddr>,
    time_addrs: Vec<SocketAddr>,
    conns: Slab<Conn>,
    shared: Shared,
    expired: Vec<(usize, u32)>,
    /// Connections that yielded with more to write (see `Next::Again`).
    again: Vec<usize>,
    max_conns: usize,
    /// Accepting is paused (at the connection cap, or out of descriptors)
    /// until this time, and until a slot is free.
    accept_paused: Option<Instant>,
    /// A pause for lack of resources has been logged.
    accept_warned: bool,
    datagrams: DatagramBatch,
    udp_policy: rfc868::UdpPolicy,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    handle: Handle,
    life: Life,
    clock: Clock,
    shutdown_timeout: Duration,
    /// The Unix second of the last once-a-second chores.
    second: u64,
}

/// What the loop lends to whichever connection has the event: kept apart
/// from the slab so both can be borrowed at once.
struct Shared {
    /// The one read buffer.
    buf: Vec<u8>,
    http: HttpCtx,
    timers: Timers,
    pool: ActivePool,
    timeouts: Timeouts,
}

impl Shared {
    fn ctx(&mut self, now: Instant) -> Ctx<'_> {
        Ctx {
            buf: &mut self.buf,
            http: &mut self.http,
            timers: &mut self.timers,
            pool: &mut self.pool,
            now,
            timeouts: self.timeouts,
        }
    }
}

impl Server {
    /// Binds every address in `config` (port 0 picks a free port; see
    /// [`Server::http_addrs`]) and prepares the loop. Errors name the
    /// address and the reason.
    pub fn bind(config: Config) -> io::Result<Server> {
        let poll = Poll::new().map_err(|e| context(e, "epoll_create"))?;
        let mut listeners = Vec::new();
        let mut http_addrs = Vec::new();
        let mut time_addrs = Vec::new();
        let inherited = if config.systemd {
            sockets::from_systemd()?.unwrap_or_default()
        } else {
            sockets::Inherited::default()
        };
        let bound_http = config.http.iter().map(|&addr| {
            sockets::tcp_listener(addr, config.reuse_port).map_err(|e| bind_error(e, "HTTP", addr))
        });
        for l in bound_http
            .collect::<io::Result<Vec<_>>>()?
            .into_iter()
            .chain(inherited.http)
        {
            tune_http_listener(&l)?;
            http_addrs.push(l.local_addr()?);
            listeners.push(Listener::Http(l));
        }
        for &addr in &config.time {
            let tcp = sockets::tcp_listener(addr, config.reuse_port)
                .map_err(|e| bind_error(e, "RFC 868 TCP", addr))?;
            // UDP takes the port TCP got, so "the time address" is one port
            // even when the configuration asked for port 0.
            let bound = tcp.local_addr()?;
            let udp = sockets::udp_socket(bound, config.reuse_port)
                .map_err(|e| bind_error(e, "RFC 868 UDP", bound))?;
            time_addrs.push(bound);
            listeners.push(Listener::Time(tcp));
            listeners.push(Listener::TimeUdp(udp));
        }
        for tcp in inherited.time_tcp {
            time_addrs.push(tcp.local_addr()?);
            listeners.push(Listener::Time(tcp));
        }
        for udp in inherited.time_udp {
            let addr = udp.local_addr()?;
            if !time_addrs.contains(&addr) {
                time_addrs.push(addr);
            }
            listeners.push(Listener::TimeUdp(udp));
        }
        for (i, l) in listeners.iter_mut().enumerate() {
            let token = Token(LISTENER_BASE - i);
            let registry = poll.registry();
            match l {
                Listener::Http(l) | Listener::Time(l) => {
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
        let now = (config.clock)();
        let files = Files::new(
            config.root.as_deref(),
            config.cache_file_max,
            config.cache_total_max,
            now,
        )?;
        let mut files = files;
        files.serve_dotfiles(config.dotfiles);
        if let Some(value) = &config.cache_control
            && value.bytes().any(|b| b.is_ascii_control())
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cache control value must not contain control characters",
            ));
        }
        files.set_cache_control(config.cache_control.as_deref());
        let mut date = DateLine::default();
        date.update(now);
        let now_secs = date::unix_seconds(now).unwrap_or(0);
        let mut http = HttpCtx::new(files, date, config.limits, now_secs);
        http.metrics.started = now_secs;
        http.metrics.started_at = Some(Instant::now());
        if let Some(path) = &config.metrics_path {
            if !path.starts_with('/') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("metrics path {path:?} must start with /"),
                ));
            }
            http.metrics_path = Some(path.as_bytes().into());
        }
        if let Some(path) = &config.access_log {
            http.access_log = Some(AccessLog::open(path)?);
        }
        Ok(Server {
            poll,
            listeners,
            http_addrs,
            time_addrs,
            conns: Slab::new(),
            shared: Shared {
                buf: vec![0; READ_BUF.max(config.limits.max_head_bytes + 1)],
                http,
                timers: Timers::new(Instant::now()),
                pool: ActivePool::default(),
                timeouts: config.timeouts,
            },
            expired: Vec::new(),
            again: Vec::new(),
            max_conns: config.max_conns.max(1),
            accept_paused: None,
            accept_warned: false,
            datagrams: DatagramBatch::default(),
            udp_policy: rfc868::UdpPolicy::new(config.udp_low_ports, config.udp_rate),
            signals,
            handle: Handle {
                waker,
                stop: Arc::new(AtomicBool::new(false)),
            },
            life: Life::Serving,
            clock: config.clock,
            shutdown_timeout: config.shutdown_timeout,
            second: now_secs,
        })
    }

    /// The bound HTTP addresses, in configuration order.
    pub fn http_addrs(&self) -> &[SocketAddr] {
        &self.http_addrs
    }

    /// The bound RFC 868 addresses (TCP and UDP share each one).
    pub fn time_addrs(&self) -> &[SocketAddr] {
        &self.time_addrs
    }

    /// A handle that stops the server from another thread.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs the loop until shutdown completes. Returns an error only if the
    /// poller itself fails.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.next_timeout(Instant::now());
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(context(e, "epoll_wait")),
            }
            // The clocks are read once per wakeup: every reply in it shares them.
            let now = Instant::now();
            let wall = (self.clock)();
            self.shared.http.date.update(wall);
            self.shared.http.now_secs = date::unix_seconds(wall).unwrap_or(0);
            log::trace!(
                "{}",
                trace::Wakeup {
                    events: &events,
                    names: &Tokens(&self.listeners),
                }
            );

            for event in events.iter() {
                match event.token() {
                    SIGNALS => self.on_signals(now),
                    WAKER if self.handle.stop.swap(false, Ordering::SeqCst) => {
                        self.begin_shutdown(now)
                    }
                    WAKER => {}
                    Token(t) if t > LISTENER_BASE - self.listeners.len() => {
                        self.on_listener(LISTENER_BASE - t, now, wall)
                    }
                    Token(key) => {
                        let readable = event.is_readable() || event.is_error();
                        self.on_conn(key, readable, event.is_read_closed(), now);
                    }
                }
            }
            self.expire(now);
            self.resume_accepting(now, wall);
            if self.shared.http.now_secs != self.second {
                self.second = self.shared.http.now_secs;
                self.every_second();
            }
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

            if let Life::Draining { until } = self.life {
                if self.conns.is_empty() {
                    log::info!("shutdown complete");
                    self.flush_log();
                    return Ok(());
                }
                if now >= until {
                    log::warn!("shutdown timeout: closing {} connections", self.conns.len());
                    self.flush_log();
                    return Ok(());
                }
            }
        }
    }

    /// Once a second: sample the connection states for the metrics, and
    /// write out the access log's buffered lines.
    fn every_second(&mut self) {
        let mut states = ConnStates::default();
        for (_, conn) in &self.conns {
            conn.count_state(&mut states);
        }
        self.shared.http.metrics.states = states;
        self.flush_log();
    }

    fn flush_log(&mut self) {
        if let Some(log) = self.shared.http.access_log.as_mut() {
            log.flush();
        }
    }

    /// The poll timeout: the next deadline's tick, or the end of a drain;
    /// zero while connections wait for another turn; at most a second while
    /// access log lines wait to be written.
    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.again.is_empty() {
            return Some(Duration::ZERO);
        }
        let mut timer = self.shared.timers.next_timeout(now);
        let log_pending = self
            .shared
            .http
            .access_log
            .as_ref()
            .is_some_and(AccessLog::pending);
        if log_pending {
            timer = Some(timer.map_or(LOG_FLUSH, |t| t.min(LOG_FLUSH)));
        }
        if let Some(until) = self.accept_paused
            && until > now
        {
            let retry = until - now;
            timer = Some(timer.map_or(retry, |t| t.min(retry)));
        }
        match self.life {
            Life::Serving => timer,
            Life::Draining { until } => {
                let drain = until.saturating_duration_since(now);
                Some(timer.map_or(drain, |t| t.min(drain)))
            }
        }
    }

    fn on_listener(&mut self, i: usize, now: Instant, wall: SystemTime) {
        let Some(listener) = self.listeners.get(i) else {
            return;
        };
        let tcp = !matches!(listener, Listener::TimeUdp(_));
        if tcp && self.accept_paused.is_some() {
            // The queued connections wait in the kernel's backlog; the loop
            // comes back for them when it can take them.
            return;
        }
        let result = match listener {
            Listener::Http(l) => accept_http(
                l,
                self.poll.registry(),
                &mut self.conns,
                self.max_conns,
                &mut self.shared,
                now,
            ),
            Listener::Time(l) => {
                let stats = &mut self.shared.http.metrics.time;
                rfc868::serve_tcp(l, wall, stats).map(|()| Accepted::Drained)
            }
            Listener::TimeUdp(u) => rfc868::serve_udp(
                u,
                &mut self.datagrams,
                wall,
                &mut self.udp_policy,
                &mut self.shared.http.metrics.time,
            )
            .map(|()| Accepted::Drained),
        };
        match result {
            Ok(Accepted::Drained) => {
                if tcp && self.accept_warned {
                    log::info!("accepting again");
                    self.accept_warned = false;
                }
            }
            Ok(Accepted::AtCap) => {
                self.shared.http.metrics.paused_at_cap += 1;
                // Said once per episode, not at every retry.
                if !self.accept_warned {
                    log::warn!(
                        "{} connections, the cap: not accepting until one closes",
                        self.conns.len()
                    );
                    self.accept_warned = true;
                }
                self.accept_paused = Some(now);
            }
            // Out of descriptors (EMFILE, ENFILE) or kernel memory: the
            // pending connections stay queued. Accepting again at once would
            // fail the same way and spin the loop, so wait a little, or for
            // a connection to close.
            Err(e) if out_of_resources(&e) => {
                self.shared.http.metrics.paused_no_resources += 1;
                if self.accept_warned {
                    log::debug!("{}: {e}: still pausing accepts", syscall_of(listener));
                } else {
                    log::warn!(
                        "{}: {e}: pausing accepts, retrying every {ACCEPT_RETRY:?}",
                        syscall_of(listener)
                    );
                    self.accept_warned = true;
                }
                self.accept_paused = Some(now + ACCEPT_RETRY);
            }
            Err(e) => log::warn!("{}: {e}", syscall_of(listener)),
        }
    }

    /// Resumes accepting once the pause is over and a slot is free: every
    /// TCP listener is drained again, since its queued connections will not
    /// raise a new edge.
    fn resume_accepting(&mut self, now: Instant, wall: SystemTime) {
        let Some(until) = self.accept_paused else {
            return;
        };
        if now < until || self.conns.len() >= self.max_conns {
            return;
        }
        self.accept_paused = None;
        log::debug!("resuming accepts ({} connections)", self.conns.len());
        for i in 0..self.listeners.len() {
            self.on_listener(i, now, wall);
        }
    }

    fn on_conn(&mut self, key: usize, readable: bool, hup: bool, now: Instant) {
        // A stale event for a key closed earlier in this batch finds nothing.
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let next = conn.on_event(key, readable, hup, &mut self.shared.ctx(now));
        self.apply(key, next);
    }

    /// Carries out a connection's [`Next`]: reregister if its interest
    /// changed, or close it.
    fn apply(&mut self, key: usize, next: Next) {
        match next {
            Next::Again(interest) => {
                self.again.push(key);
                self.apply(key, Next::Keep(interest));
            }
            Next::Keep(interest) => {
                let Some(conn) = self.conns.get_mut(key) else {
                    return;
                };
                if interest != conn.registered {
                    log::trace!(
                        "connection {key}: interest {:?} -> {interest:?} (epoll_ctl MOD)",
                        conn.registered
                    );
                    if let Err(e) =
                        self.poll
                            .registry()
                            .reregister(conn.socket(), Token(key), interest)
                    {
                        log::warn!("epoll_ctl: {e}");
                        self.close(key);
                        return;
                    }
                    conn.registered = interest;
                }
            }
            Next::Close => self.close(key),
        }
    }

    fn close(&mut self, key: usize) {
        // Dropping the socket closes it, and closing removes it from the
        // epoll set: an explicit deregister would be one more syscall per
        // connection for nothing (the descriptor is never duplicated).
        if self.conns.try_remove(key).is_some() {
            self.shared.http.metrics.open = self.conns.len() as u64;
            log::trace!("connection {key}: closed (close)");
        }
    }

    /// Closes connections whose deadline passed; reschedules the rest.
    fn expire(&mut self, now: Instant) {
        self.shared.timers.expire(now, &mut self.expired);
        let mut expired = std::mem::take(&mut self.expired);
        for (key, tick) in expired.drain(..) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue; // closed since: the entry outlived it
            };
            if let Some(kind) = conn.on_timer(key, tick, &mut self.shared.timers, now) {
                log::debug!("connection {key}: {kind:?} deadline passed");
                self.shared.http.metrics.timeout(kind);
                self.close(key);
            }
        }
        self.expired = expired;
    }

    fn on_signals(&mut self, now: Instant) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        let received: Vec<i32> = signals.pending().collect();
        for signal in received {
            log::info!("received signal {signal}");
            if signal == libc::SIGHUP {
                if let Some(log) = self.shared.http.access_log.as_mut() {
                    log.reopen();
                }
            } else {
                self.begin_shutdown(now);
            }
        }
    }

    /// Stops accepting and lets connections finish; a second request while
    /// draining cuts it short.
    fn begin_shutdown(&mut self, now: Instant) {
        if let Life::Draining { .. } = self.life {
            log::warn!(
                "second stop request: closing {} connections now",
                self.conns.len()
            );
            self.life = Life::Draining { until: now };
            return;
        }
        log::info!(
            "shutting down: {} connections to finish, {} RFC 868 replies sent",
            self.conns.len(),
            self.shared.http.metrics.time.tcp_replies + self.shared.http.metrics.time.udp_replies
        );
        for mut l in self.listeners.drain(..) {
            let registry = self.poll.registry();
            let _ = match &mut l {
                Listener::Http(l) | Listener::Time(l) => registry.deregister(l),
                Listener::TimeUdp(u) => registry.deregister(u),
            };
        }
        self.life = Life::Draining {
            until: now + self.shutdown_timeout,
        };
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            let next = conn.drain(key, &mut self.shared.ctx(now));
            self.apply(key, next);
        }
    }
}

/// Accepts every pending HTTP connection. The listener defers accepting
/// until the request has arrived (TCP_DEFER_ACCEPT), so each new connection
/// is served at once, before it is registered: a `Connection: close`
/// exchange then costs accept, read, writev, close and never touches epoll,
/// and a keep-alive one is registered with the interest its state needs.
fn accept_http(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut Slab<Conn>,
    max_conns: usize,
    shared: &mut Shared,
    now: Instant,
) -> io::Result<Accepted> {
    loop {
        if conns.len() >= max_conns {
            return Ok(Accepted::AtCap);
        }
        let (sock, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Accepted::Drained),
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // TCP_NODELAY is inherited from the listener (Linux copies it).
        let open = conns.len() as u64;
        let entry = conns.vacant_entry();
        let key = entry.key();
        shared.http.metrics.accepted += 1;
        // It is open while it is served, before it has a slab entry.
        shared.http.metrics.open = open + 1;
        if let Some(log) = shared.http.access_log.as_mut() {
            log.connected(key, peer.ip());
        }
        log::trace!("connection {key}: accepted from {peer}; its request is read at once");
        let mut conn = Conn::new(sock);
        let interest = match conn.on_event(key, true, false, &mut shared.ctx(now)) {
            Next::Close => {
                log::trace!("connection {key}: closed (close), never registered");
                shared.http.metrics.open = open;
                continue; // dropping `conn` closes it
            }
            Next::Keep(interest) => interest,
            // A first response too large for one turn: the socket is
            // writable, so registering for WRITABLE brings it back at once.
            Next::Again(interest) => interest,
        };
        // Readiness that arrived between our read and this registration is
        // not lost: EPOLL_CTL_ADD reports the socket's current state.
        if let Err(e) = registry.register(conn.socket(), Token(key), interest) {
            log::warn!("epoll_ctl: {e}");
            shared.http.metrics.open = open;
            continue;
        }
        conn.registered = interest;
        log::trace!("connection {key}: registered for {interest:?} (epoll_ctl ADD)");
        entry.insert(conn);
    }
}

/// How an accept loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    /// `accept` said WouldBlock: nothing is pending.
    Drained,
    /// The connection cap was reached with connections still pending.
    AtCap,
}

/// Longest time buffered access log lines wait to be written.
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// How long accepting pauses after running out of descriptors.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Errors that mean "no resources now", not "this connection failed".
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Seconds the kernel may hold a connection whose request has not arrived
/// before handing it to `accept` anyway.
const DEFER_ACCEPT_SECS: libc::c_int = 5;

/// Options set once on an HTTP listener and inherited by every accepted
/// socket, instead of one `setsockopt` per connection: TCP_NODELAY (each
/// response is written whole, so Nagle could only delay its last segment)
/// and TCP_DEFER_ACCEPT (wake us when the request is there, not at the
/// handshake, so the first read finds it).
fn tune_http_listener(listener: &TcpListener) -> io::Result<()> {
    let fd = listener.as_raw_fd();
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
        .map_err(|e| context(e, "setsockopt TCP_NODELAY"))?;
    setsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        DEFER_ACCEPT_SECS,
    )
    .map_err(|e| context(e, "setsockopt TCP_DEFER_ACCEPT"))
}

/// `setsockopt(2)` for an integer option.
fn setsockopt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed with it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn syscall_of(listener: &Listener) -> &'static str {
    match listener {
        Listener::Http(_) => "accept (HTTP)",
        Listener::Time(_) => "accept (RFC 868 TCP)",
        Listener::TimeUdp(_) => "recvfrom (RFC 868 UDP)",
    }
}

/// Prefixes an error with the syscall that failed.
fn context(e: io::Error, syscall: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{syscall}: {e}"))
}

/// A bind error that names the service, the address and, for privileged
/// ports, what would make it work.
fn bind_error(e: io::Error, service: &str, addr: SocketAddr) -> io::Error {
    let hint = if e.kind() == io::ErrorKind::PermissionDenied && addr.port() < 1024 {
        " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    } else {
        ""
    };
    io::Error::new(e.kind(), format!("bind {service} {addr}: {e}{hint}"))
}
