#!/usr/bin/python3
"""The frame-level HTTP/2 suite: what RFC 9113 (sections 3 to 8) and
RFC 7541 hold a server to, checked from outside over h2c.

Usage: h2_frames.py PORT SMALL BIG SMALL_FILE BIG_LEN [CASE...]

PORT is oneloop's plain HTTP port (HTTP/2 by prior knowledge); SMALL is
the URL path of a small file (SMALL_FILE: where its bytes are) and BIG of
one larger than 128 KiB (BIG_LEN bytes long). Each case
opens its own connection, sends frames built with hyperframe (or by hand,
where a frame must be malformed in a way hyperframe refuses to build) and
header blocks encoded with hpack, and reads the server's frames with
hyperframe and hpack: clients that know nothing of the server.

Every case runs twice: as written, and "merged", as attackers and real
stacks send: the frames a case sends wait and go in the write of its next
read, and where it expects a stream error, the next valid request (on a
new stream) shares that write and must be answered as well, whatever the
error did to the HPACK tables and the framing.

Prints `PASS name` (`PASS name merged`) or `FAIL name: why` per case, then
`TOTAL n`; exits 1 if any case failed. Where the RFC allows a stream error or a connection error
(RFC 9113 §5.4.1 lets an endpoint end the connection for a stream error),
either is taken; where it names an error code, only that code is.
"""

import socket
import struct
import sys

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types and error codes (RFC 9113 §6, §7).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM, COMPRESSION_ERROR = 0x5, 0x6, 0x7, 0x9
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG, ACK = 0x1, 0x4, 0x8, 0x20, 0x1

ENHANCE_YOUR_CALM = 0xB

NAMES = {v: k for k, v in list(globals().items()) if k.endswith("_ERROR") or k in ("NO_ERROR", "STREAM_CLOSED", "ENHANCE_YOUR_CALM")}

# Set while the cases run merged (see the module's docs).
MERGED = False


class Failed(Exception):
    pass


def raw(kind, flags, stream, payload=b""):
    """A frame as bytes, however wrong it is."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


class Conn:
    """One h2c connection: the preface exchanged, frames sent and read."""

    def __init__(self, settings=None):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buf = b""
        self.server_settings = None
        self.stash, self.top = None, 0
        self.sock.sendall(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())
        # §3.4: the server's preface is a SETTINGS frame, and it goes first;
        # §6.5.3: our SETTINGS are acknowledged.
        first = self.read()
        if first is None or not isinstance(first, SettingsFrame) or "ACK" in first.flags:
            raise Failed(f"the server's first frame is not SETTINGS: {first}")
        self.server_settings = first.settings
        self.send(SettingsFrame(0, flags=["ACK"]))
        acked = self.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
        if acked is None:
            raise Failed("our SETTINGS were not acknowledged")
        # Merged: what the case sends waits for its next read.
        self.stash = [] if MERGED else None

    def send(self, *frames):
        data = b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames)
        at = 0
        while at + 9 <= len(data):
            self.top = max(self.top, int.from_bytes(data[at + 5 : at + 9], "big") & 0x7FFFFFFF)
            at += 9 + int.from_bytes(data[at : at + 3], "big")
        if self.stash is not None:
            self.stash.append(data)
        else:
            self.sock.sendall(data)

    def flush(self):
        """Sends what waits, in one write."""
        if self.stash:
            self.sock.sendall(b"".join(self.stash))
            self.stash.clear()

    def block(self, fields, **kw):
        return self.encoder.encode(fields, **kw)

    def request(self, stream, path=None, method="GET", extra=(), end_stream=True, fields=None):
        """HEADERS for a request, as one frame."""
        if fields is None:
            fields = [(":method", method), (":scheme", "http"), (":path", path or SMALL), (":authority", "localhost")]
            fields += list(extra)
        flags = ["END_HEADERS"] + (["END_STREAM"] if end_stream else [])
        return HeadersFrame(stream, data=self.block(fields), flags=flags)

    def read(self):
        """The next frame, or None when the server closed the connection."""
        self.flush()
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    head, body = self.buf[:9], self.buf[9 : 9 + length]
                    self.buf = self.buf[9 + length :]
                    frame, _ = Frame.parse_frame_header(memoryview(head))
                    frame.parse_body(memoryview(body))
                    if isinstance(frame, HeadersFrame) or isinstance(frame, ContinuationFrame):
                        frame.fields = self.decoder.decode(bytes(frame.data))
                    return frame
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            except socket.timeout:
                raise Failed("no answer within 5 s")
            if not data:
                return None
            self.buf += data

    def until(self, want, what, graceful=False):
        """Reads frames until `want(frame)`; a GOAWAY (but one with NO_ERROR
        when `graceful`) or a close first fails."""
        while True:
            f = self.read()
            if f is None:
                raise Failed(f"connection closed while waiting for {what}")
            if want(f):
                return f
            if isinstance(f, GoAwayFrame) and not (graceful and f.error_code == NO_ERROR):
                raise Failed(f"GOAWAY {name(f.error_code)} while waiting for {what}")
            if isinstance(f, RstStreamFrame):
                raise Failed(f"RST_STREAM {name(f.error_code)} on {f.stream_id} while waiting for {what}")

    def alive(self):
        """The connection still works: a PING comes back acknowledged."""
        payload = b"oneloop!"
        self.send(PingFrame(0, opaque_data=payload))
        f = self.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, "PING ACK")
        if f.opaque_data != payload:
            raise Failed(f"PING ACK carries {f.opaque_data!r}, not {payload!r}")

    def goaway(self, *codes):
        """A connection error: GOAWAY with one of `codes`, then a close."""
        while True:
            f = self.read()
            if f is None:
                raise Failed(f"closed without GOAWAY (wanted {names(codes)})")
            if isinstance(f, GoAwayFrame):
                if f.error_code not in codes:
                    raise Failed(f"GOAWAY {name(f.error_code)}, wanted {names(codes)}")
                break
        while self.read() is not None:
            pass

    def reset(self, stream, *codes):
        """A stream error (RST_STREAM with one of `codes` on `stream`), or
        the connection error in its place (§5.4.1). After RST_STREAM the
        connection must still work: merged, the next valid request went in
        the same write and must be answered."""
        after = None
        if self.stash and REFUSED_STREAM not in codes:
            after = (self.top | 1) + 2
            # Room in both windows, whatever the case did to them.
            self.send(
                self.request(after),
                WindowUpdateFrame(after, window_increment=65535),
                WindowUpdateFrame(0, window_increment=65535),
            )
        while True:
            f = self.read()
            if f is None:
                raise Failed(f"closed without RST_STREAM or GOAWAY (wanted {names(codes)})")
            if isinstance(f, GoAwayFrame):
                if f.error_code not in codes:
                    raise Failed(f"GOAWAY {name(f.error_code)}, wanted {names(codes)}")
                return
            if isinstance(f, RstStreamFrame):
                if f.stream_id != stream or f.error_code not in codes:
                    raise Failed(f"RST_STREAM {name(f.error_code)} on {f.stream_id}, wanted {names(codes)} on {stream}")
                if after is not None:
                    fields, body = self.response(after)
                    status(fields, 200)
                    if body != SMALL_BODY:
                        raise Failed(f"the request after the error got {len(body)} bytes")
                self.alive()
                return
            if isinstance(f, HeadersFrame) and f.stream_id == stream:
                raise Failed(f"stream {stream} answered before its RST_STREAM")

    def response(self, stream, graceful=False):
        """The response on `stream`: (fields, body), until END_STREAM."""
        fields, body = None, b""
        while True:
            f = self.until(lambda f: f.stream_id == stream, f"the response on stream {stream}", graceful)
            if isinstance(f, HeadersFrame):
                fields = dict(f.fields) if fields is None else fields
            elif isinstance(f, DataFrame):
                if fields is None:
                    raise Failed("DATA before HEADERS")
                body += bytes(f.data)
                if f.flow_controlled_length:
                    self.send(WindowUpdateFrame(0, window_increment=f.flow_controlled_length))
                    if "END_STREAM" not in f.flags:
                        self.send(WindowUpdateFrame(stream, window_increment=f.flow_controlled_length))
            if "END_STREAM" in f.flags:
                return fields, body

    def close(self):
        self.sock.close()


def name(code):
    return NAMES.get(code, hex(code))


def names(codes):
    return " or ".join(name(c) for c in codes)


def status(fields, want):
    if fields.get(":status") != str(want):
        raise Failed(f":status {fields.get(':status')}, wanted {want}")


# ---------------------------------------------------------------------------
# The cases. Each takes nothing, opens what it needs, raises Failed.

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def held_stream(c, stream=1):
    """A stream in "half-closed (remote)" that stays there: the client's
    window is 0, so the response to a GET of the big file cannot finish."""
    c.send(c.request(stream, path=BIG))
    c.until(lambda f: isinstance(f, HeadersFrame) and f.stream_id == stream, "the response HEADERS")


def zero_window():
    return Conn({SettingsFrame.INITIAL_WINDOW_SIZE: 0})


def open_stream(c, stream=1):
    """A stream in "open": a request whose body has not ended (the answer,
    a refusal of the method, may come at once; the stream stays open for
    its DATA)."""
    c.send(c.request(stream, method="POST", end_stream=False, extra=[("content-length", "32768")]))


# §3.4 The connection preface -------------------------------------------------


@case
def s3_4_first_frame_settings_and_ack():
    Conn().alive()


@case
def s3_4_invalid_preface():
    # On the plain port a connection that does not open with the preface
    # is HTTP/1.x (as at nginx, lighttpd and h2o); this one is not that
    # either. §3.4 asks for PROTOCOL_ERROR, with GOAWAY or without: a
    # GOAWAY, an HTTP/1.1 refusal, or a close, and nothing else.
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + SettingsFrame(0).serialize())
    got = b""
    while True:
        data = s.recv(65536)
        if not data:
            break
        got += data
    if got.startswith(b"HTTP/1.1 4") or got.startswith(b"HTTP/1.1 5") or got == b"":
        return
    c = Conn.__new__(Conn)
    c.sock, c.buf, c.decoder, c.stash = s, got, hpack.Decoder(), None
    c.goaway(PROTOCOL_ERROR)


@case
def s3_4_preface_then_ping_not_settings():
    # The preface is the 24 bytes and a SETTINGS frame: anything else
    # first is an invalid preface (PROTOCOL_ERROR).
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.sendall(PREFACE + PingFrame(0, opaque_data=b"12345678").serialize())
    c = Conn.__new__(Conn)
    c.sock, c.buf, c.decoder, c.stash = s, b"", hpack.Decoder(), None
    c.goaway(PROTOCOL_ERROR)


# §4.1 Frame format --------------------------------------------------------------


@case
def s4_1_unknown_type_ignored():
    c = Conn()
    c.send(raw(0x42, 0, 0, b"\x00" * 8), raw(0x42, 0xFF, 1, b"hello"))
    c.alive()


@case
def s4_1_undefined_flags_ignored():
    c = Conn()
    c.send(raw(PING, 0x16 | 0x80 & ~ACK, 0, b"flagged!"))
    f = c.until(lambda f: isinstance(f, PingFrame) and "ACK" in f.flags, "PING ACK")
    if f.opaque_data != b"flagged!":
        raise Failed("PING ACK payload differs")


@case
def s4_1_reserved_bit_ignored():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, (1 << 31) | 1, block))
    fields, _ = c.response(1)
    status(fields, 200)


# §4.2 Frame size ------------------------------------------------------------------


@case
def s4_2_data_of_16384_accepted():
    c = Conn()
    open_stream(c)
    c.send(DataFrame(1, data=b"x" * 16384))
    c.alive()


@case
def s4_2_data_too_large():
    c = Conn()
    open_stream(c)
    c.send(raw(DATA, 0, 1, b"x" * 16385))
    c.reset(1, FRAME_SIZE_ERROR)


@case
def s4_2_headers_too_large():
    c = Conn()
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\x00" * 16385))
    c.goaway(FRAME_SIZE_ERROR)


@case
def s4_2_settings_too_large():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, b"\x00\x07\x00\x00\x00\x00" * 2731))
    c.goaway(FRAME_SIZE_ERROR)


# §4.3 Field section compression ------------------------------------------------


@case
def s4_3_undecodable_block():
    c = Conn()
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\x80"))
    c.goaway(COMPRESSION_ERROR)


@case
def s4_3_priority_inside_block():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3], flags=["END_STREAM"]), PriorityFrame(1, depends_on=0, stream_weight=16))
    c.goaway(PROTOCOL_ERROR)


@case
def s4_3_headers_on_other_stream_inside_block():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3], flags=["END_STREAM"]), HeadersFrame(3, data=block, flags=["END_HEADERS", "END_STREAM"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s4_3_block_split_over_continuations_is_one_block():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(
        HeadersFrame(1, data=block[:2], flags=["END_STREAM"]),
        ContinuationFrame(1, data=block[2:5]),
        ContinuationFrame(1, data=block[5:], flags=["END_HEADERS"]),
    )
    fields, body = c.response(1)
    status(fields, 200)


# §5.1 Stream states ------------------------------------------------------------------


@case
def s5_1_idle_data():
    c = Conn()
    c.send(DataFrame(1, data=b"x", flags=["END_STREAM"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_idle_rst_stream():
    c = Conn()
    c.send(RstStreamFrame(1, error_code=0x8))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_idle_window_update():
    c = Conn()
    c.send(WindowUpdateFrame(1, window_increment=100))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_idle_continuation():
    c = Conn()
    block = c.block([(":method", "GET")])
    c.send(ContinuationFrame(1, data=block, flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_idle_priority_accepted():
    c = Conn()
    c.send(PriorityFrame(7, depends_on=0, stream_weight=100))
    c.send(c.request(9))
    fields, _ = c.response(9)
    status(fields, 200)


@case
def s5_1_half_closed_remote_data():
    c = zero_window()
    held_stream(c)
    c.send(DataFrame(1, data=b"x", flags=["END_STREAM"]))
    c.reset(1, STREAM_CLOSED)


@case
def s5_1_half_closed_remote_headers():
    c = zero_window()
    held_stream(c)
    c.send(c.request(1))
    c.reset(1, STREAM_CLOSED)


@case
def s5_1_half_closed_remote_continuation():
    c = zero_window()
    held_stream(c)
    c.send(ContinuationFrame(1, data=c.block([("x-a", "b")]), flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_half_closed_remote_window_update_accepted():
    c = zero_window()
    held_stream(c)
    c.send(WindowUpdateFrame(0, window_increment=10), WindowUpdateFrame(1, window_increment=10))
    f = c.until(lambda f: isinstance(f, DataFrame), "DATA")
    if f.stream_id != 1 or len(f.data) != 10:
        raise Failed(f"DATA of {len(f.data)} bytes on stream {f.stream_id}, wanted 10 on 1")
    c.alive()


@case
def s5_1_closed_by_reset_data():
    c = zero_window()
    held_stream(c)
    c.send(RstStreamFrame(1, error_code=0x8), DataFrame(1, data=b"x"))
    c.reset(1, STREAM_CLOSED)


@case
def s5_1_closed_by_reset_headers():
    c = zero_window()
    held_stream(c)
    c.send(RstStreamFrame(1, error_code=0x8), c.request(1))
    c.reset(1, STREAM_CLOSED)


@case
def s5_1_closed_by_reset_priority_accepted():
    c = zero_window()
    held_stream(c)
    c.send(RstStreamFrame(1, error_code=0x8), PriorityFrame(1, depends_on=0, stream_weight=1))
    c.alive()


@case
def s5_1_closed_data():
    # END_STREAM both ways, then DATA: a connection error (§5.1, closed).
    c = Conn()
    c.send(c.request(1))
    c.response(1)
    c.send(DataFrame(1, data=b"x"))
    c.goaway(STREAM_CLOSED)


@case
def s5_1_closed_headers():
    c = Conn()
    c.send(c.request(1))
    c.response(1)
    c.send(c.request(1))
    c.goaway(STREAM_CLOSED)


@case
def s5_1_closed_continuation():
    c = Conn()
    c.send(c.request(1))
    c.response(1)
    c.send(ContinuationFrame(1, data=c.block([("x-a", "b")]), flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_1_even_stream():
    c = Conn()
    c.send(c.request(2))
    c.goaway(PROTOCOL_ERROR)


@case
def s5_1_1_smaller_stream_id():
    # The first use of 5 closes 3 (§5.1.1), so HEADERS on 3 is an
    # unexpected stream identifier (PROTOCOL_ERROR, §5.1.1) on a closed
    # stream (STREAM_CLOSED, §5.1): the RFC names both.
    c = Conn()
    c.send(c.request(5))
    c.response(5)
    c.send(c.request(3))
    c.goaway(PROTOCOL_ERROR, STREAM_CLOSED)


@case
def s5_1_2_more_streams_than_allowed():
    c = zero_window()
    limit = c.server_settings.get(SettingsFrame.MAX_CONCURRENT_STREAMS)
    if limit is None or limit > 1000:
        raise Failed(f"SETTINGS_MAX_CONCURRENT_STREAMS is {limit}")
    for i in range(limit):
        c.send(c.request(2 * i + 1, path=BIG))
    for i in range(limit):
        c.until(lambda f: isinstance(f, HeadersFrame), "the response HEADERS")
    c.send(c.request(2 * limit + 1, path=BIG))
    c.reset(2 * limit + 1, PROTOCOL_ERROR, REFUSED_STREAM)


# §5.3 Priority ------------------------------------------------------------------


@case
def s5_3_1_headers_depends_on_itself():
    c = Conn()
    f = c.request(1)
    f.flags.add("PRIORITY")
    f.depends_on, f.stream_weight = 1, 16
    c.send(f)
    c.reset(1, PROTOCOL_ERROR)


@case
def s5_3_1_priority_depends_on_itself():
    c = Conn()
    c.send(PriorityFrame(1, depends_on=1, stream_weight=16))
    c.reset(1, PROTOCOL_ERROR)


# §5.5 Extending HTTP/2 ------------------------------------------------------


@case
def s5_5_unknown_frame_inside_block():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3], flags=["END_STREAM"]), raw(0x42, 0, 1, b"ext"))
    c.goaway(PROTOCOL_ERROR)


# §6.1 DATA ---------------------------------------------------------------------


@case
def s6_1_data_on_stream_0():
    c = Conn()
    c.send(raw(DATA, 0, 0, b"x"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_1_data_pad_too_long():
    c = Conn()
    open_stream(c)
    c.send(raw(DATA, PADDED, 1, bytes([6]) + b"abcde"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_1_padded_data_accepted():
    c = Conn()
    open_stream(c)
    c.send(DataFrame(1, data=b"abc", pad_length=10))
    c.alive()


# §6.2 HEADERS ------------------------------------------------------------------


@case
def s6_2_headers_on_stream_0():
    c = Conn()
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, 0, c.block([(":method", "GET")])))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_2_headers_pad_too_long():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(raw(HEADERS, END_HEADERS | END_STREAM | PADDED, 1, bytes([len(block) + 1]) + block))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_2_padded_headers_with_priority_accepted():
    c = Conn()
    f = c.request(1)
    f.pad_length = 7
    f.flags.add("PADDED")
    f.flags.add("PRIORITY")
    f.depends_on, f.stream_weight, f.exclusive = 0, 200, True
    c.send(f)
    fields, _ = c.response(1)
    status(fields, 200)


@case
def s6_2_continuation_after_end_headers():
    c = Conn()
    c.send(c.request(1), ContinuationFrame(1, data=c.block([("x-a", "b")]), flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


# §6.3 PRIORITY ---------------------------------------------------------------


@case
def s6_3_priority_on_stream_0():
    c = Conn()
    c.send(raw(PRIORITY, 0, 0, b"\x00\x00\x00\x01\x10"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_3_priority_wrong_length():
    c = Conn()
    c.send(raw(PRIORITY, 0, 1, b"\x00\x00\x00\x03"))
    c.reset(1, FRAME_SIZE_ERROR)


# §6.4 RST_STREAM ------------------------------------------------------------


@case
def s6_4_rst_stream_on_stream_0():
    c = Conn()
    c.send(raw(RST_STREAM, 0, 0, b"\x00\x00\x00\x08"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_4_rst_stream_wrong_length():
    c = zero_window()
    held_stream(c)
    c.send(raw(RST_STREAM, 0, 1, b"\x00\x00\x08"))
    c.goaway(FRAME_SIZE_ERROR)


@case
def s6_4_rst_stream_stops_the_stream():
    c = zero_window()
    held_stream(c)
    c.send(RstStreamFrame(1, error_code=0x8), WindowUpdateFrame(0, window_increment=1000))
    c.send(c.request(3))
    # Stream 3 was given no window either: its HEADERS is what comes, and
    # nothing more arrives on stream 1.
    f = c.until(lambda f: f.stream_id in (1, 3), "a frame on stream 1 or 3")
    if f.stream_id != 3:
        raise Failed(f"{type(f).__name__} on stream 1 after RST_STREAM")
    c.alive()


# §6.5 SETTINGS ------------------------------------------------------------------


@case
def s6_5_ack_with_payload():
    c = Conn()
    c.send(raw(SETTINGS, ACK, 0, b"\x00\x01\x00\x00\x10\x00"))
    c.goaway(FRAME_SIZE_ERROR)


@case
def s6_5_settings_on_a_stream():
    c = Conn()
    c.send(raw(SETTINGS, 0, 1, b"\x00\x01\x00\x00\x10\x00"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_5_settings_length_not_multiple_of_6():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, b"\x00\x01\x00\x00\x10"))
    c.goaway(FRAME_SIZE_ERROR)


@case
def s6_5_2_enable_push_2():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, struct.pack(">HI", 0x2, 2)))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_5_2_initial_window_too_large():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, struct.pack(">HI", 0x4, 1 << 31)))
    c.goaway(FLOW_CONTROL_ERROR)


@case
def s6_5_2_max_frame_size_too_small():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, struct.pack(">HI", 0x5, 16383)))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_5_2_max_frame_size_too_large():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, struct.pack(">HI", 0x5, 1 << 24)))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_5_2_unknown_setting_ignored():
    c = Conn()
    c.send(raw(SETTINGS, 0, 0, struct.pack(">HI", 0xFF42, 7)))
    c.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    c.alive()


@case
def s6_5_3_every_settings_acknowledged():
    c = Conn()
    c.send(
        SettingsFrame(0, settings={SettingsFrame.HEADER_TABLE_SIZE: 0, SettingsFrame.MAX_FRAME_SIZE: 20000}),
        SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 100}),
    )
    for _ in range(2):
        c.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    c.alive()


@case
def s6_5_3_max_frame_size_respected():
    c = Conn({SettingsFrame.MAX_FRAME_SIZE: 16384})
    c.send(c.request(1, path=BIG))
    fields, body = c.response(1)
    status(fields, 200)
    if len(body) != BIG_LEN:
        raise Failed(f"{len(body)} body bytes, wanted {BIG_LEN}")


# §6.7 PING ------------------------------------------------------------------------


@case
def s6_7_ping_answered_with_its_payload():
    Conn().alive()


@case
def s6_7_ping_ack_not_answered():
    c = Conn()
    c.send(PingFrame(0, opaque_data=b"ackfirst", flags=["ACK"]))
    c.send(PingFrame(0, opaque_data=b"realping"))
    f = c.until(lambda f: isinstance(f, PingFrame), "PING")
    if f.opaque_data != b"realping" or "ACK" not in f.flags:
        raise Failed(f"answered the PING ACK ({f.opaque_data!r})")


@case
def s6_7_ping_on_a_stream():
    c = Conn()
    c.send(raw(PING, 0, 1, b"12345678"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_7_ping_wrong_length():
    c = Conn()
    c.send(raw(PING, 0, 0, b"123456"))
    c.goaway(FRAME_SIZE_ERROR)


# §6.8 GOAWAY ----------------------------------------------------------------------


@case
def s6_8_goaway_on_a_stream():
    c = Conn()
    c.send(raw(GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_8_goaway_from_client_finishes_streams():
    c = Conn()
    c.send(c.request(1, path=BIG), GoAwayFrame(0, last_stream_id=0, error_code=NO_ERROR))
    fields, body = c.response(1, graceful=True)
    if len(body) != BIG_LEN:
        raise Failed(f"{len(body)} body bytes after GOAWAY, wanted {BIG_LEN}")


# §6.9 WINDOW_UPDATE ---------------------------------------------------------


@case
def s6_9_zero_increment_on_connection():
    c = Conn()
    c.send(raw(WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_9_zero_increment_on_stream():
    c = zero_window()
    held_stream(c)
    c.send(raw(WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x00"))
    c.reset(1, PROTOCOL_ERROR)


@case
def s6_9_wrong_length():
    c = Conn()
    c.send(raw(WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    c.goaway(FRAME_SIZE_ERROR)


@case
def s6_9_1_window_of_1_gets_1_byte():
    c = Conn({SettingsFrame.INITIAL_WINDOW_SIZE: 1})
    c.send(c.request(1, path=BIG))
    f = c.until(lambda f: isinstance(f, DataFrame), "DATA")
    if len(f.data) != 1:
        raise Failed(f"DATA of {len(f.data)} bytes in a window of 1")


@case
def s6_9_1_connection_window_overflow():
    c = Conn()
    c.send(WindowUpdateFrame(0, window_increment=(1 << 31) - 1))
    c.goaway(FLOW_CONTROL_ERROR)


def starved(c):
    """Takes the whole connection window (65,535 bytes of the big file on
    stream 1, never given back); stream 3 is then held with a window of
    its own, which no DATA can use."""
    c.send(c.request(1, path=BIG))
    got = 0
    while got < 65535:
        got += len(c.until(lambda f: isinstance(f, DataFrame), "DATA").data)
    if got != 65535:
        raise Failed(f"{got} bytes of DATA in a window of 65,535")
    held_stream(c, 3)


@case
def s6_9_1_stream_window_overflow():
    c = Conn()
    starved(c)
    c.send(WindowUpdateFrame(3, window_increment=(1 << 31) - 1 - 65535))
    c.alive()
    c.send(WindowUpdateFrame(3, window_increment=1))
    c.reset(3, FLOW_CONTROL_ERROR)


@case
def s6_9_2_initial_window_change_applies_to_open_streams():
    c = zero_window()
    held_stream(c)
    c.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 3}))
    f = c.until(lambda f: isinstance(f, DataFrame), "DATA")
    if len(f.data) != 3:
        raise Failed(f"DATA of {len(f.data)} bytes, wanted 3")


@case
def s6_9_2_initial_window_change_overflows_a_stream():
    c = Conn()
    starved(c)
    c.send(WindowUpdateFrame(3, window_increment=(1 << 31) - 1 - 65535))
    c.alive()
    c.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65536}))
    c.goaway(FLOW_CONTROL_ERROR)


@case
def s6_9_2_negative_window_waits():
    # A window taken below zero by a smaller INITIAL_WINDOW_SIZE is owed
    # before anything more is sent on it.
    c = Conn({SettingsFrame.INITIAL_WINDOW_SIZE: 1000})
    c.send(c.request(1, path=BIG))
    got = 0
    while got < 1000:
        f = c.until(lambda f: isinstance(f, DataFrame), "DATA")
        got += len(f.data)
    c.send(SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 0}))
    c.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "SETTINGS ACK")
    # -1000 + 1000 = 0: still nothing may come; then 5 more bytes.
    c.send(WindowUpdateFrame(1, window_increment=1000), WindowUpdateFrame(0, window_increment=100000))
    c.alive()
    c.send(WindowUpdateFrame(1, window_increment=5))
    f = c.until(lambda f: isinstance(f, DataFrame), "DATA")
    if len(f.data) != 5:
        raise Failed(f"DATA of {len(f.data)} bytes, wanted 5")


# §6.10 CONTINUATION ---------------------------------------------------------


@case
def s6_10_continuation_on_stream_0():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3], flags=["END_STREAM"]), raw(CONTINUATION, END_HEADERS, 0, block[3:]))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_10_continuation_on_another_stream():
    c = Conn()
    block = c.block([(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3], flags=["END_STREAM"]), ContinuationFrame(3, data=block[3:], flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_10_continuation_after_data():
    c = Conn()
    open_stream(c)
    c.send(DataFrame(1, data=b"x"), ContinuationFrame(1, data=c.block([("x-a", "b")]), flags=["END_HEADERS"]))
    c.goaway(PROTOCOL_ERROR)


@case
def s6_10_data_inside_block():
    c = Conn()
    block = c.block([(":method", "POST"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")])
    c.send(HeadersFrame(1, data=block[:3]), DataFrame(1, data=b"x"))
    c.goaway(PROTOCOL_ERROR)


# §8.1 HTTP message framing ---------------------------------------------------


@case
def s8_1_get_answered():
    c = Conn()
    c.send(c.request(1))
    fields, body = c.response(1)
    status(fields, 200)
    if fields.get("content-length") != str(len(body)) or body != SMALL_BODY:
        raise Failed(f"body {body[:40]!r} ({len(body)} bytes), content-length {fields.get('content-length')}")


@case
def s8_1_head_has_no_data():
    c = Conn()
    c.send(c.request(1, method="HEAD"))
    f = c.until(lambda f: f.stream_id == 1, "the response")
    if not isinstance(f, HeadersFrame) or "END_STREAM" not in f.flags:
        raise Failed(f"{type(f).__name__} {f.flags} answers HEAD")
    status(dict(f.fields), 200)


@case
def s8_1_trailers_without_end_stream():
    c = Conn()
    open_stream(c)
    c.send(DataFrame(1, data=b"x"), HeadersFrame(1, data=c.block([("x-trailer", "1")]), flags=["END_HEADERS"]))
    c.reset(1, PROTOCOL_ERROR)


@case
def s8_1_trailers_with_a_pseudo_header():
    c = Conn()
    open_stream(c)
    c.send(HeadersFrame(1, data=c.block([(":path", "/x")]), flags=["END_HEADERS", "END_STREAM"]))
    c.reset(1, PROTOCOL_ERROR)


@case
def s8_1_trailers_accepted():
    c = Conn()
    c.send(c.request(1, method="POST", end_stream=False))
    c.send(DataFrame(1, data=b"abc"), HeadersFrame(1, data=c.block([("x-trailer", "1")]), flags=["END_HEADERS", "END_STREAM"]))
    fields, _ = c.response(1)
    if not fields.get(":status", "").startswith("4"):
        raise Failed(f"POST answered {fields.get(':status')}")
    c.alive()


@case
def s8_1_1_content_length_more_than_data():
    c = Conn()
    c.send(c.request(1, method="POST", end_stream=False, extra=[("content-length", "4")]))
    c.send(DataFrame(1, data=b"abc", flags=["END_STREAM"]))
    c.reset(1, PROTOCOL_ERROR)


@case
def s8_1_1_content_length_less_than_data():
    c = Conn()
    c.send(c.request(1, method="POST", end_stream=False, extra=[("content-length", "2")]))
    c.send(DataFrame(1, data=b"abc", flags=["END_STREAM"]))
    c.reset(1, PROTOCOL_ERROR)


def malformed(fields, end_stream=True):
    c = Conn()
    c.send(c.request(1, fields=fields, end_stream=end_stream))
    c.reset(1, PROTOCOL_ERROR)


def request_fields(*extra, drop=()):
    fields = [(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")]
    return [f for f in fields if f[0] not in drop] + list(extra)


# §8.2 HTTP fields -----------------------------------------------------------------


@case
def s8_2_uppercase_name():
    malformed(request_fields(("X-Upper", "1")))


@case
def s8_2_1_name_with_space():
    malformed(request_fields(("x bad", "1")))


@case
def s8_2_1_name_with_colon():
    malformed(request_fields(("x:bad", "1")))


@case
def s8_2_1_value_with_nul():
    malformed(request_fields(("x-a", "a\x00b")))


@case
def s8_2_1_value_with_cr():
    malformed(request_fields(("x-a", "a\rb")))


@case
def s8_2_1_value_with_lf():
    malformed(request_fields(("x-a", "a\nb")))


@case
def s8_2_1_value_with_leading_space():
    malformed(request_fields(("x-a", " a")))


@case
def s8_2_1_value_with_trailing_tab():
    malformed(request_fields(("x-a", "a\t")))


@case
def s8_2_2_connection():
    malformed(request_fields(("connection", "keep-alive")))


@case
def s8_2_2_keep_alive():
    malformed(request_fields(("keep-alive", "timeout=5")))


@case
def s8_2_2_proxy_connection():
    malformed(request_fields(("proxy-connection", "keep-alive")))


@case
def s8_2_2_transfer_encoding():
    malformed(request_fields(("transfer-encoding", "chunked")))


@case
def s8_2_2_upgrade():
    malformed(request_fields(("upgrade", "h2c")))


@case
def s8_2_2_te_other_than_trailers():
    malformed(request_fields(("te", "trailers, deflate")))


@case
def s8_2_2_te_trailers_accepted():
    c = Conn()
    c.send(c.request(1, fields=request_fields(("te", "trailers"))))
    fields, _ = c.response(1)
    status(fields, 200)


# §8.3 HTTP control data ---------------------------------------------------------


@case
def s8_3_unknown_pseudo_header():
    malformed(request_fields((":foo", "bar")))


@case
def s8_3_response_pseudo_header_in_request():
    malformed(request_fields((":status", "200")))


@case
def s8_3_pseudo_header_after_regular():
    malformed([(":method", "GET"), (":scheme", "http"), ("x-a", "b"), (":path", SMALL), (":authority", "localhost")])


@case
def s8_3_1_duplicate_method():
    malformed(request_fields((":method", "GET")))


@case
def s8_3_1_duplicate_scheme():
    malformed([(":method", "GET"), (":scheme", "http"), (":scheme", "http"), (":path", SMALL)])


@case
def s8_3_1_duplicate_path():
    malformed(request_fields((":path", SMALL)))


@case
def s8_3_1_no_method():
    malformed(request_fields(drop=(":method",)))


@case
def s8_3_1_no_scheme():
    malformed(request_fields(drop=(":scheme",)))


@case
def s8_3_1_no_path():
    malformed(request_fields(drop=(":path",)))


@case
def s8_3_1_empty_path():
    malformed([(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", "localhost")])


@case
def s8_3_1_connect_with_path():
    malformed([(":method", "CONNECT"), (":scheme", "http"), (":path", "/"), (":authority", "localhost:443")])


# §8.4 Server push ------------------------------------------------------------------


@case
def s8_4_push_promise_from_client():
    c = Conn()
    c.send(c.request(1, end_stream=False, method="POST"))
    c.send(raw(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + c.block([(":method", "GET")])))
    c.goaway(PROTOCOL_ERROR)


# RFC 9218 §7.1: PRIORITY_UPDATE ---------------------------------------------------

PRIORITY_UPDATE = 0x10


@case
def r9218_priority_update_ahead_and_after_accepted():
    c = Conn()
    c.send(raw(PRIORITY_UPDATE, 0, 0, struct.pack(">I", 1) + b"u=1, i"))
    c.send(c.request(1))
    fields, _ = c.response(1)
    status(fields, 200)
    c.send(raw(PRIORITY_UPDATE, 0, 0, struct.pack(">I", 1) + b"u=5"))
    c.alive()


@case
def r9218_priority_update_on_a_stream():
    c = Conn()
    c.send(raw(PRIORITY_UPDATE, 0, 1, struct.pack(">I", 1) + b"u=1"))
    c.goaway(PROTOCOL_ERROR)


@case
def r9218_priority_update_shorter_than_4_bytes():
    c = Conn()
    c.send(raw(PRIORITY_UPDATE, 0, 0, b"\x00\x00\x01"))
    c.goaway(FRAME_SIZE_ERROR)


@case
def r9218_priority_update_for_stream_0():
    c = Conn()
    c.send(raw(PRIORITY_UPDATE, 0, 0, struct.pack(">I", 0) + b"u=1"))
    c.goaway(PROTOCOL_ERROR)


# RFC 7541: HPACK -------------------------------------------------------------------


def bad_block(block):
    c = Conn()
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, block))
    c.goaway(COMPRESSION_ERROR)


@case
def r7541_2_3_3_index_past_the_tables():
    bad_block(b"\x82\x86\xff\x80\x01")  # GET, http, then index 127+128=255


@case
def r7541_6_1_index_0():
    bad_block(b"\x82\x80")


@case
def r7541_4_2_table_size_over_the_setting():
    bad_block(b"\x3f\xe2\x1f\x82")  # size update to 4097 > 4096


@case
def r7541_4_2_table_size_update_after_a_field():
    bad_block(b"\x82\x20")


@case
def r7541_5_2_huffman_with_eos():
    # A literal value: Huffman, 4 bytes of EOS (30 ones) and padding.
    bad_block(b"\x82\x86\x84\x00\x03abc\x84\xff\xff\xff\xff")


@case
def r7541_5_2_huffman_padding_over_7_bits():
    # "a" is 00011 (5 bits); then 11 bits of ones as padding.
    bad_block(b"\x82\x86\x00\x03abc\x82\x1f\xff")


@case
def r7541_5_2_huffman_padding_not_ones():
    # "a" (00011) then padding 000: not the EOS prefix.
    bad_block(b"\x82\x86\x00\x03abc\x81\x18")


@case
def r7541_string_past_the_block():
    bad_block(b"\x82\x86\x00\x03abc\x0aab")


@case
def r7541_dynamic_table_both_ways():
    # hpack's encoder indexes every field it can: the second and third
    # requests are mostly references into the dynamic table.
    c = Conn()
    for stream in (1, 3, 5):
        c.send(c.request(stream, extra=[("x-custom", "the same value each time"), ("user-agent", "h2_frames.py")]))
        fields, body = c.response(stream)
        status(fields, 200)
        if body != SMALL_BODY:
            raise Failed(f"stream {stream}: wrong body")


@case
def r7541_table_size_update_to_0_then_fields():
    c = Conn()
    c.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\x20" + hpack.Encoder().encode(request_fields())))
    fields, _ = c.response(1)
    status(fields, 200)


@case
def r7541_header_table_size_0_respected():
    # The client's table holds nothing: the server must not index into it.
    c = Conn({SettingsFrame.HEADER_TABLE_SIZE: 0})
    c.decoder.max_allowed_table_size = 0
    for stream in (1, 3):
        c.send(c.request(stream))
        fields, _ = c.response(stream)
        status(fields, 200)


# Hostile peers: stream errors among valid requests, and floods of them ----


def answers(c, streams):
    """Reads until every stream in `streams` has its whole response
    (opening windows as DATA comes); returns {stream: (fields, body)}.
    A RST_STREAM or GOAWAY first fails."""
    got = {sid: [None, b""] for sid in streams}
    done = set()
    while len(done) < len(streams):
        f = c.until(lambda f: f.stream_id in got, f"the responses on {sorted(streams)}")
        entry = got[f.stream_id]
        if isinstance(f, HeadersFrame) and entry[0] is None:
            entry[0] = dict(f.fields)
        elif isinstance(f, DataFrame):
            entry[1] += bytes(f.data)
            if f.flow_controlled_length:
                c.send(WindowUpdateFrame(0, window_increment=f.flow_controlled_length))
                if "END_STREAM" not in f.flags:
                    c.send(WindowUpdateFrame(f.stream_id, window_increment=f.flow_controlled_length))
        if "END_STREAM" in f.flags:
            done.add(f.stream_id)
    return {sid: tuple(v) for sid, v in got.items()}


@case
def hostile_get_with_content_length_and_short_data_is_not_answered():
    # §8.1.1: DATA that do not add up to content-length make the request
    # malformed: a stream error, and no answer, even in the same write.
    c = Conn()
    c.send(
        c.request(1, end_stream=False, extra=[("content-length", "10")]),
        DataFrame(1, data=b"12345", flags=["END_STREAM"]),
    )
    c.reset(1, PROTOCOL_ERROR)


@case
def hostile_header_list_too_large_is_refused_alone():
    # A header list past SETTINGS_MAX_HEADER_LIST_SIZE on one stream gets
    # 431 on that stream; a download on another goes on to its end, and
    # the tables stay in step for the next request.
    c = Conn()
    limit = c.server_settings.get(SettingsFrame.MAX_HEADER_LIST_SIZE)
    if not limit or limit > 1 << 20:
        raise Failed(f"SETTINGS_MAX_HEADER_LIST_SIZE is {limit}")
    c.send(c.request(1, path=BIG))
    fields = [(":method", "GET"), (":scheme", "http"), (":path", SMALL), (":authority", "localhost")]
    fields += [(f"x-big-{i}", "v" * 4000) for i in range(limit // 4000 + 2)]
    block = c.block(fields)
    parts = [block[i : i + 16384] for i in range(0, len(block), 16384)]
    frames = [HeadersFrame(3, data=parts[0], flags=["END_STREAM"] + (["END_HEADERS"] if len(parts) == 1 else []))]
    for i, part in enumerate(parts[1:], 1):
        frames.append(ContinuationFrame(3, data=part, flags=["END_HEADERS"] if i == len(parts) - 1 else []))
    c.send(*frames, c.request(5))
    got = answers(c, [1, 3, 5])
    status(got[3][0], 431)
    status(got[1][0], 200)
    if len(got[1][1]) != BIG_LEN:
        raise Failed(f"the download got {len(got[1][1])} of {BIG_LEN} bytes")
    status(got[5][0], 200)
    c.alive()


def flood(make, n=10_000):
    """`n` frames that each make this side reset a stream, a valid request
    every 100: the valid ones sent before the server gives up are
    answered, and it gives up with GOAWAY (ENHANCE_YOUR_CALM, or the
    connection error the frame itself is) long before the end."""
    c = Conn()
    frames = []
    for i in range(n):
        sid = 2 * i + 1
        frames.append(make(c, sid))
    c.sock.settimeout(10)
    try:
        c.send(*frames)
    except (BrokenPipeError, ConnectionResetError):
        pass
    while True:
        f = c.read()
        if f is None:
            raise Failed("closed without GOAWAY")
        if isinstance(f, GoAwayFrame):
            if f.error_code not in (ENHANCE_YOUR_CALM, STREAM_CLOSED):
                raise Failed(f"GOAWAY {name(f.error_code)}")
            return


@case
def hostile_flood_of_priority_on_itself():
    flood(lambda c, sid: PriorityFrame(sid, depends_on=sid, stream_weight=16).serialize())


@case
def hostile_flood_of_zero_window_updates():
    flood(lambda c, sid: c.request(sid).serialize() + raw(WINDOW_UPDATE, 0, sid, b"\x00\x00\x00\x00"))


@case
def hostile_flood_of_data_after_end_stream():
    # "MadeYouReset" (CVE-2025-8671): each DATA after the request's
    # END_STREAM makes this side reset the stream.
    flood(lambda c, sid: c.request(sid, path=BIG).serialize() + DataFrame(sid, data=b"x").serialize())


@case
def hostile_flood_of_headers_on_itself():
    def one(c, sid):
        f = c.request(sid)
        f.flags.add("PRIORITY")
        f.depends_on, f.stream_weight = sid, 16
        return f.serialize()

    flood(one)


def main():
    global PORT, SMALL, BIG, SMALL_BODY, BIG_LEN
    PORT, SMALL, BIG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    SMALL_BODY = open(sys.argv[4], "rb").read()
    BIG_LEN = int(sys.argv[5])
    only = set(sys.argv[6:])
    failed = 0
    ran = 0
    global MERGED
    for MERGED in (False, True):
        how = " merged" if MERGED else ""
        for fn in CASES:
            if only and fn.__name__ not in only:
                continue
            ran += 1
            try:
                fn()
                print(f"PASS {fn.__name__}{how}")
            except Failed as e:
                failed += 1
                print(f"FAIL {fn.__name__}{how}: {e}")
            except Exception as e:  # a crash in the client is a failure too
                failed += 1
                print(f"FAIL {fn.__name__}{how}: {type(e).__name__}: {e}")
    print(f"TOTAL {ran}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
