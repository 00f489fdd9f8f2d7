"""Host endpoints: Python writes into, and reads from, a tunnel.

A host endpoint copies a batch of slots at a time through ``RingMemory``
(the one module that touches ring bytes) and publishes its counter once per
batch through the ring's control module (one Wasm call
of a few microseconds), so Python pays per batch, not per message, for the
ordering and the wake-up. Blocking forms spin briefly, then park in Wasm
(``memory.atomic.wait32``, GIL released); asyncio forms park in a worker
thread. Like a trio memory channel: ``send``/``try_send``, ``recv``/
``try_recv``, batch forms, ``close``, iteration and ``statistics()``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from itertools import islice
from typing import Self

from ..errors import MessageTooBig, TunnelClosed, TunnelCorrupt, TunnelTimeout
from . import layout as L
from . import protocol as P
from .control import RingControl
from .memory import RingMemory
from .stats import TunnelStats, snapshot

# How long a blocked host end polls before it parks in Wasm. A park and its
# wake-up cost ~50 us here: a reader polls about that long (a reply in a
# request/response exchange arrives sooner), a writer waiting for room less
# (the reader is the bottleneck; it wakes the writer when the ring drains).
READER_SPIN_NS = 100_000
WRITER_SPIN_NS = 10_000
PARK_NS = 20_000_000


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class _End:
    def __init__(self, ring: RingMemory, control: RingControl) -> None:
        self.ring = ring
        self.control = control
        self.geometry = ring.geometry

    def statistics(self) -> TunnelStats:
        return snapshot(self.ring)

    def close(self) -> None:
        """Close the tunnel for both ends; the reader still drains what was sent."""
        self.control.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _corrupt(what: str) -> TunnelCorrupt:
        """The error for a check the cursor failed (it stored the quarantine)."""
        return TunnelCorrupt(f"tunnel ring quarantined: {what}")

    def _count_stretch(self, off: int, at: str, pos: int) -> None:
        """Count a full (or empty) ring once per stretch of re-reads that find
        it so, in the header counter an adapter keeps for its side: a stretch
        ends when this end's counter moves (``at`` names where it was)."""
        if getattr(self, at) != pos:
            setattr(self, at, pos)
            self.ring.put_u64(off, self.ring.u64(off) + 1)

    def _check_health(self) -> None:
        if self.ring.quarantine:
            raise TunnelCorrupt(f"tunnel ring quarantined (reason {self.ring.quarantine})")


class TunnelWriter(_End):
    """The write end of a tunnel, held by Python."""

    def __init__(self, ring: RingMemory, control: RingControl) -> None:
        super().__init__(ring, control)
        self._cur = P.WriterCursor(self.geometry)  # the model's writer: head, cached tail
        self._cur.start(ring)
        self._bytes = 0
        self._published = self._cur.pos  # the head last published
        self._on_tap = False  # the tap, not the reader, is what the writer waits for
        self._full_at = -1  # the head at which a re-read last found the ring full

    def _room(self) -> int:
        """Free slots, re-reading the reader's tail (or a lossless tap's cursor)
        only when the cached copy says none."""
        free = self._cur.room_count(self.ring)
        return free if free > 0 else self._no_room(free)

    def _no_room(self, free: int) -> int:
        """``room_count`` found no free slot (0) or bad counters (CORRUPT)."""
        cur = self._cur
        if free < 0:
            raise self._corrupt(f"tail={cur.seen} head={cur.pos}")
        self._on_tap = cur.parks_on is P.Field.TAP_TAIL
        self._count_stretch(L.OFF_FULL, "_full_at", cur.pos)
        return 0

    def _too_big(self, data: bytes, sent: int) -> MessageTooBig:
        err = MessageTooBig(
            f"message of {len(data)} bytes exceeds the tunnel's max_payload of "
            f"{self.geometry.max_payload} bytes: create the tunnel with a larger max_payload")
        err.sent = sent
        return err

    def _publish(self) -> None:
        # SYNC POINT with $wait in the reader adapter: the slots are filled before
        # publish_head stores head, which then reads reader_waiting (ring/control.py)
        self.ring.put_u64(L.OFF_BYTES_IN, self.ring.u64(L.OFF_BYTES_IN) + self._bytes)
        self._bytes = 0
        self._published = self._cur.pos
        self.control.publish_head(self._published)

    def _check_open(self) -> None:
        if self.ring.closed:
            if self.ring.broken:
                raise self.control.broken_error()
            raise TunnelClosed("tunnel is closed")
        self._check_health()

    def try_send(self, data: bytes) -> bool:
        """Send one message if a slot is free; False if the ring is full."""
        return self.try_send_many((data,)) == 1

    def try_send_many(self, messages: Iterable[bytes]) -> int:
        """Send as many as fit now, with one publish; returns how many.

        A message too big for the tunnel stops the batch: the ones before it
        are published, and the ``MessageTooBig`` raised counts them (``sent``).
        An iterable other than a list or a tuple is read whole first.
        """
        self._check_open()
        seq = messages if isinstance(messages, list | tuple) else list(messages)
        return self._send_all(seq, None, wait=False)

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send one message, waiting for a free slot (``send_many`` of one)."""
        deadline = _deadline(timeout)
        self._check_open()
        self._send_all((data,), deadline, wait=True)

    def send_many(self, messages: Iterable[bytes], timeout: float | None = None) -> int:
        """Send every message, publishing whenever the ring fills; returns the count.

        Whatever stops the batch (a message too big for the tunnel, the
        timeout, a close), every message before it is published and none
        after it; ``MessageTooBig.sent`` counts the ones that went. An
        iterable other than a list or a tuple is read a ring's worth at a time.
        """
        deadline = _deadline(timeout)
        self._check_open()
        if isinstance(messages, list | tuple):
            return self._send_all(messages, deadline, wait=True)
        it, sent = iter(messages), 0
        while chunk := list(islice(it, self.geometry.slot_count)):
            try:
                sent += self._send_all(chunk, deadline, wait=True)
            except MessageTooBig as err:
                err.sent += sent
                raise
        return sent

    def _send_all(self, seq: Sequence[bytes], deadline: float | None, wait: bool) -> int:
        """Every send form's loop. For each stretch of free slots the model's
        cursor claims what fits and the ring takes that slice at once; on a
        full ring a blocking form publishes and waits, a try form stops.
        What was written is published, whatever stops the loop."""
        cur, ring = self._cur, self.ring
        sent = 0
        try:
            while sent < len(seq):
                room = cur.room_count(ring)
                if room <= 0 and not (room := self._when_full(room, deadline, wait)):
                    break
                batch = seq[sent: sent + room]
                first = cur.pos
                n = cur.claim(batch)
                self._bytes += ring.write_slots(first, batch[:n])
                sent += n
                if n < len(batch):
                    raise self._too_big(batch[n], sent)
        finally:
            if cur.pos != self._published:
                self._publish()
        return sent

    def _when_full(self, room: int, deadline: float | None, wait: bool) -> int:
        """No free slot (or CORRUPT): 0 for a try form; else publish what is
        written and wait for room."""
        self._no_room(room)
        if not wait:
            return 0
        if self._cur.pos != self._published:
            self._publish()
        return self._wait_room(deadline)

    def _wait_room(self, deadline: float | None) -> int:
        """Wait until a slot is free; how many are."""
        park_after = time.perf_counter_ns() + WRITER_SPIN_NS
        while (room := self._room()) == 0:
            self._check_open()
            if _expired(deadline):
                raise TunnelTimeout("tunnel stayed full until the timeout: its reader is not "
                                    "keeping up; pass a longer timeout, or give it more slots")
            if time.perf_counter_ns() > park_after:
                self.control.park_writer(self._cur.peer, PARK_NS, self._on_tap)
            else:
                os.sched_yield()
        return room

    async def asend(self, data: bytes) -> None:
        await self.asend_many((data,))

    async def asend_many(self, messages: Iterable[bytes]) -> int:
        """Like send_many (and stopped the same way), but waits for room
        without blocking the event loop."""
        pending = list(messages)
        sent = 0
        while pending:
            try:
                n = self.try_send_many(pending)
            except MessageTooBig as err:
                err.sent += sent
                raise
            sent += n
            pending = pending[n:]
            if pending:
                await asyncio.to_thread(self.control.park_writer, self._cur.peer, PARK_NS,
                                        self._on_tap)
        return sent


class TunnelReader(_End):
    """The read end of a tunnel, held by Python."""

    def __init__(self, ring: RingMemory, control: RingControl) -> None:
        super().__init__(ring, control)
        self._cur = P.ReaderCursor(self.geometry)  # the model's reader: tail, cached head
        self._cur.start(ring)  # head not trusted yet: the first _available reads and checks it
        self._empty_at = -1  # the tail at which a re-read last found the ring empty

    def _available(self) -> int:
        """Messages waiting, re-reading the writer's head only when the cached
        copy says none."""
        cur = self._cur
        avail = cur.waiting()
        if avail:
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
        lengths = self.ring.slot_lengths(cur.pos, count)
        if cur.check_lengths(self.ring, lengths):
            bad = lengths[P.fitting(lengths, self.geometry)]
            raise self._corrupt(f"slot length {bad}")
        out = self.ring.read_payloads(cur.pos, lengths)
        cur.take(count)
        # SYNC POINT with $wait in the writer adapter: the payload is copied out before
        # publish_tail stores tail, which then reads writer_waiting (ring/control.py)
        self.ring.put_u64(L.OFF_BYTES_OUT, self.ring.u64(L.OFF_BYTES_OUT) + sum(lengths))
        self.control.publish_tail(cur.pos)
        return out

    def _drained_and_closed(self) -> bool:
        if not self.ring.closed:
            return False
        # SYNC POINT with close in ring/control.py and $close in the adapter: closed is
        # read before head is re-read, as closed is stored after the last publish
        return self._available() == 0  # closed is set after the last publish

    def try_recv_many(self, limit: int = 1 << 30) -> list[bytes]:
        """Up to ``limit`` waiting messages (maybe none), with one commit."""
        n = min(self._available(), limit)
        if n == 0:
            if self._drained_and_closed():
                if self.ring.broken:  # stored before closed: seen once closed is
                    raise self.control.broken_error()
                raise TunnelClosed("tunnel is closed and drained")
            return []
        return self._take(n)

    def try_recv(self) -> bytes | None:
        """The next message, or None if the ring is empty."""
        got = self.try_recv_many(1)
        return got[0] if got else None

    def recv_many(self, limit: int = 1 << 30, timeout: float | None = None) -> list[bytes]:
        """At least one message (waiting for it), at most ``limit``."""
        deadline = _deadline(timeout)
        park_after = time.perf_counter_ns() + READER_SPIN_NS
        while True:
            got = self.try_recv_many(limit)
            if got:
                return got
            if _expired(deadline):
                raise TunnelTimeout("no message before the timeout; pass a longer timeout, "
                                    "or None to wait until one comes")
            if time.perf_counter_ns() > park_after:
                self.control.park_reader(self._cur.peer, PARK_NS)
            else:
                os.sched_yield()  # lets go of the GIL: the sender may be a Python thread

    def recv(self, timeout: float | None = None) -> bytes:
        return self.recv_many(1, timeout)[0]

    def __iter__(self) -> Iterator[bytes]:
        """Every message until the tunnel is closed and drained."""
        while True:
            try:
                yield from self.recv_many(4096)
            except TunnelClosed:
                return

    async def arecv_many(self, limit: int = 1 << 30) -> list[bytes]:
        while True:
            got = self.try_recv_many(limit)
            if got:
                return got
            await asyncio.to_thread(self.control.park_reader, self._cur.peer, PARK_NS)

    async def arecv(self) -> bytes:
        return (await self.arecv_many(1))[0]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                for msg in await self.arecv_many(4096):
                    yield msg
            except TunnelClosed:
                return
