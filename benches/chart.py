#!/usr/bin/env python3
"""Draws compare.py's --json output as an SVG bar chart: for each scenario,
each server's figure relative to the best of nginx, lighttpd and h2o (1.0;
for HTTP/3, of Caddy and gtlsserver, the peers that speak it).
Bars are proportional to the figure itself, so where lower is better
(memory) the shortest bar is the best, as a reader expects of a bar.

    python3 benches/chart.py docs/bench/2026-11-25-static.json docs/bench/2026-11-25-static.svg

No dependencies: the SVG is written by hand.
"""
import json
import statistics
import sys

PEERS = ["nginx", "lighttpd", "h2o", "caddy", "gtlsserver"]
ORDER = ["limit", "nginx", "lighttpd", "h2o", "xinetd", "caddy", "gtlsserver", "project"]
COLORS = {"limit": "#999999", "nginx": "#4e79a7", "lighttpd": "#f28e2b", "h2o": "#59a14f",
          "xinetd": "#b07aa1", "caddy": "#76b7b2", "gtlsserver": "#edc948", "project": "#e15759"}
NAMES = {"project": "oneloop", "limit": "limit (C ceiling)"}
TITLES = {"ka": "keep-alive req/s", "pipe": "16-deep pipelining req/s",
          "close": "Connection: close req/s", "big": "1 MiB file MiB/s",
          "tcptime": "RFC 868 TCP conn/s", "udptime": "RFC 868 UDP replies/s",
          "mem10k": "10k idle conns: RSS (lower is better)",
          "tls-ka": "HTTPS keep-alive req/s", "tls-close": "HTTPS, a full handshake per request: req/s",
          "tls-big": "HTTPS 1 MiB file MiB/s", "tls-mem": "5k idle HTTPS conns: RSS (lower is better)",
          "ka-c4": "keep-alive, 4 clients: req/s", "ka-c16": "keep-alive, 16 clients: req/s",
          "tls-ka-c16": "HTTPS keep-alive, 16 clients: req/s",
          "h2-ka": "HTTP/2 over TLS, 100 x 10 streams: req/s", "h2c-ka": "HTTP/2 plain (h2c): req/s",
          "h2-big": "HTTP/2 over TLS, 1 MiB file: MiB/s",
          "h2-mem": "5k idle HTTP/2 conns: RSS (lower is better)",
          "h3-ka": "HTTP/3, 100 x 10 streams: req/s", "h3-big": "HTTP/3, 1 MiB file: MiB/s",
          "h3-mem": "1k idle HTTP/3 conns: RSS (lower is better)"}
LOWER_BETTER = ("mem10k", "tls-mem", "h2-mem", "h3-mem")


def main(src, dst):
    runs = json.load(open(src))
    medians = {}
    for key, results in runs.items():
        scenario, server = key.split("/")
        figures = [r["figure"] for r in results if r.get("figure")]
        if figures:
            medians.setdefault(scenario, {})[server] = statistics.median(figures)
    scenarios = [s for s in TITLES if s in medians]
    row_h, bar_h, left, width = 16, 13, 250, 420
    rows = sum(len(medians[s]) + 2 for s in scenarios)
    height = rows * row_h + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 120}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<text x="10" y="18" font-size="13" font-weight="bold">oneloop vs peers, one pinned core '
           f'(1.0 = best peer: nginx, lighttpd, h2o; Caddy, gtlsserver for HTTP/3; limit for RFC 868)</text>']
    y = 36
    for s in scenarios:
        m = medians[s]
        lower_better = s in LOWER_BETTER
        peers = [m[p] for p in PEERS if p in m]
        base = (min(peers) if lower_better else max(peers)) if peers else m.get("limit") or m.get("xinetd")
        out.append(f'<text x="10" y="{y + 11}" font-weight="bold">{TITLES[s]}</text>')
        y += row_h
        top = max(m.values())
        for server in [x for x in ORDER if x in m]:
            v = m[server]
            w = max(1, width * v / top)
            # Where lower is better, say how many times the best peer's
            # figure this one is; else how many times it does the best peer.
            label = f"{v / base:.2f}x the best peer ({v:,.0f} KiB)" if lower_better else f"{v / base:.2f}x ({v:,.0f})"
            out.append(f'<text x="{left - 6}" y="{y + 10}" text-anchor="end">{NAMES.get(server, server)}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar_h}" fill="{COLORS[server]}" '
                       f'data-value="{v:.0f}"/>')
            out.append(f'<text x="{left + w + 4:.0f}" y="{y + 10}">{label}</text>')
            y += row_h
        y += row_h // 2
    out.append("</svg>")
    open(dst, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
