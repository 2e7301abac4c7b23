"""A QUIC client that asks and then never acknowledges, for tests/http3_hostile.rs.

Usage: h3_silent.py HOST PORT PATH SECONDS

Completes the handshake with aioquic (certificate not checked), sends one
HTTP/3 GET for PATH, prints "requested", then for SECONDS neither reads
its socket (a small receive buffer, soon full) nor sends anything: every
datagram the server sends is lost, none is acknowledged. Prints "done".
"""

import socket
import ssl
import sys
import time

from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import HandshakeCompleted

host, port, path, silent = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
sock.settimeout(0.05)
config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN)
config.verify_mode = ssl.CERT_NONE
quic = QuicConnection(configuration=config)
quic.connect((host, port), now=time.time())
h3 = H3Connection(quic)


def flush():
    for data, addr in quic.datagrams_to_send(now=time.time()):
        sock.sendto(data, addr)


flush()
connected = False
deadline = time.time() + 10
while not connected and time.time() < deadline:
    try:
        data, addr = sock.recvfrom(65536)
        quic.receive_datagram(data, addr, now=time.time())
    except socket.timeout:
        timer = quic.get_timer()
        if timer is not None and timer <= time.time():
            quic.handle_timer(now=time.time())
    event = quic.next_event()
    while event is not None:
        if isinstance(event, HandshakeCompleted):
            connected = True
        h3.handle_event(event)
        event = quic.next_event()
    flush()
if not connected:
    sys.exit("no handshake")
stream = quic.get_next_available_stream_id()
h3.send_headers(stream, [(b":method", b"GET"), (b":scheme", b"https"),
                         (b":authority", f"localhost:{port}".encode()), (b":path", path.encode())],
                end_stream=True)
flush()
print("requested", flush=True)
time.sleep(silent)
print("done", flush=True)
