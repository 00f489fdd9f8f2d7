"""A node's bridges point to point: QUIC, or WebSocket when QUIC cannot connect.

With ``--listen HOST:PORT`` a node listens for the tunnels it reads (QUIC on
that UDP port, WebSocket on that TCP port); with ``--peer NODE=HOST:PORT``
it dials the node that reads the tunnels it writes, one QUIC stream (or one
WebSocket) per tunnel, and the server's node of each port it calls, one
stream per port link (``directport``). A pub-sub copy or a fan-in writer
(``crossplan``) crosses as a tunnel does, on a stream named after its link:
its sending side is the one ``crossnode.PatternBridges`` builds for NATS
(a relay's outbox, or the far writer's ring). A dialed link that closes (the peer restarted, a
long cut) is dialed again and a new session resumes from the ring; a
listener that accepts a tunnel it already serves replaces the old session
by a new one. Same interface as ``node.NodeBridges``: one asyncio loop on
one thread, owned by the node.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InvalidValue
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader
from .crossnode import PatternBridges
from .crossplan import CALLS_IN_FLIGHT, Link
from .crossport import CallAnswerer
from .directanswer import StreamAnswerer
from .directport import StreamCallForwarder, link_closed, release_dial
from .linkstats import far_end, transport_of
from .node import BRIDGE_OWNER, NodeBridges, Part
from .pump import ReceivePump, SendPump
from .session import DEFAULT_TIMING, Timing

log = logging.getLogger(__name__)
REDIAL = 0.5  # seconds between two dials of a lost peer


def host_port(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidValue(f"{text!r} is not HOST:PORT; write it as 127.0.0.1:7400")
    return host, int(port)


@dataclass(frozen=True)
class Certs:
    """The QUIC certificates of point-to-point bridges: the listener's own
    (else a fresh self-signed one, which the bridge token alone vouches for)
    and the one a dialed peer must present (else any: then a listener in the
    middle could learn the token)."""

    listen_cert: Path | None = None
    listen_key: Path | None = None
    peer_cert: Path | None = None  # a pinned certificate or its CA: QUIC only, no fallback


class DirectBridges(NodeBridges):
    """``NodeBridges`` over QUIC (WebSocket fallback) instead of NATS."""

    def __init__(self, p: Part, mesh: Mesh, listen: tuple[str, int] | None,
                 peers: dict[str, tuple[str, int]], token: bytes,
                 owners: dict[str, str | None], timing: Timing = DEFAULT_TIMING,
                 certs: Certs = Certs()) -> None:
        super().__init__(p, mesh, None, token, timing)
        self.certs = certs
        self.listen, self.peers, self.owners = listen, peers, owners
        self.transports: dict[str, str] = {}  # tunnel -> "quic" or "websocket (why)"
        self._listeners: list[Any] = []
        self._writers: dict[str, Any] = {}
        self.forwarders: dict[str, StreamCallForwarder] = {}  # port links called from here
        self.answerers: dict[str, StreamAnswerer] = {}  # and served here
        self._port_tasks: list[asyncio.Task[None]] = []
        self._folder = tempfile.TemporaryDirectory(prefix="nanonet-bridge-")

    async def _start(self) -> None:
        p = self.part
        for k in p.links_in:
            if k.kind == "port":
                answerer = CallAnswerer([self.mesh.client(k.tunnel)
                                         for _ in range(CALLS_IN_FLIGHT)])
                self.answerers[k.link] = StreamAnswerer(
                    answerer, k.link, self.mesh.ports[k.tunnel].geometry.max_payload, self.token)
        if p.incoming or any(k.kind != "port" for k in p.links_in) or self.answerers:
            await self._listen()
        self.patterns = PatternBridges(self.mesh, p.mesh_name, None, self.token, self.timing,
                                       BRIDGE_OWNER)
        for k in p.links_out:
            if k.kind == "port":
                self._call_from_here(k)
            else:
                self._dial(k.link, self.patterns.reader_for(k), k.reader_node)
        for name in p.outgoing:
            t = self.mesh.tunnels[name]
            t.take(Direction.READ, BRIDGE_OWNER)
            self._dial(name, PeekingReader(t.ring, t.control), self.owners.get(name))

    def _dial(self, name: str, reader: PeekingReader, node: str | None) -> None:
        """The task that dials ``node`` for tunnel or link ``name`` and pumps ``reader``."""
        if node is None or node not in self.peers:
            raise InvalidValue(f"tunnel {name!r} is read on node {node or 'main'!r}: pass "
                               f"--peer {node or 'main'}=HOST:PORT")
        task = self.loop.create_task(self._dial_loop(name, reader, self.peers[node]),
                                     name=f"bridge {name}")
        self.tasks[name] = task
        task.add_done_callback(partial(self._ended, name))

    def _call_from_here(self, k: Link) -> None:
        """A port link's forwarder, and the task that dials the server's node for it."""
        if k.reader_node not in self.peers:
            raise InvalidValue(f"port {k.tunnel!r} is served on node {k.reader_node!r}: pass "
                               f"--peer {k.reader_node}=HOST:PORT")
        fwd = StreamCallForwarder(self.mesh.rt, self.mesh.ports[k.tunnel], k.link, self.token,
                                  self.loop, BRIDGE_OWNER).start()
        self.forwarders[k.link] = fwd
        host, port = self.peers[k.reader_node]
        task = self.loop.create_task(fwd.run(host, port, partial(self.transports.__setitem__,
                                                                 k.link), self.certs.peer_cert),
                                     name=f"bridge {k.link}")
        task.add_done_callback(partial(self._ended, k.link))
        self._port_tasks.append(task)

    async def _listen(self) -> None:
        if self.listen is None:
            ends = [*self.part.incoming, *self.answerers]
            raise InvalidValue(f"this node reads tunnels written elsewhere or serves ports "
                               f"called from elsewhere ({', '.join(ends)}): pass --listen "
                               "HOST:PORT")
        from .quic import QuicListener, make_certificate
        from .ws import WsListener
        host, port = self.listen
        cert, key = self.certs.listen_cert, self.certs.listen_key
        if cert is None or key is None:
            cert, key = make_certificate(Path(self._folder.name), host)
        for name in self.part.incoming:
            self._writers[name] = self.mesh.writer(name, BRIDGE_OWNER)
        for k in self.part.links_in:  # a pub-sub copy's plain ring; a far writer's own ring
            if k.kind != "port":
                owner = BRIDGE_OWNER if k.kind == "pubsub" else k.owner
                self._writers[k.link] = self.mesh.writer(k.ring, owner)
        self._listeners = [await QuicListener(host, port, cert, key, self._accept).start(),
                           await WsListener(host, port, self._accept).start()]

    def _accept(self, name: str, link: Any) -> None:
        """A sender dialed in for ``name``: a new session replaces the old one;
        a port link's callers get a stream of calls beside any other."""
        if name in self.answerers:
            self.transports[name] = transport_of(link)
            self.answerers[name].take(link)
            return
        if name not in self._writers:
            log.warning("bridge: refused a link for tunnel %r, which this node does not read",
                        name)
            self.loop.create_task(link.close())
            return
        self.transports[name] = transport_of(link)
        old = self.tasks.get(name)
        if old is not None and not old.done():
            old.cancel()
        self._spawn(name, ReceivePump(self._writers[name], link, name, self.token, self.timing,
                                      close_on_error=True, datagrams=self._lossy(name)))

    def _lossy(self, name: str) -> bool:
        """Does ``name`` opt into loss (``delivery = "datagram"``)? Only a QUIC
        link carries datagrams; over any other the pumps stay reliable. A pattern
        link's name is no tunnel's: its links are reliable."""
        t = self.part.manifest.table.tunnels.get(name)
        return t is not None and t.delivery == "datagram"

    async def _dial_loop(self, name: str, reader: PeekingReader,
                         where: tuple[str, int]) -> None:
        """Dial the reader's node and pump; dial again whenever the link closes."""
        from .ws import dial
        host, port = where
        while True:
            try:
                got = await dial(host, port, port, name, self.certs.peer_cert)
            except OSError as err:
                log.info("bridge %r: cannot reach %s:%d (%s); trying again", name, host, port, err)
                await asyncio.sleep(REDIAL)
                continue
            self.transports[name] = got.transport + (f" ({got.reason})" if got.reason else "")
            pump = SendPump(reader, got.link, name, self.token, self.timing,
                            datagrams=self._lossy(name))
            if name in self.pumps:  # a dial again: the new pump goes on counting
                pump.totals = self.pumps[name].totals
                pump.totals.retire(self.pumps[name].session)
            self.pumps[name] = pump
            try:
                finished = await self._pump_until_closed(pump, got.link)
            finally:  # the bridge stopping cancels the pump: the dial is closed all the same
                await release_dial(got.owner)
            if finished:
                return
            await asyncio.sleep(REDIAL)

    @staticmethod
    async def _pump_until_closed(pump: SendPump, link: Any) -> bool:
        """True if the pump finished; False if its link closed first."""
        task = asyncio.ensure_future(pump.run())
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            if link_closed(link) and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return False
        task.result()
        return True

    def link_stats(self) -> list[dict[str, Any]]:
        """The tunnels' links, then the port links' streams."""
        ports: list[StreamCallForwarder | StreamAnswerer] = [*self.forwarders.values(),
                                                             *self.answerers.values()]
        return [*super().link_stats(),
                *(far_end(p.stats().to_json(), self.part.far) for p in ports)]

    async def _stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for fwd in self.forwarders.values():
            await asyncio.to_thread(fwd.stop)
        for ans in self.answerers.values():
            await ans.stop()
        for task in self._port_tasks:
            task.cancel()
        await asyncio.gather(*self._port_tasks, return_exceptions=True)
        for fwd in self.forwarders.values():
            fwd.release()
        if self.patterns is not None:
            await self.patterns.stop()
            self.patterns.release()
        for listener in self._listeners:
            listener.close()
        self._folder.cleanup()
