"""The host's side of browser tabs: the page, the plans, and the tunnels' bridges.

One websockets server does it all, on one asyncio loop in one thread:

- plain HTTP ``GET /`` and ``/tab/*.js``: the page and its scripts, every
  response with ``Cross-Origin-Opener-Policy: same-origin`` and
  ``Cross-Origin-Embedder-Policy: require-corp``, so the page is
  cross-origin isolated and may share a ``SharedArrayBuffer`` with Workers;
- WebSocket ``/nanonet-tab``: a tab's control channel. Its first message is
  ``{"token": ...}``; the host answers with the grant and the plan of each
  granted service (or ``{"ok": false, "why": ...}`` and a close). The guest
  and adapter binaries are fetched from ``/wasm/<session>/<service>/...``,
  a path that exists only while that control channel is open. When it
  closes, the tab's node has left: every tunnel it was writing that had not
  ended is broken (the host's reader sees ``TunnelBroken``), for good once
  its lease runs out unless a tab of that node joins again before
  (``weblease.py``: then they heal and resume);
- WebSocket ``/nanonet/<tunnel>``: the bridge (docs/bridge.md) for one
  tunnel the tab writes. The first frame must be a HELLO whose token grants
  that tunnel; the host then runs a ``ReceivePump`` into the tunnel's ring,
  exactly as between two hosts;
- WebSocket ``/nanonet-feed/<tunnel>``: the bridge for one tunnel a tab
  reads: the host sends, the tab receives (``webfeed.py``);
- WebSocket ``/nanonet-port/<port>``: the calls of one port a tab's service
  serves, carried from the host's port memory into the tab's (``webport.py``).

Beside it, unless ``transport`` is ``"websocket"``, a WebTransport server
(``webtransport.py``, HTTP/3 on UDP) takes the same bridges, both ways, on
a stream per tunnel; the control reply tells the page where and with what
certificate hash, and which transport to use. An admitted WebSocket bridge
or feed whose URL says ``?fallback=<why>`` is logged with that reason.

Tokens are never logged; a refusal is logged with its reason only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import BridgeProtocolError, InvalidValue, TunnelBroken
from ..mesh import Mesh
from ..ring import layout as L
from ..ring.control import BreakInfo
from ..ring.endpoint import TunnelWriter
from . import frames as F
from .linkstats import transport_of
from .node import BRIDGE_OWNER, cancel_the_rest
from .pump import ReceivePump
from .webfeed import TabFeeds
from .weblease import LEASE, TabLeases
from .webplan import TabService
from .webport import TabPorts
from .webstate import register
from .webtoken import Grant, TokenRefused, verify
from .ws import WsLink

log = logging.getLogger(__name__)
ISOLATION = (("Cross-Origin-Opener-Policy", "same-origin"),
             ("Cross-Origin-Embedder-Policy", "require-corp"),
             ("Cross-Origin-Resource-Policy", "same-origin"),
             ("Cache-Control", "no-store"))
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/tab/tab.js": ("tab.js", "text/javascript"),
          "/tab/frames.js": ("frames.js", "text/javascript"),
          "/tab/worker.js": ("worker.js", "text/javascript"),
          "/tab/ring.js": ("ring.js", "text/javascript"),
          "/tab/sender.js": ("sender.js", "text/javascript"),
          "/tab/link.js": ("link.js", "text/javascript"),
          "/tab/receiver.js": ("receiver.js", "text/javascript"),
          "/tab/port.js": ("port.js", "text/javascript")}
HELLO_WAIT = 10.0  # seconds a new connection has to say who it is
STOP_SECONDS = 10.0
LINGER = 0.5  # an ended stream's pump stays this long for its sender's last words


def _response(status: int, body: bytes, kind: str) -> Response:
    headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))),
                       *ISOLATION])
    return Response(status, "OK" if status == 200 else "Not Found", headers, body)


@dataclass
class Tab:
    """One connected tab: its grant and the session key of its binaries."""

    grant: Grant
    session: str
    tunnels: tuple[str, ...]
    control: ServerConnection | None = None  # its control channel: closed when revoked


@dataclass
class WebHost:
    """The page, the control channels and the bridges of a mesh's browser nodes."""

    mesh: Mesh
    secret: bytes
    plans: dict[str, TabService]  # every service placed on a browser node
    writers_of: dict[str, str]  # tunnel -> the browser service that writes it
    host: str = "127.0.0.1"
    port: int = 0
    linger: float = LINGER
    transport: str = "auto"  # [web] transport: auto, websocket or webtransport
    lease: float = LEASE  # [web] lease: seconds a tab that left has to rejoin (0: none)
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    tabs: dict[str, Tab] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    errors: dict[str, BaseException] = field(default_factory=dict)
    _writers: dict[str, TunnelWriter] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)
    _links: dict[str, Callable[[], None]] = field(default_factory=dict)  # tunnel -> abort
    wt: Any = None  # the WebTransport server (webtransport.WtServer), if one runs
    via: dict[str, str] = field(default_factory=dict)  # tunnel -> the transport it came by
    _server: Server | None = None
    _thread: threading.Thread | None = None
    readers_of: dict[str, str] = field(default_factory=dict)  # tunnel -> the tab's reader
    feeds: TabFeeds | None = None
    servers_of: dict[str, str] = field(default_factory=dict)  # port -> the tab's server
    ports: TabPorts | None = None
    leases: TabLeases | None = None
    revoked: set[str] = field(default_factory=set)  # browser nodes whose tokens are void
    nodes: tuple[str, ...] = ()  # the browser nodes, to check a name to revoke (empty: any)

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(STOP_SECONDS * 3)

    def start(self) -> WebHost:
        """Take the tunnels' write ends and listen; ``port`` is then the real one."""
        for tunnel in self.writers_of:
            self._writers[tunnel] = self.mesh.writer(tunnel, BRIDGE_OWNER)
        self.feeds = TabFeeds(self.mesh, self.readers_of).take()
        self.leases = TabLeases(self.mesh, self.writers_of, self.lease)
        self.ports = TabPorts(self.mesh, self.servers_of, self.loop).take()
        register(self.mesh, self.state, self.revoke)
        self._thread = threading.Thread(target=self.loop.run_forever, name="nanonet-web",
                                        daemon=True)
        self._thread.start()
        self._server = self._run(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]
        if self.transport != "websocket":
            from .webtab import serve_webtransport
            self.wt = self._run(serve_webtransport(self))
        return self

    async def _listen(self) -> Server:
        return await serve(self._ws, self.host, self.port, process_request=self._http,
                           compression=None, max_size=F.MAX_FRAME + 1024)

    # -- plain HTTP ------------------------------------------------------------

    def _http(self, conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.partition("?")[0]
        if path in ("/nanonet-tab",) or path.startswith(("/nanonet/", "/nanonet-feed/",
                                                          "/nanonet-port/")):
            return None  # a WebSocket: the handshake goes on
        if path in STATIC:
            name, kind = STATIC[path]
            return _response(200, resources.files(__package__).joinpath("tab", name)
                             .read_bytes(), kind)
        return self._binary(path) or _response(404, b"not found\n", "text/plain")

    def _binary(self, path: str) -> Response | None:
        parts = path.strip("/").split("/")
        if len(parts) != 4 or parts[0] != "wasm" or parts[3] not in ("guest.wasm",
                                                                       "adapter.wasm"):
            return None
        tab = next((t for t in self.tabs.values() if t.session == parts[1]), None)
        if tab is None or parts[2] not in tab.grant.services:
            return None
        plan = self.plans[parts[2]]
        body = plan.guest if parts[3] == "guest.wasm" else plan.adapter
        return _response(200, body, "application/wasm")

    # -- WebSockets ------------------------------------------------------------

    async def _ws(self, ws: ServerConnection) -> None:
        path, _, query = (ws.request.path if ws.request is not None else "").partition("?")
        why = "".join(parse_qs(query).get("fallback", [])[:1])
        fallback = "".join(c for c in why[:300] if c.isprintable())
        if path == "/nanonet-tab":
            await self._control(ws)
        elif path.startswith("/nanonet-feed/") and self.feeds is not None:
            await self.feeds.serve(ws, unquote(path[len("/nanonet-feed/"):]), self._grant,
                                   self._refuse, fallback)
        elif path.startswith("/nanonet-port/") and self.ports is not None:
            await self.ports.serve(ws, unquote(path[len("/nanonet-port/"):]), self._grant,
                                   self._refuse)
        else:
            await self._bridge(ws, unquote(path[len("/nanonet/"):]), fallback)

    def _grant(self, token: str) -> Grant:
        grant = verify(self.secret, token)
        if grant.node in self.revoked:
            raise TokenRefused(f"the host revoked the tokens of browser node {grant.node!r}: "
                               "this run admits no tab of that node again; start a new run "
                               "for a new link")
        unknown = [s for s in grant.services if s not in self.plans]
        if unknown:
            raise TokenRefused(f"the token grants service(s) this mesh does not place in a "
                               f"browser: {', '.join(unknown)}")
        return grant

    def _refuse(self, why: str) -> str:
        self.refusals.append(why)
        log.warning("web: refused a tab: %s", why)
        return why

    async def _control(self, ws: ServerConnection) -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_WAIT)
            grant = self._grant(str(json.loads(first)["token"]))
            self._may_join(grant)
        except (TokenRefused, ValueError, KeyError, TypeError) as err:
            why = self._refuse(str(err) if isinstance(err, TokenRefused)
                               else "the first message carried no token")
            await ws.send(json.dumps({"ok": False, "why": why}))
            await ws.close(1008, "refused")
            return
        except (TimeoutError, ConnectionClosed):
            return
        key = secrets.token_urlsafe(12)
        tunnels = tuple(t for t, svc in self.writers_of.items() if svc in grant.services)
        self.tabs[key] = Tab(grant, key, tunnels, ws)
        log.info("web: tab node %r joined with %d service(s)", grant.node, len(grant.services))
        if self.leases is not None:
            self._cut_stale(self.leases.rejoin(grant.node))
        await ws.send(json.dumps({"ok": True, "grant": grant.as_json(), "session": key,
                                  "services": [self.plans[s].as_json()
                                               for s in grant.services],
                                  "transport": self.transport,
                                  "webtransport": self.wt.info() if self.wt else None}))
        try:
            await ws.wait_closed()
        finally:
            self._leave(self.tabs.pop(key))

    def revoke(self, node: str) -> str:
        """Void every token of browser node ``node`` for the rest of the run: new
        tabs and bridges with one are refused, and its open tabs are dropped
        (their control channels closed: the node leaves, its tunnels break)."""
        if self.nodes and node not in self.nodes:
            raise InvalidValue(f"no browser node {node!r} to revoke (browser nodes: "
                               f"{', '.join(self.nodes)}); name one of them")
        self.revoked.add(node)
        dropped = self._run(self._drop_node(node))
        log.warning("web: revoked the tokens of browser node %r (%d open tab(s) dropped)",
                    node, dropped)
        return f"revoked the tokens of browser node {node!r}; {dropped} open tab(s) dropped"

    async def _drop_node(self, node: str) -> int:
        tabs = [t for t in self.tabs.values() if t.grant.node == node]
        for tab in tabs:
            self._cut_stale(tab.tunnels)
            served = [p for p, svc in self.servers_of.items() if svc in tab.grant.services]
            links = [self.ports.link(p) for p in served] if self.ports is not None else []
            for ws in [tab.control, *links]:  # its ports' links too: a redial is refused
                if ws is not None:
                    await ws.close(1008, "revoked")
        return len(tabs)

    def _cut_stale(self, tunnels: tuple[str, ...]) -> None:
        """Cut the old tab's links for ``tunnels`` that the host has not seen
        die (a closed page's WebTransport stream lingers until its idle
        timeout), so the new tab's bridges need not wait for them."""
        for tunnel in tunnels:
            if (abort := self._links.get(tunnel)) is not None:
                abort()

    def _may_join(self, grant: Grant) -> None:
        """Refuse a tab of a node whose lease ran out (``TokenRefused``)."""
        why = self.leases.refusal(grant.node) if self.leases is not None else None
        if why is not None:
            raise TokenRefused(why)

    def _resumable(self, grant: Grant) -> bool:
        """May a later tab of this grant take up where it stopped? Not if
        one of its services reads a tunnel from the host (the host does not
        keep what it sent), nor with no lease."""
        return self.lease > 0 and not any(r in grant.services for r in self.readers_of.values())

    def _leave(self, tab: Tab) -> None:
        """The tab is gone: break what it was still writing, for a lease or for good."""
        self.left.append(tab.grant.node)
        log.info("web: tab node %r left", tab.grant.node)
        # a closed ring: the stream ended (its bridge lingers) or it broke already
        unended = tuple(t for t in tab.tunnels if t not in self.ended
                        and not self.mesh.tunnels[t].ring.closed)
        if self.leases is not None and self._resumable(tab.grant):
            self.leases.start(tab.grant.node, unended, self.loop)
            if any(t.grant.node == tab.grant.node for t in self.tabs.values()):
                self._cut_stale(self.leases.rejoin(tab.grant.node))  # another is here
        else:
            for tunnel in unended:
                self.mesh.tunnels[tunnel].control.break_(BreakInfo(
                    "writer", self.writers_of[tunnel], L.Broken.FAILED,
                    f"browser node {tab.grant.node!r} left (the tab closed)"))
        if self.feeds is not None:
            self.feeds.left(tab.grant.services, tab.grant.node)
        if self.ports is not None:
            self.ports.left(tab.grant.services)

    def _may_write(self, hello: F.Hello, tunnel: str) -> tuple[F.Refusal, str] | None:
        try:
            grant = self._grant(hello.token.decode(errors="replace"))
        except TokenRefused as err:
            return F.Refusal.AUTH, str(err)
        if self.writers_of.get(tunnel) not in grant.services or hello.name != tunnel.encode():
            return F.Refusal.AUTH, f"the token does not grant tunnel {tunnel!r}"
        if self.leases is not None and (why := self.leases.refusal(grant.node)):
            return F.Refusal.AUTH, why
        if tunnel in self._busy:
            return F.Refusal.TUNNEL, f"tunnel {tunnel!r} is already bridged from a tab"
        if self.leases is not None and self.leases.holds(tunnel):  # its tab may yet rejoin
            return F.Refusal.TUNNEL, f"tunnel {tunnel!r} waits for its tab to rejoin"
        return None

    def admit(self, first: bytes, tunnel: str) -> F.Hello | bytes | None:
        """The HELLO that opens ``first`` if it may bridge ``tunnel``; else the
        REFUSE frame to answer with, or None when it was no bridge at all."""
        try:
            got = F.FrameDecoder().feed(first)
            if not got or got[0].kind is not F.Kind.HELLO:
                raise ValueError("the first frame was not a HELLO")
            hello = F.parse_hello(got[0])
        except (ValueError, BridgeProtocolError) as err:
            self._refuse(f"tunnel {tunnel!r}: {err}")
            return None
        refusal = self._may_write(hello, tunnel)
        if refusal is not None:
            self._refuse(f"tunnel {tunnel!r}: {refusal[1]}")
            return F.refuse(*refusal)
        return hello

    async def _bridge(self, ws: ServerConnection, tunnel: str, fallback: str = "") -> None:
        try:
            first = await asyncio.wait_for(ws.recv(), HELLO_WAIT)
        except (TimeoutError, ConnectionClosed):
            return
        first = first if isinstance(first, bytes) else b""
        hello = self.admit(first, tunnel)
        if not isinstance(hello, F.Hello):
            if hello is not None:
                await ws.send(hello)
            await ws.close(1008, "refused" if hello else "not a bridge")
            return
        if fallback:  # said by a tab whose token holds: no stranger writes the log
            log.warning("web: tunnel %r: the tab fell back to WebSocket: %s", tunnel, fallback)
        link = WsLink(ws)
        await self.carry(link, tunnel, hello.token, first, link.pull(), ws.transport.abort,
                         ws.close)

    async def carry(self, link: Any, tunnel: str, token: bytes, first: bytes,
                    pulling: Coroutine[Any, Any, None], abort: Callable[[], None],
                    close: Callable[[], Awaitable[None]]) -> None:
        """Run a ``ReceivePump`` from ``link`` (whose first wire bytes were
        ``first``) into the tunnel's ring while ``pulling`` fills its inbox."""
        link.inbox.put(first)
        pump = ReceivePump(self._writers[tunnel], link, tunnel, token, linger=self.linger)
        self._busy.add(tunnel)
        self._links[tunnel] = abort
        self.via[tunnel] = transport_of(link)
        log.info("web: tunnel %r bridged over %s", tunnel, self.via[tunnel])
        run = asyncio.ensure_future(pump.run())
        pull = asyncio.ensure_future(pulling)
        try:
            await asyncio.wait((run, pull), return_when=asyncio.FIRST_COMPLETED)
            if run.done() and (err := run.exception()) is not None and not self._left(
                    tunnel, err):
                self.errors[tunnel] = err
        finally:
            run.cancel()
            pull.cancel()
            self._busy.discard(tunnel)
            self._links.pop(tunnel, None)
            if pump.ended_at is not None:
                self.ended.add(tunnel)
            await close()

    def _left(self, tunnel: str, err: BaseException) -> bool:
        """Did the bridge stop only because its tab left (its ring broken by that)?"""
        return (isinstance(err, TunnelBroken) and self.leases is not None
                and self.leases.left_by(tunnel))

    def holds(self, tunnel: str) -> bool:
        """Is ``tunnel`` broken by a tab that left, and may it yet heal (its
        lease runs), or has it healed since? (Not final: read on.)"""
        return self.leases is not None and self.leases.heals(tunnel)

    def wait_healed(self, tunnel: str, timeout: float | None = None) -> bool:
        """After a host end of ``tunnel`` got ``TunnelBroken`` because its tab
        left: wait until a tab of that node rejoined within the lease (True:
        read on, from where the reader stopped) or the lease ran out (False:
        the break is final). False at once if no lease holds the tunnel."""
        return self.leases is not None and self.leases.wait_healed(tunnel, timeout)

    def drop(self, tunnel: str) -> bool:
        """Cut the link (WebSocket or WebTransport stream) that bridges
        ``tunnel`` now, as a network would: the tab says hello again and goes
        on from what the host has. False if no tab is bridging it."""
        abort = self._links.get(tunnel)
        if abort is None and self.feeds is not None:
            abort = self.feeds.abort_of(tunnel)  # a tunnel the tab reads
        if abort is None:
            return False
        self.loop.call_soon_threadsafe(abort)
        return True

    # -- what the run loop asks ------------------------------------------------

    def all_done(self) -> bool:
        """Every tunnel a tab writes has ended (its CLOSE came), or broke, and
        every tunnel a tab reads was sent to its end (or broke). A port a tab
        serves is never done: it is served until the run stops."""
        if self.servers_of:
            return False
        held = self.leases.holds if self.leases is not None else lambda t: False
        return all(t in self.ended or (self.mesh.tunnels[t].ring.broken and not held(t))
                   for t in self.writers_of) and (self.feeds is None or self.feeds.all_done())

    def state(self) -> dict[str, Any]:
        """The snapshot's ``web``: the lease, the tab nodes joined, the leases
        running (a node that left, its seconds left) and the nodes whose lease
        ran out (docs/observability.md)."""
        leases = self.leases
        return {"lease_s": self.lease, "transport": self.transport,
                "tabs": sorted({t.grant.node for t in list(self.tabs.values())}),
                "leasing": [] if leases is None else leases.state(self.loop.time()),
                "expired": [] if leases is None else sorted(leases.gone)}

    def failure(self) -> BaseException | None:
        feeds = self.feeds.errors if self.feeds is not None else {}
        return next(iter({**self.errors, **feeds}.values()), None)

    def _end_leases(self) -> None:
        if self.leases is not None:
            self.leases.stop()

    def stop(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        if self.ports is not None:
            self.ports.stop()
        if self.wt is not None:
            self.loop.call_soon_threadsafe(self.wt.close)
        if self._server is not None:
            self._server.close()
            self._run(self._server.wait_closed())
        if self.feeds is not None:
            self._run(self.feeds.settle())
        self.loop.call_soon_threadsafe(self._end_leases)
        self._run(cancel_the_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_SECONDS)
        self.loop.close()
