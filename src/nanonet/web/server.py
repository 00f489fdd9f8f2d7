"""The HTTP ingress: an asyncio HTTP/1.1 server whose requests are port calls.

Each request is parsed by ``head.py`` under strict limits, matched to a
route, encoded in the request form (``forms.py``) and sent as ONE call on
the route's port; the reply form becomes the response. A ``stream`` route's
request is an ``Exchange`` (``stream.py``) instead: its bodies cross in parts. The server takes
every free host mailbox of each routed port at the start: a request waits
for a free one (so ``host_clients`` bounds the calls in flight), and the
wait counts against the route's deadline. Each mailbox's calls are made by
a thread of its own (``worker.py``), so the event loop never blocks on a
port.

What the client sees when something fails, and the connection: a bad head
(400, 431, 501, 505) or a body over ``max_body_bytes`` (413) closes it, as
the rest of the stream cannot be trusted; once the body is read, a 404,
405, 413 (the encoded request is over the port's max_payload), 502, 503 or
504 keeps it open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from ..errors import (
    CallTimeout,
    EndpointTaken,
    InvalidValue,
    MessageTooBig,
    TunnelBroken,
    TunnelClosed,
    TunnelCorrupt,
)
from ..mesh import Mesh
from ..ring.portclient import PortClient
from .answers import decode, error_reply, flush, linger, response_bytes, text_reply
from .component import targets
from .forms import Reply, Request, encode_request, encoded_size
from .head import Head, HttpError, parse_head
from .routes import HttpRoute, Routes, allow
from .stats import IngressStats, register
from .stream import Exchange
from .worker import Worker

log = logging.getLogger(__name__)

DEFAULT_MAX_HEADER = 8192
DEFAULT_MAX_BODY = 65536
MAX_CONNECTIONS = 512
IDLE_S = 30.0  # a connection quiet this long (between requests, mid-request, or not
              # reading its response) is closed
CLOSE_AFTER = frozenset({400, 413, 431, 501, 505})  # raised before the body was read
WHOLE_BODY_MAX = 65536  # the largest max_payload: a longer body is refused unread off streams


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = DEFAULT_MAX_HEADER
    max_body_bytes: int = DEFAULT_MAX_BODY
    idle_s: float = IDLE_S
    max_connections: int = MAX_CONNECTIONS  # open at once; the next is answered 503


class _Pool:
    """A port's host clients: a request takes one, calls, gives it back."""

    def __init__(self, mesh: Mesh, port: str) -> None:
        if port not in mesh.ports:
            raise InvalidValue(f"an HTTP route names port {port!r}, which this mesh does not "
                               f"have (ports: {', '.join(mesh.ports) or 'none'}); create it "
                               "with mesh.port() first")
        self.port = mesh.ports[port]
        clients: list[PortClient] = []
        with contextlib.suppress(EndpointTaken):
            while True:
                clients.append(mesh.client(port))
        if not clients:
            raise InvalidValue(f"port {port!r} has no free host mailbox for the HTTP "
                               "ingress; raise its host_clients")
        self.clients = [Worker(c, f"nanonet-http:{port}:{c.box}") for c in clients]

    def open(self) -> asyncio.Queue[Worker]:
        """The queue of free workers, made in the loop that uses it."""
        free: asyncio.Queue[Worker] = asyncio.Queue()
        for w in self.clients:
            free.put_nowait(w)
        return free

    def stop(self, grace: float) -> None:
        """Every worker told to end; each waited for, ``grace`` seconds in all (a
        call that outlasts it ends with its own deadline, on a daemon thread)."""
        for w in self.clients:
            w.stop()
        end = time.monotonic() + grace
        for w in self.clients:
            w.join(max(0.0, end - time.monotonic()))


class HttpIngress:
    """Serves ``routes`` of ``mesh`` on ``host:port`` (0: any free port) from a thread."""

    def __init__(self, mesh: Mesh, routes: list[HttpRoute], host: str = "127.0.0.1",
                 port: int = 0, limits: HttpLimits = HttpLimits()) -> None:
        self.mesh = mesh
        self.routes = Routes(routes)
        self.limits = limits
        self._want = (host, port)
        self._pools = {port: _Pool(mesh, port)
                       for port in dict.fromkeys(r.port for r in routes if not r.component)}
        self._components = targets(mesh, routes)
        self.stats = IngressStats([(r.pattern, r.port, r.component) for r in routes])
        register(mesh, self.stats)
        self.address: tuple[str, int] | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="nanonet-http", daemon=True)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> tuple[str, int]:
        """Bind and serve; the address bound (OSError if it cannot bind)."""
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        assert self.address is not None
        return self.address

    def stop(self) -> None:
        """Stop listening, drop every connection, wait for the thread."""
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread.ident is not None:
            self._thread.join(10)
        for pool in self._pools.values():
            pool.stop(grace=2.0)

    def __enter__(self) -> HttpIngress:
        self.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # a bind failure: start() raises it
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._free = {name: pool.open() for name, pool in self._pools.items()}
        self._conns: set[asyncio.Task[None]] = set()
        server = await asyncio.start_server(self._connection, *self._want,
                                            limit=self.limits.max_header_bytes)
        sock = server.sockets[0].getsockname()
        self.address = (sock[0], sock[1])
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)

    # -- one connection -------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._conns) >= self.limits.max_connections:
            await self._refuse(reader, writer)
            return
        self._conns.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError,
                asyncio.CancelledError):
            pass  # the client left, went quiet, or the server stops
        except Exception:  # a fault of ours: the connection ends, the server goes on
            log.exception("http: a connection failed")
        finally:
            self._conns.discard(task)
            writer.close()

    async def _refuse(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        """One connection too many: 503 at once, without serving its request (what it
        sent is read for a moment, so that closing does not reset the answer away)."""
        with contextlib.suppress(ConnectionError, TimeoutError):  # one that reads nothing
            await self.answer(writer, None, 503, text_reply(503, f"{self.limits.max_connections} "
                               "connections are open, the most this server keeps; retry "
                               "later"), False, time.perf_counter())
        await linger(reader, writer)
        writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is to close."""
        try:
            async with asyncio.timeout(self.limits.idle_s):  # no task per request
                raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as err:
            if err.partial.strip():
                await self.answer(writer, None, 400, text_reply(400, "the request head was "
                                  "cut off"), False, time.perf_counter())
            return False
        except asyncio.LimitOverrunError:
            await self.answer(writer, None, 431, text_reply(431,
                f"the request head is over max_header_bytes ({self.limits.max_header_bytes}"
                " bytes); send smaller headers, or raise [ingress] max_header_bytes"), False,
                time.perf_counter())
            await linger(reader, writer)
            return False
        t0 = time.perf_counter()
        route: HttpRoute | None = None
        wanted = True  # the client's wish to keep the connection, once its head is read
        try:
            head = parse_head(raw[:-4])
            wanted = head.keep_alive
            streamed = self.routes.match(head.path)
            if streamed is not None and streamed.stream:
                return await Exchange(self, streamed, head, reader, writer, t0).run()
            body = await self._body(head, reader, writer, streamed)
            route = self.routes.find(head.path)
            allow(route, head.method)
            reply = await self._call(route, head, body)
        except HttpError as err:
            keep = wanted and err.status not in CLOSE_AFTER and not err.close
            await self.answer(writer, route, err.status, error_reply(err), keep, t0)
            if not keep:
                await linger(reader, writer)
            return keep
        await self.answer(writer, route, reply.status, reply, wanted, t0,
                           head_only=head.method == b"HEAD")
        return wanted

    async def _body(self, head: Head, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter, route: HttpRoute | None) -> bytes:
        n = head.content_length()
        limit = self.limits.max_body_bytes
        if n > limit:
            raise HttpError(413, f"a body of {n} bytes is over max_body_bytes ({limit}); "
                            "send less, or raise [ingress] max_body_bytes")
        if n > WHOLE_BODY_MAX:  # never one call: refused before it is read into memory
            if route is None:
                raise HttpError(404, "no route for "
                                f"{head.path[:200].decode('ascii', 'replace')}", close=True)
            fix = ("send less: a component takes whole requests" if route.component else
                   "send less, or set stream = true on the route (docs/http.md, "
                   "\"Streamed bodies\")")
            raise HttpError(413, f"a body of {n} bytes is over any port or component call "
                            f"({WHOLE_BODY_MAX} bytes) and route {route.pattern!r} does not "
                            f"stream; {fix}", close=True)
        if n and (head.get(b"expect") or b"").lower() == b"100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not n:
            return b""
        async with asyncio.timeout(self.limits.idle_s):
            return await reader.readexactly(n)

    async def _call(self, route: HttpRoute, head: Head, body: bytes) -> Reply:
        if route.component:
            return await self._components[route.port].call(route, head, body)
        pool = self._pools[route.port]
        g = pool.port.geometry
        size = encoded_size(head.method, head.target, head.headers, len(body))
        if size > g.max_payload:
            raise HttpError(413, f"this request takes {size} bytes in the request form (its "
                            f"body {len(body)}), over port {route.port!r}'s max_payload "
                            f"({g.max_payload}); send less, or raise [ports.{route.port}] "
                            "max_payload (up to 65536)")
        data = encode_request(Request(head.method, head.path, head.query, head.headers, body))
        return decode(await self._port_call(route, pool, data))

    async def _port_call(self, route: HttpRoute, pool: _Pool, data: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + route.timeout_ms / 1000
        client = await self.acquire(route)
        try:
            return await self.call_on(route, client, data, max(0.0, deadline - loop.time()))
        finally:
            self.release(route, client)

    async def acquire(self, route: HttpRoute) -> Worker:
        """A free host mailbox of the route's port; 504 if none comes free in time."""
        free = self._free[route.port]
        if not free.empty():
            return free.get_nowait()
        try:
            async with asyncio.timeout(route.timeout_ms / 1000):
                return await free.get()
        except TimeoutError:
            raise HttpError(504, f"no host mailbox of port {route.port!r} came free within "
                            f"{route.timeout_ms} ms: all {len(self._pools[route.port].clients)}"
                            " are busy; raise its host_clients, or the route's timeout_ms"
                            ) from None

    def release(self, route: HttpRoute, client: Worker) -> None:
        self._free[route.port].put_nowait(client)

    async def call_on(self, route: HttpRoute, client: Worker, data: bytes,
                      timeout: float) -> bytes:
        """One call on ``client``; its failures as the HTTP errors the client gets."""
        try:
            return await client.call(data, timeout)
        except CallTimeout:
            raise HttpError(504, f"port {route.port!r} did not answer within the route's "
                            f"timeout_ms ({route.timeout_ms} ms)") from None
        except (TunnelBroken, TunnelClosed) as err:
            raise HttpError(503, f"port {route.port!r} has no live server: {err}") from None
        except (TunnelCorrupt, MessageTooBig) as err:
            raise HttpError(502, f"port {route.port!r}: {err}") from None

    async def answer(self, writer: asyncio.StreamWriter, route: HttpRoute | None, status: int,
                      reply: Reply, keep: bool, t0: float, head_only: bool = False) -> None:
        # counted before it is written: a client that has its answer sees it counted
        self.stats.record(None if route is None else route.pattern, status,
                        time.perf_counter() - t0)
        writer.write(response_bytes(reply, keep, head_only))
        await flush(writer, self.limits.idle_s)
