"""The write end of a tunnel held by Python (see ``endpoint``)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from itertools import islice

from ..errors import MessageTooBig, TunnelClosed, TunnelTimeout
from . import layout as L
from . import protocol as P
from .control import RingControl
from .end import (
    PARK_NS,
    WRITER_SPIN_NS,
    Batch,
    End,
    deadline_of,
    expired,
)
from .memory import RingMemory
from .packed import Packed
from .waitpolicy import DEFAULT_WAIT, WaitPolicy


class TunnelWriter(End):
    """The write end of a tunnel, held by Python."""

    def __init__(self, ring: RingMemory, control: RingControl,
                 wait: WaitPolicy = DEFAULT_WAIT) -> None:
        super().__init__(ring, control, wait)
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
        """The reader announced a park: notify it (Wasm), counted as the adapter
        counts; from an asyncio form, once the loop has run what was due (``_put_off``)."""
        if self._put_off(self._wake_reader):
            return
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
        deadline = deadline_of(timeout)
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
        deadline = deadline_of(timeout)
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
        park_after = self._park_after(WRITER_SPIN_NS)
        while (room := self._room()) == 0:
            self._check_open()
            if expired(deadline):
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
        ``ASYNC_TURN`` messages (fewer for large slots) while the ring has room."""
        seq = messages if isinstance(messages, list | tuple | Packed) else list(messages)
        sent = 0
        while sent < len(seq):
            self._check_open()
            self._later = asyncio.get_running_loop()
            try:
                n = self._send_all(seq, None, False, sent, min(len(seq), sent + self._per_turn()))
            except MessageTooBig as err:
                err.sent += sent
                raise
            finally:
                self._later = None
            sent += n
            if n:
                await self._give_turn(n)
            else:
                await self._await_room()
        return sent

    async def _await_room(self) -> None:
        """The ring is full: poll for room on a few loop turns, then park in
        a worker thread (the loop runs on meanwhile)."""
        for _ in range(self._async_polls()):
            await self._turn_now()
            if self._room():
                return
            self._check_open()
        await asyncio.to_thread(self.control.park_writer, self._cur.peer, PARK_NS, self._on_tap)
