//! Every option of the server, its default and its limit, in one place.
//!
//! `main.rs` fills a [`Config`] from the command line; tests and embedders
//! build one directly (port 0 is allowed everywhere, so tests never need a
//! fixed port). Nothing here touches the network.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Default HTTP listen address.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Default RFC 868 listen address (TCP and UDP). Port 37 is the protocol's
/// own, but binding it needs root or CAP_NET_BIND_SERVICE.
pub const DEFAULT_TIME: &str = "127.0.0.1:3737";

/// How the access log's lines are written (`--access-log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Apache's and nginx's Combined Log Format.
    #[default]
    Combined,
    /// One JSON object a line (JSON Lines).
    Json,
}

/// Where the clock comes from. A plain function pointer so a [`Config`] stays
/// `Send` and `Copy`-cheap; tests pass a function returning a pinned time.
pub type Clock = fn() -> SystemTime;

/// Size limits on what a client may send. The defaults follow nginx's
/// (`large_client_header_buffers 4 8k`): an 8 KiB request line, 32 KiB of head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line (method, target, version) in bytes; over it: 414.
    pub max_request_line: usize,
    /// Longest header field line (`name: value`); over it: 431.
    pub max_field_line: usize,
    /// Longest request head (request line and all header fields); over it: 431.
    pub max_head_bytes: usize,
    /// Most header fields in one request; over it: 431.
    pub max_headers: usize,
    /// Largest request body the server will read and discard (it serves no
    /// resource that takes a body); over it: 413 and close.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_field_line: 8 * 1024,
            max_head_bytes: 32 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// How long a connection may take at each step. Each is a deadline the
/// timer wheel enforces by closing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a request head to its end. Not extended by
    /// further bytes, so a client trickling a byte at a time (slowloris) is
    /// cut off on time.
    pub head: Duration,
    /// A keep-alive connection with no request in progress; also the gap
    /// allowed between reads of a request body.
    pub idle: Duration,
    /// A response the client does not read: this long without progress.
    pub send: Duration,
    /// How long a closing connection keeps reading (and discarding) what the
    /// client still sends, so that closing does not reset the connection
    /// before the client has read our last response.
    pub linger: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            head: Duration::from_secs(10),
            idle: Duration::from_secs(15),
            send: Duration::from_secs(30),
            linger: Duration::from_secs(2),
        }
    }
}

/// Descriptors kept back from the connection cap for listeners, the poller,
/// signals, logging and open files of the cache.
pub const RESERVED_FDS: u64 = 64;

/// The connection cap for an open file limit: every connection is one
/// descriptor; a sixteenth of the rest and [`RESERVED_FDS`] stay free for
/// files being served and the server's own needs.
pub fn default_max_conns(nofile: u64) -> usize {
    let usable = nofile.saturating_sub(RESERVED_FDS);
    (usable - usable / 16).max(1) as usize
}

/// A certificate chain and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPair {
    /// The chain, leaf first.
    pub cert: PathBuf,
    /// The key: PKCS#8, SEC1 EC or PKCS#1 RSA.
    pub key: PathBuf,
}

/// Everything [`crate::Server::bind`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// HTTP listen addresses.
    pub http: Vec<SocketAddr>,
    /// RFC 868 listen addresses; each binds a TCP listener and a UDP socket.
    pub time: Vec<SocketAddr>,
    /// HTTPS listen addresses (none by default).
    pub https: Vec<SocketAddr>,
    /// Certificates for HTTPS: the first is the default, the others are
    /// chosen by the name the client asks for (SNI).
    pub tls: Vec<CertPair>,
    /// Answer plain HTTP GET and HEAD with a 308 to the same target on the
    /// (first) HTTPS port.
    pub redirect_https: bool,
    /// The port clients reach HTTPS (TCP) and HTTP/3 (UDP) at, when it is
    /// not the one bound: a Kubernetes Service or a NAT that maps 443 to
    /// 8443. `--redirect-https` and `Alt-Svc` name it; `None`: the bound
    /// port.
    pub public_https_port: Option<u16>,
    /// Send `Strict-Transport-Security: max-age=N` on HTTPS responses.
    pub hsts: Option<u64>,
    /// Document root; `None` serves the site embedded in the binary.
    pub root: Option<PathBuf>,
    /// Request size limits.
    pub limits: Limits,
    /// Files up to this size are kept in memory and shared by every response
    /// that sends them; larger ones are streamed from disk with `sendfile`.
    pub cache_file_max: u64,
    /// Total bytes of file bodies the cache may hold.
    pub cache_total_max: u64,
    /// Deadlines for connections.
    pub timeouts: Timeouts,
    /// Most HTTP connections open at once; at the cap the server stops
    /// accepting until one closes. [`default_max_conns`] derives it from
    /// the open file limit.
    pub max_conns: usize,
    /// Serve files and directories whose names start with a dot (other
    /// than `.well-known`, which is always served).
    pub dotfiles: bool,
    /// List a directory that has no `index.html` (HTML, or JSON by
    /// `Accept`) instead of answering 404.
    pub list_dirs: bool,
    /// Answer RFC 868 datagrams from source ports below 1024. Off by
    /// default, as in inetd and xinetd: two UDP services on well-known
    /// ports answering each other would loop forever.
    pub udp_low_ports: bool,
    /// Most RFC 868 UDP replies per source address per second; 0 for no
    /// limit (the default).
    pub udp_rate: u32,
    /// How long a graceful shutdown waits for responses in flight.
    pub shutdown_timeout: Duration,
    /// After a busy wakeup, the loop's pause before polling again, so that
    /// events arriving meanwhile need not wake it ([`crate::coalesce`]);
    /// zero (the default): always block in `epoll_wait`.
    pub coalesce: Duration,
    /// After a wakeup with a few events, the longest the loop polls without
    /// blocking before it sleeps, so that a client answering at once does
    /// not have to wake it ([`crate::coalesce`]; it adapts, down to
    /// nothing); zero: never.
    pub spin: Duration,
    /// Speak HTTP/2: chosen by ALPN over TLS, or by the client's preface
    /// on a plain port (prior knowledge).
    pub http2: bool,
    /// Speak HTTP/3 (QUIC, UDP) on the first HTTPS address's port, with
    /// the same certificates.
    pub http3: bool,
    /// Set SO_REUSEPORT on every socket bound, so that several processes
    /// (one per core) can share the ports.
    pub reuse_port: bool,
    /// Take the sockets systemd passes (LISTEN_FDS), besides those bound
    /// from `http` and `time`.
    pub systemd: bool,
    /// Stop on SIGINT/SIGTERM. The binary sets it; an embedder that owns its
    /// process's signals (or a test) leaves it off and uses [`crate::Handle`].
    pub handle_signals: bool,
    /// The clock used for RFC 868 replies and the HTTP `Date` header.
    pub clock: Clock,
    /// A `Cache-Control` value added to every file response.
    pub cache_control: Option<String>,
    /// Keep an access log at this path (`-`: standard output).
    pub access_log: Option<String>,
    /// How the access log's lines are written.
    pub access_log_format: LogFormat,
    /// Serve the metrics page (Prometheus text) at this path.
    pub metrics_path: Option<String>,
    /// Serve a health page at this path: 200 `ok` while serving, 503 once
    /// a drain has begun.
    pub health_path: Option<String>,
}

/// Defaults the command line shows, as constants: `Config::default()`
/// builds vectors and parses addresses, too much to repeat for each option.
impl Config {
    /// Default [`Config::cache_file_max`].
    pub const CACHE_FILE_MAX: u64 = 256 * 1024;
    /// Default [`Config::cache_total_max`].
    pub const CACHE_TOTAL_MAX: u64 = 64 * 1024 * 1024;
    /// Default [`Config::shutdown_timeout`].
    pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`Config::coalesce`]: off (see [`crate::coalesce`] for why).
    pub const COALESCE: Duration = Duration::ZERO;
    /// Longest [`Config::coalesce`] allowed.
    pub const MAX_COALESCE: Duration = Duration::from_millis(1);
    /// Default [`Config::spin`].
    pub const SPIN: Duration = Duration::from_micros(50);
    /// Longest [`Config::spin`] allowed.
    pub const MAX_SPIN: Duration = Duration::from_millis(1);
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: vec![parse_default(DEFAULT_HTTP)],
            time: vec![parse_default(DEFAULT_TIME)],
            https: Vec::new(),
            tls: Vec::new(),
            redirect_https: false,
            public_https_port: None,
            hsts: None,
            root: None,
            limits: Limits::default(),
            cache_file_max: Config::CACHE_FILE_MAX,
            cache_total_max: Config::CACHE_TOTAL_MAX,
            timeouts: Timeouts::default(),
            max_conns: 1024,
            dotfiles: false,
            list_dirs: false,
            udp_low_ports: false,
            udp_rate: 0,
            shutdown_timeout: Config::SHUTDOWN_TIMEOUT,
            coalesce: Config::COALESCE,
            spin: Config::SPIN,
            http2: true,
            http3: true,
            reuse_port: false,
            systemd: false,
            handle_signals: false,
            clock: SystemTime::now,
            cache_control: None,
            access_log: None,
            access_log_format: LogFormat::Combined,
            metrics_path: None,
            health_path: None,
        }
    }
}

impl Config {
    /// Refuses options that could not be meant, before anything is bound:
    /// each error says which option and why.
    pub fn validate(&self) -> io::Result<()> {
        let invalid = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        if let Some(value) = &self.cache_control
            && value.bytes().any(|b| b.is_ascii_control())
        {
            return invalid("--cache-control must not contain control characters".into());
        }
        for (option, path) in [
            ("--metrics-path", &self.metrics_path),
            ("--health-path", &self.health_path),
        ] {
            if let Some(path) = path
                && !path.starts_with('/')
            {
                return invalid(format!("{option} {path:?} must start with /"));
            }
        }
        // One address, one listener: the second bind would only say
        // "Address already in use" about our own socket. (--time is TCP
        // and UDP; --http and --https are TCP.)
        let listeners = [
            ("--http", &self.http),
            ("--https", &self.https),
            ("--time", &self.time),
        ];
        for (i, (flag, addrs)) in listeners.iter().enumerate() {
            // (Port 0 asks for a fresh port at each bind.)
            for (j, addr) in addrs.iter().enumerate().filter(|(_, a)| a.port() != 0) {
                if addrs[..j].contains(addr) {
                    return invalid(format!("{flag} {addr} is given twice"));
                }
                if let Some((other, _)) = listeners[..i].iter().find(|(_, a)| a.contains(addr)) {
                    return invalid(format!("{addr} is given to both {other} and {flag}"));
                }
            }
        }
        if self.max_conns == 0 {
            return invalid("--max-conns must be at least 1".into());
        }
        // A pause is latency added under load: past a millisecond it would
        // cost more than any wake-up it saves.
        if self.coalesce > Config::MAX_COALESCE {
            return invalid(format!(
                "--coalesce-us must be at most {}",
                Config::MAX_COALESCE.as_micros()
            ));
        }
        // A spin is CPU spent to save a wake-up of tens of microseconds:
        // past a millisecond it costs more than it could save.
        if self.spin > Config::MAX_SPIN {
            return invalid(format!(
                "--spin-us must be at most {}",
                Config::MAX_SPIN.as_micros()
            ));
        }
        let wants_tls = !self.https.is_empty() || !self.tls.is_empty();
        if wants_tls && !cfg!(feature = "tls") {
            return invalid(
                "--https: this build has no TLS (built with --no-default-features)".into(),
            );
        }
        if !self.https.is_empty() && self.tls.is_empty() {
            return invalid(
                "--https needs a certificate: give --tls-cert FILE --tls-key FILE".into(),
            );
        }
        Ok(())
    }

    /// A configuration for tests and embedders: every service on an ephemeral
    /// port of 127.0.0.1, the embedded site, no signal handling.
    pub fn ephemeral() -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            http: vec![any],
            time: vec![any],
            ..Config::default()
        }
    }
}

fn parse_default(addr: &str) -> SocketAddr {
    // The defaults are literals above; a test checks they parse.
    addr.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_below_the_file_limit() {
        assert_eq!(default_max_conns(1024), 900);
        assert_eq!(default_max_conns(65_536), 61_380);
        assert_eq!(default_max_conns(10), 1);
    }

    #[test]
    fn an_address_is_listened_on_once() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:8081".parse().unwrap();
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let said = |c: Config| c.validate().map_err(|e| e.to_string()).err();
        let twice = Config {
            http: vec![a, b, a],
            ..Config::default()
        };
        assert_eq!(
            said(twice).as_deref(),
            Some("--http 127.0.0.1:8080 is given twice")
        );
        let both = Config {
            http: vec![b],
            time: vec![b],
            ..Config::default()
        };
        assert_eq!(
            said(both).as_deref(),
            Some("127.0.0.1:8081 is given to both --http and --time")
        );
        // Port 0 is a fresh port each time: not a clash.
        let fresh = Config {
            http: vec![zero, zero],
            time: vec![zero],
            ..Config::default()
        };
        assert_eq!(said(fresh), None);
    }

    #[test]
    fn defaults_parse() {
        assert_eq!(DEFAULT_HTTP.parse::<SocketAddr>().unwrap().port(), 8080);
        assert_eq!(DEFAULT_TIME.parse::<SocketAddr>().unwrap().port(), 3737);
        let c = Config::default();
        assert_eq!(c.http[0].port(), 8080);
        assert_eq!(c.time[0].port(), 3737);
    }
}
