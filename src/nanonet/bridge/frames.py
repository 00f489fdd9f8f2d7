"""The bridge's frames: layouts, encoding, and a bounded decoder (no I/O).

Every frame is an 8-byte header ``[magic u16][type u8][flags u8][length u32]``
and ``length`` bytes of body; all integers little-endian. The layouts are
written once here (``LAYOUTS``, name and struct code per field) and as
tables in docs/bridge.md; ``tests/test_bridge_docs.py`` holds the two
together. ``FrameDecoder`` takes bytes in any chunks and gives back whole
frames; it never holds more than one frame's worth (header checked first,
a length over the limit refused before anything is buffered), and every
fault is one ``BridgeProtocolError``. A tunnel that opts into loss sends its
batches as DGRAM frames, each alone in one QUIC datagram (``decode_datagram``
reads one), and says so with the HELLO flag ``HELLO_DATAGRAM``.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import accumulate

from ..errors import BridgeProtocolError

U64 = (1 << 64) - 1
MAGIC = 0x424E  # b"NB" in memory
VERSION = 1
HEADER = struct.Struct("<HBBI")
MAX_NAME = 32  # a tunnel's name (as in the ring header)
MAX_TOKEN = 255
MAX_REASON = 200
MAX_FRAME = 1 << 20  # body bytes of one frame: NATS's default max_payload is 1 MiB
MAX_BATCH = 4096  # messages in one DATA frame
DGRAM_ROOM = 1100  # bytes of one QUIC datagram's payload: a 1200-byte packet's room, with margin


class Kind(IntEnum):
    """Frame types (the header's ``type``)."""

    HELLO = 1
    WELCOME = 2
    REFUSE = 3
    DATA = 4
    ACK = 5
    PING = 6
    PONG = 7
    CLOSE = 8
    BROKEN = 9
    DGRAM = 10
    SENT = 11


class Refusal(IntEnum):
    """Why a receiver refused (REFUSE's ``code``)."""

    AUTH = 1  # the token did not match
    VERSION = 2  # no version both sides speak
    TUNNEL = 3  # another tunnel name, or another max_payload
    RESUME = 4  # no session here (the receiver restarted): say hello again


ACK_REWIND = 1  # ACK flag: a batch was missing, send again from next_seq
ACK_ENDED = 2  # ACK flag: the CLOSE arrived and every message before it
HELLO_DATAGRAM = 1  # HELLO header flag: this sender sends its batches as DGRAM frames
FLAGS = {1: HELLO_DATAGRAM}  # header flags each frame type may carry (type -> mask)

# the fixed part of each body: (field, struct code); variable bytes follow it
LAYOUTS: dict[Kind, tuple[tuple[str, str], ...]] = {
    Kind.HELLO: (("min_version", "H"), ("max_version", "H"), ("max_payload", "I"),
                 ("nonce", "Q"), ("name_len", "B"), ("token_len", "B")),
    Kind.WELCOME: (("version", "H"), ("reserved", "H"), ("credit", "I"), ("nonce", "Q"),
                   ("next_seq", "Q")),
    Kind.REFUSE: (("code", "H"), ("reason_len", "H")),
    Kind.DATA: (("first_seq", "Q"), ("count", "I"), ("reserved", "I")),
    Kind.ACK: (("next_seq", "Q"), ("credit", "I"), ("flags", "I")),
    Kind.PING: (("nonce", "Q"),),
    Kind.PONG: (("nonce", "Q"),),
    Kind.CLOSE: (("end_seq", "Q"),),
    Kind.BROKEN: (("end_seq", "Q"), ("reason", "H"), ("service_len", "B"), ("cause_len", "B")),
    Kind.DGRAM: (("first_seq", "Q"), ("count", "I"), ("reserved", "I")),
    Kind.SENT: (("next_seq", "Q"),),
}
BATCHES = (Kind.DATA, Kind.DGRAM)  # the frames that carry messages (one body layout)
BODIES = {k: struct.Struct("<" + "".join(code for _, code in fields))
          for k, fields in LAYOUTS.items()}


# a frame as a session gives it out: a DATA frame may be built in place in a
# bytearray (``data_into``), so that no batch is copied to become bytes
Wire = bytes | bytearray


def _frame(kind: Kind, *parts: bytes | memoryview, flags: int = 0) -> bytes:
    body = b"".join(parts)
    return HEADER.pack(MAGIC, kind, flags, len(body)) + body


def hello(min_v: int, max_v: int, max_payload: int, nonce: int, name: bytes,
          token: bytes, datagrams: bool = False) -> bytes:
    """``datagrams``: the sender's batches will come as DGRAM frames."""
    fixed = BODIES[Kind.HELLO].pack(min_v, max_v, max_payload, nonce, len(name), len(token))
    return _frame(Kind.HELLO, fixed, name, token, flags=HELLO_DATAGRAM if datagrams else 0)


def welcome(version: int, credit: int, nonce: int, next_seq: int) -> bytes:
    return _frame(Kind.WELCOME, BODIES[Kind.WELCOME].pack(version, 0, credit, nonce, next_seq))


def refuse(code: Refusal, reason: str) -> bytes:
    text = reason.encode()[:MAX_REASON]
    return _frame(Kind.REFUSE, BODIES[Kind.REFUSE].pack(code, len(text)), text)


def data(first_seq: int, lengths: array[int], payload: bytes | memoryview,
         kind: Kind = Kind.DATA) -> bytes:
    """One batch: ``[first_seq][count][0][count x u32 length][payloads end to end]``
    (``kind`` DGRAM: the same body, for one QUIC datagram)."""
    fixed = BODIES[kind].pack(first_seq, len(lengths), 0)
    return _frame(kind, fixed, lengths.tobytes(), payload)


def dgram_batch(max_payload: int, room: int = DGRAM_ROOM) -> int:
    """The most messages of ``max_payload`` bytes one DGRAM frame of at most
    ``room`` bytes holds (0: not even one)."""
    return max(0, (room - HEADER.size - BODIES[Kind.DGRAM].size) // (max_payload + 4))


def is_datagram(frame: Wire) -> bool:
    """Is this encoded frame a DGRAM (it goes alone in one QUIC datagram)?"""
    return frame[2] == Kind.DGRAM


def sent(next_seq: int) -> bytes:
    return _frame(Kind.SENT, BODIES[Kind.SENT].pack(next_seq))


DATA_HEAD = HEADER.size + BODIES[Kind.DATA].size  # a DATA frame's bytes before its lengths


def data_into(frame: bytearray, first_seq: int, count: int,
              kind: Kind = Kind.DATA) -> bytearray:
    """Make ``frame`` a DATA frame in place: ``DATA_HEAD`` bytes left free,
    then ``count`` u32 lengths and the payloads (``PeekingReader.peek_table``
    builds it so, straight from the ring: no copy of the batch here)."""
    HEADER.pack_into(frame, 0, MAGIC, kind, 0, len(frame) - HEADER.size)
    BODIES[kind].pack_into(frame, HEADER.size, first_seq, count, 0)
    return frame


def ack(next_seq: int, credit: int, flags: int = 0) -> bytes:
    return _frame(Kind.ACK, BODIES[Kind.ACK].pack(next_seq, credit, flags))


def ping(nonce: int) -> bytes:
    return _frame(Kind.PING, BODIES[Kind.PING].pack(nonce))


def pong(nonce: int) -> bytes:
    return _frame(Kind.PONG, BODIES[Kind.PONG].pack(nonce))


def close(end_seq: int) -> bytes:
    return _frame(Kind.CLOSE, BODIES[Kind.CLOSE].pack(end_seq))


def broken(end_seq: int, reason: int, service: str, cause: str) -> bytes:
    """The stream ends at ``end_seq`` because its writer ``service`` is gone
    (``reason``: a ring ``layout.Broken`` code, ``cause``: why)."""
    name, why = service.encode()[:255], cause.encode()[:MAX_REASON]
    return _frame(Kind.BROKEN, BODIES[Kind.BROKEN].pack(end_seq, reason, len(name), len(why)),
                  name, why)


@dataclass(frozen=True)
class Frame:
    """A decoded frame: its kind, the fixed fields, the bytes after them."""

    kind: Kind
    fields: tuple[int, ...]
    rest: memoryview
    flags: int = 0


@dataclass(frozen=True)
class Hello:
    min_version: int
    max_version: int
    max_payload: int
    nonce: int
    name: bytes
    token: bytes


@dataclass(frozen=True)
class Batch:
    """A DATA frame's messages: ``payload[bounds[i]:bounds[i + 1]]``."""

    first_seq: int
    lengths: array[int]
    bounds: Sequence[int]
    payload: memoryview
    longest: int  # the longest message's length

    @property
    def end_seq(self) -> int:
        """The sequence after the batch's last message."""
        return self.first_seq + len(self.lengths)


def _fail(why: str) -> BridgeProtocolError:
    return BridgeProtocolError(f"bridge peer broke the protocol: {why}")


def parse_hello(f: Frame) -> Hello:
    min_v, max_v, max_payload, nonce, name_len, token_len = f.fields
    if len(f.rest) != name_len + token_len or name_len > MAX_NAME:
        raise _fail("hello's name and token lengths do not match its body")
    rest = bytes(f.rest)
    return Hello(min_v, max_v, max_payload, nonce, rest[:name_len], rest[name_len:])


def parse_refuse(f: Frame) -> tuple[int, str]:
    code, n = f.fields
    if len(f.rest) != n:
        raise _fail("refuse's reason length does not match its body")
    return code, bytes(f.rest).decode(errors="replace")


def parse_broken(f: Frame) -> tuple[int, int, str, str]:
    """(end_seq, reason, service, cause) of a BROKEN frame."""
    end_seq, reason, name_len, cause_len = f.fields
    if len(f.rest) != name_len + cause_len or reason == 0:
        raise _fail("broken's lengths do not match its body, or it gives no reason")
    rest = bytes(f.rest)
    return (end_seq, reason, rest[:name_len].decode(errors="replace"),
            rest[name_len:].decode(errors="replace"))


def _bounds(lengths: array[int], table: memoryview) -> tuple[Sequence[int], int]:
    """Where each message starts and the last ends, and the longest: a
    ``range`` when all are of one nonzero length (found with one comparison
    of ``table``'s bytes; the ring then copies them a word column at a time,
    ``ring/memory.py``), else a list."""
    size, n = lengths[0], len(lengths)
    if size and table.tobytes() == size.to_bytes(4, "little") * n:
        return range(0, size * n + 1, size), size
    return list(accumulate(lengths, initial=0)), max(lengths)


def parse_data(f: Frame, max_payload: int) -> Batch:
    """Checked: 1..MAX_BATCH messages, each at most ``max_payload``, lengths
    that add up to exactly the payload bytes that follow them."""
    first, count, _ = f.fields
    if not 0 < count <= MAX_BATCH or len(f.rest) < 4 * count:
        raise _fail(f"a batch of {count} messages in {len(f.rest)} bytes")
    table = f.rest[:4 * count]
    lengths = array("I")  # 4-byte items on every platform nanonet runs on
    lengths.frombytes(table)
    if sys.byteorder == "big":
        lengths.byteswap()
    bounds, longest = _bounds(lengths, table)
    if longest > max_payload:
        raise _fail(f"a message of {longest} bytes in a tunnel of {max_payload}")
    payload = f.rest[4 * count:]
    if bounds[-1] != len(payload):
        raise _fail(f"lengths add up to {bounds[-1]} bytes, the batch holds {len(payload)}")
    return Batch(first, lengths, bounds, payload, longest)


class FrameDecoder:
    """Bytes in, whole frames out; holds at most one frame of ``limit`` bytes."""

    def __init__(self, limit: int = MAX_FRAME) -> None:
        self.limit = limit
        self._buf = bytearray()
        self._want = -1  # body length of the frame being gathered (-1: header not read)
        self._kind = Kind.PING
        self._flags = 0

    def feed(self, data: Wire | memoryview) -> list[Frame]:
        """Every frame completed by ``data`` (maybe none); raises
        ``BridgeProtocolError`` on the first bad header or body."""
        out: list[Frame] = []
        view = memoryview(data).cast("B")
        frozen = isinstance(view.obj, bytes)  # immutable: frames may be slices of it
        while view:
            if frozen and self._want < 0 and not self._buf and len(view) >= HEADER.size:
                view = self._whole(view, out)
            else:
                view = self._gather(view, out)
        return out

    def _whole(self, view: memoryview, out: list[Frame]) -> memoryview:
        """The next frame read straight from immutable bytes, its body a
        slice of them, not a copy (a DATA frame is most of a wire message);
        a body cut short is gathered as ``_gather`` does."""
        self._header(bytes(view[:HEADER.size]))
        end = HEADER.size + self._want
        if len(view) < end:
            self._buf += view[HEADER.size:]
            return view[len(view):]
        out.append(self._body(view[HEADER.size:end]))
        self._want = -1
        return view[end:]

    def _gather(self, view: memoryview, out: list[Frame]) -> memoryview:
        need = (HEADER.size if self._want < 0 else self._want) - len(self._buf)
        self._buf += view[:need]
        view = view[need:]
        if len(self._buf) < (HEADER.size if self._want < 0 else self._want):
            return view
        if self._want < 0:
            self._header(bytes(self._buf))
            self._buf.clear()
        if self._want >= 0 and len(self._buf) == self._want:
            out.append(self._body(memoryview(bytes(self._buf))))
            self._buf.clear()
            self._want = -1
        return view

    def _header(self, head: bytes) -> None:
        magic, kind, flags, length = HEADER.unpack(head)
        if magic != MAGIC:
            raise _fail(f"magic {magic:#06x}, not {MAGIC:#06x} (is it a nanonet bridge?)")
        if kind not in Kind._value2member_map_ or flags & ~FLAGS.get(kind, 0):
            raise _fail(f"frame type {kind} with flags {flags}")
        fixed = BODIES[Kind(kind)].size
        if not fixed <= length <= self.limit:
            raise _fail(f"a {Kind(kind).name} frame of {length} bytes (limit {self.limit})")
        self._kind, self._want, self._flags = Kind(kind), length, flags

    def _body(self, body: memoryview) -> Frame:
        shape = BODIES[self._kind]
        fields = shape.unpack_from(body)
        rest = body[shape.size:]
        if self._kind not in (Kind.HELLO, Kind.REFUSE, *BATCHES, Kind.BROKEN) and rest:
            raise _fail(f"{len(rest)} bytes past a {self._kind.name} frame's fields")
        return Frame(self._kind, fields, rest, self._flags)

    @property
    def between_frames(self) -> bool:
        """Nothing of a frame is held: the bytes fed so far were whole frames."""
        return self._want < 0 and not self._buf


def decode_datagram(data: bytes) -> Frame:
    """The one DGRAM frame a QUIC datagram holds, exactly (a datagram is read
    alone, never joined to the stream's bytes); else ``BridgeProtocolError``."""
    decoder = FrameDecoder(DGRAM_ROOM)
    got = decoder.feed(data)
    if len(got) != 1 or not decoder.between_frames or got[0].kind is not Kind.DGRAM:
        raise _fail(f"a datagram of {len(data)} bytes that is not one DGRAM frame")
    return got[0]
