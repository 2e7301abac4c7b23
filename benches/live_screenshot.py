#!/usr/bin/env python3
"""Screenshot the live page after it has run in real time.

`chromium --headless --screenshot` shoots at the load event, before the page
has drawn a single rate, and `--virtual-time-budget` fast-forwards its
timers. So this starts headless Chromium with the DevTools port open, lets
the page run for --seconds of wall time, and asks for the screenshot over
the DevTools protocol (a websocket, spoken here with the standard library).

    target/release/oneloop --metrics-path /metrics &
    wrk -t1 -c50 -d40s http://127.0.0.1:8080/hello.txt &
    python3 benches/live_screenshot.py --url http://127.0.0.1:8080/metrics/live \
        --seconds 30 --out docs/live.png
"""

import argparse
import base64
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request


def ws_connect(url):
    assert url.startswith("ws://")
    host_port, path = url[5:].split("/", 1)
    host, port = host_port.split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise SystemExit(f"websocket handshake refused: {head!r}")
    return sock


def ws_send(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(header + mask + masked)


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise SystemExit("DevTools closed the connection")
        buf += chunk
    return buf


def ws_recv(sock):
    message = b""
    while True:
        b0, b1 = recv_exact(sock, 2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", recv_exact(sock, 2))
        elif n == 127:
            (n,) = struct.unpack("!Q", recv_exact(sock, 8))
        message += recv_exact(sock, n)
        if b0 & 0x80:
            return message.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", default="1100,600")
    ap.add_argument("--port", type=int, default=9333)
    args = ap.parse_args()
    chrome = subprocess.Popen(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--window-size={args.size}", f"--remote-debugging-port={args.port}", args.url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/json/list") as r:
                    pages = [t for t in json.load(r) if t["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit("chromium did not open its DevTools port")
            time.sleep(0.2)
        time.sleep(args.seconds)
        sock = ws_connect(pages[0]["webSocketDebuggerUrl"])
        ws_send(sock, json.dumps({"id": 1, "method": "Page.captureScreenshot", "params": {"format": "png"}}))
        while True:
            reply = json.loads(ws_recv(sock))
            if reply.get("id") == 1:
                break
        with open(args.out, "wb") as f:
            f.write(base64.b64decode(reply["result"]["data"]))
        print(f"wrote {args.out}")
    finally:
        chrome.terminate()
        chrome.wait(timeout=10)


if __name__ == "__main__":
    main()
