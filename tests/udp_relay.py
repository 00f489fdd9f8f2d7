"""A UDP relay on 127.0.0.1 that loses packets: one client's datagrams to a
server and back, each dropped with probability ``drop`` (a seeded random,
both ways) once ``spare`` packets have passed unharmed (the QUIC handshake).
For tests of what a lossy network does to a QUIC bridge."""

from __future__ import annotations

import asyncio
import random
from typing import Any

Addr = tuple[str, int]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, relay: UdpRelay, from_client: bool) -> None:
        self.relay, self.from_client = relay, from_client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.relay.forward(data, addr, self.from_client)


class UdpRelay:
    """``port``: where the client sends; packets go on to ``server``."""

    def __init__(self, server: Addr, drop: float, seed: int = 7, spare: int = 40) -> None:
        self.server, self.drop, self.spare = server, drop, spare
        self.rng = random.Random(seed)
        self.passed = self.dropped = 0
        self.port = 0
        self._client: Addr | None = None
        self._front: _Side | None = None
        self._back: _Side | None = None

    async def start(self) -> UdpRelay:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(
            lambda: _Side(self, True), local_addr=("127.0.0.1", 0))
        _, self._back = await loop.create_datagram_endpoint(
            lambda: _Side(self, False), remote_addr=self.server)
        assert self._front.transport is not None
        self.port = int(self._front.transport.get_extra_info("sockname")[1])
        return self

    def forward(self, data: bytes, addr: Addr, from_client: bool) -> None:
        if from_client:
            self._client = addr
        if self.passed >= self.spare and self.rng.random() < self.drop:
            self.dropped += 1
            return
        self.passed += 1
        if from_client and self._back is not None and self._back.transport is not None:
            self._back.transport.sendto(data)
        elif self._client is not None and self._front is not None \
                and self._front.transport is not None:
            self._front.transport.sendto(data, self._client)

    def close(self) -> None:
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()
