"""A durable tunnel's bridge on the reader's node: a JetStream stream into
the local ring (``durable`` is the writer's node).

``DurableReceivePump`` starts a fresh consumer (``jetstream.fresh_consumer``:
everything not acked comes again, oldest first), writes each batch into the
local ring in stream order, and acks a batch only once the local reader has
taken all of it (the ring's tail passed it), so a node that dies loses
nothing it had not handed over. A batch delivered twice is dropped by its
stream sequence. See docs/bridge.md, "Durable tunnels".
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import BridgeProtocolError
from ..ring.endpoint import TunnelWriter
from ..ring.packed import Packed
from . import jetstream as J
from .durable import RETRY_FIRST, TRANSPORT, Idle, quietly, retrying
from .farend import end_as_far_writer
from .linkstats import LinkStats, nats_reconnects

log = logging.getLogger(__name__)
ACK_WAIT = 30.0  # seconds the server waits for an ack before it delivers a batch again
FETCH = 8  # stored batches asked for at once


@dataclass
class _Batch:
    """A stored message on its way into the ring, then waiting to be acked."""

    seq: int  # the stream's sequence
    stored: J.Stored
    msgs: list[Any] = field(default_factory=list)  # its deliveries, each acked
    written: int = 0  # messages of it in the ring
    ring_end: int = 0  # the ring counter after its last message


class DurableReceivePump:
    """The reader's node: the tunnel's stream into the local ring."""

    def __init__(self, nc: Any, writer: TunnelWriter, mesh: str, tunnel: str, token: bytes,
                 ack_wait: float = ACK_WAIT) -> None:
        self.nc, self.js = nc, nc.jetstream()
        self.writer, self.mesh, self.tunnel, self.token = writer, mesh, tunnel, token
        self.ack_wait = ack_wait
        self.state, self.expected, self.ended = "starting", 0, False
        # duplicates: messages delivered again and dropped; resumes: consumers made anew
        self.duplicates = self.protocol_errors = self.resumes = self.bytes_received = 0
        self.pending: deque[_Batch] = deque()  # in stream order, not yet all in the ring
        self.unacked: deque[_Batch] = deque()  # in the ring, not yet all taken by the reader
        self._runs: dict[str, int] = {}  # a writer run's next ring sequence
        self._sub: Any = None
        self._idle = Idle()

    def stats(self) -> LinkStats:
        return LinkStats(self.tunnel, "receive", TRANSPORT, self.state, None, 0, 0,
                         max(0, self.resumes - 1), self.duplicates, 0, self.bytes_received,
                         nats_reconnects=nats_reconnects(self.nc))

    async def run(self) -> None:
        """Until the stream's end is in the ring and every batch was acked."""
        await retrying(lambda: J.ensure_stream(self.js, self.mesh, self.tunnel), self.tunnel)
        await self._resume()
        self.state = "open"
        while not (self.ended and not self.pending and not self.unacked):
            moved = await self._pull() if not self.pending and not self.ended else False
            moved = self._write() or moved
            moved = await self._ack() or moved
            await self._idle.pause(moved)
        self.state = "ended"

    async def _resume(self) -> None:
        """A fresh consumer: the stream from its oldest batch not acked."""
        if self.pending:  # fetched, not in the ring: they come again
            self.expected = self.pending[0].seq
        self.pending.clear()
        old, self._sub = self._sub, None
        if old is not None:
            await quietly(old.unsubscribe())
        self._sub, first = await retrying(
            lambda: J.fresh_consumer(self.js, self.mesh, self.tunnel, self.ack_wait),
            self.tunnel)
        if self.resumes and first > self.expected:
            log.warning("bridge %r: batches %d to %d left the stream before they were "
                        "delivered here", self.tunnel, self.expected, first - 1)
        if self.resumes == 0 or first > self.expected:
            self.expected = first
        self.resumes += 1

    async def _pull(self) -> bool:
        """Fetch a few stored batches; True if any came."""
        from nats.errors import TimeoutError as FetchTimeout
        try:
            msgs = await self._sub.fetch(FETCH, timeout=0.02 if self.unacked else 0.5)
        except FetchTimeout:
            return False
        except Exception as err:  # the server away, the consumer gone: make a new one
            log.info("bridge %r: fetching from JetStream failed (%s); resuming", self.tunnel, err)
            await asyncio.sleep(RETRY_FIRST)
            await self._resume()
            return False
        for m in msgs:
            if not await self._accept(m):
                break
        return bool(msgs)

    async def _accept(self, m: Any) -> bool:
        """Queue one delivery in order, drop it as a duplicate, or resume at a
        gap (False: the rest of this fetch is not in order either)."""
        seq = m.metadata.sequence.stream
        if seq < self.expected:
            await self._duplicate(seq, m)
            return True
        if seq > self.expected:
            log.info("bridge %r: batch %d came before %d; resuming", self.tunnel, seq,
                     self.expected)
            await self._resume()
            return False
        self.expected += 1
        self.bytes_received += len(m.data)
        self.pending.append(_Batch(seq, self._decoded(m), [m]))
        return True

    def _decoded(self, m: Any) -> J.Stored:
        """The stored batch, or nothing (logged) if it is not one from a node
        with this token or repeats one of its writer run's batches."""
        try:
            stored = J.decode(self.token, m.data, m.headers, self.writer.geometry.max_payload)
        except BridgeProtocolError as err:
            self.protocol_errors += 1
            log.warning("bridge %r: dropping stored batch %d: %s", self.tunnel,
                        m.metadata.sequence.stream, err)
            return J.Stored([0], memoryview(b""))
        return self._new_part(stored, (m.headers or {}).get(J.MSG_ID, ""))

    def _new_part(self, stored: J.Stored, msg_id: str) -> J.Stored:
        """What a batch adds to its writer run's messages: nothing if the run
        stored them already (a publish retried after the server's dedup
        window), only the rest if it stored some (a pump started again on
        the same ring peeks its batches anew, cut elsewhere)."""
        run, _, rest = msg_id.partition("-")
        first_text = rest.partition("-")[0]
        if stored.end or not first_text.isdigit():
            return stored
        first, last = int(first_text), self._runs.get(run, -1)
        seen = min(stored.count, max(0, last - first))
        self._runs[run] = max(last, first + stored.count)
        if not seen:
            return stored
        self.duplicates += seen
        cut = stored.bounds[seen]
        return J.Stored([b - cut for b in stored.bounds[seen:]], stored.data[cut:])

    async def _duplicate(self, seq: int, m: Any) -> None:
        """A batch delivered again: ack it with its first delivery (or now, if
        that was acked)."""
        for b in (*self.unacked, *self.pending):
            if b.seq == seq:
                self.duplicates += b.stored.count
                b.msgs.append(m)
                return
        self.duplicates += J.count_of(m.data, m.headers)
        await _ack(m)

    def _write(self) -> bool:
        """Move pending batches into the ring as far as it has room."""
        moved = False
        while self.pending:
            b = self.pending[0]
            if b.stored.end:
                self._end(b.stored)
            elif b.written < b.stored.count:
                s = b.stored
                packed = Packed(s.data, s.bounds[b.written:], self.writer.geometry.max_payload)
                sent = self.writer.try_send_many(packed)
                b.written += sent
                moved = moved or sent > 0
                if b.written < s.count:
                    return moved
            b.ring_end = self.writer.ring.head()
            self.unacked.append(self.pending.popleft())
            moved = True
        return moved

    def _end(self, stored: J.Stored) -> None:
        """Close the local ring, or break it as the far writer's was."""
        self.ended = True
        end_as_far_writer(self.writer, self.tunnel, stored.broken, log)

    async def _ack(self) -> bool:
        """Ack every batch the local reader has wholly taken, in order."""
        tail = self.writer.ring.tail()
        moved = False
        while self.unacked and self.unacked[0].ring_end <= tail:
            b = self.unacked.popleft()
            for m in b.msgs:
                await _ack(m, b.stored.end != "")
            moved = True
        return moved


async def _ack(m: Any, confirmed: bool = False) -> None:
    """Ack one delivery; a lost ack only means the batch comes again (dropped
    then). The end's ack waits for the server's word: a pump that finished
    leaves nothing of its stream behind."""
    await quietly(m.ack_sync() if confirmed else m.ack())
