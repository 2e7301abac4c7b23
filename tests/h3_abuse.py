"""A QUIC client that breaks HTTP/3's rules, for tests/http3_hostile.rs.

Usage: h3_abuse.py HOST PORT MODE

MODE "streams": after the handshake, ignores the server's stream limit
(MAX_STREAMS, 100) and opens 10,000 request streams at once, each with a
GET, in as few datagrams as the congestion window allows.

MODE "dynamic": sends a GET whose field section names an entry of the
QPACK dynamic table (which the server keeps empty), then a valid GET on
the next stream, in the same datagram.

Either way, prints the answers it got ("ANSWER <status>" a stream) and
the connection's end: "CLOSED <code>" (the server's error code) or
"OPEN" when nothing closed it within 10 seconds.
"""

import socket
import ssl
import sys
import time

from aioquic.buffer import encode_uint_var
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(0.02)
config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
config.verify_mode = ssl.CERT_NONE
quic = QuicConnection(configuration=config)
quic.connect((host, port), now=time.time())
h3 = H3Connection(quic)
state = {"connected": False, "closed": None}


def flush():
    for data, addr in quic.datagrams_to_send(now=time.time()):
        sock.sendto(data, addr)


def pump(done, seconds):
    """Reads, handles timers and events, and sends until done() or seconds pass."""
    deadline = time.time() + seconds
    while not done() and time.time() < deadline:
        try:
            data, addr = sock.recvfrom(65536)
            quic.receive_datagram(data, addr, now=time.time())
        except socket.timeout:
            pass
        timer = quic.get_timer()
        if timer is not None and timer <= time.time():
            quic.handle_timer(now=time.time())
        event = quic.next_event()
        while event is not None:
            if isinstance(event, HandshakeCompleted):
                state["connected"] = True
            if isinstance(event, ConnectionTerminated):
                state["closed"] = event.error_code
            for e in h3.handle_event(event):
                if isinstance(e, HeadersReceived):
                    status = dict(e.headers).get(b":status", b"?").decode()
                    print(f"ANSWER {status}", flush=True)
            event = quic.next_event()
        flush()


def get(stream):
    h3.send_headers(stream, [(b":method", b"GET"), (b":scheme", b"https"),
                             (b":authority", f"localhost:{port}".encode()),
                             (b":path", b"/hello.txt")], end_stream=True)


flush()
pump(lambda: state["connected"], 10)
if not state["connected"]:
    sys.exit("no handshake")
if mode == "streams":
    # aioquic holds back streams past the peer's limit; tell it the limit
    # is far away, as a hostile client would.
    quic._remote_max_streams_bidi = 1 << 40
    for _ in range(10_000):
        get(quic.get_next_available_stream_id())
elif mode == "dynamic":
    # HEADERS frame (type 1): Required Insert Count 1 (encoded 2), Base 0,
    # then an indexed field line naming dynamic entry 0 (RFC 9204 §4.5.2).
    section = bytes([0x02, 0x00, 0x80])
    frame = encode_uint_var(1) + encode_uint_var(len(section)) + section
    quic.send_stream_data(quic.get_next_available_stream_id(), frame, end_stream=True)
    get(quic.get_next_available_stream_id())
else:
    sys.exit(f"unknown mode {mode}")
flush()
pump(lambda: state["closed"] is not None, 10)
print("OPEN" if state["closed"] is None else f"CLOSED {state['closed']}", flush=True)
