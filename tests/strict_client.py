#!/usr/bin/python3
"""A strict HTTP/1.1 client for the integration tests.

Reads a JSON list of requests on stdin: [{"method", "target", "headers":
[[name, value], ...]}, ...], sends them one after another on one keep-alive
connection to 127.0.0.1:PORT, and parses every response with h11, which
refuses anything RFC 9112 does not allow (bad field syntax, a body on a 304
or a HEAD response, a Content-Length that does not match the body, ...).
Prints, per response, a line `RESPONSE status body-length body-crc32`,
a line `HEADER name: value` per field, and `END`. Any protocol error ends
the script with status 1.
"""

import json
import socket
import sys
import zlib

import h11


def main():
    port = int(sys.argv[1])
    requests = json.load(sys.stdin)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn = h11.Connection(our_role=h11.CLIENT)
    for req in requests:
        headers = [("Host", "strict")] + [tuple(h) for h in req.get("headers", [])]
        sock.sendall(conn.send(h11.Request(method=req["method"], target=req["target"], headers=headers)))
        sock.sendall(conn.send(h11.EndOfMessage()))
        response = None
        crc = 0
        length = 0
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = sock.recv(65536)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                crc = zlib.crc32(event.data, crc)
                length += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise SystemExit("connection closed before the response ended")
        print(f"RESPONSE {response.status_code} {length} {crc}")
        for name, value in response.headers:
            print(f"HEADER {name.decode()}: {value.decode()}")
        print("END", flush=True)
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            break
        conn.start_next_cycle()
    sock.close()


if __name__ == "__main__":
    try:
        main()
    except h11.RemoteProtocolError as e:
        print(f"protocol error: {e}", file=sys.stderr)
        sys.exit(1)
