"""The control endpoint: the one place the CLI, the dashboard and Prometheus read.

An HTTP server (stdlib, one thread per request) on 127.0.0.1 by default:

- ``GET /`` the dashboard; ``GET /api/snapshot`` JSON; ``GET /metrics``
  Prometheus text; ``GET /ws`` a WebSocket pushing a snapshot 4 times a second;
- ``POST /api/tap?tunnel=T[&sample=N][&stream=ID][&count=N]`` streams a pcapng
  capture back until the count, the tunnel's close or the client's hang-up;
- ``POST /api/replay?tunnel=T`` with a pcapng body sends its packets into T.

Reads need no token; anything that changes the mesh needs
``Authorization: Bearer <token>``. Requests whose ``Host`` is not the address
served are refused, so a web page elsewhere cannot reach it by DNS rebinding.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST

from ..errors import MessageTooBig, NanonetError
from .pcapng import PcapngError
from .tap import TapFilter, TapStalled
from .websocket import PushSocket, pump

if TYPE_CHECKING:
    from .observer import Observer

WS_PERIOD = 0.25
MAX_REPLAY = 64 << 20  # bytes of pcapng a replay request may carry


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a dashboard polls four times a second."""

    # -- plumbing ---------------------------------------------------------
    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode())

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in self.server.allowed_hosts

    def _authorised(self) -> bool:
        got = self.headers.get("Authorization", "")
        want = f"Bearer {self.server.token}"
        return hmac.compare_digest(got.encode(), want.encode())

    # -- routes -------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        path = urlsplit(self.path).path
        obs = self.server.observer
        if path == "/":
            self._send(200, self.server.page, "text/html; charset=utf-8")
        elif path == "/api/snapshot":
            self._json(200, obs.snapshot().to_json())
        elif path == "/metrics":
            self._send(200, obs.metrics(), CONTENT_TYPE_LATEST)
        elif path == "/ws":
            self._websocket()
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page {path}")

    def _websocket(self) -> None:
        ws = PushSocket(self.connection, self.path, dict(self.headers.items()))
        obs = self.server.observer
        pump(ws, lambda: json.dumps(obs.snapshot().to_json()), WS_PERIOD,
             self.server.stopping.is_set)
        self.close_connection = True

    def do_POST(self) -> None:
        if not self._host_ok():
            return self._error(HTTPStatus.FORBIDDEN, "unexpected Host header")
        if not self._authorised():
            return self._error(HTTPStatus.UNAUTHORIZED, "this changes the mesh: send "
                               "'Authorization: Bearer <token>' (the token the server printed)")
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/api/tap":
                return self._tap(query)
            if url.path == "/api/replay":
                return self._replay(query)
        except (NanonetError, PcapngError, ValueError) as err:
            return self._error(HTTPStatus.BAD_REQUEST, str(err))
        self._error(HTTPStatus.NOT_FOUND, f"no such action {url.path}")

    def _tap(self, query: dict[str, str]) -> None:
        flt = TapFilter(int(query.get("sample", "1")),
                        int(query["stream"]) if "stream" in query else None)
        if flt.sample < 1:
            raise ValueError("sample must be at least 1")
        count = int(query["count"]) if "count" in query else None
        obs = self.server.observer
        out = _Streamer(self, obs.tap_stall)
        tap = obs.tap(query.get("tunnel", ""), out, flt, count)
        self.close_connection = True
        while not tap.wait(0.2):
            if self.server.stopping.is_set() or out.broken:
                break
        obs.stop_tap(tap)

    def _replay(self, query: dict[str, str]) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        if not 0 < length <= MAX_REPLAY:
            raise ValueError(f"send the pcapng file as the body (1 to {MAX_REPLAY} bytes)")
        body = io.BytesIO(self.rfile.read(length))
        try:
            sent = self.server.observer.replay(body, query.get("tunnel", ""))
        except MessageTooBig as err:  # the messages before it went: say how many
            return self._json(HTTPStatus.BAD_REQUEST, {"error": str(err), "sent": err.sent})
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
    daemon_threads = True
    observer: Observer
    token: str
    page: bytes
    stopping: threading.Event
    allowed_hosts: set[str]


def _page() -> bytes:
    return (resources.files("nanonet.observe") / "dashboard.html").read_bytes()


class ControlServer:
    """One observer's HTTP + WebSocket endpoint, on its own thread."""

    def __init__(self, observer: Observer, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, token_file: str | Path | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        srv = self._srv = _Server((host, port), _Handler)
        srv.observer, srv.token, srv.page = observer, self.token, _page()
        srv.stopping = threading.Event()
        srv.allowed_hosts = {host, "127.0.0.1", "localhost", "::1"}
        self.host, self.port = host, int(srv.server_address[1])
        self.token_file = Path(token_file) if token_file else None
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="nanonet-control", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ControlServer:
        if self.token_file is not None:
            write_control_file(self.token_file, self.url, self.token)
        self._thread.start()
        return self

    def close(self) -> None:
        self._srv.stopping.set()
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5.0)


def write_control_file(path: Path, url: str, token: str) -> None:
    """``{"url", "token"}`` readable by the owner only: how the CLI finds the mesh."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps({"url": url, "token": token}) + "\n")
