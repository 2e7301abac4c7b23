//! The `oneloop` binary: command line -> [`oneloop::Config`] -> bind -> run.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use oneloop::config::{self, Config, Limits, Timeouts};

mod cli;

#[cfg(test)]
use cli::listen_addrs;
use cli::{Cli, Command, Listen, Rdate, Serve};

/// Runs `oneloop rdate`: exit 0 when at least one server answered.
fn rdate(args: Rdate) -> ExitCode {
    use oneloop::rdate::{Proto, Target};
    use std::net::ToSocketAddrs;
    let protos: &[Proto] = match (args.udp, args.both) {
        (_, true) => &[Proto::Tcp, Proto::Udp],
        (true, false) => &[Proto::Udp],
        (false, false) => &[Proto::Tcp],
    };
    let mut targets = Vec::new();
    let mut unresolved = 0;
    for host in &args.hosts {
        let (name, port) = match oneloop::rdate::host_port(host, args.port) {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("rdate: {e}");
                unresolved += 1;
                continue;
            }
        };
        // Names are resolved first, before the loop starts.
        let addrs: Vec<SocketAddr> = match (name, port).to_socket_addrs() {
            Ok(addrs) => addrs.collect(),
            Err(e) => {
                eprintln!("rdate: cannot resolve {host}: {e}");
                unresolved += 1;
                continue;
            }
        };
        if addrs.is_empty() {
            eprintln!("rdate: {host} has no address");
            unresolved += 1;
        }
        for addr in addrs {
            for &proto in protos {
                targets.push(Target {
                    host: host.clone(),
                    addr,
                    proto,
                });
            }
        }
    }
    if targets.is_empty() {
        eprintln!("rdate: no server to ask");
        return ExitCode::FAILURE;
    }
    let reports = match oneloop::rdate::query(&targets, Duration::from_millis(args.timeout)) {
        Ok(reports) => reports,
        Err(e) => {
            eprintln!("rdate: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        print!("{}", oneloop::rdate::render_json(&reports));
    } else {
        print!("{}", oneloop::rdate::render_text(&reports));
    }
    let answered = oneloop::rdate::summarize(&reports).answered;
    if answered > 0 && unresolved < args.hosts.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

impl Serve {
    fn into_config(self, nofile: u64) -> Result<Config, String> {
        if self.tls_cert.len() != self.tls_key.len() {
            return Err(format!(
                "{} --tls-cert and {} --tls-key: give them in pairs",
                self.tls_cert.len(),
                self.tls_key.len()
            ));
        }
        let tls = (self.tls_cert.iter().zip(&self.tls_key))
            .map(|(cert, key)| config::CertPair {
                cert: cert.clone(),
                key: key.clone(),
            })
            .collect();
        // With socket activation, systemd's sockets are the listeners and
        // nothing else is bound unless asked for on the command line.
        let activated = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            == Some(std::process::id());
        let or_default =
            |given: Vec<Listen>, default: Vec<SocketAddr>| match (given.is_empty(), activated) {
                (true, false) => default,
                _ => given.into_iter().flat_map(|l| l.0).collect(),
            };
        Ok(Config {
            http: or_default(self.http, Config::default().http),
            time: or_default(self.time, Config::default().time),
            https: self.https.into_iter().flat_map(|l| l.0).collect(),
            tls,
            redirect_https: self.redirect_https,
            hsts: self.hsts,
            reuse_port: self.reuse_port,
            systemd: true,
            root: self.root,
            limits: Limits {
                max_request_line: self.max_request_line,
                max_field_line: self.max_field_line,
                max_head_bytes: self.max_head,
                max_body_bytes: self.max_body,
                ..Limits::default()
            },
            cache_file_max: self.cache_file_max,
            cache_total_max: self.cache_total_max,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            coalesce: Duration::from_micros(self.coalesce_us),
            spin: Duration::from_micros(self.spin_us),
            http2: self.http2 == "on",
            timeouts: Timeouts {
                head: Duration::from_secs(self.head_timeout),
                idle: Duration::from_secs(self.idle_timeout),
                send: Duration::from_secs(self.send_timeout),
                ..Timeouts::default()
            },
            max_conns: self
                .max_conns
                .unwrap_or_else(|| config::default_max_conns(nofile)),
            dotfiles: self.dotfiles,
            udp_low_ports: self.udp_low_ports,
            udp_rate: self.udp_rate,
            cache_control: self.cache_control,
            access_log: self.access_log,
            metrics_path: self.metrics_path,
            health_path: self.health_path,
            handle_signals: true,
            ..Config::default()
        })
    }
}

/// Raises the soft limit on open files to the hard limit: every connection
/// is a descriptor, and the default soft limit (often 1024) is far below
/// what one loop can serve. Returns the limit in force.
fn raise_nofile_limit() -> u64 {
    match oneloop::sys::raise_nofile_limit() {
        Ok(limit) => {
            log::debug!("open file limit: {limit}");
            limit
        }
        Err(e) => {
            log::warn!("RLIMIT_NOFILE: {e}");
            1024
        }
    }
}

/// What the start-up line says is served: each service with its
/// addresses (a service with none, under socket activation, is left out),
/// and the files.
fn serving(
    [http, https]: &[&[SocketAddr]; 2],
    time: &[SocketAddr],
    root: Option<&std::path::Path>,
) -> String {
    let list = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut services = Vec::new();
    if !http.is_empty() {
        services.push(format!("HTTP on {}", list(http)));
    }
    if !https.is_empty() {
        services.push(format!("HTTPS on {}", list(https)));
    }
    if !time.is_empty() {
        services.push(format!("RFC 868 (TCP+UDP) on {}", list(time)));
    }
    let files = match root {
        Some(root) => format!("files from {}", root.display()),
        None => "the embedded site".to_string(),
    };
    match services.len() {
        0 => "nothing: no socket was bound or passed".to_string(),
        _ if http.is_empty() && https.is_empty() => services.join(" and "),
        _ => format!("{}, {files}", services.join(" and ")),
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|out, record| {
            use std::io::Write;
            let now = std::time::SystemTime::now();
            let secs = oneloop::date::unix_seconds(now).unwrap_or(0);
            write!(out, "[")?;
            oneloop::date::write_rfc3339(secs, out)?;
            writeln!(
                out,
                " {:<5} {}] {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .init();
    let cli = Cli::parse();
    let serve = match cli.command {
        Some(Command::Serve(serve)) => serve,
        Some(Command::Rdate(args)) => return rdate(args),
        None => cli.serve,
    };
    let nofile = raise_nofile_limit();
    oneloop::sys::keep_freed_memory();
    let user = serve.user.clone();
    let config = match serve.into_config(nofile) {
        Ok(config) => config,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let server = match oneloop::Server::bind(config.clone()) {
        Ok(server) => server,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(name) = &user
        && let Err(e) = oneloop::sys::become_user(name)
    {
        log::error!("--user {name}: {e}");
        return ExitCode::FAILURE;
    }
    log::info!(
        "oneloop {} serving {}",
        env!("CARGO_PKG_VERSION"),
        serving(
            &[server.http_addrs(), server.https_addrs()],
            server.time_addrs(),
            config.root.as_deref()
        )
    );
    if let Some(name) = user {
        log::info!("running as user {name}");
    }
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_up_line_names_what_is_served() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let b: SocketAddr = "[::1]:37".parse().unwrap();
        let none: &[SocketAddr] = &[];
        assert_eq!(
            serving(&[&[a], none], &[b], None),
            "HTTP on 127.0.0.1:80 and RFC 868 (TCP+UDP) on [::1]:37, the embedded site"
        );
        // Socket activation with an HTTP socket only.
        assert_eq!(
            serving(&[&[a], none], &[], None),
            "HTTP on 127.0.0.1:80, the embedded site"
        );
        assert_eq!(
            serving(&[none, &[a]], &[b], None),
            "HTTPS on 127.0.0.1:80 and RFC 868 (TCP+UDP) on [::1]:37, the embedded site"
        );
        assert_eq!(
            serving(&[none, none], &[b], None),
            "RFC 868 (TCP+UDP) on [::1]:37"
        );
        assert_eq!(
            serving(&[none, none], &[], None),
            "nothing: no socket was bound or passed"
        );
    }

    #[test]
    fn listen_addresses_take_names_and_say_what_works() {
        assert_eq!(listen_addrs("127.0.0.1:8080").unwrap().0.len(), 1);
        let local = listen_addrs("localhost:8080").expect("localhost resolves");
        assert!(
            local
                .0
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        let err = listen_addrs("localhost").unwrap_err();
        assert!(
            err.contains("127.0.0.1:8080, [::1]:8080 or localhost:8080"),
            "{err}"
        );
    }
}
