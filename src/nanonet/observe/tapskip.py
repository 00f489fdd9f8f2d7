"""A sampled tap's cursor: one the writer ignores, that skips what it missed.

A lossless tap holds the writer (``tap_mode = 1``), so its thread's pace is
the tunnel's. A sampled tap keeps one message in ``sample`` and must not
cost the tunnel that: it never sets ``tap_mode`` nor stores ``tap_tail``
(another tap's hold is left alone), and reads as the inspector does
(``inspector.Peek``). The writer reuses the slot of message ``c`` only when
it writes ``c + slots``; in a plain ring it may do so only once the
reader's ``tail > c``, in a pub-sub ring only once ``head`` is more than the
lossy window past ``c``. So each look starts at the oldest message whose slot
is surely whole (``oldest_whole``, read before ``head``), skipping and
counting what the cursor fell behind; after its copy and a fence it reads
that bound again and drops, counted too, the copies the writer may have
come round to (``stale``). ``missed`` is every message skipped either way.

Every counter read here comes from shared memory, so each is checked: a head
that went back or a bound ahead of head is an error (``TapError``), and
whatever they say, the window read is at most one ring behind head, so a
slot index never leaves the ring.
"""

from __future__ import annotations

from ..errors import TapError
from ..ring.layout import Geometry
from ..ring.memory import RingMemory, fence
from ..ring.protocol import U64, Field, fitting
from ..ring.pubsub_model import behind


def oldest_whole(ring: RingMemory) -> int:
    """The oldest counter whose slot the writer cannot be rewriting now."""
    geo = ring.geometry
    if geo.subscribers:  # the pub-sub writer publishes at least every publish_every
        return (ring.load(Field.HEAD) - geo.lossy_window) & U64
    return ring.load(Field.TAIL)  # the writer waits for tail: c is whole while tail <= c


class SkipCursor:
    """The sampled tap's read position in one ring; ``missed`` counts what it skipped."""

    def __init__(self, ring: RingMemory) -> None:
        self.ring = ring
        self.geometry: Geometry = ring.geometry
        self.pos = 0
        self.missed = 0

    def start_at(self, counter: int) -> int:
        self.pos = counter & U64
        return self.pos

    def available(self, ring: RingMemory) -> int:
        """Messages from the cursor to head, after skipping what may be rewritten."""
        oldest = oldest_whole(ring)  # SYNC POINT: before head, so it is never past it
        return self.window(oldest, ring.load(Field.HEAD))

    def window(self, oldest: int, head: int) -> int:
        """``available`` from the bound and head as read (in that order), by this
        module or by the grab module (``tapgrab.py``): each checked, what the
        cursor fell behind skipped and counted."""
        if behind(head, self.pos) < 0:
            raise TapError(f"head={head} went back behind the tap at {self.pos}")
        lag = behind(head, oldest)
        if lag < 0:
            raise TapError(f"the oldest message to read ({oldest}) is ahead of head={head}")
        first = (head - min(lag, self.geometry.slot_count)) & U64
        skipped = behind(first, self.pos)
        if skipped > 0:
            self.missed += skipped
            self.pos = first
        return behind(head, self.pos)

    def stale(self, count: int) -> int:
        """How many of the ``count`` messages from the cursor, just copied, the
        writer may have come round to meanwhile (the first ones); counted as missed."""
        # SYNC POINT with the writer's reuse of a slot: the copies, a fence, then the
        # bound (tail, or head): a slot rewritten meanwhile shows in the bound first
        fence()
        return self.drop(count, oldest_whole(self.ring))

    def drop(self, count: int, bound: int) -> int:
        """``stale`` from the bound read again after the copies and a fence."""
        lost = max(0, min(count, behind(bound, self.pos)))
        self.missed += lost
        return lost

    def check_lengths(self, lengths: list[int]) -> bool:
        return fitting(lengths, self.geometry) == len(lengths)

    def take(self, count: int) -> None:
        self.pos = (self.pos + count) & U64

    def ended(self, ring: RingMemory) -> bool:
        """Closed, and nothing published past the cursor (closed is stored last)."""
        return bool(ring.load(Field.CLOSED)) and ring.load(Field.HEAD) == self.pos


def trim_run(start: int, slots: bytes, step: int, slot_size: int,
             keep_from: int) -> tuple[int, bytes]:
    """A copy of every ``step``-th slot from counter ``start`` without the slots
    of counters before ``keep_from``: (its new first counter, its slots)."""
    drop = min(len(slots) // slot_size, max(0, -(-(keep_from - start) // step)))
    return start + drop * step, slots[drop * slot_size:]
