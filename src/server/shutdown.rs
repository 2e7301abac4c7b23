//! Stopping: signals (SIGHUP reloads, SIGINT and SIGTERM drain), the Handle another thread stops it with, and the drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use mio::Waker;

use super::Server;
use crate::listeners::Listener;
use crate::trace::plural;

/// Stops a running server from another thread.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(super) waker: Arc<Waker>,
    pub(super) stop: Arc<AtomicBool>,
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
pub(super) enum ServerState {
    /// Accepting and serving.
    Serving,
    /// Listeners closed; finishing responses in flight until `until`.
    Draining { until: Instant },
}

impl Server {
    pub(super) fn on_signals(&mut self, now: Instant) {
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
    pub(super) fn begin_shutdown(&mut self, now: Instant) {
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
        #[cfg(feature = "http3")]
        self.drain_http3(now);
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
