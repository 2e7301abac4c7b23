//! Limits and deadlines over real sockets: slow clients cut off, the cap, descriptor exhaustion.
//!
//! Limits and deadlines over real sockets: slow clients are cut off on
//! time while others are served, the connection cap and descriptor
//! exhaustion pause accepting without spinning, hidden files stay hidden,
//! and datagrams from service ports go unanswered.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use common::{Reap, closes, connect, exchange, get, get_req, read_responses, start};
use oneloop::Config;
use oneloop::config::Timeouts;

fn with_timeouts(t: Timeouts) -> Config {
    Config {
        timeouts: t,
        ..Config::ephemeral()
    }
}

/// Whether the server has closed `s` by now, without waiting.
fn closed_now(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 64];
    let closed = match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

#[test]
fn slowloris_is_cut_at_the_head_deadline_while_others_are_served() {
    let server = start(with_timeouts(Timeouts {
        head: Duration::from_millis(600),
        ..Timeouts::default()
    }));
    let addr = server.http[0];
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n").unwrap();
            s
        })
        .collect();
    // Trickle one header byte per connection every 100 ms, for as long as
    // any is open; meanwhile a normal client asks again and again and must
    // be answered each time. Were the deadline extended by each byte, no
    // trickler would ever be cut off.
    let mut open: Vec<bool> = vec![true; slow.len()];
    let mut answered = 0;
    while open.iter().any(|&o| o) && started.elapsed() < Duration::from_secs(8) {
        for (s, o) in slow.iter_mut().zip(open.iter_mut()) {
            if *o {
                let _ = s.write(b"X");
                *o = !closed_now(s);
            }
        }
        let t = Instant::now();
        assert_eq!(get(addr, &get_req("/hello.txt")).status, 200);
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a normal request took {:?}",
            t.elapsed()
        );
        answered += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let still = open.iter().filter(|&&o| o).count();
    assert_eq!(
        still,
        0,
        "{still} of {} trickling clients still open after {:?}",
        slow.len(),
        started.elapsed()
    );
    assert!(answered >= 3);
    server.stop().unwrap();
}

#[test]
fn idle_keep_alive_connections_are_closed() {
    let server = start(with_timeouts(Timeouts {
        idle: Duration::from_millis(300),
        ..Timeouts::default()
    }));
    let mut s = connect(server.http[0]);
    assert_eq!(
        exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    let t = Instant::now();
    assert!(closes(&mut s));
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(3),
        "closed too late: {waited:?}"
    );
    server.stop().unwrap();
}

#[test]
fn a_client_that_stops_reading_is_dropped_at_the_send_deadline() {
    let root = std::env::temp_dir().join(format!("oneloop-limits-send-{}", std::process::id()));
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("big.bin"), vec![7u8; 16 << 20]).unwrap();
    let server = start(Config {
        root: Some(root.clone()),
        timeouts: Timeouts {
            send: Duration::from_millis(400),
            ..Timeouts::default()
        },
        ..Config::ephemeral()
    });
    let mut s = connect(server.http[0]);
    s.write_all(get_req("/big.bin").as_bytes()).unwrap();
    // Read nothing for a while: the server's send buffer fills and stays full.
    std::thread::sleep(Duration::from_millis(1500));
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(
        got < 16 << 20,
        "the whole file arrived ({got} bytes): no send deadline"
    );
    // Others are unaffected.
    assert_eq!(
        get(server.http[0], &get_req("/big.bin")).body.len(),
        16 << 20
    );
    server.stop().unwrap();
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn deadlines_count_from_progress_not_from_when_the_state_was_made() {
    // Connection state is pooled: a state made at start-up serves
    // connections long after. A client that keeps reading, slowly, and one
    // that sends a body slowly, both make progress and must never meet a
    // deadline, however old the server (and the state) is.
    let root = std::env::temp_dir().join(format!("oneloop-limits-progress-{}", std::process::id()));
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("big.bin"), vec![7u8; 8 << 20]).unwrap();
    fs::write(root.join("hello.txt"), b"Hello\n").unwrap();
    let server = start(Config {
        root: Some(root.clone()),
        timeouts: Timeouts {
            send: Duration::from_millis(1500),
            idle: Duration::from_millis(1500),
            ..Timeouts::default()
        },
        ..Config::ephemeral()
    });
    let addr = server.http[0];
    // Make the pooled state, then let the server grow older than both
    // deadlines.
    let mut warm = connect(addr);
    assert_eq!(
        exchange(&mut warm, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    drop(warm);
    std::thread::sleep(Duration::from_millis(1700));

    // A download read 256 KiB every 50 ms: about 1.6 s with output waiting
    // the whole time. (The kernel reports room to write only once a third
    // of the send buffer is free, so progress shows in steps, not at every
    // read: the deadline must be longer than a step.)
    let mut s = connect(addr);
    s.write_all(get_req("/big.bin").as_bytes()).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 256 << 10];
    let started = Instant::now();
    while got < (8 << 20) + 100 {
        let mut chunk = 0;
        while chunk < buf.len() {
            match s.read(&mut buf[chunk..]) {
                Ok(0) | Err(_) => panic!("cut off after {got} bytes in {:?}", started.elapsed()),
                Ok(n) => chunk += n,
            }
            if got + chunk >= 8 << 20 {
                break;
            }
        }
        got += chunk;
        if got >= 8 << 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "it was slow enough to matter"
    );

    // A body sent a byte every 100 ms for 2 s: the idle deadline moves
    // with every byte.
    let mut s = connect(addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n")
        .unwrap();
    assert_eq!(read_responses(&mut s, &[false])[0].status, 405);
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"x")
            .expect("still open while the body arrives");
    }
    assert_eq!(
        exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].status,
        200
    );
    server.stop().unwrap();
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn at_the_cap_new_connections_wait_for_a_free_slot() {
    let server = start(Config {
        max_conns: 4,
        ..Config::ephemeral()
    });
    let addr = server.http[0];
    let mut held: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = connect(addr);
            assert_eq!(
                exchange(&mut s, get_req("/hello.txt").as_bytes(), 1)[0].status,
                200
            );
            s
        })
        .collect();
    // The fifth is queued by the kernel but not served while four are open.
    let mut fifth = connect(addr);
    fifth.write_all(get_req("/hello.txt").as_bytes()).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut b = [0u8; 16];
    assert!(fifth.read(&mut b).is_err(), "served beyond the cap");
    // One leaves: the fifth is served.
    drop(held.pop());
    fifth.set_read_timeout(Some(common::PATIENCE)).unwrap();
    let r = common::read_responses(&mut fifth, &[false]);
    assert_eq!(r[0].status, 200);
    drop(held);
    server.stop().unwrap();
}

#[test]
fn hidden_files_stay_hidden_unless_asked_for() {
    let root = std::env::temp_dir().join(format!("oneloop-limits-dot-{}", std::process::id()));
    fs::create_dir_all(root.join(".well-known")).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join(".env"), "SECRET=1\n").unwrap();
    fs::write(root.join(".git/config"), "[core]\n").unwrap();
    fs::write(root.join(".well-known/security.txt"), "Contact: x\n").unwrap();
    for dotfiles in [false, true] {
        let server = start(Config {
            root: Some(root.clone()),
            dotfiles,
            ..Config::ephemeral()
        });
        let addr = server.http[0];
        let hidden = if dotfiles { 200 } else { 404 };
        assert_eq!(get(addr, &get_req("/.env")).status, hidden);
        assert_eq!(get(addr, &get_req("/.git/config")).status, hidden);
        assert_eq!(get(addr, &get_req("/%2eenv")).status, hidden, "encoded dot");
        assert_eq!(get(addr, &get_req("/.well-known/security.txt")).status, 200);
        server.stop().unwrap();
    }
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn datagrams_from_service_ports_are_dropped_by_default() {
    // Binding a port below 1024 needs privileges; without them there is
    // nothing to test here.
    let Ok(client) = UdpSocket::bind("127.0.0.1:1019") else {
        common::skip(
            "ONELOOP_REQUIRE_ROOT",
            "cannot bind a port below 1024 here (run as root)",
        );
        return;
    };
    client
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    for low_ports in [false, true] {
        let server = start(Config {
            udp_low_ports: low_ports,
            ..Config::ephemeral()
        });
        client.send_to(&[], server.time[0]).unwrap();
        let mut b = [0u8; 8];
        let answered = client.recv_from(&mut b).is_ok();
        assert_eq!(answered, low_ports, "low_ports = {low_ports}");
        server.stop().unwrap();
    }
}

/// The binary under a small RLIMIT_NOFILE: when descriptors run out,
/// accepting pauses (the loop stays near idle) and resumes as clients leave.
#[test]
fn descriptor_exhaustion_pauses_accepting_without_spinning() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oneloop"));
    cmd.args([
        "--http",
        "127.0.0.1:0",
        "--time",
        "127.0.0.1:0",
        "--max-conns",
        "1000",
    ])
    .env("RUST_LOG", "info")
    .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 48,
                rlim_max: 48,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = Reap(cmd.spawn().expect("start oneloop"));
    let stderr = child.0.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let line = lines.next().expect("start-up line").unwrap();
    std::thread::spawn(move || for _ in lines {});
    let start = line.find("serving HTTP on ").expect("address") + "serving HTTP on ".len();
    let addr: SocketAddr = line[start..].split(' ').next().unwrap().parse().unwrap();

    // More clients than descriptors: the first ones are served, the rest
    // wait in the backlog while accept fails with EMFILE.
    let mut clients: Vec<TcpStream> = Vec::new();
    for _ in 0..80 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(get_req("/hello.txt").as_bytes()).unwrap();
        clients.push(s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.0.id();
    let cpu = || {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<u64> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        f[10] + f[11] // utime + stime in clock ticks (fields 14 and 15)
    };
    let before = cpu();
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu() - before;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 10 < hz,
        "the loop used {used} ticks of {hz} in a second with the fd table full"
    );

    // Clients leave in turn; every one still waiting is served.
    let mut served = 0;
    for mut s in clients {
        s.set_read_timeout(Some(common::PATIENCE)).unwrap();
        let r = common::read_responses(&mut s, &[false]);
        assert_eq!(r[0].status, 200);
        served += 1;
    }
    assert_eq!(served, 80);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn udp_replies_can_be_capped_per_source() {
    let server = start(Config {
        udp_rate: 5,
        ..Config::ephemeral()
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    for _ in 0..20 {
        client.send_to(&[], server.time[0]).unwrap();
    }
    let mut b = [0u8; 8];
    let mut replies = 0;
    while client.recv_from(&mut b).is_ok() {
        replies += 1;
    }
    // Five a second; the burst may straddle a second boundary.
    assert!(
        (5..=10).contains(&replies),
        "{replies} replies to 20 datagrams"
    );
    // Another source has its own allowance.
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    other
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    other.send_to(&[], server.time[0]).unwrap();
    assert!(other.recv_from(&mut b).is_ok());
    server.stop().unwrap();
}

#[test]
fn the_health_page_is_ok_while_serving_and_503_once_draining() {
    let server = start(Config {
        health_path: Some("/healthz".into()),
        ..Config::ephemeral()
    });
    let addr = server.http[0];
    let mut s = connect(addr);
    let r = &exchange(&mut s, get_req("/healthz").as_bytes(), 1)[0];
    assert_eq!((r.status, r.text()), (200, "ok\n".to_string()));
    assert_eq!(
        get(addr, "GET /healthz?probe=1 HTTP/1.1\r\nHost: a\r\n\r\n").status,
        200
    );
    // A probe in progress when the drain begins is told 503 and closed.
    let mut probe = connect(addr);
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    server.handle().shutdown();
    std::thread::sleep(Duration::from_millis(100));
    probe.write_all(b"\r\n").unwrap();
    let r = &read_responses(&mut probe, &[false])[0];
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("shutting down"), "{}", r.text());
    assert_eq!(r.header("connection"), Some("close"));
    server.stop().unwrap();
}
