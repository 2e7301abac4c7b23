//! `oneloop rdate`: ask several RFC 868 servers the time at once.
//!
//! RFC 868 exists so that a host can "quickly confirm or correct a system's
//! idea of the time, by making a brief poll of several independent sites".
//! This client does exactly that on the same kind of loop as the server: one
//! `mio::Poll`, one token per query, every query in flight at once, one
//! deadline for them all. Debian's rdate asks one host and, over UDP, waits
//! forever for a lost reply; here a lost reply is a "timeout" line.
//!
//! Values are read relative to the local clock ([`crate::rfc868::decode_near`]),
//! so the 2036 wrap is handled; the offset is the server's time minus the
//! local time at the middle of the round trip. The clock is never set.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};

use crate::rfc868::{TIME_BYTES, decode_near};

/// Transport of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Connect, read four bytes.
    Tcp,
    /// Send an empty datagram, receive four bytes.
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// One server to ask, by one transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name as given on the command line.
    pub host: String,
    /// One of its resolved addresses.
    pub addr: SocketAddr,
    /// The transport.
    pub proto: Proto,
}

/// What one query came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server's time.
    Time {
        /// Seconds since the Unix epoch, in the era nearest the local clock.
        unix: i64,
        /// Round trip from sending (or connecting) to the reply.
        rtt: Duration,
        /// Server time minus local time at the middle of the round trip, in
        /// seconds (the protocol's resolution is one second).
        offset: f64,
    },
    /// Why there is no time: refused, timeout, short reply, an error.
    Failed(String),
}

/// A target and its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was asked.
    pub target: Target,
    /// What came back.
    pub outcome: Outcome,
}

/// The agreement of the answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many queries answered.
    pub answered: usize,
    /// Median offset of the answers, seconds.
    pub median_offset: Option<f64>,
    /// Largest minus smallest offset, seconds: how far the servers disagree.
    pub spread: Option<f64>,
}

/// Median and spread of the offsets of the answers.
pub fn summarize(reports: &[Report]) -> Summary {
    let mut offsets: Vec<f64> = reports
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Time { offset, .. } => Some(offset),
            Outcome::Failed(_) => None,
        })
        .collect();
    offsets.sort_by(f64::total_cmp);
    let n = offsets.len();
    let median = match n {
        0 => None,
        _ if n % 2 == 1 => Some(offsets[n / 2]),
        _ => Some((offsets[n / 2 - 1] + offsets[n / 2]) / 2.0),
    };
    Summary {
        answered: n,
        median_offset: median,
        spread: (n > 0).then(|| offsets[n - 1] - offsets[0]),
    }
}

/// A query in flight.
enum Socket {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

struct Query {
    socket: Socket,
    started: Instant,
    got: Vec<u8>,
    outcome: Option<Outcome>,
}

/// Asks every target at once and waits at most `timeout` for them all.
pub fn query(targets: &[Target], timeout: Duration) -> io::Result<Vec<Report>> {
    let poll = Poll::new()?;
    // A query that could not even start is its outcome already.
    let mut queries: Vec<Result<Query, Outcome>> = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        let started = Instant::now();
        let mut socket = match open(t) {
            Ok(socket) => socket,
            Err(e) => {
                queries.push(Err(Outcome::Failed(reason(&e))));
                continue;
            }
        };
        let token = Token(i);
        let registered = match &mut socket {
            Socket::Tcp(s) => poll.registry().register(s, token, Interest::READABLE),
            Socket::Udp(s) => poll.registry().register(s, token, Interest::READABLE),
        };
        queries.push(match registered {
            Ok(()) => Ok(Query {
                socket,
                started,
                got: Vec::new(),
                outcome: None,
            }),
            Err(e) => Err(Outcome::Failed(format!("epoll_ctl: {e}"))),
        });
    }
    let mut poll = poll;
    let deadline = Instant::now() + timeout;
    let mut events = Events::with_capacity(64);
    while queries
        .iter()
        .any(|q| matches!(q, Ok(q) if q.outcome.is_none()))
    {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match poll.poll(&mut events, Some(deadline - now)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            if let Some(Ok(q)) = queries.get_mut(event.token().0)
                && q.outcome.is_none()
            {
                q.outcome = on_readable(q);
            }
        }
    }
    Ok(targets
        .iter()
        .zip(queries)
        .map(|(t, q)| Report {
            target: t.clone(),
            outcome: match q {
                Ok(q) => q
                    .outcome
                    .unwrap_or_else(|| Outcome::Failed("timeout".into())),
                Err(outcome) => outcome,
            },
        })
        .collect())
}

/// Starts a query: a non-blocking connect, or a connected UDP socket that
/// has sent its empty request datagram.
fn open(t: &Target) -> io::Result<Socket> {
    match t.proto {
        Proto::Tcp => Ok(Socket::Tcp(TcpStream::connect(t.addr)?)),
        Proto::Udp => {
            let any: SocketAddr = if t.addr.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let s = UdpSocket::bind(any)?;
            s.connect(t.addr)?;
            s.send(&[])?;
            Ok(Socket::Udp(s))
        }
    }
}

/// Reads what arrived; returns the outcome once there is one.
fn on_readable(q: &mut Query) -> Option<Outcome> {
    let mut buf = [0u8; 16];
    loop {
        let read = match &mut q.socket {
            Socket::Tcp(s) => s.read(&mut buf),
            Socket::Udp(s) => s.recv(&mut buf),
        };
        match read {
            Ok(n) if matches!(q.socket, Socket::Udp(_)) => {
                return Some(if n == TIME_BYTES {
                    answer(&buf[..n], q.started)
                } else {
                    short(n)
                });
            }
            Ok(0) => return Some(short(q.got.len())),
            Ok(n) => {
                q.got.extend_from_slice(&buf[..n]);
                if q.got.len() >= TIME_BYTES {
                    let got = q.got.clone();
                    return Some(answer(&got[..TIME_BYTES], q.started));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A refused connect, or the ICMP "port unreachable" for UDP.
            Err(e) => return Some(Outcome::Failed(reason(&e))),
        }
    }
}

fn short(n: usize) -> Outcome {
    Outcome::Failed(format!("short reply ({n} of 4 bytes)"))
}

/// A four-byte reply read against the local clock.
fn answer(bytes: &[u8], started: Instant) -> Outcome {
    let rtt = started.elapsed();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let local_mid = now.as_secs_f64() - rtt.as_secs_f64() / 2.0;
    let value = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let unix = decode_near(value, local_mid as i64);
    // The value is the whole second the server was in; the middle of that
    // second is the best estimate of its clock (else every offset would be
    // half a second low on average).
    Outcome::Time {
        unix,
        rtt,
        offset: unix as f64 + 0.5 - local_mid,
    }
}

fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "refused".into(),
        io::ErrorKind::TimedOut => "timeout".into(),
        _ => e.to_string(),
    }
}

/// The reports as a table and a summary line.
pub fn render_text(reports: &[Report]) -> String {
    let mut out = format!(
        "{:<24} {:<28} {:<5} {:<31} {:>10} {:>9}\n",
        "HOST", "ADDRESS", "PROTO", "TIME", "RTT", "OFFSET"
    );
    for r in reports {
        let t = &r.target;
        let (time, rtt, offset) = match &r.outcome {
            Outcome::Time { unix, rtt, offset } => (
                crate::date::format((*unix).max(0) as u64),
                format!("{} ms", fixed(rtt.as_secs_f64() * 1000.0, 1)),
                format!("{} s", tenths(*offset)),
            ),
            Outcome::Failed(why) => (why.clone(), String::new(), String::new()),
        };
        let row = format!(
            "{:<24} {:<28} {:<5} {:<31} {:>10} {:>9}",
            t.host,
            t.addr.to_string(),
            t.proto.name(),
            time,
            rtt,
            offset
        );
        // A failed row has no RTT or offset: no padding for them either.
        out.push_str(row.trim_end());
        out.push('\n');
    }
    let s = summarize(reports);
    match (s.median_offset, s.spread) {
        // One answer: its offset is the whole story.
        (Some(offset), _) if s.answered == 1 => out.push_str(&format!(
            "1 of {} answered; offset {} s\n",
            reports.len(),
            tenths(offset)
        )),
        (Some(median), Some(spread)) => out.push_str(&format!(
            "{} of {} answered; median offset {} s; the answers disagree by {} s\n",
            s.answered,
            reports.len(),
            tenths(median),
            fixed(spread, 1)
        )),
        _ => out.push_str(&format!("none of {} answered\n", reports.len())),
    }
    out
}

/// Seconds to a tenth, signed, but never "-0.0" (nor "+0.0"): a zero is
/// a zero.
fn tenths(seconds: f64) -> String {
    match fixed(seconds, 1) {
        zero if zero == "0.0" => zero,
        minus if minus.starts_with('-') => minus,
        plus => format!("+{plus}"),
    }
}

/// `x` rounded to `places` decimals (at most 3), in integer arithmetic:
/// nothing else in the binary prints a float, and the standard library's
/// float printing weighs 20 KB. A zero is "0.0", never "-0.0".
fn fixed(x: f64, places: u32) -> String {
    let scale = 10u64.pow(places.min(3));
    let n = (x * scale as f64).round() as i64;
    let sign = if n < 0 { "-" } else { "" };
    let n = n.unsigned_abs();
    let width = places.min(3) as usize;
    format!("{sign}{}.{:0width$}", n / scale, n % scale)
}

/// The reports as JSON, for scripts.
pub fn render_json(reports: &[Report]) -> String {
    let items: Vec<String> = reports
        .iter()
        .map(|r| {
            let t = &r.target;
            let head = format!(
                "{{\"host\":{},\"address\":{},\"protocol\":\"{}\"",
                json_string(&t.host),
                json_string(&t.addr.to_string()),
                t.proto.name()
            );
            match &r.outcome {
                Outcome::Time { unix, rtt, offset } => format!(
                    "{head},\"ok\":true,\"unix\":{unix},\"rtt_ms\":{},\"offset_s\":{}}}",
                    fixed(rtt.as_secs_f64() * 1000.0, 3),
                    fixed(*offset, 3)
                ),
                Outcome::Failed(why) => {
                    format!("{head},\"ok\":false,\"error\":{}}}", json_string(why))
                }
            }
        })
        .collect();
    let s = summarize(reports);
    let num = |x: Option<f64>| x.map_or("null".to_string(), |v| fixed(v, 3));
    format!(
        "{{\"results\":[{}],\"answered\":{},\"median_offset_s\":{},\"spread_s\":{}}}\n",
        items.join(","),
        s.answered,
        num(s.median_offset),
        num(s.spread)
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A server as the command line names it, split into the host to resolve
/// and the port to ask: the forms a server's own `--time` takes and the
/// ones people type. `NAME`, `1.2.3.4`, `::1` and `[::1]` ask `port`;
/// `NAME:PORT`, `1.2.3.4:PORT` and `[::1]:PORT` ask PORT. Port 0 is not a
/// port anyone listens on.
pub fn host_port(spec: &str, port: u16) -> Result<(&str, u16), String> {
    let port_of = |p: &str| match p.parse::<u16>() {
        Ok(0) => Err(format!("{spec}: port 0 is not a port a server listens on")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{spec}: the port must be a number from 1 to 65535")),
    };
    if let Some(rest) = spec.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "{spec}: an IPv6 address opened with [ closes with ]"
            ));
        };
        return match after {
            "" => Ok((host, port)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((host, port_of(p)?)),
                None => Err(format!("{spec}: after [address] comes nothing or :PORT")),
            },
        };
    }
    match spec.split_once(':') {
        // One colon: NAME:PORT. More than one: a bare IPv6 address.
        Some((host, p)) if !p.contains(':') => Ok((host, port_of(p)?)),
        _ => Ok((spec, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_named_as_the_server_binds_them() {
        for (spec, want) in [
            ("time.example.net", Ok(("time.example.net", 37))),
            ("localhost:3737", Ok(("localhost", 3737))),
            ("192.0.2.1", Ok(("192.0.2.1", 37))),
            ("192.0.2.1:3737", Ok(("192.0.2.1", 3737))),
            ("::1", Ok(("::1", 37))),
            ("[::1]", Ok(("::1", 37))),
            ("[::1]:3737", Ok(("::1", 3737))),
            ("fe80::1:2", Ok(("fe80::1:2", 37))),
        ] {
            assert_eq!(host_port(spec, 37), want, "{spec}");
        }
        for bad in [
            "[::1",
            "[::1]x",
            "[::1]:",
            "localhost:",
            "localhost:0",
            "localhost:http",
            "[::1]:70000",
        ] {
            let e = host_port(bad, 37).expect_err(bad);
            assert!(e.starts_with(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn fixed_point_numbers_round_to_their_places_and_a_zero_has_no_sign() {
        assert_eq!(fixed(1.25, 1), "1.3");
        assert_eq!(fixed(-1.24, 1), "-1.2");
        assert_eq!(fixed(0.0004, 3), "0.000");
        assert_eq!(fixed(-0.0004, 3), "0.000");
        assert_eq!(fixed(12.3456, 3), "12.346");
        assert_eq!(fixed(-0.05, 3), "-0.050");
        assert_eq!(tenths(0.04), "0.0");
        assert_eq!(tenths(-0.04), "0.0");
        assert_eq!(tenths(2.0), "+2.0");
        assert_eq!(tenths(-3.46), "-3.5");
    }

    fn report(offset: Option<f64>) -> Report {
        Report {
            target: Target {
                host: "h\"x".into(),
                addr: "127.0.0.1:37".parse().unwrap(),
                proto: Proto::Udp,
            },
            outcome: match offset {
                Some(offset) => Outcome::Time {
                    unix: 1,
                    rtt: Duration::from_millis(2),
                    offset,
                },
                None => Outcome::Failed("timeout".into()),
            },
        }
    }

    #[test]
    fn summary_median_and_spread() {
        // (offsets, or None for a failure; median; spread)
        type Case<'a> = (&'a [Option<f64>], Option<f64>, Option<f64>);
        let cases: &[Case] = &[
            (&[None, None], None, None),
            (&[Some(1.0)], Some(1.0), Some(0.0)),
            (
                &[Some(3.0), None, Some(-1.0), Some(0.5)],
                Some(0.5),
                Some(4.0),
            ),
            (&[Some(2.0), Some(0.0)], Some(1.0), Some(2.0)),
        ];
        for (offsets, median, spread) in cases {
            let reports: Vec<Report> = offsets.iter().map(|o| report(*o)).collect();
            let s = summarize(&reports);
            assert_eq!(
                (s.median_offset, s.spread),
                (*median, *spread),
                "{offsets:?}"
            );
        }
    }

    #[test]
    fn text_says_zero_plainly_and_no_spread_for_one_answer() {
        let text = render_text(&[report(Some(-0.01)), report(None)]);
        assert!(text.contains(" 0.0 s"), "{text}");
        assert!(!text.contains("-0.0") && !text.contains("+0.0"), "{text}");
        assert!(text.ends_with("1 of 2 answered; offset 0.0 s\n"), "{text}");
        assert!(!text.contains("disagree"), "{text}");
        // The failed row ends where its words do.
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text:?}");
        let text = render_text(&[report(Some(-1.26)), report(Some(0.5))]);
        assert!(
            text.ends_with(
                "2 of 2 answered; median offset -0.4 s; the answers disagree by 1.8 s\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn json_escapes_and_reports_failures() {
        let json = render_json(&[report(None), report(Some(0.25))]);
        assert!(json.contains("\"host\":\"h\\\"x\""), "{json}");
        assert!(
            json.contains("\"ok\":false,\"error\":\"timeout\""),
            "{json}"
        );
        assert!(json.contains("\"offset_s\":0.250"), "{json}");
        assert!(
            json.ends_with("\"answered\":1,\"median_offset_s\":0.250,\"spread_s\":0.000}\n"),
            "{json}"
        );
    }
}
