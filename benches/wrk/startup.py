#!/usr/bin/env python3
"""How much of a short wrk run's p99 is wrk's own start.

wrk (-t1) opens all its connections at once and, over TLS, finishes their
handshakes in its one event loop: when the server has answered every
ClientHello by the time wrk has sent the last one, a single turn of wrk's
loop completes all hundred handshakes (about half a millisecond of client
CPU each) and sends each connection's first request as its handshake ends.
No response is read before that turn is over, so the first request of the
first connection waits for the whole turn: 50-90 ms. Then, before it
prints, wrk corrects for coordinated omission (stats_correct in stats.c):
every latency longer than the mean interval between two requests of a
connection is taken to have hidden more requests, and gains samples
latency - interval, latency - 2 * interval, ... A hundred first requests of
up to 90 ms become some two thousand samples: about 1.5% of a 3-second run
at 50,000 requests a second, which is where p99 is read.

The faster a server answers handshakes, the more of them land in that one
turn (a server that answers more slowly than wrk makes ClientHellos spreads
them over several short turns), and the faster it answers requests, the
shorter the interval and the more samples each slow one adds.

Build wrk with benches/wrk/build.sh, run it with WRK_LOG=FILE, and give the
files to this script:

    WRK_LOG=/tmp/a.lat wrk -t1 -c100 -d3s https://127.0.0.1:8443/hello.txt
    python3 benches/wrk/startup.py /tmp/a.lat

For each file it prints p99 as recorded, p99 as wrk prints it (recomputed
with wrk's correction), the same without the first 200 ms, and the latency
of each connection's first request.
"""

import sys

# The start-up this script sets aside: longer than any handshake turn seen.
SKIP_US = 200_000


def corrected(latencies, interval):
    """wrk's stats_correct: each latency of at least two intervals adds
    latency - interval, latency - 2 * interval, ... while above one."""
    out = list(latencies)
    for v in latencies:
        if v >= 2 * interval:
            m = v - interval
            while m > interval:
                out.append(m)
                m -= interval
    return sorted(out)


def pct(sorted_us, q):
    if not sorted_us:
        return "-"
    return "%.2f" % (sorted_us[min(len(sorted_us) - 1, int(len(sorted_us) * q / 100))] / 1000)


def report(path):
    rows = []
    with open(path) as f:
        for line in f:
            at, latency, fd = (int(x) for x in line.split()[:3])
            rows.append((at, latency, fd))
    if not rows:
        return f"{path}: no responses"
    conns = len({fd for _, _, fd in rows})
    seconds = max(at for at, _, _ in rows) / 1e6 or 1e-6
    # wrk's interval: the run's length over the requests per connection.
    interval = max(1, int(seconds * 1e6 / (len(rows) / conns)))
    latencies = [latency for _, latency, _ in rows]
    later = [latency for at, latency, _ in rows if at >= SKIP_US]
    first = {}
    for _, latency, fd in rows:
        first.setdefault(fd, latency)
    firsts = sorted(first.values())
    return (
        f"{path}: {len(rows)} responses, {conns} connections\n"
        f"  p99 recorded {pct(sorted(latencies), 99)} ms, "
        f"as wrk prints it {pct(corrected(latencies, interval), 99)} ms, "
        f"after the first {SKIP_US // 1000} ms {pct(corrected(later, interval), 99)} ms\n"
        f"  first request of each connection: median {firsts[len(firsts) // 2] / 1000:.1f} ms, "
        f"max {firsts[-1] / 1000:.1f} ms"
    )


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        print(report(path))


if __name__ == "__main__":
    main()
