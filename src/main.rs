//! The `oneloop` binary: command line -> [`oneloop::Config`] -> bind -> run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use oneloop::config::{self, Config, Limits};

/// A single-threaded server for the RFC 868 Time Protocol (TCP and UDP) and
/// HTTP/1.0 and 1.1 static files, on one mio readiness loop.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Serve,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve HTTP and RFC 868 (the default when no command is given).
    Serve(Serve),
}

#[derive(Debug, Clone, clap::Args)]
struct Serve {
    /// HTTP listen address, IPv4 or IPv6 (repeat for several).
    #[arg(long = "http", value_name = "ADDR", default_value = config::DEFAULT_HTTP)]
    http: Vec<SocketAddr>,

    /// RFC 868 listen address, bound over TCP and UDP (repeat for several).
    /// The protocol's own port, 37, needs root or CAP_NET_BIND_SERVICE.
    #[arg(long = "time", value_name = "ADDR", default_value = config::DEFAULT_TIME)]
    time: Vec<SocketAddr>,

    /// Serve files from this directory. Without it, a small site embedded in
    /// the binary is served (/ and /hello.txt).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,

    /// Longest request line in bytes; longer gets 414.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_request_line)]
    max_request_line: usize,

    /// Longest request head in bytes; longer gets 431.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_head_bytes)]
    max_head: usize,

    /// Largest request body read and discarded; larger gets 413 and a close.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body: u64,

    /// Files up to this size are cached in memory; larger ones go out with sendfile.
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().cache_file_max)]
    cache_file_max: u64,

    /// Total bytes of file bodies kept in memory.
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().cache_total_max)]
    cache_total_max: u64,

    /// Seconds a graceful shutdown waits for responses in flight.
    #[arg(long, value_name = "SECS", default_value_t = Config::default().shutdown_timeout.as_secs())]
    shutdown_timeout: u64,
}

impl Serve {
    fn into_config(self) -> Config {
        Config {
            http: self.http,
            time: self.time,
            root: self.root,
            limits: Limits {
                max_request_line: self.max_request_line,
                max_head_bytes: self.max_head,
                max_body_bytes: self.max_body,
                ..Limits::default()
            },
            cache_file_max: self.cache_file_max,
            cache_total_max: self.cache_total_max,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            handle_signals: true,
            ..Config::default()
        }
    }
}

/// Raises the soft limit on open files to the hard limit: every connection
/// is a descriptor, and the default soft limit (often 1024) is far below
/// what one loop can serve.
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            log::warn!(
                "getrlimit RLIMIT_NOFILE: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                log::warn!(
                    "setrlimit RLIMIT_NOFILE: {}",
                    std::io::Error::last_os_error()
                );
                return;
            }
        }
    }
    log::debug!("open file limit: {}", lim.rlim_max);
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let serve = match cli.command {
        Some(Command::Serve(serve)) => serve,
        None => cli.serve,
    };
    let config = serve.into_config();
    raise_nofile_limit();
    let server = match oneloop::Server::bind(config.clone()) {
        Ok(server) => server,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let list = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    log::info!(
        "oneloop {} serving HTTP on {} and RFC 868 (TCP+UDP) on {}, {}",
        env!("CARGO_PKG_VERSION"),
        list(server.http_addrs()),
        list(server.time_addrs()),
        match &config.root {
            Some(root) => format!("files from {}", root.display()),
            None => "the embedded site".to_string(),
        }
    );
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
