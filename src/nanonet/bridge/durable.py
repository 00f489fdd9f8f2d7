"""A durable tunnel's bridge on the writer's node: the local ring into a
JetStream stream (``durable_receive`` is the reader's node).

``DurableSendPump`` peeks a batch from the local ring, publishes it to the
tunnel's stream with a message id (``<run>-<first sequence>``: the server
drops a retried publish it already stored) and commits the ring only after
the server's PubAck, so a batch leaves the writer's ring only once the
stream holds it. It waits while the server is away or the stream is full,
sending the same batch again; one batch is in flight at a time, so a retry
never lands behind a later batch. See docs/bridge.md, "Durable tunnels",
for what each failure costs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from ..errors import InvalidValue, TunnelBroken, TunnelClosed
from ..ring.peek import PeekingReader
from . import frames as F
from . import jetstream as J
from .linkstats import LinkStats

log = logging.getLogger(__name__)
IDLE_FIRST, IDLE_MOST = 0.0002, 0.005  # seconds an idle pump sleeps: doubling, capped
RETRY_FIRST, RETRY_MOST = 0.05, 1.0  # seconds between publish attempts: doubling, capped
PARK_NS = 20_000_000  # a sender's park on an idle ring
PUBLISH_TIMEOUT = 2.0
TRANSPORT = "jetstream"


class Idle:
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
        self._idle = Idle()

    def stats(self) -> LinkStats:
        return LinkStats(self.tunnel, "send", TRANSPORT, self.state, None, self.in_flight,
                         self.retries, 0, self.duplicates, self.bytes_sent, 0)

    async def run(self) -> None:
        """Until the local ring is closed (or broken) and the stream holds its end."""
        await retrying(lambda: J.ensure_stream(self.js, self.mesh, self.tunnel), self.tunnel)
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


async def retrying(step: Any, tunnel: str) -> Any:
    """``await step()`` until it works (the server may not be up yet)."""
    wait = RETRY_FIRST
    while True:
        try:
            return await step()
        except Exception as err:  # nats-py's errors and OSErrors: the server is away
            log.debug("bridge %r: JetStream not ready (%s); again in %.2f s", tunnel, err, wait)
            await asyncio.sleep(wait)
            wait = min(RETRY_MOST, wait * 2)


async def quietly(step: Any) -> None:
    try:
        await step
    except Exception as err:  # nats-py's errors on a connection that is away
        log.debug("JetStream: %s", err)
