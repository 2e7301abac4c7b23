#!/usr/bin/env python3
"""Keep-alive at 1, 4, 16 and 100 clients, HTTP and HTTPS, for several
oneloop command lines side by side: the sweep that says whether a setting
that wins at one load loses at another.

    python3 benches/sweep.py --rounds 3 \
        'coalesce 0=target/release/oneloop --coalesce-us 0' \
        'default=target/release/oneloop'

Each variant is started once per round (server on CPU 0, wrk on CPU 1),
variants take turns inside each round, and the table gives the median of
the rounds: req/s, p50 and p99. The server is given --http, --https and a
self-signed pair made with openssl; GET /hello.txt (the embedded site).
Everything listens on 127.0.0.1 only.
"""

import argparse
import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SERVER_CPU, LOAD_CPU = "0", "1"
CLIENTS = [1, 4, 16, 100]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def duration_us(value, unit):
    return float(value) * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


def wrk(url, conns, secs):
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{conns}", f"-d{secs:g}s",
         "--timeout", "4s", "--latency", url],
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\b", out, re.M)
    errors = re.search(r"Non-2xx|Socket errors", out)
    if errors:
        print(out, file=sys.stderr)
    return rps, duration_us(*p50.groups()), duration_us(*p99.groups())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("variants", nargs="+", help="NAME=COMMAND (without --http/--https)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    ap.add_argument("--no-https", action="store_true")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    variants = [v.split("=", 1) for v in args.variants]
    tmp = tempfile.mkdtemp(prefix="oneloop-sweep-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    schemes = ["http"] + ([] if args.no_https else ["https"])
    results = {}  # (variant, scheme, clients) -> [(rps, p50, p99)]
    for rnd in range(args.rounds):
        for name, cmd in variants:
            http, https = free_port(), free_port()
            argv = shlex.split(cmd) + [
                "--http", f"127.0.0.1:{http}", "--time", f"127.0.0.1:{free_port()}",
                "--https", f"127.0.0.1:{https}", "--tls-cert", cert, "--tls-key", key]
            proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_port(http)
                wait_port(https)
                for scheme in schemes:
                    port = http if scheme == "http" else https
                    url = f"{scheme}://127.0.0.1:{port}/hello.txt"
                    for c in clients:
                        r = wrk(url, c, args.seconds)
                        results.setdefault((name, scheme, c), []).append(r)
                        print(f"round {rnd + 1} {name} {scheme} c{c}: "
                              f"{r[0]:,.0f} req/s p50 {r[1]:.0f} us p99 {r[2]:.0f} us",
                              file=sys.stderr)
            finally:
                proc.terminate()
                proc.wait()
    names = [n for n, _ in variants]
    print(f"\nMedians of {args.rounds} rounds, {args.seconds:g} s each "
          f"(req/s, p50 µs, p99 µs):\n")
    print("| load | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for scheme in schemes:
        for c in clients:
            cells = []
            for n in names:
                runs = results[(n, scheme, c)]
                rps = statistics.median(r[0] for r in runs)
                p50 = statistics.median(r[1] for r in runs)
                p99 = statistics.median(r[2] for r in runs)
                cells.append(f"{rps:,.0f} · {p50:.0f} · {p99:.0f}")
            print(f"| {scheme} c{c} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
