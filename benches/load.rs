//! The load bench: `cargo bench --bench load [-- SECONDS]`.
//!
//! Starts the release server on ephemeral-free fixed loopback ports, pinned
//! to CPU 0 when `taskset` exists, and drives it from CPU 1:
//!
//! - wrk (when installed): keep-alive, 16-deep pipelining, `Connection: close`;
//! - RFC 868 over TCP and UDP from the load generator below (wrk has no
//!   RFC 868 mode), which checks every reply against the local clock.
//!
//! It prints a markdown table with each figure and the server's CPU time per
//! operation, read from /proc. For the side-by-side comparison with nginx,
//! lighttpd and h2o, use `benches/compare/compare.py` (see the README, Benchmark).

use std::io::Read;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HTTP: &str = "127.0.0.1:18480";
const TIME: &str = "127.0.0.1:18437";

const PIPELINE_LUA: &str = r#"
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(nil) end
  req = table.concat(r)
end
request = function() return req end
"#;

fn main() {
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let taskset = have("taskset");
    let mut server = start_server(taskset);
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.id();
    println!("| scenario | figure | server CPU us/op |");
    println!("|---|---|---|");
    if have("wrk") {
        let lua = std::env::temp_dir().join("oneloop-pipeline.lua");
        std::fs::write(&lua, PIPELINE_LUA).expect("write the wrk script");
        let url = format!("http://{HTTP}/hello.txt");
        let lua = lua.to_string_lossy().into_owned();
        let cases: [(&str, Vec<&str>); 3] = [
            ("keep-alive, 100 conns", vec!["-c100", &url]),
            ("pipelined x16, 100 conns", vec!["-c100", "-s", &lua, &url]),
            (
                "Connection: close, 50 conns",
                vec!["-c50", "-H", "Connection: close", &url],
            ),
        ];
        for (name, args) in cases {
            let before = cpu_seconds(pid);
            let out = load(
                taskset,
                "wrk",
                &[&["-t1", "-d", &format!("{secs}s")], &args[..]].concat(),
            );
            let cpu = cpu_seconds(pid) - before;
            let requests = field(&out, " requests in").unwrap_or(0.0);
            let rate = field(&out, "Requests/sec:").unwrap_or(0.0);
            println!(
                "| {name} | {rate:.0} req/s | {:.2} |",
                cpu * 1e6 / requests.max(1.0)
            );
        }
    } else {
        println!("| HTTP | wrk not installed: `apt-get install wrk` | |");
    }
    for udp in [false, true] {
        let before = cpu_seconds(pid);
        let (ops, bad) = if udp { udp_load(secs) } else { tcp_load(secs) };
        let cpu = cpu_seconds(pid) - before;
        let name = if udp {
            "RFC 868 UDP, 50 in flight"
        } else {
            "RFC 868 TCP, 50 clients"
        };
        let unit = if udp { "replies/s" } else { "conn/s" };
        println!(
            "| {name} | {:.0} {unit}{} | {:.2} |",
            ops as f64 / secs as f64,
            if bad > 0 {
                format!(" ({bad} bad)")
            } else {
                String::new()
            },
            cpu * 1e6 / ops.max(1) as f64
        );
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = server.wait();
}

fn start_server(taskset: bool) -> Child {
    let bin = env!("CARGO_BIN_EXE_oneloop");
    let args = ["--http", HTTP, "--time", TIME];
    let mut cmd = if taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", bin]);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("start the server")
}

/// Runs a load tool on CPU 1 and returns its output.
fn load(taskset: bool, tool: &str, args: &[&str]) -> String {
    let out = if taskset {
        Command::new("taskset")
            .args(["-c", "1", tool])
            .args(args)
            .output()
    } else {
        Command::new(tool).args(args).output()
    };
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The number before (or after) a marker in wrk's output.
fn field(out: &str, marker: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.contains(marker))?;
    if marker.starts_with(' ') {
        line.split_whitespace().next()?.parse().ok()
    } else {
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|u| u.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
    // SAFETY: sysconf has no memory effects.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Whether a reply is within two seconds of our clock, in the nearest era.
fn plausible(reply: [u8; 4]) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (oneloop::rfc868::decode_near(reply, now) - now).abs() <= 2
}

fn pin_to_cpu1() {
    // SAFETY: cpu_set_t is plain data; sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(1, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// 50 clients, each connecting, reading four bytes and closing, in a loop.
fn tcp_load(secs: u64) -> (u64, u64) {
    let addr: SocketAddr = TIME.parse().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let (ops, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (stop, ops, bad) = (stop.clone(), ops.clone(), bad.clone());
            std::thread::spawn(move || {
                pin_to_cpu1();
                while !stop.load(Ordering::Relaxed) {
                    let mut reply = [0u8; 4];
                    let ok = TcpStream::connect(addr)
                        .and_then(|mut s| s.read_exact(&mut reply))
                        .is_ok();
                    if ok && plausible(reply) {
                        ops.fetch_add(1, Ordering::Relaxed);
                    } else {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    (ops.load(Ordering::Relaxed), bad.load(Ordering::Relaxed))
}

/// One socket keeping 50 datagrams in flight; a lost one is replaced after
/// a short timeout.
fn udp_load(secs: u64) -> (u64, u64) {
    pin_to_cpu1();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.connect(TIME).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    for _ in 0..50 {
        let _ = sock.send(&[]);
    }
    let (mut ops, mut bad) = (0, 0);
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = [0u8; 16];
    while Instant::now() < end {
        match sock.recv(&mut buf) {
            Ok(4) if plausible([buf[0], buf[1], buf[2], buf[3]]) => ops += 1,
            Ok(_) => bad += 1,
            Err(_) => {
                for _ in 0..50 {
                    let _ = sock.send(&[]);
                }
                continue;
            }
        }
        let _ = sock.send(&[]);
    }
    (ops, bad)
}
