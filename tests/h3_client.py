"""An HTTP/3 client for the tests: aioquic's QUIC and HTTP/3 (its QPACK is ls-qpack).

Usage: h3_client.py HOST PORT CAFILE REQUEST...

CAFILE "-" checks no certificate (for a lesson's, made at its start).
Each REQUEST is "METHOD PATH", then fields as TAB-separated "name: value";
all are sent at once on one connection, each on its own stream. Prints,
in the order asked, for each answer:

    ANSWER <status> <body length> <body SHA-256>
    <name>: <value>        (one line a field, as sent)
    END

or "RESET <code>" for a stream the server reset; then a last line,
"CONNECTION ok" or "CLOSED <code> <reason>".
"""

import asyncio
import hashlib
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.pending = {}
        self.closed = None

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.closed = (event.error_code, event.reason_phrase)
            for sid, p in self.pending.items():
                if not p["done"].done():
                    p["done"].set_result(f"CLOSED {event.error_code}")
        if isinstance(event, StreamReset) and event.stream_id in self.pending:
            p = self.pending[event.stream_id]
            if not p["done"].done():
                p["done"].set_result(f"RESET {event.error_code}")
        for e in self.h3.handle_event(event):
            p = self.pending.get(getattr(e, "stream_id", None))
            if p is None:
                continue
            if isinstance(e, HeadersReceived):
                p["fields"].extend([n.decode(), v.decode()] for n, v in e.headers)
            elif isinstance(e, DataReceived):
                p["body"].update(e.data)
                p["len"] += len(e.data)
            if getattr(e, "stream_ended", False) and not p["done"].done():
                fields = p["fields"]
                status = next((v for n, v in fields if n == ":status"), None)
                lines = [f"ANSWER {status} {p['len']} {p['body'].hexdigest()}"]
                lines += [f"{n}: {v}" for n, v in fields if n != ":status"]
                p["done"].set_result("\n".join(lines + ["END"]))

    def request(self, authority, req):
        sid = self._quic.get_next_available_stream_id()
        line, *fields = req.split("\t")
        method, path = line.split(" ", 1)
        head = [
            (b":method", method.encode()),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
        ] + [tuple(x.strip().encode() for x in f.split(":", 1)) for f in fields]
        self.pending[sid] = {
            "fields": [], "body": hashlib.sha256(), "len": 0,
            "done": asyncio.get_running_loop().create_future(),
        }
        self.h3.send_headers(sid, head, end_stream=True)
        return self.pending[sid]["done"]


async def main():
    host, port, cafile, requests = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
    if cafile == "-":
        config.verify_mode = ssl.CERT_NONE
    else:
        config.load_verify_locations(cafile)
    config.server_name = "localhost"
    async with connect(host, port, configuration=config, create_protocol=Client) as client:
        waits = [client.request(f"localhost:{port}", r) for r in requests]
        client.transmit()
        for w in waits:
            print(await asyncio.wait_for(w, 20), flush=True)
        if client.closed:
            print(f"CLOSED {client.closed[0]} {client.closed[1]}")
        else:
            print("CONNECTION ok")


if __name__ == "__main__":
    asyncio.run(main())
