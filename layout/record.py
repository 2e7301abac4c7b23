#!/usr/bin/env python3
"""Records which functions oneloop runs, and writes the order the linker
lays them out in: layout/oneloop.order, read by build.rs.

Why the order matters: the kernel maps a program's text around each page it
touches (fault-around, 64 KiB at a time), and those pages stay counted in
the process's resident set. Left to itself, the linker scatters the few
hundred functions a running server needs across 1.5 MB of text (most of it
TLS, parsing of options and formatting never called again), so nearly every
64 KiB window gets touched and nearly the whole text stays resident. Listed
first, in one run, they fill a few windows, and the rest is never mapped.

How: the server runs under valgrind's callgrind, which names every function
that executes. Each run is cut into phases with `callgrind_control --dump`:
start-up, serving, shutdown. Two runs: plain HTTP and RFC 868, then HTTPS.
The file lists, each group sorted by name so that a diff reads well:
  1. functions that serve plain HTTP and RFC 868 (the hot path),
  2. start-up (it runs once, but its pages stay mapped),
  3. functions that only HTTPS runs (handshakes, records),
  4. shutdown.
Everything not listed follows in the linker's own order.

The names are the linker's symbols, which depend on the compiler version
and the dependencies' versions (Cargo.lock): after changing either, or after
large changes to the code, record again. `--check` reports how many listed
names the current build still has, and fails when too many are gone.

usage: python3 layout/record.py            # record (needs valgrind, openssl)
       python3 layout/record.py --check    # are the names still there?
"""
import argparse
import collections
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORDER = os.path.join(HERE, "oneloop.order")
TARGET_DIR = os.path.join(ROOT, "target", "layout")
BINARY = os.path.join(TARGET_DIR, "release", "oneloop")
# The C runtime's start-up code: one section each (_start's, and
# frame_dummy's, which the loader calls through .init_array), named by no
# profiler as the binary's own.
CRT = {"_start", "frame_dummy"}
# Fewer of the listed names than this still in the build: record again.
CHECK_FLOOR = 0.9


def build():
    """The release build, with its symbol table kept. The names must be the
    ones of the real build: a profile setting (strip = "none" in
    Cargo.toml) would change the hash in every name, while RUSTFLAGS does
    not, and its `-C strip` comes after the profile's."""
    flags = (os.environ.get("RUSTFLAGS", "") + " -C strip=none").strip()
    env = dict(os.environ, RUSTFLAGS=flags)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--target-dir", TARGET_DIR],
                   cwd=ROOT, env=env, check=True)


def symbols():
    """Function symbols of the built binary."""
    out = subprocess.run(["nm", "--defined-only", BINARY], capture_output=True, text=True,
                         check=True).stdout
    return {p[2] for p in (line.split() for line in out.splitlines())
            if len(p) == 3 and p[1] in "tTwW"}


def functions(path, binary):
    """Names of the functions of `binary` that ran, from one callgrind dump."""
    objects, names, ran = {}, {}, set()
    current = None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        m = re.match(r"^(c?ob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, i, name = m.groups()
            if name:
                objects[i] = name
            if kind == "ob":
                current = objects[i]
            continue
        m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, i, name = m.groups()
            if name:
                names[i] = name
            if kind == "fn" and current == binary:
                ran.add(names[i])
    return ran


def wait_for(port, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port}")


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """One connection and what it has read but not yet taken."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""
        sock.settimeout(30)

    def sendall(self, data):
        self.sock.sendall(data)

    def fill(self):
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def read_to_close(self):
        while self.fill():
            pass
        self.sock.close()

    def response(self, head_only=False):
        """One response: the head, then Content-Length bytes of body."""
        while b"\r\n\r\n" not in self.buf:
            if not self.fill():
                raise SystemExit("the server closed before a whole response")
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        want = 0 if head_only or not m else int(m.group(1))
        self.buf = rest
        while len(self.buf) < want and self.fill():
            pass
        self.buf = self.buf[want:]
        return head

    def close(self):
        self.sock.close()


def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n"


def http_load(connect, rounds=3):
    """What plain HTTP clients do: keep-alive, pipelining, conditional and
    range requests, a large file, errors, HTTP/1.0, Connection: close."""
    for _ in range(rounds):
        s = connect()
        for path in (b"/hello.txt", b"/", b"/index.html", b"/nope", b"/dir", b"/dir/"):
            s.sendall(get(path))
            s.response()
        s.sendall(b"HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        s.response(head_only=True)
        s.sendall(get(b"/hello.txt", b"If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n"))
        s.response(head_only=True)
        s.sendall(get(b"/hello.txt", b"If-None-Match: *\r\n"))
        s.response(head_only=True)
        s.sendall(get(b"/1m.bin", b"Range: bytes=10-20\r\n"))
        s.response()
        s.sendall(get(b"/1m.bin"))
        s.response()
        s.sendall(get(b"/hello.txt") * 16)
        for _ in range(16):
            s.response()
        s.sendall(get(b"/hello.txt", b"Connection: close\r\n"))
        s.read_to_close()
        for req in (b"GET /hello.txt HTTP/1.0\r\n\r\n",
                    b"GARBAGE\r\n\r\n",
                    b"POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
                    b"GET /%2e%2e/etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                    b"GET /metrics/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"):
            s = connect()
            s.sendall(req)
            s.read_to_close()
        # Idle keep-alive connections, as the memory benchmark holds them.
        held = [connect() for _ in range(20)]
        for s in held:
            s.sendall(get(b"/hello.txt"))
        for s in held:
            s.response()
        time.sleep(1.5)  # a second's chores: the Date line, the timer wheel
        for s in held:
            s.close()


def plain_load(http, time_port):
    http_load(lambda: Client(socket.create_connection(("127.0.0.1", http), timeout=30)))
    for _ in range(3):
        Client(socket.create_connection(("127.0.0.1", time_port), timeout=30)).read_to_close()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(30)
        u.sendto(b"", ("127.0.0.1", time_port))
        u.recvfrom(16)
        u.close()


def tls_load(https):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE

    def connect():
        raw = socket.create_connection(("127.0.0.1", https), timeout=30)
        return Client(ctx.wrap_socket(raw, server_hostname="localhost"))
    http_load(connect, rounds=2)
    # TLS 1.2, and resumption of both versions.
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        c = ssl.create_default_context()
        c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
        c.maximum_version = version
        session = None
        for _ in range(2):
            raw = socket.create_connection(("127.0.0.1", https), timeout=30)
            s = Client(c.wrap_socket(raw, server_hostname="localhost", session=session))
            s.sendall(get(b"/hello.txt", b"Connection: close\r\n"))
            while s.fill():
                pass
            session = s.sock.session  # a TLS 1.3 ticket comes after the handshake
            s.close()
    # Plain HTTP to the TLS port, and a client that leaves mid-handshake.
    s = Client(socket.create_connection(("127.0.0.1", https), timeout=30))
    s.sendall(get(b"/"))
    s.read_to_close()
    s = socket.create_connection(("127.0.0.1", https), timeout=30)
    s.sendall(b"\x16\x03\x01\x00\x50\x01")
    s.close()


def record_run(workdir, name, args, port, load):
    """One run under callgrind: start-up, the load, shutdown. Returns the
    functions each phase ran."""
    out = os.path.join(workdir, name)
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--demangle=no",
                             f"--callgrind-out-file={out}.%p", BINARY] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, proc)
        time.sleep(1)
        subprocess.run(["callgrind_control", "--dump=startup", str(proc.pid)],
                       stdout=subprocess.DEVNULL, check=True)
        load()
        subprocess.run(["callgrind_control", "--dump=serving", str(proc.pid)],
                       stdout=subprocess.DEVNULL, check=True)
        proc.terminate()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    base = f"{out}.{proc.pid}"
    return [functions(path, BINARY) for path in (base + ".1", base + ".2", base)]


def site(root):
    os.makedirs(os.path.join(root, "dir"))
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("Hello\n")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>oneloop</title><p>hello</p>\n")
    with open(os.path.join(root, "dir", "a.txt"), "w") as f:
        f.write("a\n")
    with open(os.path.join(root, "1m.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))


def record():
    build()
    known = symbols()
    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, "www")
        site(root)
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        http, time_port, https = free_port(), free_port(), free_port()
        common = ["--http", f"127.0.0.1:{http}", "--root", root, "--metrics-path", "/metrics"]
        start, plain, stop = record_run(
            work, "plain", common + ["--time", f"127.0.0.1:{time_port}"], http,
            lambda: plain_load(http, time_port))
        tls_start, tls, tls_stop = record_run(
            work, "tls", common + ["--https", f"127.0.0.1:{https}", "--tls-cert", cert,
                                   "--tls-key", key], https, lambda: tls_load(https))
    groups = [("serving plain HTTP and RFC 868", plain),
              ("start-up", start | CRT),
              ("HTTPS", tls | tls_start),
              ("shutdown", stop | tls_stop)]
    listed = set()
    with open(ORDER, "w") as f:
        f.write("# The functions oneloop runs, laid out first and together (see record.py).\n"
                "# Written by `python3 layout/record.py`; do not edit by hand.\n")
        for title, names in groups:
            names = sorted((names & known) - listed)
            listed.update(names)
            f.write(f"# {title}: {len(names)}\n")
            f.writelines(n + "\n" for n in names)
    print(f"{len(listed)} functions written to {os.path.relpath(ORDER)}")


def check():
    build()
    known = symbols()
    names = [line.strip() for line in open(ORDER) if line.strip() and not line.startswith("#")]
    found = sum(1 for n in names if n in known)
    print(f"{found} of {len(names)} listed functions are in the build")
    if found < CHECK_FLOOR * len(names):
        raise SystemExit("the layout is stale: run `python3 layout/record.py` to record it again")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check the names")
    args = ap.parse_args()
    check() if args.check else record()


if __name__ == "__main__":
    sys.exit(main())
