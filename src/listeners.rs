//! Where listening sockets come from: bound here, or inherited from systemd.
//!
//! Binding goes through `socket2` because options must be set between
//! `socket` and `bind`: SO_REUSEPORT (several processes, one per core, share
//! a port and the kernel spreads connections among them) and IPV6_V6ONLY
//! (so `[::]:80` and `0.0.0.0:80` can both be bound).
//!
//! Every HTTP listener also gets the options its accepted sockets inherit
//! (TCP_NODELAY, TCP_DEFER_ACCEPT), so no accepted socket needs a
//! `setsockopt` of its own.
//!
//! Socket activation (sd_listen_fds(3)): systemd binds the ports (37 and 80
//! need no root in the server then), starts the service with the sockets as
//! descriptors 3, 4, ... and says so in `LISTEN_PID`, `LISTEN_FDS` and
//! `LISTEN_FDNAMES`. A socket named `http` serves HTTP, `https` HTTPS; one named `time`
//! serves RFC 868, over TCP or UDP as its own type says.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

use mio::net::{TcpListener, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};

use crate::config::Config;
use crate::sys::{self, context};

/// A listening socket and the service behind it.
#[derive(Debug)]
pub enum Listener {
    /// HTTP: accepted connections join the slab.
    Http(TcpListener),
    /// HTTPS: the same, with TLS on each connection.
    Https(TcpListener),
    /// RFC 868 over TCP: accepted connections are answered and closed at once.
    Time(TcpListener),
    /// RFC 868 over UDP.
    TimeUdp(UdpSocket),
}

impl Listener {
    /// The call that takes its requests, for error messages.
    pub fn syscall(&self) -> &'static str {
        match self {
            Listener::Http(_) => "accept (HTTP)",
            Listener::Https(_) => "accept (HTTPS)",
            Listener::Time(_) => "accept (RFC 868 TCP)",
            Listener::TimeUdp(_) => "recvmmsg (RFC 868 UDP)",
        }
    }

    /// What it serves, for the narration.
    pub fn service(&self) -> &'static str {
        match self {
            Listener::Http(_) => "HTTP",
            Listener::Https(_) => "HTTPS",
            Listener::Time(_) => "RFC 868 TCP",
            Listener::TimeUdp(_) => "RFC 868 UDP",
        }
    }
}

/// Every listening socket of a configuration, with the addresses bound.
#[derive(Debug, Default)]
pub struct Listeners {
    /// The sockets, HTTP first.
    pub list: Vec<Listener>,
    /// Bound HTTP addresses, in configuration order.
    pub http_addrs: Vec<SocketAddr>,
    /// Bound HTTPS addresses.
    pub https_addrs: Vec<SocketAddr>,
    /// HTTP/3's socket: UDP on the first HTTPS address's port.
    pub http3: Option<(UdpSocket, SocketAddr)>,
    /// Bound RFC 868 addresses (TCP and UDP share each one).
    pub time_addrs: Vec<SocketAddr>,
    /// Which of `time_addrs` serve TCP, UDP or both: the same for each
    /// address bound here, whatever systemd passed for the others.
    pub time_kinds: Vec<TimeKinds>,
}

/// The transports RFC 868 is served over at one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeKinds {
    /// A TCP listener.
    pub tcp: bool,
    /// A UDP socket.
    pub udp: bool,
}

impl Listeners {
    /// Records that RFC 868 is served at `addr` over TCP or UDP.
    fn time_at(&mut self, addr: SocketAddr, udp: bool) {
        let i = match self.time_addrs.iter().position(|&a| a == addr) {
            Some(i) => i,
            None => {
                self.time_addrs.push(addr);
                self.time_kinds.push(TimeKinds::default());
                self.time_addrs.len() - 1
            }
        };
        match udp {
            true => self.time_kinds[i].udp = true,
            false => self.time_kinds[i].tcp = true,
        }
    }
}

impl Listeners {
    /// Binds every address in `config` and takes the sockets systemd
    /// passed, if asked to. Errors name the service, the address and the
    /// reason.
    pub fn open(config: &Config) -> io::Result<Listeners> {
        let inherited = if config.systemd {
            from_systemd()?.unwrap_or_default()
        } else {
            Inherited::default()
        };
        let mut ls = Listeners::default();
        let http = http_listeners(&config.http, inherited.http, "HTTP", config.reuse_port)?;
        for (l, addr) in http {
            ls.http_addrs.push(addr);
            ls.list.push(Listener::Http(l));
        }
        let https = http_listeners(&config.https, inherited.https, "HTTPS", config.reuse_port)?;
        for (l, addr) in https {
            ls.https_addrs.push(addr);
            ls.list.push(Listener::Https(l));
        }
        if config.http3
            && cfg!(feature = "http3")
            && let Some(&addr) = ls.https_addrs.first()
        {
            let udp = udp_socket(addr, config.reuse_port)
                .map_err(|e| bind_error(e, "HTTP/3 (UDP)", "--https", addr))?;
            size_buffers(&udp);
            ls.http3 = Some((udp, addr));
        }
        for &addr in &config.time {
            let tcp = tcp_listener(addr, config.reuse_port)
                .map_err(|e| bind_error(e, "RFC 868 TCP", "--time", addr))?;
            // UDP takes the port TCP got, so "the time address" is one port
            // even when the configuration asked for port 0.
            let bound = tcp.local_addr()?;
            let udp = udp_socket(bound, config.reuse_port)
                .map_err(|e| bind_error(e, "RFC 868 UDP", "--time", bound))?;
            ls.time_at(bound, false);
            ls.time_at(bound, true);
            ls.list.push(Listener::Time(tcp));
            ls.list.push(Listener::TimeUdp(udp));
        }
        for tcp in inherited.time_tcp {
            ls.time_at(tcp.local_addr()?, false);
            ls.list.push(Listener::Time(tcp));
        }
        for udp in inherited.time_udp {
            ls.time_at(udp.local_addr()?, true);
            ls.list.push(Listener::TimeUdp(udp));
        }
        Ok(ls)
    }
}

/// The listeners of one HTTP service (`service`, for errors): each of
/// `addrs` bound, then those systemd passed, all tuned for HTTP; with the
/// address each is bound to.
fn http_listeners(
    addrs: &[SocketAddr],
    inherited: Vec<TcpListener>,
    service: &str,
    reuse_port: bool,
) -> io::Result<Vec<(TcpListener, SocketAddr)>> {
    let flag = if service == "HTTPS" {
        "--https"
    } else {
        "--http"
    };
    let bound = addrs.iter().map(|&addr| {
        tcp_listener(addr, reuse_port).map_err(|e| bind_error(e, service, flag, addr))
    });
    let mut all = bound.collect::<io::Result<Vec<_>>>()?;
    all.extend(inherited);
    all.into_iter()
        .map(|l| {
            tune_http_listener(&l)?;
            let addr = l.local_addr()?;
            Ok((l, addr))
        })
        .collect()
}

/// Seconds the kernel may hold a connection whose request has not arrived
/// before handing it to `accept` anyway.
const DEFER_ACCEPT_SECS: i32 = 5;

/// Options set once on an HTTP listener and inherited by every accepted
/// socket, instead of one `setsockopt` per connection: TCP_NODELAY (each
/// response is written whole, so Nagle could only delay its last segment)
/// and TCP_DEFER_ACCEPT (wake us when the request is there, not at the
/// handshake, so the first read finds it).
fn tune_http_listener(listener: &TcpListener) -> io::Result<()> {
    let fd = listener.as_raw_fd();
    sys::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
        .map_err(|e| context(e, "setsockopt TCP_NODELAY"))?;
    sys::setsockopt(
        fd,
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        DEFER_ACCEPT_SECS,
    )
    .map_err(|e| context(e, "setsockopt TCP_DEFER_ACCEPT"))
}

/// A bind error that names the service, the address and what would make
/// it work: for a privileged port, the capability; for a port in use, how
/// to find its holder and the flag that picks another; for an address the
/// host does not have, the wildcard.
fn bind_error(e: io::Error, service: &str, flag: &str, addr: SocketAddr) -> io::Error {
    let port = addr.port();
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied if port < 1024 => {
            "; ports below 1024 need root (then --user NAME), CAP_NET_BIND_SERVICE or systemd's sockets".to_string()
        }
        io::ErrorKind::AddrInUse => format!(
            "; another process holds it (`ss -ltnup 'sport = :{port}'` names it): stop it, or give {flag} another port"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "; no interface of this host has that address: give {flag} one it has, or 0.0.0.0:{port} / [::]:{port} for all"
        ),
        _ => String::new(),
    };
    io::Error::new(
        e.kind(),
        format!("bind {service} {addr} ({flag}): {e}{hint}"),
    )
}

/// Pending connections the kernel may queue per listener.
const BACKLOG: i32 = 1024;

/// A TCP listener on `addr`, non-blocking.
pub fn tcp_listener(addr: SocketAddr, reuse_port: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarting must not wait for old connections' TIME_WAIT to pass.
    socket.set_reuse_address(true)?;
    prepare(&socket, addr, reuse_port)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// A UDP socket on `addr`, non-blocking.
pub fn udp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    prepare(&socket, addr, reuse_port)?;
    socket.bind(&addr.into())?;
    Ok(UdpSocket::from_std(socket.into()))
}

/// The socket buffers QUIC's socket asks for: every client's datagrams
/// queue in the one receive buffer, and at the kernel's default (208 KiB)
/// a hundred connections' bursts overflowed it.
const QUIC_BUFFER: i32 = 4 << 20;

/// Sizes HTTP/3's socket buffers: past the kernel's cap when the process
/// may (SO_RCVBUFFORCE needs CAP_NET_ADMIN), else up to the cap.
fn size_buffers(udp: &UdpSocket) {
    let fd = udp.as_raw_fd();
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if sys::setsockopt(fd, libc::SOL_SOCKET, force, QUIC_BUFFER).is_err() {
            let _ = sys::setsockopt(fd, libc::SOL_SOCKET, plain, QUIC_BUFFER);
        }
    }
}

fn prepare(socket: &Socket, addr: SocketAddr, reuse_port: bool) -> io::Result<()> {
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)
}

/// Sockets passed by systemd.
#[derive(Debug, Default)]
pub struct Inherited {
    /// Named `http`.
    pub http: Vec<TcpListener>,
    /// Named `https`.
    pub https: Vec<TcpListener>,
    /// Named `time`, stream sockets.
    pub time_tcp: Vec<TcpListener>,
    /// Named `time`, datagram sockets.
    pub time_udp: Vec<UdpSocket>,
}

/// The first descriptor systemd passes.
const SD_LISTEN_FDS_START: RawFd = 3;

/// Whether this process has taken systemd's descriptors: each is owned
/// (and closed) by the one socket made from it, so a second server in the
/// same process must not take them again.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// Takes the sockets systemd passed to this process, if any, the first
/// time it is asked.
pub fn from_systemd() -> io::Result<Option<Inherited>> {
    let Some(count) = std::env::var("LISTEN_FDS").ok() else {
        return Ok(None);
    };
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // The variables stay: removing them is unsafe while other threads may
    // read the environment (a server started by `oneloop::spawn` binds on
    // its own thread), and nothing needs it. A child process would see
    // another pid in LISTEN_PID; this process takes the descriptors once.
    if !for_us || TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    let count: RawFd = count.parse().map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("LISTEN_FDS={count:?}"))
    })?;
    let names: Vec<&str> = names.split(':').collect();
    let mut inherited = Inherited::default();
    for i in 0..count {
        let fd = SD_LISTEN_FDS_START + i;
        let name = names.get(i as usize).copied().unwrap_or("");
        // SAFETY: systemd passed this descriptor to us and nothing else in
        // the process owns it; from here the Socket owns and closes it.
        let socket = unsafe { Socket::from_raw_fd(fd) };
        socket.set_cloexec(true)?;
        socket.set_nonblocking(true)?;
        match (name, socket.r#type()?) {
            ("http", Type::STREAM) => inherited.http.push(TcpListener::from_std(socket.into())),
            ("https", Type::STREAM) => inherited.https.push(TcpListener::from_std(socket.into())),
            ("time", Type::STREAM) => inherited
                .time_tcp
                .push(TcpListener::from_std(socket.into())),
            ("time", Type::DGRAM) => inherited.time_udp.push(UdpSocket::from_std(socket.into())),
            (name, kind) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "socket {fd} from systemd: name {name:?} with type {kind:?}: expected \"http\" or \"https\" (stream) or \"time\" (stream or datagram)"
                    ),
                ));
            }
        }
    }
    Ok(Some(inherited))
}

#[cfg(test)]
mod tests {
    //! The options each listener is made with, read back from the kernel,
    //! and errors that name what failed.

    use std::io::Write;

    use socket2::SockRef;

    use super::*;

    /// An integer socket option, read back.
    fn getsockopt(fd: RawFd, level: i32, name: i32) -> i32 {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid for writes of their sizes.
        let rc =
            unsafe { libc::getsockopt(fd, level, name, (&mut value as *mut i32).cast(), &mut len) };
        assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
        value
    }

    #[test]
    fn http_listeners_carry_what_accepted_sockets_inherit() {
        let addrs = ["127.0.0.1:0".parse().unwrap()];
        let ls = http_listeners(&addrs, Vec::new(), "HTTP", false).unwrap();
        let (l, addr) = &ls[0];
        assert_ne!(addr.port(), 0, "the address bound, not the one asked");
        let fd = l.as_raw_fd();
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
        assert!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT) > 0);
        let sock = SockRef::from(l);
        assert!(sock.reuse_address().unwrap(), "a restart need not wait");
        assert!(!sock.reuse_port().unwrap(), "only when asked");
        assert!(sock.nonblocking().unwrap());
        // An accepted socket inherits NODELAY: no setsockopt per connection.
        // (DEFER_ACCEPT holds a silent client back: it sends a byte.)
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client.write_all(b"G").unwrap();
        let mut accepted = None;
        for _ in 0..100 {
            match l.accept() {
                Ok((s, _)) => {
                    accepted = Some(s);
                    break;
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        let accepted = accepted.expect("accepted");
        let fd = accepted.as_raw_fd();
        assert_eq!(getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY), 1);
    }

    #[test]
    fn ipv6_listeners_are_v6_only_and_reuse_port_is_set_when_asked() {
        let Ok(l) = tcp_listener("[::1]:0".parse().unwrap(), true) else {
            eprintln!("skipped: no IPv6 loopback");
            return;
        };
        let sock = SockRef::from(&l);
        assert!(
            sock.only_v6().unwrap(),
            "[::] and 0.0.0.0 can both be bound"
        );
        assert!(sock.reuse_port().unwrap());
        let u = udp_socket(l.local_addr().unwrap(), true).unwrap();
        assert!(SockRef::from(&u).only_v6().unwrap());
    }

    #[test]
    fn a_bind_error_names_the_service_the_address_and_the_remedy() {
        let taken = tcp_listener("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let addr = taken.local_addr().unwrap();
        let e = http_listeners(&[addr], Vec::new(), "HTTPS", false).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("bind HTTPS {addr} (--https): ")),
            "{text}"
        );
        let port = addr.port();
        assert!(text.contains(&format!("'sport = :{port}'")), "{text}");
        assert!(text.contains("give --https another port"), "{text}");
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        let low = bind_error(denied, "HTTP", "--http", "0.0.0.0:80".parse().unwrap()).to_string();
        assert!(low.contains("CAP_NET_BIND_SERVICE"), "{low}");
        let denied = io::Error::from_raw_os_error(libc::EACCES);
        let high =
            bind_error(denied, "HTTP", "--http", "0.0.0.0:8080".parse().unwrap()).to_string();
        assert!(!high.contains("CAP_NET_BIND_SERVICE"), "{high}");
    }

    #[test]
    fn the_time_service_gets_one_port_for_tcp_and_udp() {
        let mut config = Config::ephemeral();
        config.http.clear();
        config.https.clear();
        config.time = vec!["127.0.0.1:0".parse().unwrap()];
        let ls = Listeners::open(&config).unwrap();
        assert_eq!(ls.time_addrs.len(), 1);
        assert_eq!(
            ls.time_kinds,
            [TimeKinds {
                tcp: true,
                udp: true
            }]
        );
        let port = ls.time_addrs[0].port();
        let ports: Vec<(&str, u16)> = ls
            .list
            .iter()
            .map(|l| match l {
                Listener::Time(t) => ("tcp", t.local_addr().unwrap().port()),
                Listener::TimeUdp(u) => ("udp", u.local_addr().unwrap().port()),
                _ => ("http", 0),
            })
            .collect();
        assert_eq!(ports, [("tcp", port), ("udp", port)]);
    }
}
