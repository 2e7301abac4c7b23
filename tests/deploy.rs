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
    // SAFETY: only dup2 between fork and exec, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            for (i, &fd) in fds.iter().enumerate() {
                // Move each out of the way first, in case it sits at 3..5.
                let high = libc::dup(fd);
                if high < 0 || libc::dup2(high, 3 + i as i32) < 0 {
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
        line.contains(&format!("(TCP+UDP) on {time_addr},")),
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
        Ok(child)
    } else {
        let status = child.wait()?;
        Err(std::io::Error::other(format!("{status}: {line}")))
    }
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
