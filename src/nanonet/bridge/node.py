"""A manifest split over nodes, and the bridges that run one node's part.

A service may name its node (``node = "b"``); services without one run on
the main node (``nanonet run``), the host's ends too. A node builds a mesh
of its own services and of every tunnel with at least one end on it. A
tunnel with both ends here is an ordinary ring; one that crosses nodes has
its far end held by a bridge: on the writer's node the bridge reads it
(``SendPump``), on the reader's node the bridge writes it
(``ReceivePump``), over NATS subjects named after the mesh and the tunnel;
a ``durable = true`` tunnel through a JetStream stream instead (``durable``).
Pub-sub subscribers, fan-in writers and port callers on other nodes cross
as pattern links (``crossplan``, started by ``crossnode``).
``NodeBridges`` owns those pumps: one asyncio loop on one thread, started
with the mesh, stopped (cancelled and waited for) before the mesh's rings
are released.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ..errors import NanonetError
from ..manifest.manifest import HOST, Manifest
from ..manifest.schema import ManifestTable
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader
from .crossnode import PatternBridges
from .crossplan import Link, cut
from .durable import DurableSendPump
from .durable_receive import DurableReceivePump
from .linkstats import far_end
from .nats import NatsLink, NatsOptions, connect
from .pump import ReceivePump, SendPump
from .session import DEFAULT_TIMING, Timing

log = logging.getLogger(__name__)
BRIDGE_OWNER = "<bridge>"
Pump = SendPump | ReceivePump | DurableSendPump | DurableReceivePump
STOP_SECONDS = 10.0


def placed(table: ManifestTable) -> bool:
    """Does the manifest put any service on a node of its own?"""
    return any(s.node is not None for s in table.services.values())


def node_names(table: ManifestTable) -> list[str | None]:
    """The main node (None) and every node a service names."""
    named = sorted({s.node for s in table.services.values() if s.node is not None})
    return [None, *named]


def _node_of(table: ManifestTable, owner: str) -> str | None:
    svc = table.services.get(owner)
    return None if owner == HOST or svc is None else svc.node


@dataclass(frozen=True)
class Part:
    """One node's share: its manifest, and the tunnels that leave or enter it."""

    manifest: Manifest
    outgoing: tuple[str, ...]  # written here, read on another node
    incoming: tuple[str, ...]  # read here, written on another node
    mesh_name: str
    links_out: tuple[Link, ...] = ()  # pub-sub copies, fan-in writers, calls sent from here
    links_in: tuple[Link, ...] = ()  # and received here (crossplan.py)
    # a bridged tunnel's or pattern link's far end: name -> (its node, "main" for the main
    # one; its service, or a port's callers there joined by ", ")
    far: dict[str, tuple[str, str]] = field(default_factory=dict)


def part(m: Manifest, node: str | None) -> Part:
    """The manifest ``m`` cut down to ``node``'s services and tunnels."""
    table = m.table
    c = cut(table, node)
    tunnels, outgoing, incoming = dict(c.tunnels), [], []
    far: dict[str, tuple[str, str]] = {}
    for name, t in table.tunnels.items():
        if t.writer is None or t.reader is None:  # fan-in, pub-sub: crossplan.cut
            continue
        w, r = _node_of(table, t.writer), _node_of(table, t.reader)
        if node not in (w, r):
            continue
        if w == r:
            tunnels[name] = t
        elif w == node:
            tunnels[name] = t.model_copy(update={"reader": HOST})
            outgoing.append(name)
            far[name] = (r or "main", t.reader)
        else:
            tunnels[name] = t.model_copy(update={"writer": HOST})
            incoming.append(name)
            far[name] = (w or "main", t.writer)
    far.update({k.link: (k.reader_node, k.reader) for k in c.send})
    far.update({k.link: (k.writer_node, k.writer) for k in c.receive})
    services = {n: s for n, s in table.services.items() if s.node == node} | c.services
    order = [*table.tunnels, *(n for n in tunnels if n not in table.tunnels)]
    tunnels = {n: tunnels[n] for n in order if n in tunnels}  # the manifest's order, then
    # the rings of shared pub-sub copies (crossplan)
    mine = Manifest(m.path, m.path.read_text(), table.model_copy(
        update={"services": services, "tunnels": tunnels, "ports": c.ports}))
    mine.host_reads = tuple(n for n in mine.host_reads
                            if n not in outgoing and n not in c.bridge_reads)
    mine.host_writes = tuple(n for n in mine.host_writes
                             if n not in incoming and n not in c.bridge_writes)
    return Part(mine, tuple(outgoing), tuple(incoming),
                table.mesh.name or m.path.parent.absolute().name or "mesh",
                tuple(c.send), tuple(c.receive), far)


async def cancel_the_rest() -> None:
    """Cancel and wait for every other task still on this loop: a pump's inner
    task, a link's reader, nats-py's subscription tasks (its ``close`` leaves
    them pending), so none is destroyed pending when the loop closes."""
    me = asyncio.current_task()
    rest = [t for t in asyncio.all_tasks() if t is not me]
    for t in rest:
        t.cancel()
    if rest:
        await asyncio.wait(rest, timeout=STOP_SECONDS)


class NodeBridges:
    """Every bridge of one node's mesh, on one asyncio loop in one thread."""

    def __init__(self, p: Part, mesh: Mesh, nats: NatsOptions | None, token: bytes,
                 timing: Timing = DEFAULT_TIMING) -> None:
        self.part, self.mesh, self.nats, self.token, self.timing = p, mesh, nats, token, timing
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nanonet-bridges",
                                       daemon=True)
        self.pumps: dict[str, SendPump | ReceivePump] = {}
        self.durables: dict[str, DurableSendPump | DurableReceivePump] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.errors: dict[str, BaseException] = {}
        self.transports: dict[str, str] = {}  # tunnel -> the transport it was bridged over
        self._nc: Any = None
        self.patterns: PatternBridges | None = None  # pub-sub copies, fan-in writers, ports

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(STOP_SECONDS * 3)

    def start(self) -> NodeBridges:
        """Take the bridged ends, connect to NATS, start a pump per tunnel."""
        self.thread.start()
        self._run(self._start())
        self.mesh.link_statistics = self.link_stats
        return self

    async def _start(self) -> None:
        assert self.nats is not None, "NodeBridges bridges over NATS: pass its options"
        self._nc = await connect(self.nats)
        for name in self.part.outgoing:
            t = self.mesh.tunnels[name]
            t.take(Direction.READ, BRIDGE_OWNER)
            if self._durable(name):
                self._spawn(name, DurableSendPump(self._nc, PeekingReader(
                    t.ring, t.control), self.part.mesh_name, name, self.token))
                continue
            link = await NatsLink.sender(self._nc, self.part.mesh_name, name)
            self.transports[name] = "nats"
            self._spawn(name, SendPump(PeekingReader(t.ring, t.control), link, name,
                                       self.token, self.timing))
        for name in self.part.incoming:
            if self._durable(name):
                self._spawn(name, DurableReceivePump(
                    self._nc, self.mesh.writer(name, BRIDGE_OWNER),
                    self.part.mesh_name, name, self.token))
                continue
            link = await NatsLink.receiver(self._nc, self.part.mesh_name, name)
            self.transports[name] = "nats"
            self._spawn(name, ReceivePump(self.mesh.writer(name, BRIDGE_OWNER), link, name,
                                          self.token, self.timing))
        p = self.part
        self.patterns = PatternBridges(self.mesh, p.mesh_name, self._nc, self.token,
                                       self.timing, BRIDGE_OWNER)
        await self.patterns.start(p.links_out, p.links_in, self._spawn)
        self.transports.update({k.link: "nats" for k in (*p.links_out, *p.links_in)})

    def _durable(self, name: str) -> bool:
        """Is ``name`` bridged through JetStream (``durable = true``)?"""
        if self.part.manifest.table.tunnels[name].durable:
            self.transports[name] = "jetstream"
            return True
        return False

    def _spawn(self, name: str, pump: Pump) -> None:
        if isinstance(pump, DurableSendPump | DurableReceivePump):
            self.durables[name] = pump
        else:
            self.pumps[name] = pump
        task = self.loop.create_task(pump.run(), name=f"bridge {name}")
        task.add_done_callback(partial(self._ended, name))
        self.tasks[name] = task

    def _ended(self, name: str, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (err := task.exception()) is not None:
            self.errors[name] = err
            log.error("bridge %r stopped: %s", name, err)

    def link_stats(self) -> list[dict[str, Any]]:
        """Each bridged tunnel's link now (``linkstats.LinkStats`` as plain data),
        with the tunnel's far end: the node and the service on the other side."""
        pumps = [*self.pumps.values(), *self.durables.values()]
        return [far_end(pump.stats().to_json(), self.part.far) for pump in pumps]

    def sent_all(self) -> bool:
        """Every outgoing tunnel was closed here and all of it acknowledged."""
        return all(self.tasks[n].done() for n in self.part.outgoing)

    def all_done(self) -> bool:
        """Every pump finished: sent and acknowledged, or received to the end."""
        return all(t.done() for t in self.tasks.values())

    def failure(self) -> NanonetError | None:
        """The first bridge that stopped on an error (a refusal, say)."""
        for name, err in self.errors.items():
            return err if isinstance(err, NanonetError) else NanonetError(f"bridge {name}: {err}")
        return None

    def stop(self) -> None:
        """Cancel every pump, wait for them, close the connection, end the loop."""
        if not self.thread.is_alive():
            return
        self._run(self._stop())
        self._run(cancel_the_rest())
        self._run(self.loop.shutdown_default_executor())  # parks in worker threads end
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(STOP_SECONDS)
        self.loop.close()

    async def _stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        if self.patterns is not None:
            await self.patterns.stop()
            self.patterns.release()
        if self._nc is not None:
            try:
                await self._nc.close()
            except (OSError, NanonetError) as err:  # the server may be gone already
                log.debug("closing the NATS connection: %s", err)
