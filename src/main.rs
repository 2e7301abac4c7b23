//! The `oneloop` binary: command line -> [`oneloop::Config`] -> bind -> run.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use oneloop::config::{self, Config, Limits, Timeouts};
use oneloop::listeners::TimeKinds;

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
        // With socket activation, systemd's sockets are the listeners and
        // nothing else is bound unless asked for on the command line.
        let activated = std::env::var("LISTEN_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            == Some(std::process::id());
        let tls = (self.tls_cert.iter().zip(&self.tls_key))
            .map(|(cert, key)| config::CertPair {
                cert: cert.clone(),
                key: key.clone(),
            })
            .collect();
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
            public_https_port: self.public_https_port,
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
            http3: self.http3 == "on",
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
            list_dirs: self.list_dirs,
            udp_low_ports: self.udp_low_ports,
            udp_rate: self.udp_rate,
            cache_control: self.cache_control,
            access_log: self.access_log,
            access_log_format: match self.access_log_format.as_str() {
                "json" => oneloop::access_log::Format::Json,
                _ => oneloop::access_log::Format::Combined,
            },
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
/// addresses (a service with none, under socket activation, is left out;
/// RFC 868 says over which transports each address answers), the files,
/// and where the pages and the log are that the options turned on.
fn serving(
    [http, https]: &[&[SocketAddr]; 2],
    time: &[(SocketAddr, TimeKinds)],
    config: &Config,
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
        let each = time.iter().map(|(addr, kinds)| {
            let over = match (kinds.tcp, kinds.udp) {
                (true, true) => "TCP+UDP",
                (true, false) => "TCP",
                _ => "UDP",
            };
            format!("{addr} ({over})")
        });
        services.push(format!("RFC 868 on {}", each.collect::<Vec<_>>().join(" ")));
    }
    let files = match &config.root {
        Some(root) => format!("files from {}", root.display()),
        None => "the embedded site".to_string(),
    };
    let mut line = match services.len() {
        0 => return "nothing: no socket was bound or passed".to_string(),
        _ if http.is_empty() && https.is_empty() => return services.join(" and "),
        _ => format!("{}, {files}", services.join(" and ")),
    };
    if let Some(path) = &config.metrics_path {
        line.push_str(&format!("; metrics at {path} (live page {path}/live)"));
    }
    if let Some(path) = &config.health_path {
        line.push_str(&format!("; health at {path}"));
    }
    if let Some(path) = &config.access_log {
        let to = if path == "-" { "standard output" } else { path };
        line.push_str(&format!("; access log to {to}"));
    }
    line
}

/// After `--user`, the root must still be readable: refused here rather
/// than answering 403 to every request.
fn check_root(config: &Config, user: Option<&str>) -> Result<(), String> {
    let Some(root) = &config.root else {
        return Ok(());
    };
    oneloop::sys::can_enter_dir(root).map_err(|e| {
        let uid = oneloop::sys::uid();
        let who = match user {
            Some(name) => format!("user {name} (uid {uid}, from --user)"),
            None => format!("uid {uid}"),
        };
        format!(
            "--root {}: {who} cannot list and enter it ({e}): give it read and search \
             permission (chmod o+rx, or a group the user is in with g+rx), or choose \
             another --root or --user",
            root.display()
        )
    })
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
    // A pair with nowhere to serve it would start plain HTTP alone, and the
    // user would find out from a browser. Judged from what was bound, so an
    // `https` socket from systemd counts as --https does.
    if !config.tls.is_empty() && server.https_addrs().is_empty() {
        log::error!(
            "--tls-cert and --tls-key are given but nothing serves HTTPS: \
             add --https ADDR (e.g. --https 0.0.0.0:443), or leave them out"
        );
        return ExitCode::FAILURE;
    }
    if let Some(name) = &user
        && let Err(e) = oneloop::sys::become_user(name)
    {
        log::error!("--user {name}: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = check_root(&config, user.as_deref()) {
        log::error!("{e}");
        return ExitCode::FAILURE;
    }
    let time: Vec<_> = (server.time_addrs().iter().copied())
        .zip(server.time_kinds().iter().copied())
        .collect();
    log::info!(
        "oneloop {} serving {}",
        env!("CARGO_PKG_VERSION"),
        serving(&[server.http_addrs(), server.https_addrs()], &time, &config)
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
        let both = TimeKinds {
            tcp: true,
            udp: true,
        };
        let tcp = TimeKinds {
            tcp: true,
            udp: false,
        };
        let none: &[SocketAddr] = &[];
        let plain = Config::default();
        assert_eq!(
            serving(&[&[a], none], &[(b, both)], &plain),
            "HTTP on 127.0.0.1:80 and RFC 868 on [::1]:37 (TCP+UDP), the embedded site"
        );
        // Socket activation with an HTTP socket only.
        assert_eq!(
            serving(&[&[a], none], &[], &plain),
            "HTTP on 127.0.0.1:80, the embedded site"
        );
        // ... and with RFC 868 over TCP alone: it says so.
        assert_eq!(
            serving(&[none, &[a]], &[(b, tcp)], &plain),
            "HTTPS on 127.0.0.1:80 and RFC 868 on [::1]:37 (TCP), the embedded site"
        );
        assert_eq!(
            serving(&[none, none], &[(b, both)], &plain),
            "RFC 868 on [::1]:37 (TCP+UDP)"
        );
        assert_eq!(
            serving(&[none, none], &[], &plain),
            "nothing: no socket was bound or passed"
        );
        let pages = Config {
            metrics_path: Some("/metrics".into()),
            health_path: Some("/healthz".into()),
            access_log: Some("-".into()),
            ..Config::default()
        };
        assert_eq!(
            serving(&[&[a], none], &[], &pages),
            "HTTP on 127.0.0.1:80, the embedded site; metrics at /metrics (live page \
             /metrics/live); health at /healthz; access log to standard output"
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
        let err = listen_addrs("nosuchhost.invalid:80").unwrap_err();
        assert!(
            err.starts_with("cannot resolve the name nosuchhost.invalid"),
            "{err}"
        );
        assert!(err.contains("0.0.0.0:80 or [::]:80"), "{err}");
        assert!(!err.contains("localhost:8080"), "{err}");
        let err = listen_addrs("localhost").unwrap_err();
        assert!(
            err.contains("127.0.0.1:8080, [::1]:8080 or localhost:8080"),
            "{err}"
        );
    }
}
