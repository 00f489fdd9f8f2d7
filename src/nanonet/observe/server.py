"""The control endpoint: the one place the CLI, the dashboard and Prometheus read.

An HTTP server (stdlib, one thread per connection) on 127.0.0.1 by default:

- ``GET /`` the dashboard; ``GET /api/snapshot`` JSON; ``GET /metrics``
  Prometheus text, or OpenMetrics when the ``Accept`` header asks for it;
  ``GET /ws`` a WebSocket pushing a snapshot 4 times a second, and the last
  one (``ended``) when the observer closes; ``HEAD`` of each page answers its
  headers without the body;
- ``POST /api/tap?tunnel=T[&tunnel=U...][&sample=N][&stream=ID][&count=N]``
  streams a pcapng capture (one interface per tunnel) back until the count,
  the tunnels' close or the client's hang-up;
- ``POST /api/replay?tunnel=T`` with a pcapng body sends its packets into T;
  ``POST /api/send?tunnel=T`` sends its body as one message (the inspector's
  replay); both go through the host's write end, which ``nanonet run`` keeps
  open only for the tunnels it feeds (``--feed``, ``--send``), else ``409``;
- ``POST /api/upgrade?service=S[&reads=A,B][&writes=C]`` with a module as the
  body swaps running service S for it at a commit point (``Mesh.upgrade``;
  a refusal or a rollback is ``400`` with the reason);
- ``POST /api/revoke?node=N`` voids browser node N's tokens for the rest of
  the run and drops its open tabs (``WebHost.revoke``, docs/browser.md);
- ``GET /api/inspect?tunnel=T[&last=N]`` (token: message bytes are private)
  the inspector's recent messages of T, inspecting it from then on.

``gate.py`` says who may ask: a foreign ``Host`` or ``Origin`` is refused on
every route, and the WebSocket and anything that changes the mesh need the
token. At most ``max_connections`` are served at once (each has a thread);
one more is answered ``503`` by ``busy.py``'s single thread. A client that
hangs up mid-answer is not an error worth a traceback; anything else still
prints one.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import sys
import threading
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from ..bridge.webstate import revoke_in
from ..errors import EndpointTaken, InvalidValue, MessageTooBig, NanonetError
from .busy import Refuser
from .controlfile import write_control_file
from .gate import SUBPROTOCOL, Gate, Refusal, check_token, header_map, new_token, normal_origin
from .pcapng import PcapngError
from .tap import TapFilter, TapStalled
from .websocket import PushSocket, pump

if TYPE_CHECKING:
    from .observer import Observer

WS_PERIOD = 0.25
MAX_REPLAY = 64 << 20  # bytes of pcapng a replay request may carry
MAX_SEND = 1 << 20  # bytes one message sent by /api/send may have
MAX_MODULE = 256 << 20  # bytes of Wasm (or WAT) an upgrade request may carry
MAX_LAST = 4096  # messages /api/inspect may return
MAX_CONNECTIONS = 32  # served at once, each on its own thread; the next gets 503
IDLE_TIMEOUT = 30.0  # seconds a read or a write may wait on the client (not a tap's writes)
FAREWELL = 2.0  # seconds close waits for the WebSockets to send the last snapshot
_HANGUPS = (ConnectionError, TimeoutError)  # the client left: BrokenPipe, reset, aborted


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT  # an idle or stalled client frees its slot

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a dashboard polls four times a second."""

    # -- plumbing ---------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              allow: str | None = None) -> None:
        self.send_response(status)
        if allow is not None:  # a 405 names the methods that would do (RFC 9110, 15.5.6)
            self.send_header("Allow", allow)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")  # JSON is never a script
        self.end_headers()
        if self.command != "HEAD":  # HEAD: the same headers, Content-Length too, no body
            self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _refuse(self, refusal: Refusal) -> None:
        self.close_connection = True  # a body we did not read must not pass for a request
        self._error(refusal.status, refusal.message)

    def _admitted(self, needs_token: bool, websocket: bool = False) -> bool:
        """The gate's checks; False once the refusal has been sent."""
        headers = header_map(self.headers.items())
        gate = self.server.gate
        refusal = gate.refuse_request(headers)
        if refusal is None and needs_token:
            refusal = gate.refuse_unauthorised(headers, websocket)
        if refusal is not None:
            self._refuse(refusal)
        return refusal is None

    # -- routes -------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        private = path in ("/ws", "/api/inspect")
        if not self._admitted(needs_token=private, websocket=path == "/ws"):
            return None
        if path == "/ws":
            return self._websocket()
        if path == "/api/inspect":
            return self._inspect({k: v[-1] for k, v in parse_qs(url.query).items()})
        return self._page(path)

    def _inspect(self, query: dict[str, str]) -> None:
        obs = self.server.observer
        tunnel = query.get("tunnel", "")
        try:
            last = int(query.get("last", "20"))
            if not 1 <= last <= MAX_LAST:
                raise InvalidValue(f"last must be 1 to {MAX_LAST}, not {last}")
            seen = obs.recent(tunnel, last)
            why = obs.writable(tunnel)
        except (NanonetError, ValueError) as err:
            return self._error(HTTPStatus.BAD_REQUEST, str(err))
        self._json(200, {"tunnel": tunnel, "writable": why is None, "why": why,
                         "messages": [m.to_json() for m in seen]})

    def do_HEAD(self) -> None:
        """What GET would answer, without the body (a WebSocket needs a GET)."""
        path = urlsplit(self.path).path
        if not self._admitted(needs_token=False):
            return None
        if path == "/ws":
            body = json.dumps({"error": "a WebSocket opens with GET"}).encode()
            return self._send(HTTPStatus.METHOD_NOT_ALLOWED, body, allow="GET")
        return self._page(path)

    def _page(self, path: str) -> None:
        obs = self.server.observer
        if path == "/":
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/snapshot":
            self._json(200, obs.snapshot().to_json())
        elif path == "/metrics":
            self._send(200, *obs.exposition(self.headers.get("Accept")))
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page {path}")

    def _websocket(self) -> None:
        ws = PushSocket(self.connection, self.path, dict(self.headers.items()), SUBPROTOCOL)
        obs = self.server.observer

        def text() -> str:
            return json.dumps(obs.snapshot().to_json())

        with self.server.sockets:
            self.server.open_sockets += 1
        try:
            pump(ws, text, WS_PERIOD, self.server.stopping.is_set, last=text)
        finally:
            with self.server.sockets:
                self.server.open_sockets -= 1
                self.server.sockets.notify_all()
        self.close_connection = True

    def do_POST(self) -> None:
        if not self._admitted(needs_token=True):
            return None
        url = urlsplit(self.path)
        values = parse_qs(url.query)
        query = {k: v[-1] for k, v in values.items()}
        try:
            if url.path == "/api/tap":
                return self._tap(query, values.get("tunnel", [""]))
            if url.path == "/api/replay":
                return self._replay(query)
            if url.path == "/api/send":
                return self._send_one(query)
            if url.path == "/api/upgrade":
                return self._upgrade(query)
            if url.path == "/api/revoke":
                done = revoke_in(self.server.observer.mesh, query.get("node", ""))
                return self._json(200, {"revoked": query.get("node", ""), "done": done})
        except EndpointTaken as err:  # the host holds no write end to send through
            return self._error(HTTPStatus.CONFLICT, str(err))
        except (NanonetError, PcapngError, ValueError) as err:
            return self._error(HTTPStatus.BAD_REQUEST, str(err))
        self._error(HTTPStatus.NOT_FOUND, f"no such action {url.path}")

    def _tap(self, query: dict[str, str], tunnels: list[str]) -> None:
        flt = TapFilter(int(query.get("sample", "1")),
                        int(query["stream"]) if "stream" in query else None)
        if flt.sample < 1:
            raise InvalidValue(f"sample must be at least 1, not {flt.sample}")
        count = int(query["count"]) if "count" in query else None
        if count is not None and count < 1:
            raise InvalidValue(f"count must be at least 1, not {count}")
        if flt.stream is not None and not 0 <= flt.stream <= 0xFFFFFFFF:
            raise InvalidValue(f"stream must be a u32 (0 to 4294967295), not {flt.stream}")
        obs = self.server.observer
        out = _Streamer(self, obs.tap_stall)  # its send timeout replaces the idle one
        tap = obs.tap(tunnels, out, flt, count)
        self.close_connection = True
        while not tap.wait(0.2):
            if self.server.stopping.is_set() or out.broken:
                break
        obs.stop_tap(tap)

    def _replay(self, query: dict[str, str]) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        if not 0 < length <= MAX_REPLAY:
            raise InvalidValue(f"send the pcapng file as the body (1 to {MAX_REPLAY} bytes)")
        body = io.BytesIO(self.rfile.read(length))
        try:
            sent = self.server.observer.replay(body, query.get("tunnel", ""))
        except MessageTooBig as err:  # the messages before it went: say how many
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(err), "sent": err.sent})
        self._json(200, {"sent": sent})


    def _upgrade(self, query: dict[str, str]) -> None:
        """Swap a running service for the module in the body (docs/runtime.md)."""
        length = int(self.headers.get("Content-Length", "0"))
        if not 0 < length <= MAX_MODULE:
            raise InvalidValue(f"send the new module as the body (1 to {MAX_MODULE} bytes, "
                               "with a Content-Length)")
        module = self.rfile.read(length)
        reads, writes = (None if k not in query else [t for t in query[k].split(",") if t]
                         for k in ("reads", "writes"))
        outcome = self.server.observer.mesh.upgrade(query.get("service", ""), module,
                                                    reads=reads, writes=writes)
        self._json(200, {"upgraded": outcome.service, "exactly_once": outcome.exactly_once,
                         "outcome": outcome.describe()})

    def _send_one(self, query: dict[str, str]) -> None:
        length = int(self.headers.get("Content-Length", "-1"))
        if not 0 <= length <= MAX_SEND:
            raise InvalidValue(f"send the message as the body (0 to {MAX_SEND} bytes, with "
                               "a Content-Length)")
        data = self.rfile.read(length)
        sent = self.server.observer.send(query.get("tunnel", ""), [data])
        self._json(200, {"sent": sent})


class _Streamer(io.RawIOBase):
    """The tap's output: the HTTP response body, sent as it is written.

    A client that takes no bytes for ``stall`` seconds makes the send time
    out, and the write raises ``TapStalled``: the tap detaches rather than
    hold the tunnel's writer at the pace of a client that went away.
    """

    def __init__(self, handler: _Handler, stall: float) -> None:
        self.handler = handler
        self.stall = stall
        self.started = False
        self.broken = False
        handler.connection.settimeout(stall)  # bounds each send of the response body

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        if not self.started:
            self.started = True
            h = self.handler
            h.send_response(200)
            h.send_header("Content-Type", "application/x-pcapng")
            h.send_header("Connection", "close")
            h.end_headers()
        try:
            self.handler.wfile.write(bytes(data))
        except TimeoutError:
            self.broken = True
            raise TapStalled(f"the HTTP client stopped reading for {self.stall:g} s") from None
        except OSError:
            self.broken = True
        return len(data)

    def abort(self) -> None:
        """Unblock a send stuck on a client that stopped reading (``Tap.stop``)."""
        self.broken = True
        with contextlib.suppress(OSError):
            self.handler.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``slots`` of them at once."""

    daemon_threads = True
    observer: Observer
    page: bytes
    stopping: threading.Event
    gate: Gate
    slots: threading.BoundedSemaphore
    refuser: Refuser
    sockets: threading.Condition  # guards open_sockets, notified as a WebSocket ends
    open_sockets: int

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.refuser.refuse(request)
            return
        thread = threading.Thread(target=self._serve_one, args=(request, client_address),
                                  name="nanonet-control-conn", daemon=True)
        try:
            thread.start()
        except BaseException:
            self.slots.release()
            raise

    def _serve_one(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is no error of ours; anything else keeps its traceback."""
        if isinstance(sys.exc_info()[1], _HANGUPS):
            return
        super().handle_error(request, client_address)


def port_refusal(host: str, port: int, err: OSError) -> str:
    """Why the endpoint cannot listen there, and what to do instead."""
    return (f"cannot serve the control endpoint on {host}:{port}: {err.strerror or err}; "
            "choose another port (--observe-port), or 0 for any free one")


def _page() -> bytes:
    return (resources.files("nanonet.observe") / "dashboard.html").read_bytes()


class ControlServer:
    """One observer's HTTP + WebSocket endpoint, on its own thread."""

    def __init__(self, observer: Observer, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, token_file: str | Path | None = None,
                 origins: Iterable[str] = (), max_connections: int = MAX_CONNECTIONS) -> None:
        self.token = check_token(token) if token else new_token()
        origins = [normal_origin(o) for o in origins]  # a bad one fails before the bind
        if max_connections < 1:
            raise InvalidValue(f"max_connections must be at least 1, not {max_connections}")
        try:
            srv = self._srv = _Server((host, port), _Handler)
        except OSError as err:  # the port is taken, or the host is not this machine's
            raise InvalidValue(port_refusal(host, port, err)) from None
        self.host, self.port = host, int(srv.server_address[1])
        srv.gate = Gate({host, "127.0.0.1", "localhost", "::1"}, self.port, self.token, origins)
        srv.observer, srv.page = observer, _page()
        srv.stopping = threading.Event()
        srv.slots = threading.BoundedSemaphore(max_connections)
        srv.refuser = Refuser()
        srv.sockets, srv.open_sockets = threading.Condition(), 0
        self.token_file = Path(token_file) if token_file else None
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="nanonet-control", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dashboard_url(self) -> str:
        """The page with the token in the fragment: a browser keeps it, never sends it."""
        return f"{self.url}/#token={self.token}"

    def start(self) -> ControlServer:
        if self.token_file is not None:
            try:
                write_control_file(self.token_file, self.url, self.token)
            except BaseException:
                self._srv.server_close()
                self._srv.refuser.close()
                raise
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; each WebSocket is sent its last snapshot first (for up to
        ``FAREWELL`` seconds: a process that exits next would cut it off)."""
        self._srv.stopping.set()
        with self._srv.sockets:
            self._srv.sockets.wait_for(lambda: self._srv.open_sockets == 0, FAREWELL)
        self._srv.shutdown()
        self._srv.server_close()
        self._srv.refuser.close()
        self._thread.join(5.0)
