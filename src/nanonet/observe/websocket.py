"""A push-only WebSocket on a socket the HTTP server already accepted.

The control endpoint is one port: the stdlib HTTP server parses the request,
and for ``/ws`` this module hands the handshake and the framing to the
``websockets`` package's sans-I/O protocol (no second server, no event loop).
The client is only read to notice a close. A client that offers the server's
subprotocol gets it back (a browser fails a handshake whose answer names
none of the subprotocols it offered); one that offers none gets none.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable, Mapping

from websockets.datastructures import Headers
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol


class PushSocket:
    """Sends text messages to one WebSocket client until it or we close."""

    def __init__(self, sock: socket.socket, path: str, headers: Mapping[str, str],
                 subprotocol: str | None = None) -> None:
        self.sock = sock
        want = Subprotocol(subprotocol) if subprotocol else None
        self.proto = ServerProtocol(
            select_subprotocol=lambda _proto, offered: want if want in offered else None)
        request = Request(path, Headers(list(headers.items())))
        response = self.proto.accept(request)
        self.proto.send_response(response)
        self._flush()
        self.open = response.status_code == 101

    def _flush(self) -> None:
        data = b"".join(self.proto.data_to_send())
        if data:
            self.sock.sendall(data)

    def send(self, text: str) -> None:
        self.proto.send_text(text.encode())
        self._flush()

    def poll(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for the client; False once it has closed."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if ready:
            data = self.sock.recv(65536)
            if not data:
                self.proto.receive_eof()
            else:
                self.proto.receive_data(data)
            self.proto.events_received()
            self._flush()  # the close handshake's reply, pongs
        return self.proto.state is State.OPEN

    def close(self, code: int = 1001, reason: str = "server stopping") -> None:
        if self.proto.state is State.OPEN:
            self.proto.send_close(code, reason)
            self._flush()


def pump(ws: PushSocket, next_text: Callable[[], str], period: float,
         stopping: Callable[[], bool], last: Callable[[], str] | None = None) -> None:
    """Push ``next_text()`` every ``period`` seconds until the client or server stops.

    When the server stops, ``last()`` (if given) is sent before a normal close
    (1000, "mesh ended"): the client learns it was the end, not a failure."""
    try:
        while ws.open and not stopping():
            ws.send(next_text())
            if not ws.poll(period):
                return
        if last is not None and ws.open:
            ws.send(last())
            ws.close(1000, "mesh ended")
        ws.close()
    except OSError:
        return  # the client went away mid-frame
