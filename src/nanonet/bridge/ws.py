"""The WebSocket transport (websockets), and QUIC with WebSocket as its fallback.

One WebSocket connection per tunnel, at ``/nanonet/<tunnel>`` (the name
percent-quoted); each WebSocket message carries whole bridge frames.
websockets' own ``write_limit`` is the send-side high watermark (``send``
waits for the socket to drain), its pings the keep-alive (every second, 5 s
to answer). ``dial`` tries QUIC first and, when QUIC cannot connect in
``QUIC_WAIT`` seconds (UDP blocked, no listener), says why and uses
WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from ..errors import BridgeRefused
from . import frames as F
from .inbox import Inbox

log = logging.getLogger(__name__)
PREFIX = "/nanonet/"
QUIC_WAIT = 2.0
KEEPALIVE, IDLE_TIMEOUT = 1.0, 5.0
WIRE_LIMIT = F.MAX_FRAME + 1024  # the largest WebSocket message taken


class WsLink:
    """One tunnel's WebSocket (a ``pump.Link``)."""

    def __init__(self, ws: ClientConnection | ServerConnection) -> None:
        self.ws = ws
        self.inbox = Inbox()

    async def send(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionClosed):  # lost: sent again on a new connection
            await self.ws.send(data)  # waits while the buffer is over write_limit

    async def pull(self) -> None:
        """Move what arrives into the inbox until the connection closes."""
        try:
            async for msg in self.ws:
                if isinstance(msg, bytes):
                    self.inbox.put(msg)
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.ws.close()


Accept = Callable[[str, Any], None]
HIGH_WATER = 1 << 20  # bytes buffered before send waits (as QUIC's)
_OPTIONS: dict[str, Any] = {"write_limit": HIGH_WATER, "max_size": WIRE_LIMIT,
                            "ping_interval": KEEPALIVE, "ping_timeout": IDLE_TIMEOUT,
                            "compression": None}


class WsListener:
    """A WebSocket server whose connections become tunnels' links (``accept``)."""

    def __init__(self, host: str, port: int, accept: Accept) -> None:
        self.host, self.port, self.accept = host, port, accept
        self._server: Server | None = None

    async def start(self) -> WsListener:
        self._server = await serve(self._handle, self.host, self.port, **_OPTIONS)
        return self

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if not path.startswith(PREFIX):
            await ws.close(1008, "not a nanonet bridge path")
            return
        link = WsLink(ws)
        self.accept(unquote(path[len(PREFIX):]), link)
        await link.pull()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


async def dial_ws(host: str, port: int, tunnel: str) -> tuple[WsLink, asyncio.Task[None]]:
    """A WebSocket link to ``tunnel`` on a listener, and the task that fills its inbox."""
    ws = await connect(f"ws://{host}:{port}{PREFIX}{quote(tunnel, safe='')}", **_OPTIONS)
    link = WsLink(ws)
    return link, asyncio.ensure_future(_pull_until_released(link))


async def _pull_until_released(link: WsLink) -> None:
    """A dialed link's reader: cancelling it (``directport.release_dial``) ends
    the connection too, so that its socket is not left open."""
    try:
        await link.pull()
    finally:
        link.ws.transport.close()


@dataclass
class Dialed:
    """What ``dial`` got: the link, the transport, and why if it fell back."""

    link: Any
    transport: str
    reason: str | None
    owner: Any  # the QuicDialer or the WebSocket reader task: close or cancel it


async def dial(host: str, quic_port: int, ws_port: int, tunnel: str,
               cafile: Path | None = None, wait: float = QUIC_WAIT) -> Dialed:
    """QUIC if it connects within ``wait`` seconds, else WebSocket (logged, with why)."""
    try:
        from .quic import QuicDialer  # aioquic: the net extra
    except ImportError as err:
        reason = f"no QUIC here ({err}: pip install 'nanonet[net]')"
    else:
        return await _quic_or(host, quic_port, ws_port, tunnel, cafile, wait, QuicDialer)
    return await _websocket(host, ws_port, tunnel, reason)


async def _quic_or(host: str, quic_port: int, ws_port: int, tunnel: str,
                   cafile: Path | None, wait: float, dialer_type: Any) -> Dialed:
    """QUIC; on no answer, QUIC once more if the peer turns out to be up (its
    TCP port answers: it was still starting), and only then WebSocket."""
    for attempt in (1, 2):
        try:
            dialer = await asyncio.wait_for(dialer_type(host, quic_port, cafile).start(), wait)
            return Dialed(dialer.open(tunnel), "quic", None, dialer)
        except (TimeoutError, OSError, ConnectionError) as err:
            if not isinstance(err, TimeoutError):
                reason = f"QUIC to {host}:{quic_port}: {err}"
                break
            reason = f"no QUIC answer from {host}:{quic_port} in {wait:g} s"
            if attempt == 2:
                reason += ", twice, while its TCP port answers"
            elif await _tcp_answers(host, ws_port, wait):
                continue
            break
    if cafile is not None and reason.startswith("no QUIC answer"):
        raise OSError(f"{reason}, and --peer-cert allows no WebSocket fallback")
    if cafile is not None:  # plain WebSocket cannot show the pinned certificate
        raise BridgeRefused(f"bridge {tunnel!r}: the QUIC handshake with {host}:{quic_port} "
                            f"failed ({reason}): it presents another certificate than the "
                            f"one --peer-cert pins; give --peer-cert the certificate it "
                            f"presents (its --listen-cert)")
    return await _websocket(host, ws_port, tunnel, reason)


async def _tcp_answers(host: str, port: int, wait: float) -> bool:
    """Does something accept TCP connections on ``host:port`` now?"""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait)
    except (TimeoutError, OSError):
        return False
    writer.close()
    return True


async def _websocket(host: str, ws_port: int, tunnel: str, reason: str) -> Dialed:
    log.warning("bridge %r: %s; using WebSocket on port %d", tunnel, reason, ws_port)
    link, task = await dial_ws(host, ws_port, tunnel)
    return Dialed(link, "websocket", reason, task)
