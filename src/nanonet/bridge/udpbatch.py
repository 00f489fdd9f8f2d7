"""The QUIC sockets (the bridge's and the tabs' WebTransport server's):
every queued datagram read per wakeup.

asyncio's datagram transport reads one datagram per readiness event, and
aioquic's protocol answers each with a ``transmit()``: one loop turn, one
``epoll``, one round of packet building and one timer re-arm per datagram.
Under a stream that is most of the bridge's CPU, and on a loaded machine
the turns queue up: ACKs wait behind them, the measured RTT grows, and
aioquic's pacing (congestion window over smoothed RTT) slows the stream.
``Batched`` reads up to ``READ_MOST`` datagrams per wakeup and hands each to
the protocol, which defers its ``transmit()`` to the loop's next turn
(``quic.BridgeQuic.datagram_received``, ``webtransport.WtProtocol``'s):
one transmit per batch, its ACKs and data coalesced. Sends go out at once;
a full socket buffer queues them until the socket is writable, as
asyncio's transport does.
``dial_socket`` and ``listen_socket`` make the sockets aioquic's
``connect``/``serve`` would. They keep the kernel's receive buffer: a 4 MiB
one ended the few drops but moved fewer messages (the queue it holds is
delay the RTT counts; drops at least shrink the window).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from typing import Any

READ_MOST = 64  # datagrams read per wakeup before the loop's other work runs
MAX_DATAGRAM = 65536

Address = Any  # (host, port) or (host, port, flow, scope)


class Batched(asyncio.DatagramTransport):
    """A UDP transport over a bound non-blocking socket, ``protocol`` its user."""

    def __init__(self, sock: socket.socket, protocol: asyncio.DatagramProtocol) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._sock, self._protocol = sock, protocol
        self._queued: deque[tuple[bytes, Address]] = deque()
        self._closing = False
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._read)
        protocol.connection_made(self)

    def _read(self) -> None:
        for _ in range(READ_MOST):
            if self._closing:
                return
            try:
                data, addr = self._sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # an ICMP error on this socket: the protocol decides
                self._protocol.error_received(err)
                return
            self._protocol.datagram_received(data, addr)

    def sendto(self, data: Any, addr: Address = None) -> None:
        """Send now, or queue behind earlier datagrams the socket had no room for."""
        if self._closing:
            return
        if not self._queued:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                self._send(bytes(data), addr)
                return
            self._loop.add_writer(self._sock.fileno(), self._drain)
        self._queued.append((bytes(data), addr))

    def _send(self, data: bytes, addr: Address) -> None:
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            raise
        except OSError as err:  # unreachable and the like: UDP says it, QUIC copes
            self._protocol.error_received(err)

    def _drain(self) -> None:
        while self._queued:
            try:
                self._send(*self._queued[0])
            except (BlockingIOError, InterruptedError):
                return
            self._queued.popleft()
        self._loop.remove_writer(self._sock.fileno())

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "sockname":
            return self._sock.getsockname()
        if name == "socket":
            return self._sock
        return default

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._sock.fileno())
        self._loop.remove_writer(self._sock.fileno())
        self._queued.clear()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


def dial_socket() -> socket.socket:
    """A dual-stack UDP socket on an ephemeral port, as aioquic's ``connect`` binds."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", 0, 0, 0))
    except OSError:
        sock.close()
        raise
    return sock


async def listen_socket(host: str, port: int) -> socket.socket:
    """A UDP socket bound to ``host:port`` (the first address ``host`` resolves to)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock
