//! Counters, loop counts and sampled gauges, rendered as Prometheus text.
//!
//! What the loop has done, counted as it goes and rendered on request in
//! Prometheus' text exposition format (version 0.0.4).
//!
//! Counting is a plain `u64` increment where the thing happens: one thread
//! owns everything, so there are no atomics and nothing to lock. The
//! connection-state gauges are the exception: they are sampled once a
//! second by walking the slab, because keeping them exact would put
//! bookkeeping on every state change of every connection, and a gauge a
//! second old is what a scraper sees anyway.
//!
//! Served at `--metrics-path` (off by default): the page is meant for a
//! Prometheus scraper on the same host or network, and says nothing a port
//! scan would not.

use std::cell::Cell;
use std::fmt::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::rfc868::TimeStats;

/// Connections by what they are doing, sampled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConnStates {
    /// A request head or body is arriving.
    pub reading: u64,
    /// Response bytes wait to be sent.
    pub writing: u64,
    /// Between requests, nothing to do.
    pub idle: u64,
    /// Closing, discarding what the client still sends.
    pub lingering: u64,
}

/// What the loop did, counted where it happens with one add each: the live
/// page divides them into events per wakeup, responses per write, bytes
/// per write and syscalls per response. On plain HTTP every syscall the
/// loop makes is in exactly one of them, so their sum is the loop's own
/// count. Over HTTPS, `reads` and `writes` count calls to the TLS stream,
/// which usually make one syscall each but may make more (a read goes on
/// until it has plaintext or the socket is empty; a write sends records
/// held from before first): the sum is then a floor.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LoopCounts {
    /// Returns from `epoll_wait`: wakeups.
    pub wakeups: u64,
    /// Events those wakeups carried.
    pub events: u64,
    /// Pauses (`nanosleep`) a busy loop took before polling without
    /// blocking ([`crate::coalesce`]); each poll is also a wakeup.
    pub coalesced: u64,
    /// Polls that found nothing while the loop looked before blocking
    /// ([`crate::coalesce`]): each is an `epoll_wait` that returned at once.
    pub spins: u64,
    /// `read` calls on HTTP connections, those that found nothing included.
    pub reads: u64,
    /// `send`, `writev`, `sendmsg` and `sendfile` calls on HTTP connections.
    pub writes: u64,
    /// The other HTTP syscalls: `accept`, `epoll_ctl`, `shutdown`, `close`.
    pub other: u64,
}

impl LoopCounts {
    /// Every syscall counted.
    pub fn syscalls(&self) -> u64 {
        self.wakeups + self.spins + self.coalesced + self.reads + self.writes + self.other
    }
}

/// How a TLS handshake ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Done with a full handshake.
    Full,
    /// Done by resuming an earlier session.
    Resumed,
    /// Failed, and why.
    Failed(TlsFailure),
}

/// Why a TLS handshake failed, as rustls says (and `Closed`: the client
/// left first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// Bytes that are no TLS message.
    Malformed,
    /// Nothing in common (versions, suites, ALPN).
    Incompatible,
    /// The client broke the protocol.
    Misbehaved,
    /// The client sent an alert.
    Alert,
    /// The client closed before the handshake ended.
    Closed,
    /// Anything else rustls reported.
    Other,
}

impl TlsFailure {
    /// Every reason, in the order of [`TlsCounts`]' array.
    pub const ALL: [TlsFailure; 6] = [
        TlsFailure::Malformed,
        TlsFailure::Incompatible,
        TlsFailure::Misbehaved,
        TlsFailure::Alert,
        TlsFailure::Closed,
        TlsFailure::Other,
    ];

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            TlsFailure::Malformed => "malformed",
            TlsFailure::Incompatible => "incompatible",
            TlsFailure::Misbehaved => "misbehaved",
            TlsFailure::Alert => "alert",
            TlsFailure::Closed => "closed",
            TlsFailure::Other => "other",
        }
    }
}

/// TLS handshakes, counted by each TLS stream the moment its handshake
/// ends. The streams and the metrics share one of these (`Rc`, hence the
/// cells): a handshake ends inside a stream's read, where no `&mut
/// Metrics` reaches, and it is reported there once, as a value, rather
/// than asked about after every event.
#[derive(Debug, Default)]
pub struct TlsCounts {
    full: Cell<u64>,
    resumed: Cell<u64>,
    failed: [Cell<u64>; 6],
}

impl TlsCounts {
    /// Counts one handshake's end.
    pub fn count(&self, handshake: Handshake) {
        let cell = match handshake {
            Handshake::Full => &self.full,
            Handshake::Resumed => &self.resumed,
            Handshake::Failed(why) => &self.failed[why as usize],
        };
        cell.set(cell.get() + 1);
    }

    /// How many handshakes ended this way.
    pub fn get(&self, handshake: Handshake) -> u64 {
        match handshake {
            Handshake::Full => self.full.get(),
            Handshake::Resumed => self.resumed.get(),
            Handshake::Failed(why) => self.failed[why as usize].get(),
        }
    }
}

/// What a connection waits for, and so which deadline applies (and, when
/// one passes, why it was closed); see [`crate::config::Timeouts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// For the rest of a request head (or of the TLS handshake).
    Head,
    /// For the next request on a keep-alive connection.
    Idle,
    /// For the client to read its response.
    Send,
    /// For the client's FIN, during a lingering close.
    Linger,
}

/// Everything counted.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP connections accepted.
    pub accepted: u64,
    /// HTTP connections open now (exact), HTTPS included.
    pub open: u64,
    /// HTTPS connections open now.
    pub https_open: u64,
    /// TLS handshakes, shared with every TLS stream (see [`TlsCounts`]).
    pub tls: Rc<TlsCounts>,
    /// HTTP/2 connections, streams and the frames that end them.
    pub h2: H2Counts,
    /// HTTP/3 and the QUIC beneath it.
    pub h3: H3Counts,
    /// HTTP connections by state (sampled once a second).
    pub states: ConnStates,
    /// HTTP responses by status class, 1xx to 5xx.
    pub responses: [u64; 5],
    /// Bytes written to HTTP connections (heads and bodies).
    pub sent_bytes: u64,
    /// The RFC 868 services.
    pub time: TimeStats,
    /// The loop's wakeups and syscalls.
    pub io: LoopCounts,
    /// Connections closed at a deadline, by what each waited for ([`Waiting`]).
    pub timeouts: [u64; 4],
    /// Times accepting paused at the connection cap.
    pub paused_at_cap: u64,
    /// Times accepting paused for lack of descriptors or memory.
    pub paused_no_resources: u64,
    /// Unix second the server started.
    pub started: u64,
    /// When the server started, on the monotonic clock: the uptime lets a
    /// reader compute rates from the server's clock, not its own.
    pub started_at: Option<Instant>,
}

/// HTTP/2's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct H2Counts {
    /// Connections that spoke HTTP/2.
    pub connections: u64,
    /// Streams a client opened (requests).
    pub streams: u64,
    /// Frames received.
    pub frames_received: u64,
    /// RST_STREAM received and sent.
    pub resets_received: u64,
    pub resets_sent: u64,
    /// GOAWAY received and sent.
    pub goaways_received: u64,
    pub goaways_sent: u64,
}

/// HTTP/3's counters, and QUIC's datagrams.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct H3Counts {
    /// QUIC connections taken.
    pub connections: u64,
    /// QUIC connections open now.
    pub open: u64,
    /// Requests (client streams that carried one).
    pub streams: u64,
    /// Initials sent a Retry (address validation), or refused at the cap.
    pub retries: u64,
    pub refused: u64,
    /// Datagrams received and sent.
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    /// The syscalls that moved them: `recvmmsg` and `sendmsg`.
    pub recv_calls: u64,
    pub send_calls: u64,
    /// QUIC packets sent, and of them declared lost (their frames sent
    /// again in new packets): quinn's counts, folded in once a second and
    /// when a connection ends.
    pub packets_sent: u64,
    pub packets_lost: u64,
    /// The smoothed round-trip time (RFC 9002 §5.3) averaged over the open
    /// connections past their handshake, in microseconds: a gauge, sampled
    /// once a second (0 with none).
    pub rtt_micros: u64,
}

impl H2Counts {
    /// Adds `other` to these.
    pub fn add(&mut self, other: &H2Counts) {
        self.connections += other.connections;
        self.streams += other.streams;
        self.frames_received += other.frames_received;
        self.resets_received += other.resets_received;
        self.resets_sent += other.resets_sent;
        self.goaways_received += other.goaways_received;
        self.goaways_sent += other.goaways_sent;
    }
}

impl Metrics {
    /// Counts a response with status `code`.
    pub fn response(&mut self, code: u16) {
        let class = (code / 100).clamp(1, 5) as usize;
        self.responses[class - 1] += 1;
    }

    /// Counts a deadline closing a connection.
    pub fn timeout(&mut self, kind: Waiting) {
        self.timeouts[kind as usize] += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(3072);
        let uptime = self.started_at.map_or(Duration::ZERO, |t| t.elapsed());
        let _ = writeln!(
            out,
            "# HELP oneloop_uptime_seconds Seconds since the server started (monotonic).\n# TYPE oneloop_uptime_seconds gauge\noneloop_uptime_seconds {}.{:03}",
            uptime.as_secs(),
            uptime.subsec_millis()
        );
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(
                out,
                "# HELP oneloop_{name} {help}\n# TYPE oneloop_{name} {kind}"
            );
            for (labels, value) in samples {
                let _ = writeln!(out, "oneloop_{name}{labels} {value}");
            }
        };
        metric(
            "start_time_seconds",
            "gauge",
            "Unix time the server started.",
            &[("", self.started)],
        );
        metric(
            "http_connections_accepted_total",
            "counter",
            "HTTP connections accepted.",
            &[("", self.accepted)],
        );
        let h2 = &self.h2;
        metric(
            "http2_connections_total",
            "counter",
            "Connections that spoke HTTP/2 (by ALPN or by preface).",
            &[("", h2.connections)],
        );
        metric(
            "http2_streams_total",
            "counter",
            "HTTP/2 streams opened by clients (requests).",
            &[("", h2.streams)],
        );
        metric(
            "http2_frames_received_total",
            "counter",
            "HTTP/2 frames received.",
            &[("", h2.frames_received)],
        );
        metric(
            "http2_resets_total",
            "counter",
            "HTTP/2 RST_STREAM frames, by direction.",
            &[
                ("{direction=\"received\"}", h2.resets_received),
                ("{direction=\"sent\"}", h2.resets_sent),
            ],
        );
        metric(
            "http2_goaways_total",
            "counter",
            "HTTP/2 GOAWAY frames, by direction.",
            &[
                ("{direction=\"received\"}", h2.goaways_received),
                ("{direction=\"sent\"}", h2.goaways_sent),
            ],
        );
        let h3 = &self.h3;
        metric(
            "http3_connections_total",
            "counter",
            "QUIC connections taken for HTTP/3.",
            &[("", h3.connections)],
        );
        metric(
            "http3_connections_open",
            "gauge",
            "QUIC connections open now.",
            &[("", h3.open)],
        );
        metric(
            "http3_streams_total",
            "counter",
            "HTTP/3 requests (client streams).",
            &[("", h3.streams)],
        );
        metric(
            "quic_initials_total",
            "counter",
            "QUIC Initials not taken at once, by what they got: a Retry (address validation under load) or a refusal (at --max-conns).",
            &[
                ("{answer=\"retry\"}", h3.retries),
                ("{answer=\"refused\"}", h3.refused),
            ],
        );
        metric(
            "quic_datagrams_total",
            "counter",
            "QUIC datagrams, by direction.",
            &[
                ("{direction=\"received\"}", h3.datagrams_in),
                ("{direction=\"sent\"}", h3.datagrams_out),
            ],
        );
        metric(
            "quic_syscalls_total",
            "counter",
            "The syscalls that moved QUIC's datagrams: recvmmsg (a batch in) and sendmsg (a train out, with UDP GSO).",
            &[
                ("{call=\"recvmmsg\"}", h3.recv_calls),
                ("{call=\"sendmsg\"}", h3.send_calls),
            ],
        );
        metric(
            "quic_packets_total",
            "counter",
            "QUIC packets sent, and of them declared lost (what they carried is sent again); folded in once a second and at each connection's end.",
            &[
                ("{outcome=\"sent\"}", h3.packets_sent),
                ("{outcome=\"lost\"}", h3.packets_lost),
            ],
        );
        metric(
            "http_connections_open",
            "gauge",
            "HTTP connections open now.",
            &[("", self.open)],
        );
        metric(
            "https_connections_open",
            "gauge",
            "HTTPS connections open now.",
            &[("", self.https_open)],
        );
        metric(
            "tls_handshakes_total",
            "counter",
            "TLS handshakes done, full or resumed.",
            &[
                ("{kind=\"full\"}", self.tls.get(Handshake::Full)),
                ("{kind=\"resumed\"}", self.tls.get(Handshake::Resumed)),
            ],
        );
        let failed: Vec<(String, u64)> = TlsFailure::ALL
            .iter()
            .map(|&why| {
                let n = self.tls.get(Handshake::Failed(why));
                (format!("{{reason=\"{}\"}}", why.label()), n)
            })
            .collect();
        let failed: Vec<(&str, u64)> = failed.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        metric(
            "tls_handshake_failures_total",
            "counter",
            "TLS handshakes that failed, by reason.",
            &failed,
        );
        let s = self.states;
        metric(
            "http_connections",
            "gauge",
            "HTTP connections by state, sampled once a second.",
            &[
                ("{state=\"reading\"}", s.reading),
                ("{state=\"writing\"}", s.writing),
                ("{state=\"idle\"}", s.idle),
                ("{state=\"lingering\"}", s.lingering),
            ],
        );
        let r = self.responses;
        metric(
            "http_responses_total",
            "counter",
            "HTTP responses by status class.",
            &[
                ("{class=\"1xx\"}", r[0]),
                ("{class=\"2xx\"}", r[1]),
                ("{class=\"3xx\"}", r[2]),
                ("{class=\"4xx\"}", r[3]),
                ("{class=\"5xx\"}", r[4]),
            ],
        );
        metric(
            "http_sent_bytes_total",
            "counter",
            "Bytes written to HTTP connections, heads and bodies.",
            &[("", self.sent_bytes)],
        );
        let t = self.timeouts;
        metric(
            "http_timeouts_total",
            "counter",
            "HTTP connections closed at a deadline, by deadline.",
            &[
                ("{deadline=\"head\"}", t[Waiting::Head as usize]),
                ("{deadline=\"idle\"}", t[Waiting::Idle as usize]),
                ("{deadline=\"send\"}", t[Waiting::Send as usize]),
                ("{deadline=\"linger\"}", t[Waiting::Linger as usize]),
            ],
        );
        let io = self.io;
        metric(
            "loop_wakeups_total",
            "counter",
            "Returns from epoll_wait.",
            &[("", io.wakeups)],
        );
        metric(
            "loop_events_total",
            "counter",
            "Readiness events handled.",
            &[("", io.events)],
        );
        metric(
            "loop_coalesced_total",
            "counter",
            "Polls a busy loop made after a short pause rather than blocking.",
            &[("", io.coalesced)],
        );
        metric(
            "loop_spin_polls_total",
            "counter",
            "Polls that found nothing while the loop looked before blocking.",
            &[("", io.spins)],
        );
        metric(
            "http_syscalls_total",
            "counter",
            "System calls the loop made for HTTP, by call (epoll_wait: every wakeup and every empty look).",
            &[
                ("{call=\"epoll_wait\"}", io.wakeups + io.spins),
                ("{call=\"nanosleep\"}", io.coalesced),
                ("{call=\"read\"}", io.reads),
                ("{call=\"write\"}", io.writes),
                ("{call=\"other\"}", io.other),
            ],
        );
        metric(
            "accept_pauses_total",
            "counter",
            "Times accepting paused, by reason.",
            &[
                ("{reason=\"connection_cap\"}", self.paused_at_cap),
                ("{reason=\"no_resources\"}", self.paused_no_resources),
            ],
        );
        metric(
            "time_replies_total",
            "counter",
            "RFC 868 replies sent, by transport.",
            &[
                ("{transport=\"tcp\"}", self.time.tcp_replies),
                ("{transport=\"udp\"}", self.time.udp_replies),
            ],
        );
        metric(
            "time_rejected_total",
            "counter",
            "RFC 868 requests not answered, by reason.",
            &[
                ("{reason=\"udp_policy\"}", self.time.udp_dropped),
                ("{reason=\"no_clock\"}", self.time.no_clock),
            ],
        );
        let rtt = self.h3.rtt_micros;
        let _ = writeln!(
            out,
            "# HELP oneloop_quic_rtt_seconds Smoothed round-trip time of QUIC connections, averaged over those open, sampled once a second.\n# TYPE oneloop_quic_rtt_seconds gauge\noneloop_quic_rtt_seconds {}.{:06}",
            rtt / 1_000_000,
            rtt % 1_000_000
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_is_prometheus_text() {
        let mut m = Metrics {
            accepted: 3,
            started: 1_000_000_000,
            ..Metrics::default()
        };
        m.response(200);
        m.response(304);
        m.response(404);
        m.response(404);
        m.timeout(Waiting::Send);
        m.time.udp_replies = 7;
        m.io.wakeups = 5;
        m.io.writes = 9;
        let text = m.render();
        for line in [
            "oneloop_http_connections_accepted_total 3",
            "oneloop_http_responses_total{class=\"2xx\"} 1",
            "oneloop_http_responses_total{class=\"3xx\"} 1",
            "oneloop_http_responses_total{class=\"4xx\"} 2",
            "oneloop_http_timeouts_total{deadline=\"send\"} 1",
            "oneloop_time_replies_total{transport=\"udp\"} 7",
            "oneloop_start_time_seconds 1000000000",
            "oneloop_loop_wakeups_total 5",
            "oneloop_http_syscalls_total{call=\"write\"} 9",
            "# TYPE oneloop_http_connections gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        // Every sample line is `name{labels} value`, after its HELP and TYPE.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(name.starts_with("oneloop_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
