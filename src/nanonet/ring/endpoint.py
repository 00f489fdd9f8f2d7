"""Host endpoints: Python writes into, and reads from, a tunnel.

A host endpoint copies slots through ``RingMemory`` (the one module that
touches ring bytes) and publishes its counter from Python there, once per
batch: a store, a full fence, a load of the peer's waiting flag. Wasm is
called only to wake a peer that announced a park, and to park. One message
takes a short path of its own (``send``, ``recv``); ``Packed`` hands many
over as one buffer. Blocking forms poll briefly, then park in Wasm
(``memory.atomic.wait32``, GIL released); asyncio forms poll on the event
loop, then park in a worker thread, and give the loop a turn every
``ASYNC_TURN`` messages while data flows. Like a trio memory channel:
``send``/``try_send``, ``recv``/``try_recv``, batch forms, ``close``,
iteration and ``statistics()``.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from itertools import accumulate, islice
from typing import Self

from ..errors import MessageTooBig, TunnelClosed, TunnelCorrupt, TunnelTimeout
from . import layout as L
from . import protocol as P
from .control import RingControl
from .memory import RingMemory
from .packed import Packed
from .stats import TunnelStats, snapshot

# How long a blocked host end polls before it parks in Wasm. A park and its
# wake-up cost ~50 us here: a reader polls about that long (a reply in a
# request/response exchange arrives sooner), a writer waiting for room less
# (the reader is the bottleneck; it wakes the writer when the ring drains).
READER_SPIN_NS = 100_000
WRITER_SPIN_NS = 10_000
PARK_NS = 20_000_000
POLLS = 64  # polls of the peer's counter between two sched_yield calls (GIL let go)
ASYNC_TURN = 256  # messages an asyncio end moves before it gives the loop a turn
ASYNC_POLLS = 64  # loop turns an asyncio end polls on before it parks in a thread (a hop
# to a worker thread and back costs more than a drained ring takes to refill)
Batch = Sequence[bytes] | Packed


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

    async def _give_turn(self, moved: int) -> None:
        """Count ``moved`` messages; once ``ASYNC_TURN`` have gone by, let the
        event loop run its other tasks (a stream that never waits would
        otherwise never give it back)."""
        self._turn += moved
        if self._turn >= ASYNC_TURN:
            await self._turn_now()

    async def _turn_now(self) -> None:
        self._turn = 0
        await asyncio.sleep(0)

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
        self._turn = 0  # messages an asyncio form moved since it last gave the loop a turn

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

    def _too_big(self, size: int, sent: int) -> MessageTooBig:
        err = MessageTooBig(
            f"message of {size} bytes exceeds the tunnel's max_payload of "
            f"{self.geometry.max_payload} bytes: create the tunnel with a larger max_payload")
        err.sent = sent
        return err

    def _publish(self) -> None:
        # SYNC POINT with $wait in the reader adapter: the slots are filled before
        # publish_head stores head, then (behind a fence) reads reader_waiting
        nbytes, self._bytes = self._bytes, 0
        self._published = self._cur.pos
        if self.ring.publish_head(self._published, nbytes):
            self._wake_reader()

    def _wake_reader(self) -> None:
        """The reader announced a park: notify it (Wasm), counted as the adapter counts."""
        self.ring.put_u64(L.OFF_WRITER_WAKES, self.ring.u64(L.OFF_WRITER_WAKES) + 1)
        self.control.wake_reader()

    def _send_one(self, data: bytes) -> bool:
        """The one-message fast path: True if sent (a free slot by the cached
        tail, an open ring, a message that fits); False for the general path."""
        cur, ring = self._cur, self.ring
        pos = cur.pos
        if ring.stopped() or not cur.claim_one(len(data)):
            return False
        ring.write_slot(pos, data)
        self._published = pos = cur.pos
        if ring.publish_head(pos, len(data)):
            self._wake_reader()
        return True

    def _check_open(self) -> None:
        if self.ring.closed:
            if self.ring.broken:
                raise self.control.broken_error()
            raise TunnelClosed("tunnel is closed")
        self._check_health()

    def try_send(self, data: bytes) -> bool:
        """Send one message if a slot is free; False if the ring is full."""
        return self._send_one(data) or self.try_send_many((data,)) == 1

    def try_send_many(self, messages: Iterable[bytes] | Packed) -> int:
        """Send as many as fit now, with one publish; returns how many.

        A message too big for the tunnel stops the batch: the ones before it
        are published, and the ``MessageTooBig`` raised counts them (``sent``).
        An iterable other than a list, a tuple or a ``Packed`` is read whole first.
        """
        self._check_open()
        seq = messages if isinstance(messages, list | tuple | Packed) else list(messages)
        return self._send_all(seq, None, wait=False)

    def send(self, data: bytes, timeout: float | None = None) -> None:
        """Send one message, waiting for a free slot (``send_many`` of one)."""
        if self._send_one(data):
            return
        deadline = _deadline(timeout)
        self._check_open()
        self._send_all((data,), deadline, wait=True)

    def send_many(self, messages: Iterable[bytes] | Packed, timeout: float | None = None) -> int:
        """Send every message, publishing whenever the ring fills; returns the count.

        ``messages`` may be a ``Packed`` buffer (many messages in one buffer,
        copied slot by slot with no object per message). Whatever stops the
        batch (a message too big for the tunnel, the timeout, a close), every
        message before it is published and none after it;
        ``MessageTooBig.sent`` counts the ones that went. An iterable other
        than a list, a tuple or a ``Packed`` is read a ring's worth at a time.
        """
        deadline = _deadline(timeout)
        self._check_open()
        if isinstance(messages, list | tuple | Packed):
            return self._send_all(messages, deadline, wait=True)
        it, sent = iter(messages), 0
        while chunk := list(islice(it, self.geometry.slot_count)):
            try:
                sent += self._send_all(chunk, deadline, wait=True)
            except MessageTooBig as err:
                err.sent += sent
                raise
        return sent

    def _send_all(self, seq: Batch, deadline: float | None, wait: bool, start: int = 0,
                  stop: int | None = None) -> int:
        """Every send form's loop, over messages ``start`` to ``stop`` of
        ``seq``. For each stretch of free slots the model's cursor claims what
        fits and the ring takes that slice at once; on a full ring a blocking
        form publishes and waits, a try form stops. What was written is
        published, whatever stops the loop."""
        cur, ring = self._cur, self.ring
        end = len(seq) if stop is None else stop
        sent = 0
        try:
            while start + sent < end:
                room = cur.room_count(ring)
                if room <= 0 and not (room := self._when_full(room, deadline, wait)):
                    break
                n, size = self._put_batch(seq, start + sent, min(room, end - start - sent))
                sent += n
                if size >= 0:
                    raise self._too_big(size, sent)
        finally:
            if cur.pos != self._published:
                self._publish()
        return sent

    def _put_batch(self, seq: Batch, start: int, room: int) -> tuple[int, int]:
        """Claim and fill up to ``room`` slots with messages from ``start``:
        how many went, and the length of the one too big that stopped them (-1)."""
        cur, first = self._cur, self._cur.pos
        if isinstance(seq, Packed):
            part = seq.part(start, min(start + room, len(seq)))
            n = cur.claim_packed(part.bounds, part.most)
            self._bytes += self.ring.write_packed(first, part.data, part.bounds[: n + 1])
            return n, len(part[n]) if n < len(part) else -1
        batch = seq[start: start + room]
        n = cur.claim(batch)
        self._bytes += self.ring.write_slots(first, batch[:n])
        return n, len(batch[n]) if n < len(batch) else -1

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
                os.sched_yield()  # lets go of the GIL: the reader may be a Python thread
        return room

    async def asend(self, data: bytes) -> None:
        await self.asend_many((data,))

    async def asend_many(self, messages: Iterable[bytes] | Packed) -> int:
        """Like send_many (and stopped the same way), but waits for room
        without blocking the event loop, and gives the loop a turn every
        ``ASYNC_TURN`` messages while the ring has room."""
        seq = messages if isinstance(messages, list | tuple | Packed) else list(messages)
        sent = 0
        while sent < len(seq):
            self._check_open()
            try:
                n = self._send_all(seq, None, False, sent, min(len(seq), sent + ASYNC_TURN))
            except MessageTooBig as err:
                err.sent += sent
                raise
            sent += n
            if n:
                await self._give_turn(n)
            else:
                await self._await_room()
        return sent

    async def _await_room(self) -> None:
        """The ring is full: poll for room on a few loop turns, then park in
        a worker thread (the loop runs on meanwhile)."""
        for _ in range(ASYNC_POLLS):
            await self._turn_now()
            if self._room():
                return
            self._check_open()
        await asyncio.to_thread(self.control.park_writer, self._cur.peer, PARK_NS, self._on_tap)


class TunnelReader(_End):
    """The read end of a tunnel, held by Python."""

    def __init__(self, ring: RingMemory, control: RingControl) -> None:
        super().__init__(ring, control)
        self._cur = P.ReaderCursor(self.geometry)  # the model's reader: tail, cached head
        self._cur.start(ring)  # head not trusted yet: the first _available reads and checks it
        self._empty_at = -1  # the tail at which a re-read last found the ring empty
        self._turn = 0  # messages an asyncio form moved since it last gave the loop a turn

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

    def _commit(self, count: int, nbytes: int) -> None:
        """Move past ``count`` messages copied out and publish tail from Python."""
        cur = self._cur
        cur.take(count)
        # SYNC POINT with $wait in the writer adapter: the payload is copied out before
        # publish_tail stores tail, then (behind a fence) reads writer_waiting
        if self.ring.publish_tail(cur.pos, nbytes):
            self._wake_writer()

    def _wake_writer(self) -> None:
        """The writer announced a park: notify it (Wasm), counted as the adapter counts."""
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
        lengths = self._checked_lengths(n)
        data = self.ring.read_packed(self._cur.pos, lengths)
        self._commit(n, len(data))
        return Packed(memoryview(data), list(accumulate(lengths, initial=0)), max(lengths))

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
        if _expired(deadline):
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
        deadline = _deadline(timeout)
        park_after = time.perf_counter_ns() + READER_SPIN_NS
        while not (got := self.try_recv_many(limit)):
            self._wait_data(deadline, park_after)
        return got

    def recv_packed(self, limit: int = 1 << 30, timeout: float | None = None) -> Packed:
        """At least one message (waiting for it), at most ``limit``, as one
        buffer and its offsets (``Packed``)."""
        deadline = _deadline(timeout)
        park_after = time.perf_counter_ns() + READER_SPIN_NS
        while not (got := self.try_recv_packed(limit)):
            self._wait_data(deadline, park_after)
        return got

    def recv(self, timeout: float | None = None) -> bytes:
        got = self._recv_one()
        return got if got is not None else self.recv_many(1, timeout)[0]

    def __iter__(self) -> Iterator[bytes]:
        """Every message until the tunnel is closed and drained."""
        while True:
            try:
                yield from self.recv_many(4096)
            except TunnelClosed:
                return

    async def _await_data(self) -> None:
        """The ring is empty: poll head on a few loop turns, then park in a
        worker thread (the loop runs on meanwhile)."""
        for _ in range(ASYNC_POLLS):
            await self._turn_now()
            if self.ring.head() != self._cur.peer:
                return
        await asyncio.to_thread(self.control.park_reader, self._cur.peer, PARK_NS)

    async def arecv_many(self, limit: int = 1 << 30) -> list[bytes]:
        """Like recv_many, without blocking the event loop; the loop gets a
        turn every ``ASYNC_TURN`` messages received."""
        while not (got := self.try_recv_many(limit)):
            await self._await_data()
        await self._give_turn(len(got))
        return got

    async def arecv_packed(self, limit: int = 1 << 30) -> Packed:
        """Like recv_packed, without blocking the event loop (turns as arecv_many)."""
        while not (got := self.try_recv_packed(limit)):
            await self._await_data()
        await self._give_turn(len(got))
        return got

    async def arecv(self) -> bytes:
        return (await self.arecv_many(1))[0]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                for msg in await self.arecv_many(ASYNC_TURN):
                    yield msg
            except TunnelClosed:
                return
