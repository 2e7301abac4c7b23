//! oneloop: RFC 868 time and HTTP/1.x and HTTP/2 static files on one single-threaded mio loop.
//!
//! One process, one thread, one `mio::Poll`: a server for the RFC 868 Time
//! Protocol (TCP and UDP) and for static files over HTTP/1.0, HTTP/1.1 and
//! HTTP/2, with or without TLS.
//!
//! The whole server is one readiness loop ([`server`]). Listeners and
//! connections are registered with the poller under tokens; each wakeup,
//! the loop dispatches every event to the code that owns the token and goes
//! back to sleep until the next event or deadline:
//!
//! ```text
//!            ┌──────────────────── mio::Poll (epoll, edge-triggered) ───────────────────┐
//!            │                                                                          │
//!   HTTP(S) listener ─accept─► conns[k]: Conn ─read─► H1Session ─► OutQueue ─writev/sendfile─►
//!   time listener ──accept──► 4 bytes, close          (HTTP/1.x or HTTP/2; files, answers)
//!   time UDP      ──recvmmsg─► 4 bytes each, sendmmsg
//!   signals/waker ──► drain and exit
//! ```
//!
//! The layers (`docs/ARCHITECTURE.md` draws them, with the table of what
//! each may import that `tests/architecture.rs` holds the code to):
//!
//! - **Loop**: [`server`], [`accept`], [`conns`] (the slab and the wheel),
//!   [`timers`], [`listeners`], [`coalesce`]. It owns every socket and the
//!   poller, and registers and arms what the connections ask for.
//! - **Conn**: [`conn`], one connection whatever it speaks: its
//!   [`Transport`](conn::Transport) (TCP, or TLS over it), the edges, the
//!   pooled state, and the [`Protocol`](conn::protocol::Protocol) chosen by
//!   ALPN or the first bytes. It returns the interest and deadline it needs.
//! - **Http1**: [`http1`], how HTTP/1.x frames a request and its answer: a
//!   [`Session`](http::session::Session) (bytes in, answers queued).
//! - **Http2**: [`http2`], the same for HTTP/2, frames, HPACK and streams;
//!   the two framings never import each other.
//! - **Meaning**: [`http`], what a request means and the one answer,
//!   whatever frames it; pure apart from the file cache, whose misses
//!   `stat` and `open` files, once per file.
//! - **Tls**: [`tls`], one more [`stream::Stream`] between the connection
//!   and the socket.
//! - **Out**: [`out`] (the chunk queue) and [`stream`] (the trait under a
//!   connection).
//! - **Ops**: [`ops`], [`metrics`], [`access_log`] (written by the loop,
//!   once a second), [`trace`].
//! - **Time**: [`rfc868`] and [`batch`].
//! - **Client**: [`rdate`].
//! - **Leaves** anyone may read: [`config`], [`date`], [`sys`] (the raw
//!   system calls std and mio do not make; [`batch`] holds `recvmmsg` and
//!   `sendmmsg`).
//!
//! Use it as a library to embed or test it: bind with port 0, read the
//! addresses, run.
//!
//! ```no_run
//! let server = oneloop::Server::bind(oneloop::Config::ephemeral())?;
//! println!("HTTP on {}", server.http_addrs()[0]);
//! server.run()?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod accept;
pub mod access_log;
pub mod batch;
pub mod coalesce;
pub mod config;
pub mod conn;
pub mod conns;
pub mod date;
pub mod field_coding;
#[cfg(test)]
mod fixture;
pub mod http;
pub mod http1;
pub mod http2;
#[cfg(feature = "http3")]
pub mod http3;
pub mod listeners;
pub mod metrics;
pub mod ops;
pub mod out;
#[cfg(feature = "http3")]
pub mod quic;
pub mod rdate;
pub mod rfc868;
pub mod server;
pub mod stream;
pub mod sys;
pub mod timers;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;

use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;

pub use config::{Config, Limits};
pub use server::{Handle, Server};

/// A server running on its own thread (see [`spawn`]).
#[derive(Debug)]
pub struct Running {
    /// Bound HTTP addresses.
    pub http: Vec<SocketAddr>,
    /// Bound RFC 868 addresses (TCP and UDP on each).
    pub time: Vec<SocketAddr>,
    /// Bound HTTPS addresses.
    pub https: Vec<SocketAddr>,
    handle: Handle,
    thread: JoinHandle<io::Result<()>>,
}

impl Running {
    /// A handle to stop the server.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Shuts the server down gracefully and waits for its thread.
    pub fn stop(self) -> io::Result<()> {
        self.handle.shutdown();
        self.thread
            .join()
            .map_err(|_| io::Error::other("server thread panicked"))?
    }
}

/// Binds a server on a new thread and returns once it is listening. The
/// server itself is single-threaded and not `Send` (connections share
/// buffers through `Rc`), so it is built on the thread that runs it.
pub fn spawn(config: Config) -> io::Result<Running> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("oneloop".into())
        .spawn(move || match Server::bind(config) {
            Ok(server) => {
                let bound = (
                    server.http_addrs().to_vec(),
                    server.time_addrs().to_vec(),
                    server.https_addrs().to_vec(),
                    server.handle(),
                );
                if tx.send(Ok(bound)).is_err() {
                    return Ok(());
                }
                server.run()
            }
            Err(e) => {
                let kind = e.kind();
                let _ = tx.send(Err(e));
                Err(io::Error::new(kind, "bind failed"))
            }
        })?;
    match rx.recv() {
        Ok(Ok((http, time, https, handle))) => Ok(Running {
            http,
            time,
            https,
            handle,
            thread,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("server thread ended before binding")),
    }
}
