"""Ports served by a service in a browser tab: the host carries each call there.

The host keeps the port's memory as for any port: the ingress and host
clients post calls into its mailboxes. A ``TabPortProxy`` serves it (as
``crossport.CallForwarder`` does for a far node): a thread of its own takes
each call, and the web host's loop sends it over the tab's WebSocket at
``/nanonet-port/<port>``; the tab (``tab/port.js``) posts it into a port
memory of its own as a client mailbox, where the guest's adapter serves it
as on the host, waits for the reply and sends it back with the call's wire
id. The proxy completes the host mailbox with it.

The deadline stays the caller's: a host caller abandons its mailbox at its
deadline (``CallTimeout``, 504 at the ingress); the proxy sees the abandoned
word, drops the call and tells the tab to abandon its mailbox too, so a slow
guest's late reply is dropped on both sides. While no tab serves the port
(before it joins, after it left) the port's ``broken`` word is set, so
callers get ``TunnelBroken`` (503) at once, and a call in flight when the
tab goes ends the same way; a tab that (re)joins clears it.

The tab's first message is ``{"token": ...}``: the host accepts it only if
the token grants the service that serves the port (else it closes with
``refused``); one tab serves a port at a time (a second is closed with
``busy``, and dials again). Messages are binary, little-endian, an 8-byte
head ``[kind u8][status u8][0 u16][wire id u32]`` then the payload:
``CALL`` (host to tab, the request), ``REPLY`` (tab to host: status 0 and
the reply, or 1 and why the tab could not answer) and ``CANCEL`` (host to
tab: the caller gave up).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ..host.engine import Runtime
from ..mesh import Mesh
from ..ring import portlayout as P
from ..ring.port import Port
from .portstandin import PortStandIn
from .webtoken import Grant, TokenRefused

log = logging.getLogger(__name__)
HELLO_WAIT = 10.0  # seconds a new connection has to send its token
HEAD = struct.Struct("<BBHI")
CALL, REPLY, CANCEL = 1, 2, 3
OK = 0

Grants = Callable[[str], Grant]  # a token to its grant, or TokenRefused
Refuse = Callable[[str], str]  # log and count a refusal


def message(kind: int, wire: int, payload: bytes = b"", status: int = OK) -> bytes:
    """One message of the port link: its head, then the payload."""
    return HEAD.pack(kind, status, 0, wire) + payload


@dataclass
class _Call:
    addr: int  # the host mailbox
    call_id: int  # the call's id in that mailbox's word


class TabPortProxy(PortStandIn):
    """Serve one host port by carrying its calls to the tab that serves it."""

    def __init__(self, rt: Runtime, port: Port, server: str,
                 loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(rt, port, server, f"nanonet-tabport:{port.name}")
        self.server, self.loop = server, loop
        self.link: ServerConnection | None = None
        self.cancelled = 0
        self._pending: dict[int, _Call] = {}
        self._lock = threading.Lock()
        self._wire = 0
        self.absent("no tab has joined yet")

    # -- presence ----------------------------------------------------------------

    def present(self, link: ServerConnection) -> None:
        """A tab serves the port now: calls go to it."""
        self.link = link
        self.port.memory.put_u32(P.OFF_BROKEN, 0)
        log.info("web: port %r served by the tab's %r", self.port.name, self.server)

    def absent(self, why: str) -> None:
        """No tab serves the port: callers, waiting or new, get BROKEN (503)."""
        self.link = None
        with self._lock:
            self._pending.clear()
        self.port.break_()  # the broken word, and every waiting caller woken
        log.debug("web: port %r has no tab: %s", self.port.name, why)

    # -- the taker's thread --------------------------------------------------------

    def forward(self, addr: int) -> None:
        _bump(self.port, P.OFF_TAKEN)
        taken = self.request(addr)
        if taken is None:
            _bump(self.port, P.OFF_REFUSED)
            return
        link = self.link
        if link is None:  # the broken word is set: the caller sees it and gives up
            return
        call_id, request = taken
        with self._lock:
            self._wire = (self._wire + 1) & 0xFFFFFFFF
            wire = self._wire
            self._pending[wire] = _Call(addr, call_id)
        self.forwarded += 1
        self._send(link, message(CALL, wire, request))

    def between_takes(self) -> None:
        """Calls whose callers gave up: dropped here, and abandoned in the tab."""
        with self._lock:
            gone = [w for w, c in self._pending.items() if self.given_up(c.addr, c.call_id)]
            for w in gone:
                del self._pending[w]
        link = self.link
        for w in gone:
            self.cancelled += 1
            if link is not None:
                self._send(link, message(CANCEL, w))

    def _send(self, link: ServerConnection, data: bytes) -> None:
        asyncio.run_coroutine_threadsafe(_send_quietly(link, data), self.loop)

    # -- the loop's side -------------------------------------------------------------

    def replied(self, data: bytes) -> None:
        """A REPLY from the tab: complete its host mailbox, unless its caller gave up."""
        if len(data) < HEAD.size:
            return
        kind, status, _, wire = HEAD.unpack_from(data)
        with self._lock:
            call = self._pending.pop(wire, None) if kind == REPLY else None
        if call is None:
            self.late += 1
            return
        body = data[HEAD.size:]
        outcome = self.finish(call.addr, call.call_id, status == OK, body)
        if outcome == "failed":
            log.debug("port %r: the tab could not answer: %s", self.port.name,
                      body[:200].decode(errors="replace"))
        else:
            _bump(self.port, P.OFF_REPLIED if outcome == "completed" else P.OFF_LATE)


async def _send_quietly(link: ServerConnection, data: bytes) -> None:
    with contextlib.suppress(ConnectionClosed):  # its end is handled where it is served
        await link.send(data)


def _bump(port: Port, offset: int) -> None:
    """One of the server's counters (only the proxy writes them on the host)."""
    port.memory.put_u64(offset, port.memory.u64(offset) + 1)


@dataclass
class TabPorts:
    """Every port a tab's service serves, each carried by its proxy."""

    mesh: Mesh
    servers_of: dict[str, str]  # port -> the browser service that serves it
    loop: asyncio.AbstractEventLoop
    proxies: dict[str, TabPortProxy] = field(default_factory=dict)

    def take(self) -> TabPorts:
        """Serve each port with its proxy (before the mesh starts)."""
        for name, server in self.servers_of.items():
            self.proxies[name] = TabPortProxy(self.mesh.rt, self.mesh.ports[name], server,
                                              self.loop).start()
        return self

    def _why_not(self, port: str, first: object, grants: Grants) -> str:
        if port not in self.servers_of:
            return f"no tab serves port {port!r}"
        try:
            grant = grants(str(json.loads(first)["token"]))  # type: ignore[arg-type]
        except TokenRefused as err:
            return str(err)
        except (ValueError, KeyError, TypeError):
            return "the first message carried no token"
        if self.servers_of[port] not in grant.services:
            return f"the token does not grant port {port!r}"
        return ""

    async def serve(self, ws: ServerConnection, port: str, grants: Grants,
                    refuse: Refuse) -> None:
        """One tab's link for ``port``: check its token, then carry calls."""
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_WAIT)
        except (TimeoutError, ConnectionClosed):
            return
        why = self._why_not(port, first, grants)
        if why:
            refuse(f"port {port!r}: {why}")
            await ws.close(1008, "refused")
            return
        proxy = self.proxies[port]
        if proxy.link is not None:  # the old link may be dying: the tab tries again
            refuse(f"port {port!r} is already served by a tab")
            await ws.close(1013, "busy")
            return
        proxy.present(ws)
        try:
            async for data in ws:
                if isinstance(data, bytes):
                    proxy.replied(data)
        except ConnectionClosed:
            pass
        finally:
            if proxy.link is ws:
                proxy.absent("its link closed")

    def left(self, services: tuple[str, ...]) -> None:
        """A tab left: the ports its services served have no server now."""
        for name, server in self.servers_of.items():
            if server in services:
                self.proxies[name].absent("the tab left")

    def link(self, port: str) -> ServerConnection | None:
        proxy = self.proxies.get(port)
        return None if proxy is None else proxy.link

    def stop(self) -> None:
        for proxy in self.proxies.values():
            proxy.stop()
            proxy.release()
