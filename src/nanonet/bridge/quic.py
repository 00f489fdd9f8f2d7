"""The QUIC transport (aioquic): one QUIC stream per tunnel.

The sending node dials (``dial_quic``) and opens one bidirectional stream
per tunnel; the stream starts with a preamble, ``[name_len u8][name]``, then
carries the bridge's frames both ways (they delimit themselves). The
listening node (``QuicListener``) hands each new stream, by tunnel name, to
its ``accept`` callback. Keep-alive: a QUIC PING every second, and an idle
timeout of 5 s. Once connected, packets grow from QUIC's 1,200 bytes to
what the route to the peer carries (``quicpath.py``). Closing a link
resets its stream alone (the connection and the other tunnels on it go
on); the far end sees the reset and marks its link closed, so a dialing
sender dials again. aioquic buffers stream data without bound, so
``send`` waits while more than ``HIGH_WATER`` bytes are unacknowledged on
its stream (``quicstream.py``). Those two are the only reaches into
aioquic's internals (``unacked``, ``grow_packets``). Both ends' sockets are
``udpbatch.Batched``: every queued datagram read per wakeup, one
``transmit()`` per batch. aioquic comes with the ``net`` extra; this module
imports it.

Both ends take QUIC DATAGRAM frames (RFC 9221): a tunnel that opts into loss
sends its batches as datagrams, each ``[stream_id u32][one DGRAM frame]``,
handed to the link of that stream (``inbox.Datagram``); a datagram for no
stream here is dropped (the receiver counts the gap).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import socket
import ssl
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import NetworkAddress, QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    DatagramFrameReceived,
    HandshakeCompleted,
    QuicEvent,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)

from . import frames as F
from .inbox import Datagram, Inbox
from .quicpath import grow_packets, packet_size, pinned
from .quicstream import send_below_water, stop_both_ways
from .selfsigned import self_signed
from .udpbatch import Batched, dial_socket, listen_socket

log = logging.getLogger(__name__)
ALPN = "nanonet-bridge/1"
KEEPALIVE, IDLE_TIMEOUT = 1.0, 5.0
DGRAM_PREFIX = struct.Struct("<I")  # a datagram's stream id: which tunnel it belongs to
MAX_DATAGRAM_FRAME = 65536  # the DATAGRAM frames each end takes (transport parameter)

Accept = Callable[[str, "QuicLink"], None]


class QuicLink:
    """One tunnel's stream (a ``pump.Link``)."""

    datagram_room = F.DGRAM_ROOM - DGRAM_PREFIX.size  # bytes of one frame sent as a datagram

    def __init__(self, proto: BridgeQuic, stream_id: int) -> None:
        self.proto, self.stream_id = proto, stream_id
        self.inbox = Inbox()
        self.reset = False  # this stream was reset, by either end
        self._prefix = DGRAM_PREFIX.pack(stream_id)

    @property
    def closed(self) -> bool:
        return self.reset or bool(self.proto.closed)

    async def send(self, data: bytes) -> None:
        """Queue ``data`` on the stream once under the high watermark (dropped
        if the connection is gone: the protocol sends it again)."""
        await send_below_water(self.proto, self.stream_id, data, lambda: self.closed)

    async def send_datagrams(self, frames: list[F.Wire]) -> None:
        """Each frame as one QUIC datagram, tagged with this stream's id: sent
        once, never again (dropped if the connection is gone)."""
        if self.closed:
            return
        quic = self.proto._quic
        for frame in frames:
            quic.send_datagram_frame(self._prefix + frame)
        self.proto.transmit()

    async def close(self) -> None:
        """Reset this tunnel's stream both ways; the connection stays."""
        if self.closed:
            return
        self.reset = True
        self.proto.end_stream(self.stream_id)


class BridgeQuic(QuicConnectionProtocol):
    """A QUIC connection carrying tunnels, one per stream."""

    def __init__(self, *args: Any, accept: Accept | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accept = accept
        self.links: dict[int, QuicLink] = {}
        self._preambles: dict[int, bytearray] = {}
        self._ended: set[int] = set()  # streams stopped here: what still comes is dropped
        self.closed = False
        self._keepalive: asyncio.Task[None] | None = None
        self._peer: NetworkAddress | None = None  # where the latest datagram came from

    def start_keepalive(self) -> None:
        self._keepalive = asyncio.ensure_future(self._ping())

    async def _ping(self) -> None:
        uid = 0
        while not self.closed:
            await asyncio.sleep(KEEPALIVE)
            uid += 1
            self._quic.send_ping(uid)
            self.transmit()

    def end_stream(self, sid: int) -> None:
        """Stop stream ``sid`` both ways (once) and mark its link closed."""
        link = self.links.pop(sid, None)
        if link is not None:
            link.reset = True
        self._ended.add(sid)
        self._preambles.pop(sid, None)
        stop_both_ways(self._quic, sid)
        self.transmit()

    def open_stream(self, tunnel: str) -> QuicLink:
        sid = self._quic.get_next_available_stream_id()
        name = tunnel.encode()
        self._quic.send_stream_data(sid, bytes([len(name)]) + name)
        self.transmit()
        link = self.links[sid] = QuicLink(self, sid)
        return link

    def datagram_received(self, data: bytes | str, addr: NetworkAddress) -> None:
        """Take one datagram; transmit on the loop's next turn, once for every
        datagram ``udpbatch.Batched`` read in this one (not once per datagram)."""
        self._peer = addr
        self._quic.receive_datagram(cast(bytes, data), addr, now=self._loop.time())
        self._process_events()
        self._transmit_soon()

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, StreamDataReceived):
            link = self.links.get(event.stream_id)
            if link is not None:
                link.inbox.put(event.data)
            elif event.stream_id not in self._ended:  # not bytes still in flight when it ended
                self._preamble(event.stream_id, event.data)
        elif isinstance(event, DatagramFrameReceived):
            self._datagram(event.data)
        elif isinstance(event, HandshakeCompleted) and self._peer is not None:
            grow_packets(self._quic, packet_size(self._peer))  # quicpath.py: why
        elif isinstance(event, StreamReset | StopSendingReceived):
            self.end_stream(event.stream_id)
        elif isinstance(event, ConnectionTerminated):
            self.closed = True
            if self._keepalive is not None:
                self._keepalive.cancel()

    def _datagram(self, data: bytes) -> None:
        """Hand a datagram to its stream's link (a full inbox drops it: a gap)."""
        if len(data) < DGRAM_PREFIX.size:
            return
        (sid,) = DGRAM_PREFIX.unpack_from(data)
        link = self.links.get(sid)
        if link is not None:
            link.inbox.put(Datagram(data[DGRAM_PREFIX.size:]))

    def _preamble(self, sid: int, data: bytes) -> None:
        """Gather a new stream's ``[len][name]``, then hand it to ``accept``."""
        buf = self._preambles.setdefault(sid, bytearray())
        buf += data
        if not buf or len(buf) < 1 + buf[0]:
            if len(buf) > 256:  # no preamble is this long: not a bridge
                self._quic.close(error_code=1, reason_phrase="bad preamble")
            return
        name = bytes(buf[1: 1 + buf[0]]).decode(errors="replace")
        rest = bytes(buf[1 + buf[0]:])
        del self._preambles[sid]
        link = self.links[sid] = QuicLink(self, sid)
        if self.accept is not None:
            self.accept(name, link)
        if rest:
            link.inbox.put(rest)


def make_certificate(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed ECDSA P-256 certificate for ``host``, valid 14 days:
    (certificate, key) PEM files in ``folder``. A dialer pins it as its CA."""
    from cryptography.hazmat.primitives import serialization

    cert, key = self_signed(host, "nanonet-bridge", 14, datetime.timedelta(minutes=5))
    cert_path, key_path = folder / "bridge-cert.pem", folder / "bridge-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class QuicListener:
    """A QUIC server whose streams become tunnels' links (``accept``)."""

    def __init__(self, host: str, port: int, cert: Path, key: Path, accept: Accept) -> None:
        self.host, self.port, self.cert, self.key, self.accept = host, port, cert, key, accept
        self._server: Any = None

    async def start(self) -> QuicListener:
        pinned()  # a bad NANONET_QUIC_DATAGRAM fails here, not mid-handshake
        cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN], idle_timeout=IDLE_TIMEOUT,
                                max_datagram_frame_size=MAX_DATAGRAM_FRAME)
        cfg.load_cert_chain(str(self.cert), str(self.key))

        def protocol(*args: Any, **kwargs: Any) -> BridgeQuic:
            proto = BridgeQuic(*args, accept=self.accept, **kwargs)
            proto.start_keepalive()
            return proto

        sock = await listen_socket(self.host, self.port)
        self._server = QuicServer(configuration=cfg, create_protocol=protocol)
        Batched(sock, self._server)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


class QuicDialer:
    """A QUIC connection to a listener; ``open(tunnel)`` gives a link per tunnel."""

    def __init__(self, host: str, port: int, cafile: Path | None) -> None:
        self.host, self.port, self.cafile = host, port, cafile
        self.proto: BridgeQuic | None = None
        self._transport: Batched | None = None

    async def start(self) -> QuicDialer:
        pinned()  # a bad NANONET_QUIC_DATAGRAM fails here, not mid-handshake
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], idle_timeout=IDLE_TIMEOUT,
                                max_datagram_frame_size=MAX_DATAGRAM_FRAME)
        if self.cafile is not None:
            cfg.load_verify_locations(str(self.cafile))
        else:
            cfg.verify_mode = ssl.CERT_NONE  # the bridge token still authenticates the peer
        cfg.server_name = self.host
        infos = await asyncio.get_running_loop().getaddrinfo(self.host, self.port,
                                                             type=socket.SOCK_DGRAM)
        addr: NetworkAddress = infos[0][4]
        if len(addr) == 2:  # the dual-stack socket speaks IPv4 as mapped IPv6
            addr = ("::ffff:" + addr[0], addr[1], 0, 0)
        proto = BridgeQuic(QuicConnection(configuration=cfg))
        self._transport = Batched(dial_socket(), proto)
        try:
            proto.connect(addr)
            await proto.wait_connected()
        except BaseException:
            self._transport.close()
            raise
        proto.start_keepalive()
        self.proto = proto
        return self

    def open(self, tunnel: str) -> QuicLink:
        assert self.proto is not None, "start() first"
        return self.proto.open_stream(tunnel)

    async def close(self) -> None:
        """Close the connection, then its socket (even if the wait for the close
        is cut short: a bridge that stops cancels that wait)."""
        try:
            if self.proto is not None:
                self.proto.close()
                await self.proto.wait_closed()
        finally:
            if self._transport is not None:
                self._transport.close()
