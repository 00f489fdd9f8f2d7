"""A node's bridges point to point: QUIC, or WebSocket when QUIC cannot connect.

With ``--listen HOST:PORT`` a node listens for the tunnels it reads (QUIC on
that UDP port, WebSocket on that TCP port); with ``--peer NODE=HOST:PORT``
it dials the node that reads the tunnels it writes, one QUIC stream (or one
WebSocket) per tunnel. A dialed link that closes (the peer restarted, a
long cut) is dialed again and a new session resumes from the ring; a
listener that accepts a tunnel it already serves replaces the old session
by a new one. Same interface as ``node.NodeBridges``: one asyncio loop on
one thread, owned by the node.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import InvalidValue
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader
from .linkstats import transport_of
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


def _closed(link: Any) -> bool:
    if getattr(link, "proto", None) is not None:
        return bool(link.closed)  # its QUIC stream was reset, or the connection closed
    state = getattr(getattr(link, "ws", None), "state", None)
    return state is not None and state.name in ("CLOSING", "CLOSED")


async def _release(owner: Any) -> None:
    """Close a dial's QUIC connection, or cancel its WebSocket reader."""
    if isinstance(owner, asyncio.Task):
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
    elif owner is not None:
        await owner.close()


class DirectBridges(NodeBridges):
    """``NodeBridges`` over QUIC (WebSocket fallback) instead of NATS."""

    def __init__(self, p: Part, mesh: Mesh, listen: tuple[str, int] | None,
                 peers: dict[str, tuple[str, int]], token: bytes,
                 owners: dict[str, str | None], timing: Timing = DEFAULT_TIMING) -> None:
        super().__init__(p, mesh, None, token, timing)
        self.listen, self.peers, self.owners = listen, peers, owners
        self.transports: dict[str, str] = {}  # tunnel -> "quic" or "websocket (why)"
        self._listeners: list[Any] = []
        self._writers: dict[str, Any] = {}
        self._folder = tempfile.TemporaryDirectory(prefix="nanonet-bridge-")

    async def _start(self) -> None:
        if self.part.links_out or self.part.links_in:
            raise InvalidValue("pub-sub, fan-in and port crossings (docs/bridge.md, \"Patterns "
                               "across nodes\") are bridged over NATS only: run the nodes with "
                               "--nats (or none of --listen/--peer)")
        if self.part.incoming:
            await self._listen()
        for name in self.part.outgoing:
            t = self.mesh.tunnels[name]
            t.take(Direction.READ, BRIDGE_OWNER)
            task = self.loop.create_task(self._dial_loop(name), name=f"bridge {name}")
            self.tasks[name] = task
            task.add_done_callback(partial(self._ended, name))

    async def _listen(self) -> None:
        if self.listen is None:
            raise InvalidValue(f"this node reads tunnels written elsewhere "
                               f"({', '.join(self.part.incoming)}): pass --listen HOST:PORT")
        from .quic import QuicListener, make_certificate
        from .ws import WsListener
        host, port = self.listen
        cert, key = make_certificate(Path(self._folder.name), host)
        for name in self.part.incoming:
            self._writers[name] = self.mesh.writer(name, BRIDGE_OWNER)
        self._listeners = [await QuicListener(host, port, cert, key, self._accept).start(),
                           await WsListener(host, port, self._accept).start()]

    def _accept(self, name: str, link: Any) -> None:
        """A sender dialed in for ``name``: a new session replaces the old one."""
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
        link carries datagrams; over any other the pumps stay reliable."""
        return self.part.manifest.table.tunnels[name].delivery == "datagram"

    async def _dial_loop(self, name: str) -> None:
        """Dial the reader's node and pump; dial again whenever the link closes."""
        from .ws import dial
        owner = self.owners.get(name)
        if owner is None or owner not in self.peers:
            raise InvalidValue(f"tunnel {name!r} is read on node {owner or 'main'!r}: pass "
                               f"--peer {owner or 'main'}=HOST:PORT")
        host, port = self.peers[owner]
        t = self.mesh.tunnels[name]
        while True:
            try:
                got = await dial(host, port, port, name)
            except OSError as err:
                log.info("bridge %r: cannot reach %s:%d (%s); trying again", name, host, port, err)
                await asyncio.sleep(REDIAL)
                continue
            self.transports[name] = got.transport + (f" ({got.reason})" if got.reason else "")
            pump = SendPump(PeekingReader(t.ring, t.control), got.link, name, self.token,
                            self.timing, datagrams=self._lossy(name))
            if name in self.pumps:  # a dial again: the new pump goes on counting
                pump.totals = self.pumps[name].totals
                pump.totals.retire(self.pumps[name].session)
            self.pumps[name] = pump
            finished = await self._pump_until_closed(pump, got.link)
            await _release(got.owner)
            if finished:
                return
            await asyncio.sleep(REDIAL)

    @staticmethod
    async def _pump_until_closed(pump: SendPump, link: Any) -> bool:
        """True if the pump finished; False if its link closed first."""
        task = asyncio.ensure_future(pump.run())
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            if _closed(link) and not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return False
        task.result()
        return True

    async def _stop(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for listener in self._listeners:
            listener.close()
        self._folder.cleanup()
