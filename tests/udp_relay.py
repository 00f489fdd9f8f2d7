"""A UDP relay (on 127.0.0.1 unless told) that loses, delays, reorders and
duplicates packets: one client's datagrams to a server and back, each dropped
with probability ``drop`` (a seeded random, both ways) once ``spare`` packets
have passed unharmed (the QUIC handshake), each passed ``delay`` later plus a
random part of ``jitter`` (so that later packets overtake earlier ones), and
each sent twice with probability ``duplicate``. For tests of
what a lossy network does to a QUIC bridge; run as a program (``python
tests/udp_relay.py``) it sits in a namespace between two others, since this
kernel has no netem qdisc to do the same."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
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

    def __init__(self, server: Addr, drop: float, seed: int = 7, spare: int = 40,
                 host: str = "127.0.0.1", delay: float = 0.0, jitter: float = 0.0,
                 duplicate: float = 0.0) -> None:
        self.server, self.drop, self.spare = server, drop, spare
        self.host, self.delay, self.jitter, self.duplicate = host, delay, jitter, duplicate
        self.rng = random.Random(seed)
        self.passed = self.dropped = self.reordered = self.duplicated = 0
        self.largest = [0, 0]  # the longest datagram seen each way (to the server, back)
        self._arrived = [0, 0]  # datagrams taken each way (to the server, back)
        self._latest = [-1, -1]  # the latest arrival sent on each way so far
        self.port = 0
        self._client: Addr | None = None
        self._front: _Side | None = None
        self._back: _Side | None = None

    async def start(self) -> UdpRelay:
        loop = asyncio.get_running_loop()
        _, self._front = await loop.create_datagram_endpoint(
            lambda: _Side(self, True), local_addr=(self.host, 0))
        _, self._back = await loop.create_datagram_endpoint(
            lambda: _Side(self, False), remote_addr=self.server)
        assert self._front.transport is not None
        self.port = int(self._front.transport.get_extra_info("sockname")[1])
        return self

    def forward(self, data: bytes, addr: Addr, from_client: bool) -> None:
        if from_client:
            self._client = addr
        way = 0 if from_client else 1
        self.largest[way] = max(self.largest[way], len(data))
        if self.passed >= self.spare and self.rng.random() < self.drop:
            self.dropped += 1
            return
        self.passed += 1
        index = self._arrived[way]
        self._arrived[way] += 1
        harm = self.passed > self.spare  # the handshake's packets pass unharmed
        # no draw for a harm not asked for, so loss alone keeps its seeded sequence
        copies = 2 if harm and self.duplicate > 0 and self.rng.random() < self.duplicate else 1
        self.duplicated += copies - 1
        for _ in range(copies):
            late = self.delay + (self.rng.random() * self.jitter if harm and self.jitter
                                 else 0.0)
            if late > 0:
                asyncio.get_running_loop().call_later(late, self._pass, data, from_client, index)
            else:
                self._pass(data, from_client, index)

    def _pass(self, data: bytes, from_client: bool, index: int) -> None:
        """Send one datagram on; counted as reordered if a later one went first."""
        way = 0 if from_client else 1
        if index < self._latest[way]:
            self.reordered += 1
        self._latest[way] = max(self._latest[way], index)
        self._send(data, from_client)

    def _send(self, data: bytes, from_client: bool) -> None:
        if from_client and self._back is not None and self._back.transport is not None:
            self._back.transport.sendto(data)
        elif self._client is not None and self._front is not None \
                and self._front.transport is not None:
            self._front.transport.sendto(data, self._client)

    def close(self) -> None:
        for side in (self._front, self._back):
            if side is not None and side.transport is not None:
                side.transport.close()


async def _serve(args: argparse.Namespace) -> None:
    """Relay until SIGTERM or ``--seconds`` (bounded either way), then print
    the counts the test reads."""
    host, port = args.server.rsplit(":", 1)
    relay = await UdpRelay((host, int(port)), args.drop, host=args.host, delay=args.delay,
                           jitter=args.jitter, duplicate=args.duplicate).start()
    print(f"port {relay.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.seconds)
    relay.close()
    print(f"passed {relay.passed} dropped {relay.dropped} reordered {relay.reordered} "
          f"duplicated {relay.duplicated}", flush=True)


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description="a lossy, delaying, reordering UDP relay")
    cli.add_argument("--host", required=True, help="the address the client sends to")
    cli.add_argument("--server", required=True, metavar="HOST:PORT")
    cli.add_argument("--drop", type=float, default=0.025)
    cli.add_argument("--delay", type=float, default=0.002, help="seconds, each way")
    cli.add_argument("--jitter", type=float, default=0.0,
                     help="up to this many seconds more, at random per packet (reorders)")
    cli.add_argument("--duplicate", type=float, default=0.0,
                     help="probability that a packet is sent twice")
    cli.add_argument("--seconds", type=float, default=120.0, help="stop by itself after this")
    asyncio.run(_serve(cli.parse_args()))
