//! Binding: every listener, the poller, signals, TLS and the site, made ready before the loop's first poll.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use mio::{Interest, Poll, Waker};

use super::shutdown::{Handle, ServerState};
#[cfg(feature = "http3")]
use super::tokens::HTTP3;
use super::tokens::{SIGNALS, WAKER, listener_token};
use super::{READ_BUF, Server, Shared};
use crate::accept::Pause;
use crate::access_log::AccessLog;
use crate::batch::DatagramBatch;
use crate::config::Config;
use crate::conn::WorkPool;
use crate::conns::Conns;
use crate::http::site::Site;
use crate::listeners::{Listener, Listeners};
use crate::metrics::{Metrics, TlsCounts};
use crate::ops::Ops;
use crate::rfc868;
use crate::sys::context;
#[cfg(feature = "tls")]
use crate::tls::Tls;

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
            http3: http3_socket,
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
        #[cfg(feature = "http3")]
        let http3 = match (http3_socket, &tls) {
            (Some((mut socket, addr)), Some(tls)) => {
                poll.registry()
                    .register(&mut socket, HTTP3, Interest::READABLE)
                    .map_err(|e| context(e, "epoll_ctl"))?;
                let (endpoint, server) =
                    crate::quic::quic_configs(tls.for_quic()?, config.timeouts.idle)?;
                let limit = config.limits.max_head_bytes;
                // The access log keys QUIC connections above every TCP
                // connection's slab key.
                let quic = crate::quic::Quic::new(endpoint, server, limit, config.max_conns);
                Some(super::http3::Http3 { socket, addr, quic })
            }
            _ => None,
        };
        #[cfg(not(feature = "http3"))]
        drop(http3_socket);
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
            #[cfg(feature = "http3")]
            http3: http3.as_ref().map(|h3| h3.addr.port()),
            #[cfg(not(feature = "http3"))]
            http3: None,
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
            #[cfg(feature = "http3")]
            http3,
            http3_again: false,
        })
    }
}
