//! Where listening sockets come from: bound here, or inherited from systemd.
//!
//! Binding goes through `socket2` because options must be set between
//! `socket` and `bind`: SO_REUSEPORT (several processes, one per core, share
//! a port and the kernel spreads connections among them) and IPV6_V6ONLY
//! (so `[::]:80` and `0.0.0.0:80` can both be bound).
//!
//! Socket activation (sd_listen_fds(3)): systemd binds the ports (37 and 80
//! need no root in the server then), starts the service with the sockets as
//! descriptors 3, 4, ... and says so in `LISTEN_PID`, `LISTEN_FDS` and
//! `LISTEN_FDNAMES`. A socket named `http` serves HTTP; one named `time`
//! serves RFC 868, over TCP or UDP as its own type says.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, RawFd};

use mio::net::{TcpListener, UdpSocket};
use socket2::{Domain, Protocol, Socket, Type};

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
    /// Named `time`, stream sockets.
    pub time_tcp: Vec<TcpListener>,
    /// Named `time`, datagram sockets.
    pub time_udp: Vec<UdpSocket>,
}

/// The first descriptor systemd passes.
const SD_LISTEN_FDS_START: RawFd = 3;

/// Takes the sockets systemd passed to this process, if any. The variables
/// are removed so that nothing started later believes they are its own.
pub fn from_systemd() -> io::Result<Option<Inherited>> {
    let Some(count) = std::env::var("LISTEN_FDS").ok() else {
        return Ok(None);
    };
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    // SAFETY: called during start-up, before any other thread exists.
    unsafe {
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    if !for_us {
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
            ("time", Type::STREAM) => inherited
                .time_tcp
                .push(TcpListener::from_std(socket.into())),
            ("time", Type::DGRAM) => inherited.time_udp.push(UdpSocket::from_std(socket.into())),
            (name, kind) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "socket {fd} from systemd: name {name:?} with type {kind:?}: expected \"http\" (stream) or \"time\" (stream or datagram)"
                    ),
                ));
            }
        }
    }
    Ok(Some(inherited))
}
