"""WebTransport for browser tabs: an aioquic HTTP/3 server beside the page's.

A tab that offers WebTransport opens one session per tunnel it writes, at
``https://HOST:PORT/nanonet/<tunnel>`` (the WebSocket bridge's path), and
one per tunnel it reads, at ``/nanonet-feed/<tunnel>`` (the feed's path),
and one bidirectional stream in each; that stream carries the bridge's
frames both ways (they delimit themselves: a chunk may hold part of a frame
or several). ``WtServer`` hands each such stream, as a ``WebTransportLink``
(a ``pump.Link``), to its ``accept`` callback with its route (``ROUTES``)
and tunnel name; the web host then runs the same checks and pumps as for a
WebSocket on that path (``webtab.py``).

The server listens on UDP, on the HTTP port's number when that is free
(else any port), with a fresh self-signed ECDSA P-256 certificate valid for
``CERT_DAYS`` days: Chromium takes such a certificate without a CA when the
page passes its SHA-256 in ``serverCertificateHashes``, only if it is valid
for less than 14 days. aioquic speaks WebTransport draft-02, which Chromium
accepts. aioquic comes with the ``net`` extra; this module imports it.

The socket is a ``udpbatch.Batched`` one, as the QUIC bridge's: every queued
datagram read per wakeup and one ``transmit()`` per batch, on the loop's next
turn, where asyncio's datagram transport took a loop turn and a transmit per
datagram (a tab's stream is thousands of datagrams a second).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import NetworkAddress
from aioquic.quic.events import (
    ConnectionTerminated,
    ProtocolNegotiated,
    QuicEvent,
    StopSendingReceived,
    StreamReset,
)

from .inbox import Inbox
from .quicstream import send_below_water, stop_both_ways
from .selfsigned import self_signed
from .udpbatch import Batched, listen_socket

log = logging.getLogger(__name__)
PREFIX = "/nanonet/"  # a tunnel the tab writes
FEED_PREFIX = "/nanonet-feed/"  # a tunnel the tab reads
ROUTES = {PREFIX: "bridge", FEED_PREFIX: "feed"}
CERT_DAYS = 10  # Chromium pins a hashed certificate only if valid under 14 days
IDLE_TIMEOUT = 10.0

Accept = Callable[[str, str, "WebTransportLink"], None]  # route, tunnel, link


class WebTransportLink:
    """One tunnel's WebTransport stream (a ``pump.Link``)."""

    def __init__(self, proto: WtProtocol, stream_id: int) -> None:
        self.proto, self.stream_id = proto, stream_id
        self.inbox = Inbox()
        self.gone = asyncio.Event()  # the stream or its connection ended

    @property
    def closed(self) -> bool:
        return self.gone.is_set()

    async def send(self, data: bytes) -> None:
        """Queue ``data`` on the stream once under the high watermark (dropped
        if the stream is gone: the protocol sends it again)."""
        await send_below_water(self.proto, self.stream_id, data, lambda: self.closed)

    async def pull(self) -> None:
        """Until the stream ends (arrivals go to the inbox as they come)."""
        await self.gone.wait()

    def abort(self) -> None:
        """Reset the stream both ways now, as a lost network would end it."""
        self.proto.end_stream(self.stream_id)

    async def finish(self, data: bytes = b"") -> None:
        """Send ``data`` and end the stream our way (a FIN: what was sent arrives)."""
        if not self.closed:
            self.gone.set()
            self.proto._quic.send_stream_data(self.stream_id, data, end_stream=True)
            self.proto.transmit()

    async def close(self) -> None:
        await self.finish()


class WtProtocol(QuicConnectionProtocol):
    """One browser's QUIC connection: HTTP/3, WebTransport sessions, their streams."""

    def __init__(self, *args: Any, accept: Accept, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accept = accept
        self.http: H3Connection | None = None
        self.sessions: dict[int, tuple[str, str]] = {}  # CONNECT stream -> route, tunnel
        self.links: dict[int, WebTransportLink] = {}
        self.ended: set[int] = set()  # streams this side ended: later data is dropped

    def end_stream(self, sid: int) -> None:
        link = self.links.pop(sid, None)
        if link is not None:
            link.gone.set()
        self.ended.add(sid)
        stop_both_ways(self._quic, sid)
        self.transmit()

    def datagram_received(self, data: bytes | str, addr: NetworkAddress) -> None:
        """Take one datagram; transmit on the loop's next turn, once for every
        datagram ``udpbatch.Batched`` read in this one (not once per datagram)."""
        self._quic.receive_datagram(cast(bytes, data), addr, now=self._loop.time())
        self._process_events()
        self._transmit_soon()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated):
            self.http = H3Connection(self._quic, enable_webtransport=True)
        elif isinstance(event, StreamReset | StopSendingReceived):
            if event.stream_id in self.links:
                self.end_stream(event.stream_id)
                return
        elif isinstance(event, ConnectionTerminated):
            for sid in list(self.links):
                self.links.pop(sid).gone.set()
        if self.http is not None:
            for h3 in self.http.handle_event(event):
                self._h3_event(h3)

    def _h3_event(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._connect(event.stream_id, dict(event.headers))
        elif isinstance(event, WebTransportStreamDataReceived):
            link = self.links.get(event.stream_id)
            fresh = event.stream_id not in self.ended  # not the tail of a stream reset here
            if link is None and fresh and event.session_id in self.sessions:
                link = self.links[event.stream_id] = WebTransportLink(self, event.stream_id)
                self.accept(*self.sessions[event.session_id], link)
            if link is not None:
                if event.data:
                    link.inbox.put(event.data)
                if event.stream_ended:
                    self.end_stream(event.stream_id)

    def _connect(self, stream_id: int, headers: dict[bytes, bytes]) -> None:
        """Take a WebTransport CONNECT to a bridge path; refuse anything else."""
        assert self.http is not None
        path = headers.get(b":path", b"").decode(errors="replace").partition("?")[0]
        prefix = next((p for p in ROUTES if path.startswith(p)), "")
        if (headers.get(b":method") == b"CONNECT" and headers.get(b":protocol") == b"webtransport"
                and prefix):
            self.sessions[stream_id] = ROUTES[prefix], unquote(path[len(prefix):])
            self.http.send_headers(stream_id, [(b":status", b"200"),
                                               (b"sec-webtransport-http3-draft", b"draft02")])
        else:
            self.http.send_headers(stream_id, [(b":status", b"404")], end_stream=True)
        self.transmit()


@dataclass
class Certificate:
    """A self-signed certificate, its key, and the SHA-256 of its DER form."""

    cert: Any
    key: Any
    sha256: bytes


def make_certificate(host: str, days: int = CERT_DAYS) -> Certificate:
    """A fresh ECDSA P-256 certificate for ``host``, valid ``days`` days from now."""
    from cryptography.hazmat.primitives import serialization

    cert, key = self_signed(host, "nanonet-tab", days, datetime.timedelta(minutes=1))
    der = cert.public_bytes(serialization.Encoding.DER)
    return Certificate(cert, key, hashlib.sha256(der).digest())


class WtServer:
    """The WebTransport listener: its streams become tunnels' links (``accept``)."""

    def __init__(self, host: str, port: int, accept: Accept) -> None:
        self.host, self.port, self.accept = host, port, accept
        self.certificate = make_certificate(host)
        self._server: QuicServer | None = None

    async def start(self) -> WtServer:
        """Listen on ``port`` if that UDP port is free, else on any."""
        cfg = QuicConfiguration(is_client=False, alpn_protocols=H3_ALPN,
                                max_datagram_frame_size=65536, idle_timeout=IDLE_TIMEOUT)
        cfg.certificate, cfg.private_key = self.certificate.cert, self.certificate.key

        def protocol(*args: Any, **kwargs: Any) -> WtProtocol:
            return WtProtocol(*args, accept=self.accept, **kwargs)

        try:
            sock = await listen_socket(self.host, self.port)
        except OSError:
            sock = await listen_socket(self.host, 0)
        self._server = QuicServer(configuration=cfg, create_protocol=protocol)
        Batched(sock, self._server)
        self.port = sock.getsockname()[1]
        return self

    def info(self) -> dict[str, Any]:
        """What the page needs to dial: the URL bases (the tunnels it writes,
        the ones it reads) and the certificate's hash."""
        base = f"https://{self.host}:{self.port}"
        return {"url": base + PREFIX, "feed_url": base + FEED_PREFIX,
                "sha256": self.certificate.sha256.hex()}

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
