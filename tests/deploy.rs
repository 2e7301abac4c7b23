//! Deployment: systemd socket activation, SO_REUSEPORT, the README's HTTPS commands.
//!
//! Deployment: systemd socket activation (sockets handed over the way
//! systemd does it) and SO_REUSEPORT for one process per core.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{connect, exchange, get_req};

const BIN: &str = env!("CARGO_BIN_EXE_oneloop");

/// Waits for the start-up line and returns it; stderr keeps draining.
fn startup_line(child: &mut Child) -> String {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = lines.next().expect("a start-up line").unwrap();
    std::thread::spawn(move || for _ in lines {});
    line
}

fn stop(mut child: Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
}

#[test]
fn serves_the_sockets_systemd_passes_and_binds_nothing_else() {
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let time_tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let time_addr = time_tcp.local_addr().unwrap();
    let time_udp = UdpSocket::bind(time_addr).unwrap();
    let http_addr = http.local_addr().unwrap();
    let fds = [http.as_raw_fd(), time_tcp.as_raw_fd(), time_udp.as_raw_fd()];
    // As systemd does: the sockets become descriptors 3, 4, 5 and the
    // variables name them; LISTEN_PID is the pid that execs the server, so
    // a shell sets it to its own pid and execs.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("LISTEN_PID=$$ exec {BIN}")])
        .env("LISTEN_FDS", "3")
        .env("LISTEN_FDNAMES", "http:time:time")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    // SAFETY: only fcntl and dup2 between fork and exec: async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // First copy every socket above the target range, then place the
            // copies: a socket may itself sit at 3, 4 or 5.
            let mut high = [0; 3];
            for (h, &fd) in high.iter_mut().zip(&fds) {
                *h = libc::fcntl(fd, libc::F_DUPFD, 10);
                if *h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, &h) in high.iter().enumerate() {
                if libc::dup2(h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("start oneloop under sh");
    let line = startup_line(&mut child);
    assert!(
        line.contains(&format!("serving HTTP on {http_addr} and")),
        "{line}"
    );
    assert!(
        line.contains(&format!("RFC 868 on {time_addr} (TCP+UDP),")),
        "{line}"
    );
    assert!(
        !line.contains(":8080") && !line.contains(":3737"),
        "bound a default too: {line}"
    );
    drop((http, time_tcp, time_udp)); // the child has its own copies

    let mut s = connect(http_addr);
    assert_eq!(
        exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].text(),
        "Hello\n"
    );
    let mut four = Vec::new();
    connect(time_addr).read_to_end(&mut four).unwrap();
    assert_eq!(four.len(), 4);
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    udp.send_to(&[], time_addr).unwrap();
    let mut b = [0u8; 8];
    assert_eq!(udp.recv_from(&mut b).unwrap().0, 4);
    stop(child);
}

fn spawn_on(http: SocketAddr, extra: &[&str]) -> std::io::Result<Child> {
    let mut child = Command::new(BIN)
        .args(["--http", &http.to_string(), "--time", "127.0.0.1:0"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()?;
    let line = startup_line(&mut child);
    if line.contains("serving HTTP") {
        return Ok(child);
    }
    // Not serving: it should be exiting; make sure it does.
    std::thread::sleep(Duration::from_millis(200));
    if child.try_wait()?.is_none() {
        let _ = child.kill();
    }
    let status = child.wait()?;
    Err(std::io::Error::other(format!("{status}: {line}")))
}

#[test]
fn reuse_port_lets_one_process_per_core_share_a_port() {
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let first = spawn_on(free, &["--reuse-port"]).expect("first process");
    let second = spawn_on(free, &["--reuse-port"]).expect("second process on the same port");
    // Both serve: the kernel spreads connections between them.
    for _ in 0..20 {
        let r = common::get(free, &get_req("/hello.txt"));
        assert_eq!(r.status, 200);
    }
    stop(second);
    // Without the flag, a second process on the port is refused.
    let err = spawn_on(free, &[]).expect_err("the port is taken");
    assert!(err.to_string().contains("in use"), "{err}");
    stop(first);
}

#[test]
fn started_as_root_it_drops_to_the_given_user_after_binding() {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: nothing to drop here");
        return;
    }
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let child = spawn_on(free, &["--user", "nobody"]).expect("starts and drops privileges");
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let uids = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    assert!(
        uids.split_whitespace().skip(1).all(|u| u != "0"),
        "still root: {uids}"
    );
    assert_eq!(common::get(free, &get_req("/hello.txt")).status, 200);
    stop(child);

    let err =
        spawn_on(free, &["--user", "no-such-user-here"]).expect_err("an unknown user is an error");
    assert!(err.to_string().contains("no such user"), "{err}");
}

#[cfg(feature = "tls")]
/// Starts the binary the way systemd starts it with sockets `fds` named
/// `names` (descriptors 3, 4, ...), and `args`.
fn activated(fds: &[i32], names: &str, args: &[&str]) -> Child {
    let fds = fds.to_vec();
    let mut cmd = Command::new("sh");
    let mut line = format!("LISTEN_PID=$$ exec {BIN}");
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    cmd.args(["-c", &line])
        .env("LISTEN_FDS", fds.len().to_string())
        .env("LISTEN_FDNAMES", names)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    // SAFETY: only fcntl and dup2 between fork and exec: async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [0; 8];
            for (h, &fd) in high.iter_mut().zip(&fds) {
                *h = libc::fcntl(fd, libc::F_DUPFD, 10);
                if *h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, &h) in high.iter().take(fds.len()).enumerate() {
                if libc::dup2(h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn().expect("start oneloop under sh")
}

#[cfg(feature = "tls")]
#[test]
fn an_https_socket_from_systemd_serves_tls_and_the_line_says_what_is_served() {
    let dir = common::TempDir::new("deploy-https");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let http = TcpListener::bind("127.0.0.1:0").unwrap();
    let https = TcpListener::bind("127.0.0.1:0").unwrap();
    let (http_addr, https_addr) = (http.local_addr().unwrap(), https.local_addr().unwrap());
    let mut child = activated(
        &[http.as_raw_fd(), https.as_raw_fd()],
        "http:https",
        &[
            "--tls-cert",
            &cert_path.to_string_lossy(),
            "--tls-key",
            &key_path.to_string_lossy(),
        ],
    );
    let line = startup_line(&mut child);
    assert!(
        line.ends_with(&format!(
            "serving HTTP on {http_addr} and HTTPS on {https_addr}, the embedded site"
        )),
        "{line}"
    );
    drop((http, https));
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(&cert_path)
        .args([
            "--resolve",
            &format!("localhost:{}:127.0.0.1", https_addr.port()),
        ])
        .arg(format!("https://localhost:{}/hello.txt", https_addr.port()))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello\n", "{out:?}");
    stop(child);
}

/// The README's HTTPS section, as written: its openssl command makes a
/// pair oneloop loads, its server command keeps clear of the Try-it
/// server's ports, and its curl command gets the file over HTTPS trusting
/// that certificate for `localhost`. (Ports are made ephemeral; nothing
/// else is changed.)
#[test]
fn the_readmes_https_steps_work_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("\n## HTTPS\n").expect("an HTTPS section")..];
    let block = &section[section.find("```sh\n").unwrap() + 6..];
    let block = &block[..block.find("```").unwrap()];
    // Commands, with their continuation lines joined.
    let commands: Vec<String> = block
        .replace("\\\n", " ")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let find = |start: &str| {
        commands
            .iter()
            .find(|c| c.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` command in {block}"))
            .clone()
    };
    let (openssl, server, curl) = (
        find("openssl "),
        find("cargo run --release -- "),
        find("curl "),
    );
    let dir = common::TempDir::new("readme-https");
    let made = Command::new("sh")
        .arg("-c")
        .arg(&openssl)
        .current_dir(dir.path())
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{openssl}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    // Beside the Try-it servers: none of their ports.
    let args: Vec<&str> = server["cargo run --release -- ".len()..]
        .split(' ')
        .collect();
    let try_it =
        &readme[readme.find("\n## Try it\n").unwrap()..readme.find("\n## Install\n").unwrap()];
    for flag in ["--http", "--time"] {
        let at = args
            .iter()
            .position(|a| *a == flag)
            .unwrap_or_else(|| panic!("{server}: no {flag}, so it binds the default"));
        let addr = args[at + 1];
        assert!(
            !try_it.contains(addr),
            "{server}: {addr} is a Try-it server's"
        );
        assert!(
            !["127.0.0.1:8080", "127.0.0.1:3737"].contains(&addr),
            "{server}"
        );
    }
    let https_at = args.iter().position(|a| *a == "--https").unwrap() + 1;
    let https_port = args[https_at].rsplit(':').next().unwrap().to_string();
    let ephemeral: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("127.0.0.1:") {
                "127.0.0.1:0".to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let mut child = Command::new(BIN)
        .args(&ephemeral)
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = startup_line(&mut child);
    let https: SocketAddr = line[line.find("HTTPS on ").unwrap_or_else(|| panic!("{line}")) + 9..]
        .split([',', ' '])
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let curl = curl.replace(
        &format!("localhost:{https_port}"),
        &format!("localhost:{}", https.port()),
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{curl} --max-time 10 --resolve localhost:{}:127.0.0.1",
            https.port()
        ))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{curl}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"Hello\n", "{curl}");
    stop(child);
}
