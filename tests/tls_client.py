#!/usr/bin/env python3
"""A TLS client for tests/https.rs, on the standard library's ssl module.

    tls_client.py pipeline PORT CA NAME N     N pipelined GETs in one write; prints each status and body
    tls_client.py version PORT CA NAME V      handshake with TLS V only (1.1, 1.2, 1.3); prints the version or "refused"
    tls_client.py sni PORT CA NAME            handshake asking for NAME; prints the certificate's subject CN
    tls_client.py half PORT                   half a ClientHello, then silence; prints when the server closed
    tls_client.py keep PORT CA NAME           a GET, then another on the same connection after a line on stdin
"""
import socket
import ssl
import sys
import time


def context(ca, minimum=None, maximum=None):
    ctx = ssl.create_default_context(cafile=ca)
    # This client speaks HTTP/1.1 only, so it offers nothing else.
    ctx.set_alpn_protocols(["http/1.1"])
    if minimum:
        ctx.minimum_version = minimum
    if maximum:
        ctx.maximum_version = maximum
    return ctx


def connect(port, ctx, name):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname=name)


def read_responses(s, n):
    buf, out = b"", []
    while len(out) < n:
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return out
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
                break
            rest += d
        out.append((head.split(b" ")[1].decode(), rest[:length]))
        buf = rest[length:]
    return out


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "pipeline":
        ca, name, n = sys.argv[3], sys.argv[4], int(sys.argv[5])
        s = connect(port, context(ca), name)
        print("alpn", s.selected_alpn_protocol())
        req = b"".join(b"GET /hello.txt?%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(n))
        s.sendall(req)
        for status, body in read_responses(s, n):
            print(status, body.decode().strip())
    elif cmd == "version":
        ca, name, v = sys.argv[3], sys.argv[4], sys.argv[5]
        version = {"1.1": ssl.TLSVersion.TLSv1_1, "1.2": ssl.TLSVersion.TLSv1_2,
                   "1.3": ssl.TLSVersion.TLSv1_3}[v]
        ctx = context(ca, version, version)
        if v == "1.1":
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        try:
            s = connect(port, ctx, name)
            print(s.version())
        except (ssl.SSLError, ConnectionError) as e:
            print("refused", type(e).__name__)
    elif cmd == "sni":
        ca, name = sys.argv[3], sys.argv[4]
        s = connect(port, context(ca), name)
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        print(subject.get("commonName"))
    elif cmd == "keep":
        ca, name = sys.argv[3], sys.argv[4]
        s = connect(port, context(ca), name)
        subject = dict(x[0] for x in s.getpeercert()["subject"])
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        print("1", subject.get("commonName"), read_responses(s, 1)[0][0], flush=True)
        sys.stdin.readline()
        s.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        print("2", read_responses(s, 1)[0][0], flush=True)
    elif cmd == "half":
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        # A TLS record header announcing 512 bytes of handshake, and 10 of them.
        raw.sendall(bytes([22, 3, 1, 2, 0]) + b"\x01\x00\x01\xfc\x03\x03" + b"\x00" * 4)
        start = time.time()
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
        print("closed after %.2f s" % (time.time() - start))


if __name__ == "__main__":
    main()
