"""The pub-sub ring's rules as part of the executable model (``protocol.py``).

A pub-sub ring (docs/ring.md, "Publish-subscribe") adds to the
single-reader rules: the writer holds back for the slowest blocking
subscriber (``sub_hold``) and publishes at least every ``publish_every``
messages; a subscriber is a reader whose counters live in its line
(``LineView`` maps a reader's fields there); a lossy subscriber catches up
when it falls more than the lossy window behind (``catch_up``), drops a
message the writer overwrote while it was copied (``LossyCursor.fresh``),
and counts both in its line's ``missed``. Plain integers, no memory, no
clock: ``tests/test_pubsub_model.py`` drives the real adapters beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from . import layout as L
from .layout import Geometry, Quarantine, Status, SubMode
from .protocol import (
    U64,
    Field,
    ReaderCursor,
    Received,
    Ring,
    RingState,
    WriterCursor,
    tap_peer,
    used,
)

# a reader's own fields, and where a subscriber keeps each in its line
LINE_FIELDS = {Field.TAIL: L.SUB_TAIL, Field.BYTES_OUT: L.SUB_BYTES_OUT,
               Field.EMPTY_COUNT: L.SUB_EMPTY, Field.READER_PARKS: L.SUB_PARKS,
               Field.READER_WAKES: L.SUB_WAKES}


def behind(head: int, pos: int) -> int:
    """How far ``pos`` is behind ``head`` (u64), or -1 if it is ahead (corrupt)."""
    d = (head - pos) & U64
    return -1 if d >> 63 else d


def sub_hold(pos: int, lines: Sequence[tuple[int, int]], geometry: Geometry) -> int:
    """The counter a pub-sub writer at ``pos`` stays behind: the tail of the
    slowest blocking subscriber among ``lines`` ((mode, tail) each), and never
    more than ``publish_every`` past ``pos`` (its last published head)."""
    peer = (pos - (geometry.slot_count - geometry.publish_every)) & U64
    for mode, tail in lines:
        if mode == SubMode.BLOCK and used(pos, tail) > used(pos, peer):
            peer = tail
    return peer


def catch_up(head: int, pos: int, geometry: Geometry) -> tuple[int, int]:
    """A lossy cursor at ``pos`` seeing ``head``: (where it reads next, how many
    it skipped). More than the lossy window behind, it resumes at the oldest
    message still safe to read."""
    w = geometry.lossy_window
    d = behind(head, pos)
    if d <= w:
        return pos, 0
    return (head - w) & U64, d - w


def stale(head_after: int, first: int, count: int, geometry: Geometry) -> int:
    """How many of ``count`` messages copied from ``first`` the writer may have
    overwritten meanwhile, given the head it showed after the copy (and a
    fence): the first ones, whose ``head - n`` exceeds the lossy window."""
    oldest = (head_after - geometry.lossy_window) & U64
    return max(0, min(count, behind(oldest, first)))


class Lines(Protocol):
    """Where a ring keeps its subscriber lines: a u64 (or u32: mode) by line and offset."""

    def line_load(self, line: int, off: int) -> int: ...

    def line_store(self, line: int, off: int, value: int) -> None: ...


@dataclass
class PubSubState(RingState):
    """A pub-sub ring in plain Python: a ``RingState`` and its lines."""

    lines: dict[tuple[int, int], int] = field(default_factory=dict)

    def line_load(self, line: int, off: int) -> int:
        return self.lines.get((line, off), 0)

    def line_store(self, line: int, off: int, value: int) -> None:
        self.lines[(line, off)] = value & U64


class LineView:
    """A ring as one subscriber sees it: its reader fields are its line's."""

    def __init__(self, ring: Ring, lines: Lines, line: int) -> None:
        self.ring, self.lines, self.line = ring, lines, line

    def load(self, name: Field) -> int:
        off = LINE_FIELDS.get(name)
        return self.ring.load(name) if off is None else self.lines.line_load(self.line, off)

    def store(self, name: Field, value: int) -> None:
        off = LINE_FIELDS.get(name)
        if off is None:
            self.ring.store(name, value)
        else:
            self.lines.line_store(self.line, off, value)

    def slot_length(self, counter: int) -> int:
        return self.ring.slot_length(counter)

    def put_slot_length(self, counter: int, length: int) -> None:
        self.ring.put_slot_length(counter, length)

    def bump_line(self, off: int, by: int = 1) -> None:
        self.lines.line_store(self.line, off, self.lines.line_load(self.line, off) + by)


class PubSubWriterCursor(WriterCursor):
    """The writer of a pub-sub ring: held by the slowest blocking subscriber."""

    OTHER = Field.HEAD  # it has no one tail to read: the hold reads every line

    def __init__(self, geometry: Geometry, lines: Lines) -> None:
        super().__init__(geometry)
        self.lines = lines

    def _peer_from(self, ring: Ring, value: int) -> int:
        held = [(self.lines.line_load(i, L.SUB_MODE), self.lines.line_load(i, L.SUB_TAIL))
                for i in range(self.geometry.subscribers)]
        peer = sub_hold(self.pos, held, self.geometry)
        peer, self.parks_on = tap_peer(self.pos, peer, ring.load(Field.TAP_MODE),
                                       ring.load(Field.TAP_TAIL))
        return peer


class SubscriberCursor(ReaderCursor):
    """A blocking subscriber: a reader over its ``LineView``; its close leaves."""

    def close_end(self, ring: Ring) -> int:
        self.commit_op(ring)
        assert isinstance(ring, LineView)
        ring.lines.line_store(ring.line, L.SUB_MODE, SubMode.FREE)
        return Status.OK


class LossyCursor(SubscriberCursor):
    """A lossy subscriber: it never holds the writer; it catches up and counts."""

    def _catch_up(self, ring: Ring) -> int:
        if behind(self.peer, self.pos) < 0:
            return self.quarantine(ring, Quarantine.BAD_COUNTERS)
        self.pos, skipped = catch_up(self.peer, self.pos, self.geometry)
        if skipped:
            assert isinstance(ring, LineView)
            ring.bump_line(L.SUB_MISSED, skipped)
        return Status.OK

    def _check_counters(self, ring: Ring) -> int:
        return self._catch_up(ring)

    def reload(self, ring: Ring) -> int:
        self.peer = ring.load(Field.HEAD)
        return self._catch_up(ring)

    def fresh(self, ring: Ring, counter: int) -> bool:
        """After message ``counter`` was copied: still within the window of head?
        Else it is dropped, counted, and the cursor catches up."""
        head = ring.load(Field.HEAD)
        if used(head, counter) <= self.geometry.lossy_window:
            return True
        assert isinstance(ring, LineView)
        ring.bump_line(L.SUB_MISSED)
        self.peer = head
        self._catch_up(ring)
        return False

    def recv(self, ring: Ring, cap: int, block: bool = False) -> Received:
        while True:
            r = self._next_length(ring, block)
            if r < 0:
                return Received(r)
            if r > cap:
                return Received(Status.TRUNCATED)
            counter = self._take()
            if self.fresh(ring, counter):
                self.unbytes += r
                return Received(r, (counter,))

    def recv_raw(self, ring: Ring, block: bool = False) -> Received:
        return Received(Status.BAD_HANDLE)  # it cannot hold a slot
