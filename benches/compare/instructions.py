#!/usr/bin/env python3
"""User-space instructions per request, counted by valgrind, for the project and its peers.

CPU time per request moves +-10% between runs on a shared virtual machine
without hardware counters, so a 2% change cannot be seen with wrk. An
instruction count can: each server runs under `valgrind --tool=callgrind`
and serves a fixed number of requests from h2load; the count for N2 requests
minus the count for N1 requests, over N2 - N1, is the server's own work per
request (start-up, shutdown and connection set-up cancel out). The kernel's
share (the syscalls themselves) is not counted: this is the user-space code
alone, which is what a change to the server's own code moves.

Scenarios (--scenarios):
  h1      HTTP/1.1 keep-alive GET /hello.txt, 10 connections
  pipe    the same with 16 pipelined requests per connection (h2load --h1 -m16)
  h2c     HTTP/2 with prior knowledge, 10 connections x 10 streams
  h2      HTTP/2 over TLS 1.3 (ALPN h2), 10 connections x 10 streams
  big     HTTP/1.1 GET /1m.bin, 4 connections: instructions per MiB

Servers (--only): project (needs --server, as for compare.py), limit, nginx,
lighttpd, h2o. Peers use compare.py's configurations (nginx with
master_process off, so the worker is the process counted).

Example:
  python3 benches/compare/instructions.py --server \
    'target/release/oneloop --http 127.0.0.1:{http} --time 127.0.0.1:{time} --root {root} --https 127.0.0.1:{https} --tls-cert {cert} --tls-key {key}'
Needs valgrind and nghttp2-client (h2load). Runs a few minutes. Loopback only.
"""
import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402  (ports, configurations, document root)

SCEN = {
    "h1": (["--h1", "-c10", "-m1"], "http", "/hello.txt"),
    "pipe": (["--h1", "-c10", "-m16"], "http", "/hello.txt"),
    "h2c": (["-c10", "-m10"], "h2c", "/hello.txt"),
    "h2": (["-c10", "-m10", "--npn-list=h2"], "https", "/hello.txt"),
    "big": (["--h1", "-c4", "-m1"], "http", "/1m.bin"),
}
COUNTS = {"big": (40, 440)}  # requests N1, N2 (1 MiB each)
DEFAULT_COUNTS = (2000, 22000)


def argv_of(name, args):
    if name == "project":
        http, tm = C.PORTS["project"]
        cmd = args.server.format(http=http, time=tm, root=C.WWW, https=C.TLS_PORTS["project"], cert=C.CERT, key=C.KEY)
        return shlex.split(cmd)
    if name == "nginx":
        conf = os.path.join(C.WORK, "nginx", "nginx-single.conf")
        text = open(os.path.join(C.WORK, "nginx", "nginx.conf")).read()
        open(conf, "w").write("master_process off;\n" + text)
        return ["nginx", "-c", conf, "-p", f"{C.WORK}/nginx"]
    return {
        "limit": [os.path.join(C.WORK, "limit"), str(C.PORTS["limit"][0])],
        "lighttpd": ["lighttpd", "-D", "-f", f"{C.WORK}/lighttpd.conf"],
        "h2o": ["h2o", "-c", f"{C.WORK}/h2o.conf"],
    }[name]


def url_of(name, kind, path):
    if kind == "http":
        return f"http://127.0.0.1:{C.PORTS[name][0]}{path}"
    if kind == "h2c":
        return f"http://127.0.0.1:{C.H2C_PORTS[name]}{path}" if name in C.H2C_PORTS else None
    return f"https://127.0.0.1:{C.TLS_PORTS[name]}{path}" if name in C.TLS_PORTS else None


def wait_port(port, proc, secs=60):
    import socket
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def count(name, args, scenario, n):
    """Instructions the server ran while serving n requests (start and stop included)."""
    flags, kind, path = SCEN[scenario]
    url = url_of(name, kind, path)
    if url is None:
        return None
    out = os.path.join(C.WORK, f"cg-{name}-{scenario}-{n}.out")
    log = open(os.path.join(C.WORK, f"cg-{name}.log"), "w")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                             "--trace-children=no"] + argv_of(name, args),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=C.raise_nofile)
    try:
        port = int(url.split(":")[2].split("/")[0])
        if not wait_port(port, proc):
            raise SystemExit(f"{name} did not start under valgrind: see {log.name}")
        if n:
            r = subprocess.run(["h2load", "-t1", "-n", str(n)] + flags + [url], capture_output=True, text=True,
                               timeout=900)
            m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", r.stdout)
            if not m or int(m.group(2)) != n:
                raise SystemExit(f"{name} {scenario}: h2load did not get {n} answers:\n{r.stdout[-600:]}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    total = 0
    for f in [p for p in os.listdir(C.WORK) if p.startswith(os.path.basename(out))]:
        for line in open(os.path.join(C.WORK, f)):
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
        os.remove(os.path.join(C.WORK, f))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", help="the project's command line, as for compare.py")
    ap.add_argument("--only", default="project,limit,nginx,lighttpd,h2o")
    ap.add_argument("--scenarios", default="h1,pipe,h2c,h2,big")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n != "project" or args.server]
    C.prepare()
    rows = {}
    for sc in args.scenarios.split(","):
        n1, n2 = COUNTS.get(sc, DEFAULT_COUNTS)
        for name in names:
            if name == "limit" and sc != "h1":
                continue
            a, b = count(name, args, sc, n1), count(name, args, sc, n2)
            if a is None or b is None:
                continue
            per = (b - a) / (n2 - n1)
            rows.setdefault(sc, {})[name] = per
            unit = "per MiB" if sc == "big" else "per request"
            print(f"{sc:5} {name:9} {per:12,.0f} instructions {unit}", flush=True)
    print()
    print("| scenario | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for sc, r in rows.items():
        best = min((v for k, v in r.items() if k not in ("project", "limit")), default=None)
        cells = []
        for n in names:
            v = r.get(n)
            cell = "" if v is None else f"{v:,.0f}"
            if n == "project" and v is not None and best:
                cell += f" ({v / best:.2f}x best peer)"
            cells.append(cell)
        print(f"| {sc} | " + " | ".join(cells) + " |")
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
