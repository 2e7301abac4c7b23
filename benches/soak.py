#!/usr/bin/env python3
"""Soak test (not run in CI): mixed traffic against a release server for a
while, sampling its RSS and open descriptors, to show that neither grows.

    cargo build --release
    python3 benches/soak.py --seconds 600
    python3 benches/soak.py --mix churn --port 18680      # connections come and go
    python3 benches/soak.py --mix keepalive --port 18780  # the same clients, staying

It starts target/release/oneloop on 127.0.0.1 (ports 18580/18537 by
default) with a small document root, then runs, all at once and only on
loopback, the clients of the mix:

- all: keep-alive clients, Connection: close clients, pipelined bursts,
  clients that vanish mid-request, slow clients cut off by the head
  deadline, large downloads read slowly, slow readers (a 4 KiB receive
  buffer, 4 KiB reads with a pause between) of a cached file, a file from
  disk and ranges of it, every body checked by hash, and RFC 868 over TCP
  and UDP;
- churn: clients that open a keep-alive connection, make one to three
  requests and close it, over and over: every connection arms an idle
  deadline and leaves before it is due;
- keepalive: the same number of clients, each keeping one connection.

With --https it also serves HTTPS (a certificate made with openssl at
start), and the mix gains HTTPS clients of each kind: keep-alive, churning
(a full handshake per connection, half of them resuming), clients that
vanish mid-handshake, and slow readers whose bodies are checked by hash.
Where the python3 running it has Debian's python3-h2 (/usr/bin/python3
does), the "all" mix also downloads over HTTP/2, h2c and (with --https)
h2 by ALPN, the same way: 4 KiB reads with a pause, every body hashed.
With --https and aioquic (python3 -m pip install aioquic), it also
downloads over HTTP/3 (QUIC on the HTTPS port): files and ranges, five
to a connection, every body hashed.
A body that differs from the file counts as an error ("mismatch").

Every 10 seconds it prints the server's RSS and descriptor count; at the
end, their first, lowest and highest values.
"""
import argparse
import hashlib
import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HTTP, TIME = 18580, 18537
HTTPS = None
TLS = None  # the client context, when --https
H2TLS = None  # the same, offering h2 by ALPN
GET = b"GET /hello.txt HTTP/1.1\r\nHost: soak\r\n\r\n"
FILES = {}  # name -> bytes, for the checked downloads


def read_response(s, buf=b""):
    """Reads one response with a Content-Length body, starting with `buf`
    (bytes already received); returns its status and the bytes after it."""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed")
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(rest) < length:
        d = s.recv(65536)
        if not d:
            raise ConnectionError("closed in body")
        rest += d
    return int(head.split(b" ")[1]), rest[length:]


def note_error(stats, e):
    """Counts an error by the client kind and the error's name."""
    stats["errors"] += 1
    key = f"{sys._getframe(1).f_code.co_name}: {type(e).__name__}"
    stats.setdefault("error_kinds", {}).setdefault(key, 0)
    stats["error_kinds"][key] += 1
    if stats["error_kinds"][key] <= 3:  # the first few, with what they said
        print(f"error {key}: {e}", flush=True)


def keep_alive(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                for _ in range(random.randint(1, 200)):
                    s.sendall(GET)
                    status, _ = read_response(s)
                    stats["http"] += 1
        except OSError as e:
            note_error(stats, e)


def churn(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                for _ in range(random.randint(1, 3)):
                    s.sendall(GET)
                    read_response(s)
                    stats["http"] += 1
        except OSError as e:
            note_error(stats, e)


def staying(stop, stats):
    try:
        with socket.create_connection(("127.0.0.1", HTTP)) as s:
            while not stop.is_set():
                s.sendall(GET)
                read_response(s)
                stats["http"] += 1
    except OSError as e:
        note_error(stats, e)


def tls_connect():
    raw = socket.create_connection(("127.0.0.1", HTTPS))
    return TLS.wrap_socket(raw, server_hostname="localhost")


def tls_keep(stop, stats):
    while not stop.is_set():
        try:
            with tls_connect() as s:
                for _ in range(random.randint(1, 200)):
                    s.sendall(GET)
                    read_response(s)
                    stats["https"] += 1
        except OSError as e:
            note_error(stats, e)


def tls_churn(stop, stats):
    session = None
    while not stop.is_set():
        try:
            raw = socket.create_connection(("127.0.0.1", HTTPS))
            # Every other connection offers the last session back.
            offer = session if random.random() < 0.5 else None
            with TLS.wrap_socket(raw, server_hostname="localhost", session=offer) as s:
                s.sendall(GET)
                read_response(s)
                stats["https"] += 1
                stats["resumed"] += int(s.session_reused)
                session = s.session
        except OSError as e:
            note_error(stats, e)


def tls_vanish(stop, stats):
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", HTTPS))
            s.sendall(bytes([22, 3, 1, 2, 0, 1, 0, 1, 0xfc, 3, 3])[: random.randint(0, 11)])
            s.close()
            stats["vanished"] += 1
        except OSError as e:
            note_error(stats, e)
        time.sleep(0.01)


def close_each(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                read_response(s)
                stats["http"] += 1
        except OSError as e:
            note_error(stats, e)


def pipelined(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                s.sendall(GET * 16)
                rest = b""
                for _ in range(16):
                    _, rest = read_response(s, rest)
                    stats["http"] += 1
        except OSError as e:
            note_error(stats, e)


def vanishing(stop, stats):
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", HTTP))
            s.sendall(GET[: random.randint(0, len(GET) - 1)])
            s.close()
            stats["vanished"] += 1
        except OSError as e:
            note_error(stats, e)
        time.sleep(0.01)


def slow(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n")
                s.settimeout(0.5)
                while not stop.is_set():
                    s.sendall(b"X")
                    try:
                        if s.recv(1) == b"":
                            break
                    except socket.timeout:
                        pass
                stats["slow_cut"] += 1
        except OSError:
            stats["slow_cut"] += 1


def downloads(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", HTTP)) as s:
                s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: soak\r\n\r\n")
                got = 0
                while got < (4 << 20):
                    d = s.recv(65536)
                    if not d:
                        break
                    got += len(d)
                    time.sleep(0.001)
                stats["downloads"] += 1
        except OSError as e:
            note_error(stats, e)


def slow_socket(port):
    """A connection whose receive buffer is 4 KiB from the first segment
    (a phone on a poor link)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def pick_download():
    """A file to download, whole or a range: its name, the Range value
    (or None) and the bytes the body must be."""
    name = random.choice(("mid.bin", "big.bin", "big.bin"))
    data = FILES[name]
    if name == "big.bin" and random.random() < 0.5:
        if random.random() < 0.5:
            a = random.randrange(len(data) // 2)
            b = random.randrange(a, len(data))
            return name, f"bytes={a}-{b}", data[a:b + 1]
        n = random.randint(1, 500_000)
        return name, f"bytes=-{n}", data[-n:]
    return name, None, data


def checked(stats, kind, name, rng, got, digest, want):
    """Counts a body read whole as checked, or as a mismatch."""
    if got != len(want) or digest.digest() != hashlib.sha256(want).digest():
        stats["mismatch"] += 1
        stats["errors"] += 1
        print(f"MISMATCH {kind} {name} {rng}: {got} bytes, wanted {len(want)}", flush=True)
    else:
        stats["checked"] += 1


def checked_download(s, stats, kind):
    """One request on `s` for a file, whole or a range, read 4 KiB at a
    time with a pause after each read; the body is compared by hash with
    the file's bytes."""
    name, rng, want = pick_download()
    extra = f"Range: {rng}\r\n" if rng else ""
    s.sendall(f"GET /{name} HTTP/1.1\r\nHost: soak\r\n{extra}\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise ConnectionError("closed in head")
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:"))
    digest = hashlib.sha256(body)
    got = len(body)
    while got < length:
        d = s.recv(min(4096, length - got))
        if not d:
            raise ConnectionError(f"closed after {got} of {length} body bytes")
        digest.update(d)
        got += len(d)
        time.sleep(0.0005)
    checked(stats, kind, name, rng, got, digest, want)


def h2_downloads(s, stats, kind, scheme):
    """Two downloads over HTTP/2 on `s` (Python's h2 as the client), read 4
    KiB at a time with a pause after each read, the windows given back as
    the bytes are read; each body compared by hash with the file's bytes."""
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    goaway = False
    for _ in range(2):
        name, rng, want = pick_download()
        sid = conn.get_next_available_stream_id()
        fields = [(":method", "GET"), (":scheme", scheme), (":authority", "soak"), (":path", "/" + name)]
        conn.send_headers(sid, fields + ([("range", rng)] if rng else []), end_stream=True)
        s.sendall(conn.data_to_send())
        if goaway:
            return  # no new stream after GOAWAY
        digest, got, done = hashlib.sha256(), 0, False
        while not done:
            d = s.recv(4096)
            if not d:
                raise ConnectionError(f"closed after {got} body bytes")
            try:
                events = conn.receive_data(d)
            except h2.exceptions.ProtocolError:
                # Python's h2 closes its side when GOAWAY arrives and then
                # refuses the DATA the server still sends for the streams
                # it took (RFC 9113 §6.8 lets it: a drain's GOAWAY now
                # leaves as soon as it is queued, not behind the whole
                # download). The download ends here, neither checked nor
                # an error of the server's.
                if conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
                    return
                raise
            for ev in events:
                if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    digest.update(ev.data)
                    got += len(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    done = True
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    # A graceful GOAWAY (the server draining) still owes the
                    # streams it took their whole answers (RFC 9113 §6.8).
                    if ev.error_code != 0 or ev.last_stream_id < sid:
                        raise ConnectionError(f"HTTP/2: {ev}")
                    goaway = True
                elif isinstance(ev, h2.events.StreamReset):
                    raise ConnectionError(f"HTTP/2: {ev}")
            s.sendall(conn.data_to_send())
            time.sleep(0.0005)
        checked(stats, kind, name, rng, got, digest, want)


def slow_reads(stop, stats, connect, session):
    """Connects and runs `session` on the socket, again and again until
    stopped; a socket error is counted and the next connection tried."""
    while not stop.is_set():
        try:
            with connect() as s:
                session(s)
        except OSError as e:
            note_error(stats, e)


def two_downloads(stats, kind):
    """Two HTTP/1.1 downloads on one connection: it must stay good."""
    def session(s):
        for _ in range(2):
            checked_download(s, stats, kind)
    return session


def slow_reader(stop, stats):
    slow_reads(stop, stats, lambda: slow_socket(HTTP), two_downloads(stats, "http"))


def tls_slow_reader(stop, stats):
    slow_reads(stop, stats,
               lambda: TLS.wrap_socket(slow_socket(HTTPS), server_hostname="localhost"),
               two_downloads(stats, "https"))


def h2c_slow_reader(stop, stats):
    slow_reads(stop, stats, lambda: slow_socket(HTTP),
               lambda s: h2_downloads(s, stats, "h2c", "http"))


def h2_slow_reader(stop, stats):
    slow_reads(stop, stats,
               lambda: H2TLS.wrap_socket(slow_socket(HTTPS), server_hostname="localhost"),
               lambda s: h2_downloads(s, stats, "h2", "https"))


def h3_downloads(stop, stats):
    """HTTP/3 clients (aioquic), each connection five downloads of a file
    or a range of it, every body compared by hash; then a new connection."""
    import asyncio
    from aioquic.asyncio import connect
    from aioquic.quic.configuration import QuicConfiguration
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from h3_client import Client

    async def run():
        config = QuicConfiguration(is_client=True, alpn_protocols=["h3"])
        config.verify_mode = ssl.CERT_NONE
        while not stop.is_set():
            try:
                async with connect("127.0.0.1", HTTPS, configuration=config, create_protocol=Client) as c:
                    for _ in range(5):
                        name, rng, want = pick_download()
                        wait = c.request(f"localhost:{HTTPS}", f"GET /{name}" + (f"\trange: {rng}" if rng else ""))
                        c.transmit()
                        answer = (await asyncio.wait_for(wait, 30)).split("\n")[0].split()
                        if answer[0] != "ANSWER":
                            raise ConnectionError(" ".join(answer))
                        stats["h3"] += 1
                        got, digest = int(answer[2]), answer[3]
                        if got != len(want) or digest != hashlib.sha256(want).hexdigest():
                            stats["mismatch"] += 1
                            stats["errors"] += 1
                            print(f"MISMATCH h3 {name} {rng}: {got} bytes, wanted {len(want)}", flush=True)
                        else:
                            stats["checked"] += 1
            except Exception as e:  # noqa: BLE001 (a failed connection is counted, and the next one made)
                note_error(stats, e)

    asyncio.run(run())


def time_tcp(stop, stats):
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", TIME)) as s:
                if len(s.recv(8)) == 4:
                    stats["time"] += 1
        except OSError as e:
            note_error(stats, e)


def time_udp(stop, stats):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(0.5)
    while not stop.is_set():
        u.sendto(b"", ("127.0.0.1", TIME))
        try:
            if len(u.recv(8)) == 4:
                stats["time"] += 1
        except socket.timeout:
            stats["udp_lost"] += 1


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def main():
    global HTTP, TIME, HTTPS, TLS, H2TLS
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--bin", default="target/release/oneloop")
    ap.add_argument("--mix", choices=("all", "churn", "keepalive"), default="all")
    ap.add_argument("--port", type=int, default=HTTP, help="HTTP port; RFC 868 on the next one")
    ap.add_argument("--https", action="store_true", help="serve HTTPS too (on the port after RFC 868's)")
    args = ap.parse_args()
    HTTP, TIME = args.port, args.port + 1
    root = tempfile.mkdtemp(prefix="oneloop-soak-")
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("Hello\n")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<p>soak</p>\n")
    # A file the cache keeps (under --cache-file-max's 256 KiB) and one it
    # sends from disk.
    FILES["mid.bin"] = os.urandom(200_000)
    FILES["big.bin"] = os.urandom((4 << 20) + 17)
    for name, data in FILES.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    command = [args.bin, "--http", f"127.0.0.1:{HTTP}", "--time", f"127.0.0.1:{TIME}",
               "--root", root, "--head-timeout", "2"]
    if args.https:
        HTTPS = TIME + 1
        cert, key = os.path.join(root, "..cert.pem"), os.path.join(root, "..key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
        TLS = ssl.create_default_context(cafile=cert)
        H2TLS = ssl.create_default_context(cafile=cert)
        H2TLS.set_alpn_protocols(["h2"])
        command += ["--https", f"127.0.0.1:{HTTPS}", "--tls-cert", cert, "--tls-key", key]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    stop = threading.Event()
    stats = {k: 0 for k in ("http", "https", "h3", "resumed", "time", "vanished", "slow_cut", "downloads",
                            "checked", "mismatch", "errors", "udp_lost")}
    kinds = {
        "all": [keep_alive] * 4 + [close_each] * 2 + [pipelined] * 2
        + [vanishing, slow, slow, downloads, slow_reader, slow_reader, time_tcp, time_udp],
        "churn": [churn] * 8,
        "keepalive": [staying] * 8,
    }[args.mix]
    if args.https:
        kinds += [tls_keep, tls_keep, tls_churn, tls_churn, tls_vanish, tls_slow_reader,
                  tls_slow_reader]
    try:
        import h2.connection  # noqa: F401  (Debian's python3-h2)
        if args.mix == "all":
            kinds += [h2c_slow_reader] + ([h2_slow_reader, h2_slow_reader] if args.https else [])
    except ImportError:
        print("no HTTP/2 downloads: this python3 has no h2 (apt-get install python3-h2)")
    if args.https and args.mix == "all":
        try:
            import aioquic  # noqa: F401
            kinds += [h3_downloads, h3_downloads]
        except ImportError:
            print("no HTTP/3 downloads: this python3 has no aioquic (python3 -m pip install aioquic)")
    threads = [threading.Thread(target=k, args=(stop, stats), daemon=True) for k in kinds]
    for t in threads:
        t.start()
    samples = []
    start = time.time()
    print("| t (s) | RSS KiB | fds | HTTP responses | HTTPS responses | HTTP/3 responses | bodies checked | RFC 868 replies |")
    print("|---|---|---|---|---|---|---|---|")
    try:
        while time.time() - start < args.seconds:
            time.sleep(10)
            rss, fds = sample(server.pid)
            samples.append((rss, fds))
            print(f"| {time.time() - start:.0f} | {rss} | {fds} | {stats['http']} | {stats['https']} "
                  f"| {stats['h3']} | {stats['checked']} | {stats['time']} |", flush=True)
    finally:
        stop.set()
        time.sleep(1)
        server.terminate()
        server.wait(timeout=30)
    rss = [s[0] for s in samples]
    fds = [s[1] for s in samples]
    print(f"\nRSS KiB: first {rss[0]}, min {min(rss)}, max {max(rss)}, last {rss[-1]}")
    print(f"fds: first {fds[0]}, min {min(fds)}, max {max(fds)}, last {fds[-1]}")
    print("counts:", stats)
    print("server exit status:", server.returncode)


if __name__ == "__main__":
    sys.exit(main())
