"""The host's sending bridges into browser tabs: tunnels a tab's service reads.

The tab dials, as it does for the tunnels it writes: a WebSocket at
``/nanonet-feed/<tunnel>`` whose first message is ``{"token": ...}``, or a
WebTransport stream at the same path whose first line is that message
(``webtab.py``). The host checks that the token grants the service that
reads the tunnel, then speaks as the *sender* on that link (docs/bridge.md):
a ``SendPump`` from
the host's ring through a ``PeekingReader`` (the ring is the retransmit
buffer), its HELLO carrying the tab's token back, which the tab checks as a
receiver checks any hello. The tab's receiver (``tab/receiver.js``) answers
with a WELCOME naming its ring's head.

One ``SendPump`` per tunnel lasts the whole run: a redial hands it the new
link (``SendPump.relink``), so a park it left in flight on the ring is the
one the next connection waits on, never a second one beside it. A finished
tunnel (every message acknowledged, the tab's ring closed) turns later
dials away with the close reason ``ended``, on which the tab stops dialling;
a dial refused for its token closes with ``refused`` (the tab stops too), one
for a tunnel still bridged (its old link not yet seen dead) with ``busy``
(the tab dials again).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ..mesh import Mesh
from ..ring import layout as L
from ..ring.adapter import Direction
from ..ring.control import BreakInfo
from ..ring.peek import PeekingReader
from .linkstats import transport_of
from .node import BRIDGE_OWNER
from .pump import Link, SendPump
from .webtoken import Grant, TokenRefused
from .ws import WsLink

log = logging.getLogger(__name__)
HELLO_WAIT = 10.0  # seconds a new connection has to send its token
ENDED = "ended"  # the close reason that tells a tab the tunnel is finished
REFUSED, BUSY = "refused", "busy"  # the tab stops dialling; the tab dials again
CLOSE_CODES = {ENDED: 1000, REFUSED: 1008, BUSY: 1013}  # a WebSocket's close code for each

Grants = Callable[[str], Grant]  # a token to its grant, or TokenRefused
Refuse = Callable[[str], str]  # log and count a refusal


@dataclass
class TabFeeds:
    """The bridges from the host's rings to the tabs that read them."""

    mesh: Mesh
    readers_of: dict[str, str]  # tunnel -> the browser service that reads it
    pumps: dict[str, SendPump] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    errors: dict[str, BaseException] = field(default_factory=dict)
    _readers: dict[str, PeekingReader] = field(default_factory=dict)
    via: dict[str, str] = field(default_factory=dict)  # tunnel -> the transport it went by
    _aborts: dict[str, Callable[[], None]] = field(default_factory=dict)  # tunnel -> cut it

    def take(self) -> TabFeeds:
        """Hold each tunnel's read end for its bridge (before anything runs)."""
        for name in self.readers_of:
            t = self.mesh.tunnels[name]
            t.take(Direction.READ, BRIDGE_OWNER)
            self._readers[name] = PeekingReader(t.ring, t.control)
        return self

    def _why_not(self, tunnel: str, first: object, grants: Grants) -> tuple[str, bytes | None]:
        """Why this connection may not feed ``tunnel`` (empty: it may), and its token."""
        if tunnel not in self.readers_of:
            return f"no tab reads tunnel {tunnel!r}", None
        try:
            token = str(json.loads(first)["token"])  # type: ignore[arg-type]
            grant = grants(token)
        except TokenRefused as err:
            return str(err), None
        except (ValueError, KeyError, TypeError):
            return "the first message carried no token", None
        if self.readers_of[tunnel] not in grant.services:
            return f"the token does not grant tunnel {tunnel!r}", None
        if self.mesh.tunnels[tunnel].ring.broken:  # its tab left: a new one starts afresh
            return f"tunnel {tunnel!r} broke when its tab left; start a new run", None
        return "", token.encode()

    def verdict(self, tunnel: str, first: object, grants: Grants,
                refuse: Refuse) -> tuple[str, bytes | None]:
        """The answer to a dial whose first message is ``first``: ``ENDED``,
        ``REFUSED`` or ``BUSY`` (no token), or ``""`` and the token to send with."""
        if tunnel in self.done:
            return ENDED, None
        why, token = self._why_not(tunnel, first, grants)
        if token is None:
            refuse(f"tunnel {tunnel!r}: {why}")
            return REFUSED, None
        if tunnel in self._aborts:  # the old link may be dying: the tab tries again
            refuse(f"tunnel {tunnel!r} is already bridged to a tab")
            return BUSY, None
        return "", token

    async def serve(self, ws: ServerConnection, tunnel: str, grants: Grants,
                    refuse: Refuse, fallback: str = "") -> None:
        """One tab's WebSocket for ``tunnel``: check its token, then send."""
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_WAIT)
        except (TimeoutError, ConnectionClosed):
            return
        answer, token = self.verdict(tunnel, first, grants, refuse)
        if token is None:
            await ws.close(CLOSE_CODES[answer], answer)
            return
        if fallback:  # said by a tab whose token holds: no stranger writes the log
            log.warning("web: tunnel %r: the tab fell back to WebSocket: %s", tunnel, fallback)
        link = WsLink(ws)

        async def end(done: bool) -> None:
            await ws.close(1000, ENDED if done else "")
        await self.carry(tunnel, token, link, link.pull(), ws.transport.abort, end)

    def _pump(self, tunnel: str, link: Link, token: bytes) -> SendPump:
        pump = self.pumps.get(tunnel)
        if pump is None:
            pump = self.pumps[tunnel] = SendPump(self._readers[tunnel], link, tunnel, token)
        else:
            pump.relink(link)
        return pump

    async def carry(self, tunnel: str, token: bytes, link: Link,
                    pulling: Coroutine[Any, Any, None], abort: Callable[[], None],
                    end: Callable[[bool], Awaitable[None]]) -> None:
        """Run the tunnel's ``SendPump`` over ``link`` (a WebSocket or a
        WebTransport stream) while ``pulling`` fills its inbox; then ``end``
        the link, told whether the tunnel was sent to its end."""
        pump = self._pump(tunnel, link, token)
        self._aborts[tunnel] = abort
        self.via[tunnel] = transport_of(link)
        log.info("web: tunnel %r fed to the tab over %s", tunnel, self.via[tunnel])
        run = asyncio.ensure_future(pump.run())
        pull = asyncio.ensure_future(pulling)
        try:
            await asyncio.wait((run, pull), return_when=asyncio.FIRST_COMPLETED)
            if run.done() and (err := run.exception()) is not None:
                self.errors[tunnel] = err
                log.error("web: the bridge into the tab for %r stopped: %s", tunnel, err)
        finally:
            run.cancel()
            pull.cancel()
            self._aborts.pop(tunnel, None)
            if pump.session.done:
                self.done.add(tunnel)
            await end(tunnel in self.done)

    def abort_of(self, tunnel: str) -> Callable[[], None] | None:
        """What cuts the link feeding ``tunnel`` now, if a tab is connected."""
        return self._aborts.get(tunnel)

    def left(self, services: tuple[str, ...], node: str) -> None:
        """A tab left: the tunnels its services read and had not finished break,
        so the host's writer sees TunnelBroken instead of waiting for room."""
        for tunnel, reader in self.readers_of.items():
            if reader in services and tunnel not in self.done:
                self.mesh.tunnels[tunnel].control.break_(BreakInfo(
                    "reader", reader, L.Broken.FAILED,
                    f"browser node {node!r} left (the tab closed)"))

    def all_done(self) -> bool:
        """Every tunnel into a tab was sent to its end, or broke."""
        return all(t in self.done or self.mesh.tunnels[t].ring.broken for t in self.readers_of)

    async def settle(self) -> None:
        """Wait for every pump's park in flight to end (before the rings go)."""
        for pump in self.pumps.values():
            await pump.settle()
