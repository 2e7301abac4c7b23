"""ls-qpack (through pylsqpack, aioquic's QPACK) as the reference decoder for tests/http3.rs.

Usage: qpack_ref.py FILE

FILE holds one field section a line, in hex. Each is decoded on a fresh
decoder whose dynamic table has capacity 0 (as the server's) and prints
one line: "OK" and each field as "name=value" in hex, space-separated, or
"ERR" when ls-qpack refuses it.
"""

import sys

import pylsqpack

for i, line in enumerate(open(sys.argv[1])):
    block = bytes.fromhex(line.strip())
    decoder = pylsqpack.Decoder(0, 0)
    try:
        _, fields = decoder.feed_header(4 * i, block)
    except Exception:
        print("ERR")
        continue
    print(" ".join(["OK"] + [f"{n.hex()}={v.hex()}" for n, v in fields]))
