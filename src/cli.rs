//! The command line: every option of `oneloop` and `oneloop rdate` (clap), shared with build.rs.
//!
//! The command line: every option of `oneloop` and `oneloop rdate`, as
//! clap reads them. Kept apart so that the build script can read the same
//! definition to write the man page (`build.rs`, with clap_mangen).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, Limits, Timeouts};

/// Built without the `tls` feature: the HTTPS options are not shown (given
/// anyway, they are refused with a sentence that says why).
const NO_TLS: bool = cfg!(not(feature = "tls"));
const NO_HTTP3: bool = cfg!(not(feature = "http3"));

/// A single-threaded server for the RFC 868 Time Protocol (TCP and UDP) and
/// HTTP/1.0, 1.1 and 2 static files, on one mio readiness loop.
#[derive(Debug, Parser)]
// The server's options go before no command or after `serve`: given before
// `rdate`, they would be dropped without a word, so that is an error.
#[command(version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Serve,
}

// Parsed once at start-up; its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP and RFC 868 (the default when no command is given).
    Serve(Serve),
    /// Ask RFC 868 servers the time, all at once; print each answer, its
    /// round trip and offset from the local clock. Never sets the clock.
    Rdate(Rdate),
}

#[derive(Debug, Clone, clap::Args)]
pub struct Rdate {
    /// Ask over UDP instead of TCP.
    #[arg(long, conflicts_with = "both")]
    pub udp: bool,

    /// Ask over both TCP and UDP.
    #[arg(long)]
    pub both: bool,

    /// Port of the time service, for servers named without one
    /// (`HOST:PORT` and `[IPV6]:PORT` name their own).
    #[arg(long, default_value_t = 37, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Milliseconds to wait for all the answers.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub timeout: u64,

    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Servers to ask: names (every address they resolve to is asked) or
    /// IPv4/IPv6 addresses, each with :PORT if it is not --port's
    /// (`localhost:3737`, `[::1]:3737`).
    #[arg(required = true, value_name = "HOST")]
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Serve {
    /// HTTP listen address, IPv4 or IPv6 (repeat for several)
    /// [default: 127.0.0.1:8080; none under systemd socket activation].
    #[arg(long = "http", value_name = "ADDR", value_parser = listen_addrs)]
    pub http: Vec<Listen>,

    /// RFC 868 listen address, bound over TCP and UDP (repeat for several).
    /// The protocol's own port, 37, needs root or CAP_NET_BIND_SERVICE
    /// [default: 127.0.0.1:3737; none under systemd socket activation].
    #[arg(long = "time", value_name = "ADDR", value_parser = listen_addrs)]
    pub time: Vec<Listen>,

    /// HTTPS listen address, in the same forms (repeat for several); needs
    /// --tls-cert and --tls-key [default: none].
    #[arg(long = "https", value_name = "ADDR", value_parser = listen_addrs, hide = NO_TLS)]
    pub https: Vec<Listen>,

    /// PEM certificate chain (leaf first) for HTTPS. Repeat with --tls-key
    /// for several names: the first pair is the default, the others are
    /// chosen by the name the client asks for (SNI). SIGHUP reloads them.
    #[arg(long = "tls-cert", value_name = "FILE", hide = NO_TLS)]
    pub tls_cert: Vec<PathBuf>,

    /// PEM private key (PKCS#8, SEC1 EC or PKCS#1 RSA) of the --tls-cert
    /// given in the same position.
    #[arg(long = "tls-key", value_name = "FILE", hide = NO_TLS)]
    pub tls_key: Vec<PathBuf>,

    /// Answer plain HTTP GET and HEAD with a 308 to the same target over
    /// HTTPS (on the first --https port).
    #[arg(long, hide = NO_TLS)]
    pub redirect_https: bool,

    /// The port clients reach HTTPS and HTTP/3 at, when it is not the one
    /// bound (a Kubernetes Service or a NAT that maps 443 to 8443): named
    /// by --redirect-https and by Alt-Svc.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..), hide = NO_TLS)]
    pub public_https_port: Option<u16>,

    /// Send `Strict-Transport-Security: max-age=SECS` on HTTPS responses.
    #[arg(long, value_name = "SECS", hide = NO_TLS)]
    pub hsts: Option<u64>,

    /// Set SO_REUSEPORT, so that several processes (one per core) share the
    /// ports and the kernel spreads connections among them.
    #[arg(long)]
    pub reuse_port: bool,

    /// After binding, switch to this user (and its group): start as root to
    /// bind ports below 1024 without socket activation, then serve as nobody.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Serve files from this directory. Without it, a small site embedded in
    /// the binary is served (/ and /hello.txt).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Longest request line in bytes; longer gets 414.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_request_line)]
    pub max_request_line: usize,

    /// Longest header field line (name, colon and value) in bytes; longer
    /// gets 431.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_field_line)]
    pub max_field_line: usize,

    /// Longest request head in bytes; longer gets 431.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_head_bytes)]
    pub max_head: usize,

    /// Largest request body read and discarded; larger gets 413 and a close.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body_bytes)]
    pub max_body: u64,

    /// Files up to this size are cached in memory; larger ones go out with sendfile.
    #[arg(long, value_name = "BYTES", default_value_t = Config::CACHE_FILE_MAX)]
    pub cache_file_max: u64,

    /// Total bytes of file bodies kept in memory.
    #[arg(long, value_name = "BYTES", default_value_t = Config::CACHE_TOTAL_MAX)]
    pub cache_total_max: u64,

    /// Seconds from a request head's first byte to its end (not extended by
    /// more bytes: a client trickling a byte at a time is cut off).
    #[arg(long, value_name = "SECS", default_value_t = Timeouts::default().head.as_secs())]
    pub head_timeout: u64,

    /// Seconds a keep-alive connection may wait between requests.
    #[arg(long, value_name = "SECS", default_value_t = Timeouts::default().idle.as_secs())]
    pub idle_timeout: u64,

    /// Seconds a response may wait for a client that does not read it.
    #[arg(long, value_name = "SECS", default_value_t = Timeouts::default().send.as_secs())]
    pub send_timeout: u64,

    /// Most HTTP connections at once [default: derived from the open file
    /// limit, which start-up raises to its hard limit].
    #[arg(long, value_name = "N")]
    pub max_conns: Option<usize>,

    /// Serve files and directories whose names start with a dot
    /// (.well-known is always served).
    #[arg(long)]
    pub dotfiles: bool,

    /// List a directory that has no index.html (sorted, with sizes and
    /// dates; HTML, or JSON for a client that prefers application/json)
    /// instead of answering 404.
    #[arg(long)]
    pub list_dirs: bool,

    /// Answer RFC 868 datagrams from source ports below 1024 (dropped by
    /// default, as inetd does, so two services cannot answer each other
    /// forever).
    #[arg(long)]
    pub udp_low_ports: bool,

    /// Most RFC 868 UDP replies per source address per second (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub udp_rate: u32,

    /// Seconds a graceful shutdown waits for responses in flight.
    #[arg(long, value_name = "SECS", default_value_t = Config::SHUTDOWN_TIMEOUT.as_secs())]
    pub shutdown_timeout: u64,

    /// After a wakeup with eight or more events, pause this many
    /// microseconds before polling again, so that the next events need
    /// not wake the loop one by one (0, the default: always block until an
    /// event; at most 1000). Adds latency; pays only when many clients
    /// keep requests queued.
    #[arg(long, value_name = "USECS", default_value_t = Config::COALESCE.as_micros() as u64)]
    pub coalesce_us: u64,

    /// After a wakeup with a few events, poll without blocking for up to
    /// this many microseconds before sleeping, so a client that asks again
    /// at once does not have to wake the loop (0: never; at most 1000). It
    /// adapts: a spin that keeps finding nothing shrinks to nothing, and
    /// it rests while requests queue or many clients are active.
    #[arg(long, value_name = "USECS", default_value_t = Config::SPIN.as_micros() as u64)]
    pub spin_us: u64,

    /// HTTP/2: by ALPN over HTTPS, and by prior knowledge (the client's
    /// preface) on plain HTTP ports. "off" serves HTTP/1.x alone.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"])]
    pub http2: String,

    /// HTTP/3 over QUIC: UDP on the first --https port, with the same
    /// certificates. "off" serves HTTPS over TCP alone.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = ["on", "off"], hide = NO_HTTP3)]
    pub http3: String,

    /// Add `Cache-Control: VALUE` to file responses (e.g. "public, max-age=3600").
    #[arg(long, value_name = "VALUE")]
    pub cache_control: Option<String>,

    /// Log every response to PATH in the Combined Log Format ("-": standard
    /// output). Buffered, written at least once a second; SIGHUP reopens it.
    #[arg(long, value_name = "PATH")]
    pub access_log: Option<String>,

    /// The access log's lines: "combined" (Apache's and nginx's Combined
    /// Log Format) or "json" (one JSON object a line).
    #[arg(long, value_name = "combined|json", default_value = "combined", value_parser = ["combined", "json"])]
    pub access_log_format: String,

    /// Serve Prometheus metrics at this path (e.g. /metrics), and beside it,
    /// at PATH/live, a page that draws them every second. Off by default;
    /// anyone who reaches the port can read them.
    #[arg(long, value_name = "PATH")]
    pub metrics_path: Option<String>,

    /// Serve a health page at this path (e.g. /healthz): 200 "ok" while
    /// serving, 503 once a drain has begun. Off by default.
    #[arg(long, value_name = "PATH")]
    pub health_path: Option<String>,
}

/// The addresses one `--http` or `--time` value names: an address, or a
/// host name resolved at start-up (every address it has is bound).
#[derive(Debug, Clone)]
pub struct Listen(pub Vec<SocketAddr>);

/// Parses `ADDR` as an IPv4 or IPv6 socket address, or resolves a
/// `host:port` name; a bad value is answered with the forms that work.
pub fn listen_addrs(value: &str) -> Result<Listen, String> {
    use std::net::ToSocketAddrs;
    const FORMS: &str = "use an address and a port: 127.0.0.1:8080, [::1]:8080 or localhost:8080";
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(Listen(vec![addr]));
    }
    // A name with a port that does not resolve: the form was right, the
    // name is not (say so, with the same port).
    let named = value
        .rsplit_once(':')
        .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    let mut addrs: Vec<SocketAddr> = match (value.to_socket_addrs(), named) {
        (Ok(addrs), _) => addrs.collect(),
        (Err(e), Some((host, port))) => {
            return Err(format!(
                "cannot resolve the name {host} ({e}); give an address of this host \
                 (0.0.0.0:{port} or [::]:{port} for every interface) or a name it resolves \
                 (localhost:{port})"
            ));
        }
        (Err(e), None) => return Err(format!("{e}; {FORMS}")),
    };
    addrs.sort_unstable();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("{value} has no address; {FORMS}"));
    }
    Ok(Listen(addrs))
}
