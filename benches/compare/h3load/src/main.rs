//! h3load: an HTTP/3 load generator that prints h2load's summary, for benches/compare/compare.py.
//!
//! One thread (tokio's current_thread runtime), quinn for QUIC (rustls + ring), h3 + h3-quinn
//! for HTTP/3. ALPN h3 only; the server's certificate is not checked (loopback benchmarks).
//!
//!   h3load -c CONNS -m STREAMS -D SECONDS URL      run for SECONDS after every connection is up
//!   h3load -c CONNS -m STREAMS -n TOTAL URL        run until TOTAL requests are done
//!   h3load --hold N --seconds S URL                N idle connections after one request each
//!
//! See `h3load --help` and ../README.md.

use std::cell::{Cell, RefCell};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};

// a request allocates a few dozen small blocks (h3's headers, QPACK, quinn's streams): mimalloc
// costs less CPU per request than glibc's malloc here (no_thp: its arenas in huge pages grew
// the RSS to 230 MB and spent ~9% of the time zeroing them)
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

const USAGE: &str = "\
usage: h3load [OPTIONS] URL
An HTTP/3 load generator (quinn + h3, one thread) whose summary has h2load's shape.
Requests GET URL (https://HOST:PORT/PATH, over QUIC on UDP PORT, ALPN h3, no
certificate check) and reads every body to its end.

  -c, --clients=N            QUIC connections (default 1)
  -m, --max-concurrent-streams=N
                             requests in flight on each connection (default 1)
  -D, --duration=SECONDS     run this long once every connection is up (timing-based, like h2load -D)
  -n, --requests=N           or run until N requests in all are done (default 1)
      --check-sha256=HEX     count a body whose SHA-256 differs as failed
      --endpoints=N          UDP sockets the connections share, round robin (default 0: one each)
      --connect-timeout=SECONDS  a QUIC handshake that takes longer fails (default 5)
      --parallel-connects=N  handshakes under way at once (default 100)
      --hold=N               memory mode: open N connections, one request on each, print
                             'open=N answered=M', then keep them open (PINGs every 5 s)
      --seconds=S            ... for S seconds (default 30), then close them
  -t, --threads=1            accepted for h2load compatibility; h3load always uses one
  -h, --help

Output: h2load's lines ('finished in ..., N req/s, X MB/s', 'requests: ...',
'status codes: ...', 'traffic: ...', the min/max/mean table) and wrk's
'Latency Distribution' (50/75/90/99%) of the requests' times. 'traffic' total
is the UDP payload received; header bytes are the decoded fields (QPACK's
savings are not measured, shown as 0.00%). The clock starts once every
connection's handshake has finished (or failed), so connection set-up is not in
the rate; requests still in flight when -D runs out are started, not done.";

struct Config {
    conns: usize,
    streams: usize,
    duration: Option<f64>,
    total: u64,
    url: http::Uri,
    addr: SocketAddr,
    server_name: String,
    sha256: Option<Vec<u8>>,
    endpoints: usize,
    connect_timeout: Duration,
    parallel_connects: usize,
    hold: Option<usize>,
    hold_secs: f64,
}

fn die(msg: &str) -> ! {
    eprintln!("h3load: {msg}\n(h3load --help for usage)");
    std::process::exit(2)
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| die(&format!("bad value for {name}: {v:?}")))
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..32).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect()
}

fn parse_args() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut conns, mut streams, mut duration, mut total) = (1usize, 1usize, None, None);
    let (mut sha256, mut endpoints, mut connect_timeout, mut parallel) = (None, 0usize, 5.0f64, 100usize);
    let (mut hold, mut hold_secs, mut url) = (None, 30.0f64, None);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        // -cN, -c N, --clients=N, --clients N
        let (key, inline): (&str, Option<String>) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (long, None),
            }
        } else if a.starts_with('-') && a.len() >= 2 && !a[1..].starts_with(|c: char| c.is_ascii_digit()) {
            let k = &a[1..2];
            (k, if a.len() > 2 { Some(a[2..].to_string()) } else { None })
        } else {
            if url.is_some() {
                die(&format!("one URL only; also got {a:?}"));
            }
            url = Some(a.clone());
            continue;
        };
        let mut value = || -> String {
            if let Some(v) = inline.clone() {
                return v;
            }
            if i >= args.len() {
                die(&format!("{a} needs a value"));
            }
            i += 1;
            args[i - 1].clone()
        };
        match key {
            "c" | "clients" => conns = parse_num(key, &value()),
            "m" | "max-concurrent-streams" => streams = parse_num(key, &value()),
            "D" | "duration" => duration = Some(parse_num::<f64>(key, value().trim_end_matches('s'))),
            "n" | "requests" => total = Some(parse_num::<u64>(key, &value())),
            "t" | "threads" => {
                let t: usize = parse_num(key, &value());
                if t != 1 {
                    eprintln!("h3load: one thread only; -t {t} ignored");
                }
            }
            "check-sha256" => {
                let v = value();
                sha256 = Some(hex_decode(&v.to_ascii_lowercase()).unwrap_or_else(|| die("--check-sha256 takes 64 hex digits")))
            }
            "endpoints" => endpoints = parse_num(key, &value()),
            "connect-timeout" => connect_timeout = parse_num(key, &value()),
            "parallel-connects" => parallel = parse_num(key, &value()),
            "hold" => hold = Some(parse_num::<usize>(key, &value())),
            "seconds" => hold_secs = parse_num(key, &value()),
            _ => die(&format!("unknown option {a}")),
        }
    }
    let url = url.unwrap_or_else(|| die("no URL"));
    let uri: http::Uri = url.parse().unwrap_or_else(|_| die(&format!("bad URL {url:?}")));
    if uri.scheme_str() != Some("https") {
        die("the URL must be https:// (HTTP/3 runs over QUIC with TLS)");
    }
    let host = uri.host().unwrap_or_else(|| die("the URL has no host")).trim_matches(|c| c == '[' || c == ']').to_string();
    let port = uri.port_u16().unwrap_or(443);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| die(&format!("cannot resolve {host}")));
    if duration.is_some() && total.is_some() {
        die("-D and -n exclude each other");
    }
    if conns == 0 || streams == 0 {
        die("-c and -m must be at least 1");
    }
    if let Some(d) = duration {
        if d.is_nan() || d <= 0.0 {
            die("-D must be above 0");
        }
    }
    Config {
        conns,
        streams,
        total: if duration.is_some() { u64::MAX } else { total.unwrap_or(1) },
        duration,
        url: uri,
        addr,
        server_name: host,
        sha256,
        endpoints,
        connect_timeout: Duration::from_secs_f64(connect_timeout),
        parallel_connects: parallel.max(1),
        hold,
        hold_secs,
    }
}

// ---------------------------------------------------------------- QUIC set-up

/// Accepts any certificate (a benchmark on loopback), but still checks the handshake's signature.
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config(keep_alive: bool) -> quinn::ClientConfig {
    // ring, as asked of this tool (its deprecation in rustls 0.23.48 is for lacking post-quantum
    // key exchange, which a loopback benchmark does not need)
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    // AES-128-GCM first, as h2load (OpenSSL) offers it
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 1,
        _ => 2,
    });
    let provider = Arc::new(provider);
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS config");
    let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
    let mut tr = quinn::TransportConfig::default();
    // windows as wide as h2load's (-w 30 / -W 30 give 1 GiB); 16 MiB per stream is past any file here
    tr.stream_receive_window(quinn::VarInt::from_u32(16 << 20));
    tr.receive_window(quinn::VarInt::from_u32(1 << 30));
    tr.max_concurrent_bidi_streams(quinn::VarInt::from_u32(0)); // the server opens none
    tr.max_idle_timeout(Some(quinn::IdleTimeout::try_from(Duration::from_secs(60)).unwrap()));
    if keep_alive {
        tr.keep_alive_interval(Some(Duration::from_secs(5)));
    }
    cfg.transport_config(Arc::new(tr));
    cfg
}

fn set_buf(sock: &UdpSocket, force: libc::c_int, plain: libc::c_int, size: libc::c_int) {
    use std::os::fd::AsRawFd;
    let fd = sock.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    let p = &size as *const libc::c_int as *const libc::c_void;
    // SAFETY: setsockopt on a socket we own, with a c_int option value
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, force, p, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, plain, p, len); // not root: capped by net.core.*mem_max
        }
    }
}

fn endpoint(cfg: &Config, client: &quinn::ClientConfig) -> quinn::Endpoint {
    let bind: SocketAddr = if cfg.addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().unwrap();
    let bind = if cfg.addr.ip().is_loopback() { SocketAddr::new(cfg.addr.ip(), 0) } else { bind };
    let sock = UdpSocket::bind(bind).unwrap_or_else(|e| die(&format!("UDP socket: {e}")));
    set_buf(&sock, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, 4 << 20);
    set_buf(&sock, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, 4 << 20);
    let mut ep = quinn::Endpoint::new(quinn::EndpointConfig::default(), None, sock, Arc::new(quinn::TokioRuntime))
        .unwrap_or_else(|e| die(&format!("QUIC endpoint: {e}")));
    ep.set_default_client_config(client.clone());
    ep
}

fn raise_nofile() {
    // SAFETY: plain getrlimit/setrlimit on our own process
    unsafe {
        let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

type Sender = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

struct Conn {
    quic: quinn::Connection,
    sender: Sender,
    closed: Rc<Cell<bool>>,
    connect_time: Duration,
}

/// A QUIC handshake and the HTTP/3 set-up (control streams, SETTINGS); a task drives the
/// connection's control side until it closes.
async fn open(ep: &quinn::Endpoint, cfg: &Config) -> Result<Conn, String> {
    let t0 = Instant::now();
    let connecting = ep.connect(cfg.addr, &cfg.server_name).map_err(|e| format!("connect: {e}"))?;
    let quic = match tokio::time::timeout(cfg.connect_timeout, connecting).await {
        Err(_) => return Err(format!("handshake timed out after {:?}", cfg.connect_timeout)),
        Ok(Err(e)) => return Err(format!("handshake: {e}")),
        Ok(Ok(c)) => c,
    };
    let connect_time = t0.elapsed();
    let (mut driver, sender) = h3::client::new(h3_quinn::Connection::new(quic.clone()))
        .await
        .map_err(|e| format!("HTTP/3 set-up: {e}"))?;
    let closed = Rc::new(Cell::new(false));
    let flag = closed.clone();
    tokio::task::spawn_local(async move {
        let _ = driver.wait_idle().await;
        flag.set(true);
    });
    Ok(Conn { quic, sender, closed, connect_time })
}

fn alpn(c: &quinn::Connection) -> Option<String> {
    c.handshake_data()?
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .ok()?
        .protocol
        .map(|p| String::from_utf8_lossy(&p).into_owned())
}

// ---------------------------------------------------------------- one request

struct Outcome {
    status: u16,
    head_bytes: u64,
    body_bytes: u64,
    body_ok: bool, // SHA-256 (when asked) and Content-Length (when sent) agree
}

async fn request(uri: &http::Uri, sha: Option<&[u8]>, sender: &mut Sender) -> Result<Outcome, h3::error::StreamError> {
    let req = http::Request::get(uri.clone()).body(()).expect("request");
    let mut stream = sender.send_request(req).await?;
    stream.finish().await?;
    let resp = stream.recv_response().await?;
    let head_bytes =
        resp.headers().iter().map(|(k, v)| (k.as_str().len() + v.len()) as u64).sum::<u64>() + ":status".len() as u64 + 3;
    let length: Option<u64> =
        resp.headers().get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let mut hasher = sha.map(|_| ring::digest::Context::new(&ring::digest::SHA256));
    let mut body_bytes = 0u64;
    while let Some(mut chunk) = stream.recv_data().await? {
        body_bytes += chunk.remaining() as u64;
        if let Some(h) = hasher.as_mut() {
            while chunk.has_remaining() {
                let c = chunk.chunk();
                h.update(c);
                let n = c.len();
                chunk.advance(n);
            }
        }
    }
    let sha_ok = match (hasher, sha) {
        (Some(h), Some(want)) => h.finish().as_ref() == want,
        _ => true,
    };
    let len_ok = length.is_none_or(|l| l == body_bytes);
    Ok(Outcome { status: resp.status().as_u16(), head_bytes, body_bytes, body_ok: sha_ok && len_ok })
}

/// A stream error that ends the connection (no further request can go on it).
fn fatal(e: &h3::error::StreamError) -> bool {
    matches!(e, h3::error::StreamError::ConnectionError { .. } | h3::error::StreamError::RemoteClosing { .. })
}

// ---------------------------------------------------------------- benchmark mode

#[derive(Default)]
struct Stats {
    started: Cell<u64>,
    done: Cell<u64>,
    success: Cell<u64>,        // the stream ended well (h2load's req_success: the req/s figure)
    status_success: Cell<u64>, // ... with a 2xx or 3xx and a body that checks out
    failed: Cell<u64>,
    errored: Cell<u64>,
    status: [Cell<u64>; 6],
    bytes_head: Cell<u64>,
    bytes_body: Cell<u64>,
    bad_body: Cell<u64>,
    lat_us: RefCell<Vec<u32>>,
    errors: RefCell<Vec<String>>, // the first few distinct ones
}

fn add(c: &Cell<u64>, n: u64) {
    c.set(c.get() + n);
}

impl Stats {
    fn note_error(&self, e: String) {
        let mut errs = self.errors.borrow_mut();
        if errs.len() < 5 && !errs.contains(&e) {
            errs.push(e);
        }
    }
}

struct Shared {
    cfg: Config,
    stats: Stats,
    budget: Cell<u64>,
    stop: Cell<bool>,
    conns: RefCell<Vec<Rc<ConnInfo>>>,
}

/// One connection that came up, as the report sees it.
struct ConnInfo {
    quic: quinn::Connection,
    connect: Duration,
    started: Instant,        // when its handshake began
    ttfb: Cell<Option<Duration>>, // from then to the first complete response
    success: Cell<u64>,
    rx0: Cell<u64>,          // UDP bytes received before the clock started
}

/// The numbers printed: taken when the time runs out (-D), or once every request is done (-n).
struct Snapshot {
    elapsed: Duration,
    started: u64,
    done: u64,
    success: u64,
    status_success: u64,
    failed: u64,
    errored: u64,
    status: [u64; 6],
    bytes_head: u64,
    bytes_body: u64,
    bytes_total: u64,
    bad_body: u64,
    lat_us: Vec<u32>,
    conn_success: Vec<u64>,
    cpu: Duration, // this process's CPU time over the same span
}

async fn worker(sh: Rc<Shared>, mut sender: Sender, closed: Rc<Cell<bool>>, ci: Rc<ConnInfo>) {
    let st = &sh.stats;
    loop {
        if closed.get() || sh.stop.get() {
            break;
        }
        let b = sh.budget.get();
        if b == 0 {
            break;
        }
        sh.budget.set(b - 1);
        add(&st.started, 1);
        let t0 = Instant::now();
        let res = request(&sh.cfg.url, sh.cfg.sha256.as_deref(), &mut sender).await;
        if sh.stop.get() {
            break; // finished after the time ran out: not counted (the snapshot is taken)
        }
        add(&st.done, 1);
        match res {
            Ok(o) => {
                let now = Instant::now();
                st.lat_us.borrow_mut().push((now - t0).as_micros().min(u32::MAX as u128) as u32);
                if ci.ttfb.get().is_none() {
                    ci.ttfb.set(Some(now - ci.started));
                }
                add(&st.success, 1);
                add(&ci.success, 1);
                add(&st.status[(o.status as usize / 100).min(5)], 1);
                add(&st.bytes_head, o.head_bytes);
                add(&st.bytes_body, o.body_bytes);
                if !o.body_ok {
                    add(&st.bad_body, 1);
                }
                if (200..400).contains(&o.status) && o.body_ok {
                    add(&st.status_success, 1);
                } else {
                    add(&st.failed, 1);
                }
            }
            Err(e) => {
                add(&st.failed, 1);
                add(&st.errored, 1);
                st.note_error(format!("stream: {e}"));
                if fatal(&e) {
                    break;
                }
            }
        }
    }
}

/// Opens one connection, then (once `go`) runs its workers, STREAMS of them, each with one
/// request in flight at a time.
async fn run_conn(
    sh: Rc<Shared>,
    ep: quinn::Endpoint,
    gate: Rc<Semaphore>,
    up: Rc<Cell<usize>>,
    mut go: watch::Receiver<bool>,
    ready: Rc<tokio::sync::Notify>,
) {
    let t0 = Instant::now();
    let conn = {
        let _permit = gate.acquire().await.unwrap();
        open(&ep, &sh.cfg).await
    };
    up.set(up.get() + 1);
    ready.notify_one();
    let conn = match conn {
        Ok(c) => c,
        Err(e) => return sh.stats.note_error(e),
    };
    let ci = Rc::new(ConnInfo {
        quic: conn.quic.clone(),
        connect: conn.connect_time,
        started: t0,
        ttfb: Cell::new(None),
        success: Cell::new(0),
        rx0: Cell::new(0),
    });
    sh.conns.borrow_mut().push(ci.clone());
    let _ = go.wait_for(|g| *g).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..sh.cfg.streams {
        set.spawn_local(worker(sh.clone(), conn.sender.clone(), conn.closed.clone(), ci.clone()));
    }
    drop(conn);
    while set.join_next().await.is_some() {}
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct we hand it
    unsafe {
        let mut r: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut r);
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(r.ru_utime) + tv(r.ru_stime)
    }
}

fn snapshot(sh: &Shared, start: Instant, cpu0: Duration) -> Snapshot {
    let st = &sh.stats;
    let conns = sh.conns.borrow();
    Snapshot {
        elapsed: start.elapsed(),
        started: st.started.get(),
        done: st.done.get(),
        success: st.success.get(),
        status_success: st.status_success.get(),
        failed: st.failed.get(),
        errored: st.errored.get(),
        status: std::array::from_fn(|i| st.status[i].get()),
        bytes_head: st.bytes_head.get(),
        bytes_body: st.bytes_body.get(),
        bytes_total: conns.iter().map(|c| c.quic.stats().udp_rx.bytes - c.rx0.get()).sum(),
        bad_body: st.bad_body.get(),
        lat_us: std::mem::take(&mut *st.lat_us.borrow_mut()),
        conn_success: conns.iter().map(|c| c.success.get()).collect(),
        cpu: cpu_time() - cpu0,
    }
}

async fn bench(cfg: Config) -> i32 {
    let client = client_config(false);
    let n_ep = if cfg.endpoints == 0 { cfg.conns } else { cfg.endpoints.min(cfg.conns) };
    let eps: Vec<quinn::Endpoint> = (0..n_ep).map(|_| endpoint(&cfg, &client)).collect();
    println!("starting benchmark...");
    match cfg.duration {
        Some(d) => println!(
            "spawning thread #0: {} total client(s). Timing-based test with 0s of warm-up time and {}s of main duration for measurements.",
            cfg.conns, d
        ),
        None => println!("spawning thread #0: {} total client(s). {} total requests", cfg.conns, cfg.total),
    }
    let sh = Rc::new(Shared {
        budget: Cell::new(cfg.total),
        stop: Cell::new(false),
        stats: Stats::default(),
        conns: RefCell::new(Vec::new()),
        cfg,
    });
    let gate = Rc::new(Semaphore::new(sh.cfg.parallel_connects));
    let up = Rc::new(Cell::new(0usize));
    let ready = Rc::new(tokio::sync::Notify::new());
    let (go_tx, go_rx) = watch::channel(false);
    let mut handles = Vec::with_capacity(sh.cfg.conns);
    for i in 0..sh.cfg.conns {
        handles.push(tokio::task::spawn_local(run_conn(
            sh.clone(),
            eps[i % eps.len()].clone(),
            gate.clone(),
            up.clone(),
            go_rx.clone(),
            ready.clone(),
        )));
    }
    while up.get() < sh.cfg.conns {
        ready.notified().await;
    }
    for c in sh.conns.borrow().iter() {
        c.rx0.set(c.quic.stats().udp_rx.bytes);
    }
    let (start, cpu0) = (Instant::now(), cpu_time());
    let _ = go_tx.send(true);
    let snap = match sh.cfg.duration {
        Some(_) if sh.conns.borrow().is_empty() => snapshot(&sh, start, cpu0), // none came up: nothing to wait for
        Some(d) => {
            tokio::time::sleep_until(start + Duration::from_secs_f64(d)).await;
            sh.stop.set(true);
            snapshot(&sh, start, cpu0)
        }
        None => {
            for h in handles {
                let _ = h.await;
            }
            snapshot(&sh, start, cpu0)
        }
    };
    for c in sh.conns.borrow().iter() {
        c.quic.close(quinn::VarInt::from_u32(0x100), b""); // H3_NO_ERROR
    }
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        for ep in &eps {
            ep.wait_idle().await;
        }
    })
    .await;
    report(&sh, snap);
    0
}

// ---------------------------------------------------------------- output in h2load's shape

fn dtos(x: f64) -> String {
    format!("{x:.2}")
}

/// h2load's util::format_duration: whole microseconds below 1 ms, else ms or s with 2 decimals.
fn fmt_dur_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{}s", dtos(us / 1e6))
    } else if us >= 1e3 {
        format!("{}ms", dtos(us / 1e3))
    } else {
        format!("{}us", us.round() as u64)
    }
}

/// h2load's util::utos_funit: 1024-based K, M, G with 2 decimals.
fn funit(n: u64) -> String {
    let b = if n >= 1 << 30 {
        30
    } else if n >= 1 << 20 {
        20
    } else if n >= 1 << 10 {
        10
    } else {
        return n.to_string();
    };
    format!("{}{}", dtos(n as f64 / (1u64 << b) as f64), ["", "K", "M", "G"][b / 10])
}

/// min, max, mean, sd, and the share within one sd of the mean (h2load's SDStat)
fn sd_stat(v: &[f64]) -> Option<(f64, f64, f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let within = v.iter().filter(|&&x| (x - mean).abs() <= sd).count() as f64 / n * 100.0;
    let (mn, mx) = v.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    Some((mn, mx, mean, sd, within))
}

fn time_row(label: &str, v: &[f64]) {
    let (mn, mx, mean, sd, within) = sd_stat(v).unwrap_or((0.0, 0.0, 0.0, 0.0, 0.0));
    println!(
        "{label}{:>10}  {:>10}  {:>10}  {:>10}{:>9}%",
        fmt_dur_us(mn),
        fmt_dur_us(mx),
        fmt_dur_us(mean),
        fmt_dur_us(sd),
        dtos(within)
    );
}

/// wrk's latency units: us, ms, s with 2 decimals
fn wrk_time(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.2}us")
    }
}

fn report(sh: &Shared, mut snap: Snapshot) {
    let conns = sh.conns.borrow();
    let secs = match sh.cfg.duration {
        Some(d) => d,
        None => snap.elapsed.as_secs_f64(),
    };
    if let Some(p) = conns.iter().find_map(|c| alpn(&c.quic)) {
        println!("TLS Protocol: TLSv1.3\nApplication protocol: {p}");
    } else {
        println!("No protocol negotiated");
    }
    for e in sh.stats.errors.borrow().iter() {
        println!("error: {e}");
    }
    if conns.len() < sh.cfg.conns {
        println!("{} of {} connections failed", sh.cfg.conns - conns.len(), sh.cfg.conns);
    }
    // h2load: total is what was asked (-n), or what was done (-D); requests never issued
    // (connections that failed) count as failed and errored
    let total = if sh.cfg.duration.is_some() { snap.done } else { sh.cfg.total };
    let not_issued = total.saturating_sub(snap.status_success + snap.failed);
    let (failed, errored) = (snap.failed + not_issued, snap.errored + not_issued);
    let rps = if secs > 0.0 { snap.success as f64 / secs } else { 0.0 };
    let bps = if secs > 0.0 { (snap.bytes_total as f64 / secs) as u64 } else { 0 };
    println!();
    println!("finished in {}, {:.2} req/s, {}B/s", fmt_dur_us(secs * 1e6), rps, funit(bps));
    println!(
        "requests: {} total, {} started, {} done, {} succeeded, {} failed, {} errored, 0 timeout",
        total, snap.started, snap.done, snap.status_success, failed, errored
    );
    let s = &snap.status;
    println!("status codes: {} 2xx, {} 3xx, {} 4xx, {} 5xx", s[2], s[3], s[4], s[5]);
    println!(
        "traffic: {}B ({}) total, {}B ({}) headers (space savings 0.00%), {}B ({}) data",
        funit(snap.bytes_total),
        snap.bytes_total,
        funit(snap.bytes_head),
        snap.bytes_head,
        funit(snap.bytes_body),
        snap.bytes_body
    );
    if snap.bad_body > 0 {
        println!("bodies that failed the check (SHA-256 or Content-Length): {}", snap.bad_body);
    }
    let lat = &mut snap.lat_us;
    let lat_f: Vec<f64> = lat.iter().map(|&x| x as f64).collect();
    let conn_f: Vec<f64> = conns.iter().map(|c| c.connect.as_micros() as f64).collect();
    let ttfb_f: Vec<f64> = conns.iter().filter_map(|c| c.ttfb.get()).map(|d| d.as_micros() as f64).collect();
    let rps_f: Vec<f64> = snap.conn_success.iter().map(|&n| n as f64 / secs.max(1e-9)).collect();
    println!("                     min         max         mean         sd        +/- sd");
    time_row("time for request: ", &lat_f);
    time_row("time for connect: ", &conn_f);
    time_row("time to 1st byte: ", &ttfb_f);
    let (mn, mx, mean, sd, within) = sd_stat(&rps_f).unwrap_or((0.0, 0.0, 0.0, 0.0, 0.0));
    println!("req/s           : {:>10.2}  {:>10.2}  {:>10.2}  {:>10.2}{:>9}%", mn, mx, mean, sd, dtos(within));
    lat.sort_unstable();
    if !lat.is_empty() {
        println!("  Latency Distribution");
        for p in [50.0, 75.0, 90.0, 99.0] {
            let idx = ((p / 100.0 * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
            println!("  {:>4.0}%  {:>9}", p, wrk_time(lat[idx] as f64));
        }
    }
    let wall = snap.elapsed.as_secs_f64();
    println!(
        "load generator CPU: {:.1}% of one core ({:.2}s in {:.2}s)",
        if wall > 0.0 { snap.cpu.as_secs_f64() / wall * 100.0 } else { 0.0 },
        snap.cpu.as_secs_f64(),
        wall
    );
}

// ---------------------------------------------------------------- memory mode (--hold)

async fn hold(cfg: Config, n: usize) -> i32 {
    let client = client_config(true);
    let cfg = Rc::new(cfg);
    let n_ep = if cfg.endpoints == 0 { n } else { cfg.endpoints.min(n) };
    let eps: Vec<quinn::Endpoint> = (0..n_ep).map(|_| endpoint(&cfg, &client)).collect();
    let gate = Rc::new(Semaphore::new(cfg.parallel_connects));
    let errors = Rc::new(RefCell::new(Vec::<String>::new()));
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
    let mut handles = Vec::with_capacity(n);
    // every connection opened and asked within this much (hold_conns.py allows 10 s for the answers)
    let deadline = Instant::now() + Duration::from_secs(10).max(cfg.connect_timeout * 2) + Duration::from_millis(n as u64 * 5);
    // one alone first: when it fails (nothing speaks HTTP/3 there), the others are not tried
    let probe = Rc::new(Semaphore::new(0));
    for i in 0..n {
        let probe = probe.clone();
        let (cfg, ep, gate, errors) = (cfg.clone(), eps[i % eps.len()].clone(), gate.clone(), errors.clone());
        handles.push(tokio::task::spawn_local(async move {
            let note = |e: String| {
                let mut errs = errors.borrow_mut();
                if errs.len() < 5 && !errs.contains(&e) {
                    errs.push(e);
                }
            };
            if i > 0 && probe.acquire().await.is_err() {
                return None; // the first failed
            }
            let conn = {
                let _permit = gate.acquire().await.unwrap();
                match tokio::time::timeout_at(deadline, open(&ep, &cfg)).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(e)) => {
                        note(e);
                        if i == 0 {
                            probe.close();
                        }
                        return None;
                    }
                    Err(_) => {
                        note("not opened in time".into());
                        if i == 0 {
                            probe.close();
                        }
                        return None;
                    }
                }
            };
            if i == 0 {
                probe.add_permits(Semaphore::MAX_PERMITS >> 1);
            }
            let mut sender = conn.sender.clone();
            let answered = match tokio::time::timeout_at(deadline, request(&cfg.url, cfg.sha256.as_deref(), &mut sender)).await {
                Ok(Ok(o)) if o.status == 200 && o.body_ok => true,
                Ok(Ok(o)) => {
                    note(format!("status {} body_ok={}", o.status, o.body_ok));
                    false
                }
                Ok(Err(e)) => {
                    note(format!("stream: {e}"));
                    false
                }
                Err(_) => {
                    note("no answer in time".into());
                    false
                }
            };
            Some((conn, answered))
        }));
    }
    let mut held = Vec::with_capacity(n);
    let mut answered = 0;
    for h in handles {
        if let Ok(Some((c, a))) = h.await {
            answered += a as usize;
            held.push(c);
        }
    }
    for e in errors.borrow().iter() {
        eprintln!("h3load: {e}");
    }
    let alpn = held.first().and_then(|c| alpn(&c.quic)).unwrap_or_else(|| "none".into());
    println!("open={} answered={} alpn={}", held.len(), answered, alpn);
    let t0 = Instant::now();
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(cfg.hold_secs)) => {}
        _ = sigterm.recv() => {} // compare.py ends the hold so: close them properly
    }
    let still = held.iter().filter(|c| !c.closed.get() && c.quic.close_reason().is_none()).count();
    println!("still open after {:.1}s: {}", t0.elapsed().as_secs_f64(), still);
    for c in &held {
        c.quic.close(quinn::VarInt::from_u32(0x100), b"");
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        for ep in &eps {
            ep.wait_idle().await;
        }
    })
    .await;
    0
}

fn main() {
    let cfg = parse_args();
    raise_nofile();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let code = local.block_on(&rt, async move {
        match cfg.hold {
            Some(n) => hold(cfg, n).await,
            None => bench(cfg).await,
        }
    });
    std::process::exit(code);
}
