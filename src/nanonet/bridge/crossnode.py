"""One node's pattern links (``crossplan.Link``) started beside its tunnels.

``PatternBridges`` runs on the loop of ``NodeBridges``: for each pub-sub
copy it sends, a ``SubscriberRelay`` and a ``SendPump`` over its outbox; for
each far fan-in writer here, a ``SendPump`` over that writer's ring; for
each port called from here, a ``CallForwarder``; and on the receiving side
a ``ReceivePump`` into the subscriber's ring or the writer's fan-in ring,
or a ``CallAnswerer`` on the server's node. Pumps go to ``spawn`` (the
owner cancels and waits for them); ``stop`` ends the rest, after the pumps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..mesh import FanIn, Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader
from .crossplan import CALLS_IN_FLIGHT, Link
from .crossport import CallAnswerer, CallForwarder, call_subject
from .crosspubsub import Outbox, SubscriberRelay, missed_subject
from .nats import NatsLink, unsubscribe
from .pump import ReceivePump, SendPump
from .session import Timing

log = logging.getLogger(__name__)
REPORT_SECONDS = 0.2  # how often a lossy copy publishes its missed count (when it moved)
Spawn = Callable[[str, SendPump | ReceivePump], None]


class PatternBridges:
    """The relays, forwarders and answerers of one node's pattern links."""

    def __init__(self, mesh: Mesh, mesh_name: str, nc: Any, token: bytes, timing: Timing,
                 owner: str) -> None:
        self.mesh, self.mesh_name, self.nc = mesh, mesh_name, nc
        self.token, self.timing, self.owner = token, timing, owner
        self.relays: dict[str, SubscriberRelay] = {}
        self.outboxes: list[Outbox] = []
        self.forwarders: dict[str, CallForwarder] = {}
        self.answerers: dict[str, CallAnswerer] = {}
        self.missed: dict[str, int] = {}  # link -> what the far copy missed (lossy): heard
        # from the writer's node over NATS; point to point, the writer's node's own count
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []

    async def start(self, out: tuple[Link, ...], into: tuple[Link, ...], spawn: Spawn) -> None:
        for k in out:
            await self._send(k, spawn)
        for k in into:
            await self._receive(k, spawn)

    async def _send(self, k: Link, spawn: Spawn) -> None:
        if k.kind == "port":
            self.forwarders[k.link] = CallForwarder(
                self.mesh.rt, self.mesh.ports[k.tunnel], self.nc,
                call_subject(self.mesh_name, k.tunnel), asyncio.get_running_loop(),
                self.owner).start()
            return
        reader = self.reader_for(k)
        link = await NatsLink.sender(self.nc, self.mesh_name, k.link)
        spawn(k.link, SendPump(reader, link, k.link, self.token, self.timing))

    def reader_for(self, k: Link) -> PeekingReader:
        """What the ``SendPump`` of pub-sub or fan-in link ``k`` reads: a
        copy's outbox, or a far writer's ring (over NATS or point to point)."""
        return self._relay(k) if k.kind == "pubsub" else self._fan_part(k)

    def _relay(self, k: Link) -> PeekingReader:
        t = self.mesh.tunnels[k.tunnel]
        outbox = Outbox(self.mesh.rt, t.geometry, k.link)
        self.outboxes.append(outbox)
        sub = self.mesh.subscribe(k.tunnel, k.policy)
        relay = SubscriberRelay(sub, outbox, k.link, k.policy == "lossy").start()
        self.relays[k.link] = relay
        if relay.lossy and self.nc is not None:  # point to point: the count stays here
            self._tasks.append(asyncio.ensure_future(self._report(k.link, relay)))
        return outbox.reader

    def _fan_part(self, k: Link) -> PeekingReader:
        """The ring of far writer ``k.owner`` (the next one not yet taken)."""
        fan = self.mesh.tunnels[k.tunnel]
        assert isinstance(fan, FanIn)
        part = next(p for w, p in zip(fan.writers, fan.parts, strict=True)
                    if w == k.owner and p.reader is None)
        part.take(Direction.READ, self.owner)
        return PeekingReader(part.ring, part.control)

    async def _report(self, link: str, relay: SubscriberRelay) -> None:
        """Publish the missed count whenever it moved, and once at the end."""
        subject, said = missed_subject(self.mesh_name, link), -1
        while True:
            done = not relay.thread.is_alive()
            if relay.missed != said:
                said = relay.missed
                await self.nc.publish(subject, str(said).encode())
            if done:
                return
            await asyncio.sleep(REPORT_SECONDS)

    async def _receive(self, k: Link, spawn: Spawn) -> None:
        if k.kind == "port":
            clients = [self.mesh.client(k.tunnel) for _ in range(CALLS_IN_FLIGHT)]
            self.answerers[k.link] = await CallAnswerer(clients).start(
                self.nc, call_subject(self.mesh_name, k.tunnel))
            return
        owner = self.owner if k.kind == "pubsub" else k.owner
        if k.policy == "lossy":
            self._subs.append(await self.nc.subscribe(
                missed_subject(self.mesh_name, k.link), cb=self._heard(k.link)))
        link = await NatsLink.receiver(self.nc, self.mesh_name, k.link)
        spawn(k.link, ReceivePump(self.mesh.writer(k.ring, owner), link, k.link, self.token,
                                  self.timing))

    def _heard(self, link: str) -> Callable[[Any], Any]:
        async def heard(msg: Any) -> None:
            try:
                self.missed[link] = max(self.missed.get(link, 0), int(msg.data))
            except ValueError:
                log.warning("bridge %r: a missed count that is not a number: %r", link,
                            msg.data[:32])
        return heard

    async def stop(self) -> None:
        """After the pumps: end the relays, forwarders, answerers, reports.
        Point to point (no NATS) a lossy copy's count is kept here, in ``missed``."""
        for link, relay in self.relays.items():
            await asyncio.to_thread(relay.stop)
            if relay.lossy and self.nc is None:
                self.missed[link] = relay.missed
        for fwd in self.forwarders.values():
            await asyncio.to_thread(fwd.stop)
        for ans in self.answerers.values():
            await ans.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for sub in self._subs:
            await unsubscribe(sub)

    def release(self) -> None:
        """The outboxes' rings and the forwarders' stores (after ``stop``)."""
        for outbox in self.outboxes:
            outbox.close()
        for fwd in self.forwarders.values():
            fwd.release()
