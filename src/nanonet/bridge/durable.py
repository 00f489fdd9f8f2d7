"""A durable tunnel's bridge: the local ring through a JetStream stream.

``DurableSendPump`` runs on the writer's node. It peeks a batch from the
local ring, publishes it to the tunnel's stream with a message id
(``<run>-<first sequence>``: the server drops a retried publish it already
stored) and commits the ring only after the server's PubAck, so a batch
leaves the writer's ring only once the stream holds it. It waits while the
server is away or the stream is full, sending the same batch again.

``DurableReceivePump`` runs on the reader's node. It starts a fresh
consumer (``jetstream.fresh_consumer``: everything not acked comes again,
oldest first), writes each batch into the local ring in stream order, and
acks a batch only once the local reader has taken all of it (the ring's
tail passed it), so a node that dies loses nothing it had not handed over.
A batch delivered twice is dropped by its stream sequence. See
docs/bridge.md, "Durable tunnels", for what each failure costs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..errors import BridgeProtocolError, InvalidValue, TunnelBroken, TunnelClosed
from ..ring.control import BreakInfo
from ..ring.endpoint import TunnelWriter
from ..ring.packed import Packed
from ..ring.peek import PeekingReader
from . import frames as F
from . import jetstream as J
from .linkstats import LinkStats

log = logging.getLogger(__name__)
IDLE_FIRST, IDLE_MOST = 0.0002, 0.005  # seconds an idle pump sleeps: doubling, capped
RETRY_FIRST, RETRY_MOST = 0.05, 1.0  # seconds between publish attempts: doubling, capped
PARK_NS = 20_000_000  # a sender's park on an idle ring
PUBLISH_TIMEOUT = 2.0
ACK_WAIT = 30.0  # seconds the server waits for an ack before it delivers a batch again
FETCH = 8  # stored batches asked for at once
TRANSPORT = "jetstream"


class _Idle:
    """Sleeps that double while nothing moves and start small again after."""

    def __init__(self, first: float = IDLE_FIRST, most: float = IDLE_MOST) -> None:
        self.first, self.most, self.now = first, most, first

    async def pause(self, moved: bool) -> None:
        if moved:
            self.now = self.first
            await asyncio.sleep(0)
            return
        await asyncio.sleep(self.now)
        self.now = min(self.most, self.now * 2)


class DurableSendPump:
    """The writer's node: the local ring into the tunnel's stream."""

    def __init__(self, js: Any, reader: PeekingReader, mesh: str, tunnel: str,
                 token: bytes) -> None:
        self.js, self.reader, self.mesh, self.tunnel, self.token = js, reader, mesh, tunnel, token
        self.run_id = secrets.token_hex(8)  # this run's message ids cannot meet another's
        self.subject = J.stream_subject(mesh, tunnel)
        g = reader.geometry
        self.batch = max(1, min(F.MAX_BATCH, (F.MAX_FRAME - 4096) // (g.max_payload + 4)))
        self.state, self.in_flight = "starting", 0
        self.stored = self.retries = self.duplicates = self.bytes_sent = 0
        self._idle = _Idle()

    def stats(self) -> LinkStats:
        return LinkStats(self.tunnel, "send", TRANSPORT, self.state, None, self.in_flight,
                         self.retries, 0, self.duplicates, self.bytes_sent, 0)

    async def run(self) -> None:
        """Until the local ring is closed (or broken) and the stream holds its end."""
        await _retrying(lambda: J.ensure_stream(self.js, self.mesh, self.tunnel), self.tunnel)
        self.state = "open"
        while True:
            try:
                first, lengths, data = self.reader.peek_batch(self.batch)
            except (TunnelClosed, TunnelBroken):
                await self._store_end()
                self.state = "ended"
                return
            if not lengths:
                await self._wait()
                continue
            self.in_flight = len(lengths)
            body = J.encode_batch(lengths, data)
            await self._store(body, J.headers(self.token, f"{self.run_id}-{first}", body))
            self.reader.commit_to(first + len(lengths))
            self.in_flight = 0

    async def _wait(self) -> None:
        """Park on an idle ring (woken by its writer), else a short sleep."""
        if self.reader.idle():
            await asyncio.to_thread(self.reader.park, PARK_NS)
            self._idle.now = IDLE_FIRST
        else:
            await self._idle.pause(False)

    async def _store_end(self) -> None:
        r = self.reader
        code = r.ring.broken
        info = r.control.broken_by
        broken = None if not code else (
            (code, "", "broken by a host end") if info is None else (code, info.service,
                                                                      info.cause))
        end = "broken" if broken else "closed"
        msg_id = f"{self.run_id}-end-{r.position}"
        await self._store(b"", J.headers(self.token, msg_id, b"", end, broken))

    async def _store(self, body: bytes, hdrs: dict[str, str]) -> None:
        """Publish until the server's PubAck says the stream holds it."""
        wait = RETRY_FIRST
        while True:
            try:
                ack = await self.js.publish(self.subject, body, timeout=PUBLISH_TIMEOUT,
                                            headers=hdrs)
            except Exception as err:  # no server, a timeout, the stream full: try again
                _too_big(err, len(body), self.tunnel)
                self.retries += 1
                self.state = "waiting"
                log.debug("bridge %r: JetStream publish failed (%s); again in %.2f s",
                          self.tunnel, err, wait)
                await asyncio.sleep(wait)
                wait = min(RETRY_MOST, wait * 2)
                continue
            self.duplicates += bool(ack.duplicate)
            self.stored += 1
            self.bytes_sent += len(body)
            self.state = "open"
            return


def _too_big(err: Exception, size: int, tunnel: str) -> None:
    """A batch NATS will never take (one message over its max_payload)."""
    from nats.errors import MaxPayloadError
    if isinstance(err, MaxPayloadError):
        raise InvalidValue(f"durable tunnel {tunnel!r}: a stored batch of {size} bytes is "
                           "over the NATS server's max_payload; give the tunnel a smaller "
                           "max_payload, or raise max_payload in the server's config") from err


async def _retrying(step: Any, tunnel: str) -> Any:
    """``await step()`` until it works (the server may not be up yet)."""
    wait = RETRY_FIRST
    while True:
        try:
            return await step()
        except Exception as err:  # nats-py's errors and OSErrors: the server is away
            log.debug("bridge %r: JetStream not ready (%s); again in %.2f s", tunnel, err, wait)
            await asyncio.sleep(wait)
            wait = min(RETRY_MOST, wait * 2)


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

    def __init__(self, js: Any, writer: TunnelWriter, mesh: str, tunnel: str, token: bytes,
                 ack_wait: float = ACK_WAIT) -> None:
        self.js, self.writer, self.mesh, self.tunnel, self.token = js, writer, mesh, tunnel, token
        self.ack_wait = ack_wait
        self.state, self.expected, self.ended = "starting", 0, False
        # duplicates: messages delivered again and dropped; resumes: consumers made anew
        self.duplicates = self.protocol_errors = self.resumes = self.bytes_received = 0
        self.pending: deque[_Batch] = deque()  # in stream order, not yet all in the ring
        self.unacked: deque[_Batch] = deque()  # in the ring, not yet all taken by the reader
        self._runs: dict[str, int] = {}  # a writer run's next ring sequence
        self._sub: Any = None
        self._idle = _Idle()

    def stats(self) -> LinkStats:
        return LinkStats(self.tunnel, "receive", TRANSPORT, self.state, None, 0, 0,
                         max(0, self.resumes - 1), self.duplicates, 0, self.bytes_received)

    async def run(self) -> None:
        """Until the stream's end is in the ring and every batch was acked."""
        await _retrying(lambda: J.ensure_stream(self.js, self.mesh, self.tunnel), self.tunnel)
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
            await _quietly(old.unsubscribe())
        self._sub, first = await _retrying(
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
        """A batch one writer run stored twice (a publish retried after the
        server's dedup window): only its first storing counts."""
        run, _, first_text = msg_id.rpartition("-")
        if stored.end or not first_text.isdigit():
            return stored
        first, last = int(first_text), self._runs.get(run, -1)
        if first < last:
            self.duplicates += stored.count
            return J.Stored([0], memoryview(b""))
        self._runs[run] = first + stored.count
        return stored

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
        if stored.broken is None:
            self.writer.close()
            return
        code, service, cause = stored.broken
        log.warning("bridge %r: the far writer %r is gone (%s); breaking the tunnel here",
                    self.tunnel, service, cause)
        self.writer.control.break_(BreakInfo("writer", f"{service} (far node)", code, cause))

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
    await _quietly(m.ack_sync() if confirmed else m.ack())


async def _quietly(step: Any) -> None:
    try:
        await step
    except Exception as err:  # nats-py's errors on a connection that is away
        log.debug("JetStream: %s", err)
