"""The tunnel ring, specified like a wire format.

One tunnel is one single-producer single-consumer ring in its own shared
linear memory. This module is the single source of truth for its layout: the
WAT adapter (``adapter.py``), the host endpoints (``endpoint.py``) and the docs
(``docs/ring.md``) all take their offsets from here.

Counters only grow (unsigned 64-bit, wrap-around arithmetic); the slot of
counter ``n`` is ``n & (slot_count - 1)``. Every field lives at a fixed byte
offset, never an address, so the ring means the same in every process and
every instance that maps it.

Header (256 bytes, four 64-byte cache lines)::

    line 0, read-mostly         line 1, writer-owned      line 2, reader-owned
    0   magic      u32          64  head        u64       128 tail        u64
    4   version    u32          72  bytes_in    u64       136 bytes_out   u64
    8   slot_count u32          80  full_count  u64       144 empty_count u64
    12  slot_size  u32          88  writer_parks u64      152 reader_parks u64
    16  closed     u32          96  writer_wakes u64      160 reader_wakes u64
                                104 writer_yield u32      168 dead_letters u64
                                                          176 reader_yield u32
    20  quarantine u32
    24  header_size u32         line 3, waiter flags (change rarely)
    28  name_len   u32          192 reader_waiting u32
    32  name       32 bytes     196 writer_waiting u32

    line 13: 832 broken u32 (set once, with closed, when an end's service is gone)

Slot ``i`` starts at ``HEADER_SIZE + i * slot_size`` and holds
``[length u32][flags u32][payload ...]``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidValue

MAGIC = 0x4E4E5452  # "RTNN" in memory: little-endian b"RTNN"
VERSION = 1
VERSION_PUBSUB = 2  # a ring with subscriber lines after its slots (see below)
CACHE_LINE = 64
HEADER_SIZE = 16 * CACHE_LINE  # lines 0-3 ring, 4 tap, 5-12 latency samples, rest spare
SLOT_HEADER = 8  # [length u32][flags u32]
PAGE = 65536

# line 0: geometry and state, written once at creation or rarely
OFF_MAGIC = 0
OFF_VERSION = 4
OFF_SLOT_COUNT = 8
OFF_SLOT_SIZE = 12
OFF_CLOSED = 16  # 0 open, 1 closed; set once, cleared only by a healed lease
OFF_QUARANTINE = 20  # 0 healthy, else a Quarantine reason code
OFF_HEADER_SIZE = 24
OFF_NAME_LEN = 28  # the tunnel's name: how the adapter resolves tunnel(name)
OFF_NAME = 32
MAX_NAME = 32

# line 1: written only by the writer
OFF_HEAD = 64  # messages ever published; the reader acquires it
OFF_BYTES_IN = 72
OFF_FULL = 80  # times a writer found the ring full
OFF_WRITER_PARKS = 88
OFF_WRITER_WAKES = 96  # notifies issued by the writer to a parked reader
# set by the host (a hot upgrade of a writer-only service), read by the writer
# after it publishes a send: on the writer's own line, which it already holds
OFF_WRITER_YIELD = 104  # 0 run on, 1 return YIELD from send (host-written, rare)

# line 2: written only by the reader
OFF_TAIL = 128  # messages ever consumed; the writer acquires it
OFF_BYTES_OUT = 136
OFF_EMPTY = 144  # times a reader found the ring empty
OFF_READER_PARKS = 152
OFF_READER_WAKES = 160  # notifies issued by the reader to a parked writer
OFF_DEAD_LETTERS = 168  # messages the reader's supervisor moved aside (dead letters)
# set by the host (a hot upgrade), read by the reader on every receive right
# after it commits: on the reader's own line, which the commit just wrote
OFF_READER_YIELD = 176  # 0 run on, 1 the receive returns YIELD, taking nothing

# line 3: waiter flags, announced before parking (Dekker-style with head/tail)
OFF_READER_WAITING = 192
OFF_WRITER_WAITING = 196

# line 4: the tap (observability), written by the host's tap only
OFF_TAP_MODE = 256  # 0 off, 1 lossless: the writer also waits for tap_tail
OFF_TAP_TAIL = 264  # messages the tap has copied out (a second reader cursor)

# lines 5-12: latency samples. Every message whose counter n has
# n & SAMPLE_MASK == 0 is sampled: the writer stores (n, t_write) in stamp
# entry (n >> SAMPLE_SHIFT) & (SAMPLE_ENTRIES - 1); the reader, consuming n,
# stores (n, t_read - t_write) in the latency entry of the same index. The
# clock is WASI's realtime clock, read only by adapters built with sampling.
SAMPLE_SHIFT = 10
SAMPLE_MASK = (1 << SAMPLE_SHIFT) - 1
SAMPLE_ENTRIES = 16
SAMPLE_ENTRY = 16  # [counter u64][nanoseconds u64]
OFF_STAMPS = 320  # written by the writer
OFF_LATENCIES = OFF_STAMPS + SAMPLE_ENTRIES * SAMPLE_ENTRY  # 576, written by the reader

# line 13: the break, written once by the host when a service holding an end
# is gone for good (cleared only when a browser tab's lease heals it:
# RingControl.heal). Line 0 is full (the name takes its last 32
# bytes); a line written once stays shared in every core's cache, so reading
# it on the slow path costs what reading closed costs.
OFF_BROKEN = 13 * CACHE_LINE  # 832: 0 intact, else a Broken reason code

# line 14: pub-sub rings (version 2) only, written once by the host. The
# subscriber lines follow the slots (``Geometry.sub_lines``), so every slot
# keeps the offset it has in a version-1 ring.
OFF_SUBSCRIBERS = 14 * CACHE_LINE  # 896: how many subscriber lines (0 in version 1)
OFF_SUB_LINES = OFF_SUBSCRIBERS + 4  # 900: byte offset of subscriber line 0

# one 64-byte line per subscriber, written by that subscriber (mode by the host)
SUB_LINE = CACHE_LINE
SUB_TAIL = 0  # u64: messages this subscriber has consumed (its cursor)
SUB_BYTES_OUT = 8  # u64
SUB_EMPTY = 16  # u64: times it found the ring empty
SUB_PARKS = 24  # u64
SUB_WAKES = 32  # u64: notifies it sent to a parked writer
SUB_MISSED = 40  # u64: messages a lossy subscriber lost to the writer lapping it
SUB_MODE = 48  # u32: a SubMode, set by the host (a subscriber leaving clears it)
MAX_SUBSCRIBERS = 64


class SubMode:
    """What the writer does about one subscriber line (the value at SUB_MODE)."""

    FREE = 0  # no subscriber: the writer ignores the line
    BLOCK = 1  # lossless: the writer never passes this subscriber's tail
    LOSSY = 2  # the writer never waits for it; it catches up and counts what it missed


# slot header fields
SLOT_OFF_LENGTH = 0
SLOT_OFF_FLAGS = 4

MIN_SLOT_SIZE = 16
MAX_SLOT_COUNT = 1 << 24
MAX_RING_BYTES = 1 << 30
MAX_PAYLOAD = MAX_RING_BYTES  # the ring-size check below is the tighter bound


class Status:
    """Return codes of the guest ABI (negative i32); >= 0 means success."""

    OK = 0
    CLOSED = -1  # the tunnel is closed and, for a reader, drained
    AGAIN = -2  # try_* only: the ring is full (send) or empty (recv)
    TOO_BIG = -3  # the message is larger than the tunnel's max_payload
    CORRUPT = -4  # the ring failed a check: quarantined
    BAD_HANDLE = -5  # no such tunnel handle, or wrong direction
    TRUNCATED = -6  # the receive buffer is smaller than the message; it stays
    BROKEN = -7  # the service at the other end is gone for good (a reader: once drained)
    YIELD = -8  # the host asks the service to return now (a hot upgrade); all is committed
    TIMEOUT = -9  # a port call's deadline passed with no reply; a late reply is dropped


class Broken:
    """Why a tunnel is broken (the value stored at OFF_BROKEN)."""

    NONE = 0
    TRAPPED = 1  # the other end's service trapped and has no restart policy
    FAILED = 2  # the other end's service failed: out of restarts, restart failed, internal


class Quarantine:
    """Why a ring was quarantined (the value stored at OFF_QUARANTINE)."""

    NONE = 0
    BAD_HEADER = 1  # magic, version or geometry differ from what was attached
    BAD_COUNTERS = 2  # head - tail outside [0, slot_count]
    BAD_LENGTH = 3  # a slot length larger than the tunnel's max_payload


STATUS_NAMES = {
    Status.CLOSED: "closed",
    Status.AGAIN: "would block",
    Status.TOO_BIG: "message larger than the tunnel's max_payload",
    Status.CORRUPT: "ring corrupt (quarantined)",
    Status.BAD_HANDLE: "bad tunnel handle or direction",
    Status.TRUNCATED: "receive buffer too small",
    Status.BROKEN: "broken: the other end is gone for good",
    Status.YIELD: "yield: the host asks the service to return (an upgrade)",
}


@dataclass(frozen=True)
class Geometry:
    """The shape of one ring: how many slots, how big each is, and the largest
    message it carries.

    ``max_payload`` is exactly the size asked for: slots are rounded up to a
    multiple of 8, but a message longer than ``max_payload`` is refused even
    if it would fit the slot, and a slot length above it is corrupt. Left at
    0 it is the whole slot payload (``slot_size - SLOT_HEADER``).
    """

    slot_count: int
    slot_size: int
    max_payload: int = 0
    subscribers: int = 0  # subscriber lines: 0 for a single-reader ring (version 1)

    def __post_init__(self) -> None:
        n, s = self.slot_count, self.slot_size
        _integer("slot_count", n)
        _integer("slot_size", s)
        _integer("max_payload", self.max_payload)
        if n < 2 or n > MAX_SLOT_COUNT or n & (n - 1):
            raise InvalidValue(
                f"slot_count={n}: must be a power of two between 2 and {MAX_SLOT_COUNT}"
            )
        if s < MIN_SLOT_SIZE or s % 8:
            raise InvalidValue(f"slot_size={s}: must be a multiple of 8, at least "
                               f"{MIN_SLOT_SIZE}")
        if not 0 <= self.subscribers <= MAX_SUBSCRIBERS:
            raise InvalidValue(f"subscribers={self.subscribers}: a tunnel has at most "
                               f"{MAX_SUBSCRIBERS} subscriber lines")
        if self.ring_bytes > MAX_RING_BYTES:
            raise InvalidValue(f"ring of {self.ring_bytes} bytes exceeds {MAX_RING_BYTES}")
        room = s - SLOT_HEADER
        if not 0 <= self.max_payload <= room:
            raise InvalidValue(f"max_payload={self.max_payload}: a slot of {s} bytes carries "
                               f"at most {room}; pass a larger slot_size or leave it out")
        if self.max_payload == 0:
            object.__setattr__(self, "max_payload", room)

    @classmethod
    def for_payload(cls, slot_count: int, max_payload: int, subscribers: int = 0) -> Geometry:
        """The geometry whose slots carry ``max_payload`` bytes (1 or more)."""
        _integer("max_payload", max_payload)
        if not 1 <= max_payload <= MAX_PAYLOAD:
            raise InvalidValue(f"max_payload={max_payload}: must be an integer from 1 to "
                               f"{MAX_PAYLOAD} (bytes per message)")
        size = max(MIN_SLOT_SIZE, (SLOT_HEADER + max_payload + 7) // 8 * 8)
        return cls(slot_count, size, max_payload, subscribers)

    @property
    def mask(self) -> int:
        return self.slot_count - 1

    @property
    def ring_bytes(self) -> int:
        if self.subscribers:
            return self.sub_lines + self.subscribers * SUB_LINE
        return HEADER_SIZE + self.slot_count * self.slot_size

    @property
    def version(self) -> int:
        return VERSION_PUBSUB if self.subscribers else VERSION

    @property
    def sub_lines(self) -> int:
        """Where subscriber line 0 starts: after the slots, on a cache line."""
        end = HEADER_SIZE + self.slot_count * self.slot_size
        return (end + CACHE_LINE - 1) // CACHE_LINE * CACHE_LINE

    def sub_line(self, line: int) -> int:
        return self.sub_lines + line * SUB_LINE

    @property
    def publish_every(self) -> int:
        """A pub-sub writer publishes head at least every this many messages."""
        return max(1, self.slot_count // 4)

    @property
    def lossy_window(self) -> int:
        """How far behind head a lossy subscriber may read: a message ``n`` with
        ``head - n`` at most this is not being overwritten (the writer publishes
        head at least every ``publish_every`` messages before it reuses a slot)."""
        return self.slot_count - self.publish_every

    @property
    def pages(self) -> int:
        return (self.ring_bytes + PAGE - 1) // PAGE

    def slot_offset(self, counter: int) -> int:
        return HEADER_SIZE + (counter & self.mask) * self.slot_size


def _integer(what: str, value: object) -> None:
    """Refuse a float, a string or a bool where the ring needs a count of slots or bytes."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidValue(f"{what}={value!r}: must be an integer (got a "
                           f"{type(value).__name__}); pass an int")
