"""QUIC Initials by the hundred, for tests/http3.rs: each from a new connection that never goes on.

Usage: h3_flood.py HOST PORT COUNT

Sends COUNT client Initials (aioquic's, each a connection of its own,
padded to 1,200 bytes as RFC 9000 asks) as fast as the socket takes them,
then reads what comes back for a second and prints one line:
"initials=N retries=R handshakes=H other=O", counting the server's
datagrams that are Retry packets and those that answer with its own
Initial (a handshake begun, state kept).
"""

import socket
import ssl
import sys
import time

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
config = QuicConfiguration(is_client=True, alpn_protocols=["h3"])
config.verify_mode = ssl.CERT_NONE
sent = 0
for _ in range(count):
    conn = QuicConnection(configuration=config)
    conn.connect((host, port), now=time.time())
    for data, addr in conn.datagrams_to_send(now=time.time()):
        sock.sendto(data, addr)
        sent += 1
retries = handshakes = other = 0
sock.settimeout(1.0)
while True:
    try:
        data = sock.recv(65536)
    except socket.timeout:
        break
    first = data[0]
    if first & 0x80 and (first & 0x30) >> 4 == 3:
        retries += 1
    elif first & 0x80 and (first & 0x30) >> 4 == 0:
        handshakes += 1
    else:
        other += 1
print(f"initials={sent} retries={retries} handshakes={handshakes} other={other}")
