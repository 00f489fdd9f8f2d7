"""The read end of a tunnel held by Python (see ``endpoint``)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import accumulate
from typing import TypeVar

from ..errors import TunnelClosed, TunnelTimeout
from . import layout as L
from . import protocol as P
from .control import RingControl
from .end import (
    PARK_NS,
    POLLS,
    READER_SPIN_NS,
    End,
    deadline_of,
    expired,
    until_closed,
)
from .memory import RingMemory
from .packed import Packed
from .waitpolicy import DEFAULT_WAIT, WaitPolicy

Got = TypeVar("Got", list[bytes], Packed)


def alike(table: memoryview) -> int:
    """The length every item of a u32 ``table`` has, if they all have one
    and it is not 0, else 0: one comparison of bytes, no int per item."""
    size = table[0] if len(table) else 0
    if size and table.tobytes() == size.to_bytes(4, sys.byteorder) * len(table):
        return size
    return 0


class TunnelReader(End):
    """The read end of a tunnel, held by Python."""

    def __init__(self, ring: RingMemory, control: RingControl,
                 wait: WaitPolicy = DEFAULT_WAIT) -> None:
        super().__init__(ring, control, wait)
        self._cur = P.ReaderCursor(self.geometry)  # the model's reader: tail, cached head
        self._cur.start(ring)  # head not trusted yet: the first _available reads and checks it
        self._empty_at = -1  # the tail at which a re-read last found the ring empty

    def _available(self) -> int:
        """Messages waiting, re-reading the writer's head only when the cached
        copy says none."""
        cur = self._cur
        avail = cur.waiting()
        if avail and not self.ring.stopped():  # a quarantined ring gives nothing more
            return avail
        self._check_health()
        avail = cur.available_count(self.ring)
        if avail > 0:
            return avail
        if avail < 0:
            raise self._corrupt(f"head={cur.seen} tail={cur.pos}")
        self._count_stretch(L.OFF_EMPTY, "_empty_at", cur.pos)
        return 0

    def _take(self, count: int) -> list[bytes]:
        """Copy out the next ``count`` messages (every length checked first),
        then commit them."""
        cur = self._cur
        lengths = self._checked_lengths(count)
        out = self.ring.read_payloads(cur.pos, lengths)
        self._commit(count, sum(lengths))
        return out

    def _checked_lengths(self, count: int) -> list[int]:
        """The lengths of the next ``count`` slots, each read once and checked
        (a bad one quarantines the ring)."""
        cur = self._cur
        lengths = self.ring.slot_lengths(cur.pos, count)
        if cur.check_lengths(self.ring, lengths):
            bad = lengths[P.fitting(lengths, self.geometry)]
            raise self._corrupt(f"slot length {bad}")
        return lengths

    def _checked_table(self, count: int, table: memoryview) -> int:
        """``_checked_lengths`` into ``table`` (``count`` u32 items) with no
        int per message: the length all of them have (0 if they differ, or
        are all 0), found with one comparison of bytes."""
        cur = self._cur
        self.ring.length_table(cur.pos, count, table)
        size = alike(table)
        if cur.check_lengths(self.ring, [size or max(table)]):
            bad = table[P.fitting(table, self.geometry)]
            raise self._corrupt(f"slot length {bad}")
        return size

    def _commit(self, count: int, nbytes: int) -> None:
        """Move past ``count`` messages copied out and publish tail from Python."""
        cur = self._cur
        cur.take(count)
        # SYNC POINT with $wait in the writer adapter: the payload is copied out before
        # publish_tail stores tail, then (behind a fence) reads writer_waiting
        if self.ring.publish_tail(cur.pos, nbytes):
            self._wake_writer()

    def _wake_writer(self) -> None:
        """The writer announced a park: notify it (Wasm), counted as the adapter
        counts; from an asyncio form, once the loop has run what was due (``_put_off``)."""
        if self._put_off(self._wake_writer):
            return
        self.ring.put_u64(L.OFF_READER_WAKES, self.ring.u64(L.OFF_READER_WAKES) + 1)
        self.control.wake_writer()

    def _recv_one(self) -> bytes | None:
        """The one-message fast path: the next message, or None for the
        general path (an empty ring, a closed or quarantined one, bad
        counters: it looks again, counts and raises)."""
        cur, ring = self._cur, self.ring
        pos = cur.pos
        if ring.stopped() or (cur.peer == pos and cur.available_count(ring) <= 0):
            return None
        n = ring.length_at(pos)  # read once, checked, then used
        if cur.check_length(ring, n):
            raise self._corrupt(f"slot length {n}")
        data = ring.payload(pos, n)
        cur.take(1)
        if ring.publish_tail(cur.pos, n):
            self._wake_writer()
        return data

    def _drained_and_closed(self) -> bool:
        if not self.ring.closed:
            return False
        # SYNC POINT with close in ring/control.py and $close in the adapter: closed is
        # read before head is re-read, as closed is stored after the last publish
        return self._available() == 0  # closed is set after the last publish

    def _ready_count(self, limit: int) -> int:
        """How many of at most ``limit`` messages can be taken now (0: none
        yet); raises once the ring is closed and drained, or broken."""
        n = min(self._available(), limit)
        if n == 0 and self._drained_and_closed():
            if self.ring.broken:  # stored before closed: seen once closed is
                raise self.control.broken_error()
            if not self.ring.closed:  # healed between the loads (RingControl.heal)
                return 0
            raise TunnelClosed("tunnel is closed and drained")
        return n

    def try_recv_many(self, limit: int = 1 << 30) -> list[bytes]:
        """Up to ``limit`` waiting messages (maybe none), with one commit."""
        n = self._ready_count(limit)
        return self._take(n) if n else []

    def try_recv_packed(self, limit: int = 1 << 30) -> Packed:
        """Up to ``limit`` waiting messages (maybe none) as one buffer and its
        offsets, with one commit: no object per message."""
        n = self._ready_count(limit)
        if not n:
            return Packed.fixed(b"", 1)
        table = memoryview(bytearray(4 * n)).cast("I")
        if size := self._checked_table(n, table):  # all alike: bounds are a range
            data = memoryview(bytearray(n * size))
            self.ring.read_alike_into(self._cur.pos, n, size, data)
            self._commit(n, len(data))
            return Packed(data, range(0, n * size + 1, size), size)
        lengths = table.tolist()
        packed = self.ring.read_packed(self._cur.pos, lengths)
        self._commit(n, len(packed))
        return Packed(memoryview(packed), list(accumulate(lengths, initial=0)), max(lengths))

    def try_recv(self) -> bytes | None:
        """The next message, or None if the ring is empty."""
        got = self._recv_one()
        if got is not None:
            return got
        got_many = self.try_recv_many(1)
        return got_many[0] if got_many else None

    def _wait_data(self, deadline: float | None, park_after: int) -> None:
        """One wait of a blocking receive on an empty ring: poll head a few
        times, then let go of the GIL (``sched_yield``: the sender may be a
        Python thread), or, once the spin is over, park in Wasm."""
        if expired(deadline):
            raise TunnelTimeout("no message before the timeout; pass a longer timeout, "
                                "or None to wait until one comes")
        if time.perf_counter_ns() > park_after:
            self.control.park_reader(self._cur.peer, PARK_NS)
            return
        head, seen = self.ring.head, self._cur.peer
        for _ in range(POLLS):
            if head() != seen:
                return
        os.sched_yield()

    def recv_many(self, limit: int = 1 << 30, timeout: float | None = None) -> list[bytes]:
        """At least one message (waiting for it), at most ``limit``."""
        deadline = deadline_of(timeout)
        park_after = self._park_after(READER_SPIN_NS)
        while not (got := self.try_recv_many(limit)):
            self._wait_data(deadline, park_after)
        return got

    def recv_packed(self, limit: int = 1 << 30, timeout: float | None = None) -> Packed:
        """At least one message (waiting for it), at most ``limit``, as one
        buffer and its offsets (``Packed``)."""
        deadline = deadline_of(timeout)
        park_after = self._park_after(READER_SPIN_NS)
        while not (got := self.try_recv_packed(limit)):
            self._wait_data(deadline, park_after)
        return got

    def recv(self, timeout: float | None = None) -> bytes:
        got = self._recv_one()
        return got if got is not None else self.recv_many(1, timeout)[0]

    def __iter__(self) -> Iterator[bytes]:
        """Every message until the tunnel is closed and drained."""
        return until_closed(self.recv_many)

    async def _await_data(self) -> None:
        """The ring is empty: poll head on a few loop turns, then park in a
        worker thread (the loop runs on meanwhile)."""
        for _ in range(self._async_polls()):
            await self._turn_now()
            if self.ring.head() != self._cur.peer:
                return
        await asyncio.to_thread(self.control.park_reader, self._cur.peer, PARK_NS)

    async def arecv_many(self, limit: int = 1 << 30) -> list[bytes]:
        """Like recv_many, without blocking the event loop; the loop gets a
        turn every ``ASYNC_TURN`` messages received (fewer for large slots)."""
        while not (got := self._try_async(self.try_recv_many, limit)):
            await self._await_data()
        await self._give_turn(len(got))
        return got

    async def arecv_packed(self, limit: int = 1 << 30) -> Packed:
        """Like recv_packed, without blocking the event loop (turns as arecv_many)."""
        while not (got := self._try_async(self.try_recv_packed, limit)):
            await self._await_data()
        await self._give_turn(len(got))
        return got

    def _try_async(self, take: Callable[[int], Got], limit: int) -> Got:
        """``take(limit)`` from an asyncio form: a wake of a parked writer is
        put off until the loop has run what was due (``End._put_off``)."""
        self._later = asyncio.get_running_loop()
        try:
            return take(limit)
        finally:
            self._later = None

    async def arecv(self) -> bytes:
        return (await self.arecv_many(1))[0]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                for msg in await self.arecv_many(self._per_turn()):
                    yield msg
            except TunnelClosed:
                return
