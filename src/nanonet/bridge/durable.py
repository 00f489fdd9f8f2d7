"""A durable tunnel's bridge on the writer's node: the local ring into a
JetStream stream (``durable_receive`` is the reader's node).

``DurableSendPump`` peeks batches from the local ring, publishes them to the
tunnel's stream with a message id (``<run>-<first sequence>-<count>``: the
server drops a retried publish it already stored) and commits the ring only
after the server's PubAcks, so a batch leaves the writer's ring only once
the stream holds it and every batch before it. Up to ``pubwindow.WINDOW``
batches are in flight; the server keeps them in order (``pubwindow``). It
waits while the server is away or the stream is full, sending the same
batches again. ``<run>`` is one ring's life in this process, so a pump
started again on the same ring names its batches as the last one did. See
docs/bridge.md, "Durable tunnels", for what each failure costs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any
from weakref import WeakKeyDictionary

from ..errors import InvalidValue, TunnelBroken, TunnelClosed
from ..ring.peek import PeekingReader
from . import frames as F
from . import jetstream as J
from .linkstats import LinkStats, nats_reconnects
from .pubwindow import WINDOW, Entry, Window

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

    def __init__(self, nc: Any, reader: PeekingReader, mesh: str, tunnel: str,
                 token: bytes, window: int = WINDOW) -> None:
        self.nc, js = nc, nc.jetstream()
        self.js, self.reader, self.mesh, self.tunnel, self.token = js, reader, mesh, tunnel, token
        self.run_id = run_of(reader)  # this ring's message ids cannot meet another's
        self.window = Window(nc, J.stream_subject(mesh, tunnel), window)
        g = reader.geometry
        self.batch = max(1, min(F.MAX_BATCH, (F.MAX_FRAME - 4096) // (g.max_payload + 4)))
        self.state, self.ending = "starting", False
        self.stored = self.retries = self.duplicates = self.bytes_sent = 0
        self._idle, self._wait_again = Idle(), RETRY_FIRST

    @property
    def in_flight(self) -> int:
        return self.window.in_flight()

    def stats(self) -> LinkStats:
        return LinkStats(self.tunnel, "send", TRANSPORT, self.state, None, self.in_flight,
                         self.retries, 0, self.duplicates, self.bytes_sent, 0,
                         nats_reconnects=nats_reconnects(self.nc))

    async def run(self) -> None:
        """Until the local ring is closed (or broken) and the stream holds its end."""
        await retrying(lambda: J.ensure_stream(self.js, self.mesh, self.tunnel), self.tunnel)
        self.window.last = await retrying(
            lambda: J.last_sequence(self.js, self.mesh, self.tunnel), self.tunnel)
        self.state = "open"
        while self.state != "ended":
            self._fill()
            if self.window.entries:
                await self._flow()
            else:
                await self._wait()

    def _fill(self) -> None:
        """Peek batches into the window while it has room, then the end."""
        while not self.window.full() and not self.ending:
            try:
                first, lengths, data = self.reader.peek_batch(self.batch)
            except (TunnelClosed, TunnelBroken):
                self.window.entries.append(self._end())
                self.ending = True
                return
            if not lengths:
                return
            body = J.encode_batch(lengths, data)
            msg_id = f"{self.run_id}-{first}-{len(lengths)}"
            self.window.entries.append(Entry(first, len(lengths), body,
                                             J.headers(self.token, msg_id, body)))

    async def _flow(self) -> None:
        """Send what the window may, then wait for its front's PubAck and
        commit the ring up to it; on a failure, take the window back."""
        try:
            await self.window.send()
            entry, ack = await self.window.settle(PUBLISH_TIMEOUT)
        except Exception as err:  # no server, a timeout, the stream full: again
            _too_big(err, len(self.window.entries[0].body), self.tunnel)
            if self.window.fail(err):
                return  # the stream said where it is: the front goes again at once
            self.retries += 1
            self.state = "waiting"
            log.debug("bridge %r: JetStream publish failed (%s); again in %.2f s",
                      self.tunnel, err, self._wait_again)
            await asyncio.sleep(self._wait_again)
            self._wait_again = min(RETRY_MOST, self._wait_again * 2)
            return
        self._wait_again = RETRY_FIRST
        self.duplicates += bool(ack.duplicate)
        self.stored += 1
        self.bytes_sent += len(entry.body)
        if entry.count:
            self.reader.commit_to(entry.first + entry.count)
            self.state = "open"
        else:
            self.state = "ended"

    async def _wait(self) -> None:
        """Park on an idle ring (woken by its writer), else a short sleep."""
        if self.reader.idle():
            await asyncio.to_thread(self.reader.park, PARK_NS)
            self._idle.now = IDLE_FIRST
        else:
            await self._idle.pause(False)

    def _end(self) -> Entry:
        """The end mark: closed, or broken as the local ring was."""
        r = self.reader
        code = r.ring.broken
        info = r.control.broken_by
        broken = None if not code else (
            (code, "", "broken by a host end") if info is None else (code, info.service,
                                                                      info.cause))
        end = "broken" if broken else "closed"
        msg_id = f"{self.run_id}-end-{r.position}"
        return Entry(r.position, 0, b"", J.headers(self.token, msg_id, b"", end, broken))


_RUNS: WeakKeyDictionary[Any, str] = WeakKeyDictionary()


def run_of(reader: PeekingReader) -> str:
    """The run id of the reader's ring: random, one per ring in this process
    (a bridge started again on it goes on under the same id)."""
    return _RUNS.setdefault(reader.ring, secrets.token_hex(8))


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
