"""A tunnel that opts into loss, bridged by real aioquic over loopback: its
batches go as QUIC datagrams. Numbered messages arrive in order and once,
and delivered + missed == sent; through a UDP relay that loses packets some
are missed, counted exactly, while a stream tunnel on the same connection
loses nothing; over WebSocket the same tunnel is carried reliably."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bridge_ends import TIMING, WATCHDOG, consume, produce
from nanonet import Mesh
from nanonet.bridge.natsd import free_port
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.bridge.quic import QuicDialer, QuicLink, QuicListener, make_certificate
from nanonet.bridge.ws import WsListener, dial_ws
from nanonet.errors import TunnelClosed
from nanonet.ring.adapter import Direction
from nanonet.ring.endpoint import TunnelReader
from nanonet.ring.peek import PeekingReader
from udp_relay import UdpRelay

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("ethernet_sized_quic")]
COUNT = 20_000
NAMES = ("lossy", "sure")


def _udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Got:
    """What the lossy tunnel's reader took: how many, and that it was in order."""

    count: int = 0
    last: int = -1


def consume_lossy(r: TunnelReader, got: Got) -> None:
    """Every message a sequence number above the one before it: in order, once."""
    while True:
        try:
            p = r.recv_packed(timeout=WATCHDOG)
        except TunnelClosed:
            return
        seqs = array("Q", p.data.tobytes())
        for s in seqs:
            assert s > got.last, f"message {s} after {got.last}: out of order or twice"
            got.last = s
        got.count += len(seqs)


class Pair:
    """Meshes ``a`` (the writers) and ``b`` (the readers) of both tunnels."""

    def __init__(self) -> None:
        self.a, self.b = Mesh(), Mesh()
        for m in (self.a, self.b):
            for name in NAMES:
                m.tunnel(name, slots=1024, max_payload=64)
        self.writers = {n: self.a.writer(n) for n in NAMES}
        for n in NAMES:
            self.a.tunnels[n].take(Direction.READ, "<bridge>")
        self.readers = {n: self.b.reader(n) for n in NAMES}
        self.inlets = {n: self.b.writer(n) for n in NAMES}

    def peeker(self, name: str) -> PeekingReader:
        t = self.a.tunnels[name]
        return PeekingReader(t.ring, t.control)

    def close(self) -> None:
        for m in (self.a, self.b):
            m.stop()
            m.close()


@pytest.fixture
def pair() -> Any:
    p = Pair()
    yield p
    p.close()


@asynccontextmanager
async def quic_links(folder: Path, drop: float = 0.0, delay: float = 0.0,
                     jitter: float = 0.0,
                     duplicate: float = 0.0) -> AsyncIterator[dict[str, Any]]:
    """Both tunnels' (send, receive) links on one QUIC connection, through a
    relay that loses ``drop`` of the packets each way, delays them by
    ``delay`` plus up to ``jitter`` and sends ``duplicate`` of them twice,
    if any of these is asked."""
    cert, key = make_certificate(folder)
    accepted: dict[str, Any] = {}
    ready = asyncio.Event()

    def accept(name: str, link: Any) -> None:
        accepted[name] = link
        if len(accepted) == len(NAMES):
            ready.set()
    port = _udp_port()
    listener = await QuicListener("127.0.0.1", port, cert, key, accept).start()
    harmed = drop or delay or jitter or duplicate
    relay = await UdpRelay(("127.0.0.1", port), drop, delay=delay, jitter=jitter,
                           duplicate=duplicate).start() if harmed else None
    dialer = await QuicDialer("127.0.0.1", relay.port if relay else port, cert).start()
    try:
        sends = {n: dialer.open(n) for n in NAMES}
        await asyncio.wait_for(ready.wait(), 20)
        yield {n: (sends[n], accepted[n]) for n in NAMES} | {"relay": relay}
    finally:
        await dialer.close()
        listener.close()
        if relay is not None:
            relay.close()


async def _run(p: Pair, links: dict[str, Any], count: int = COUNT) -> tuple[Got, Any]:
    """Both tunnels, ``count`` messages each, side by side; the lossy reader's
    take and the lossy tunnel's (sending, receiving) pumps."""
    pumps: list[Any] = []
    for n in NAMES:
        send, recv = links[n]
        lossy = n == "lossy"
        pumps += [SendPump(p.peeker(n), send, n, b"k", TIMING, datagrams=lossy),
                  ReceivePump(p.inlets[n], recv, n, b"k", TIMING, linger=0.5, datagrams=lossy)]
    got, sure = Got(), [0]
    tasks = [asyncio.create_task(x.run()) for x in pumps]
    ends = asyncio.gather(
        *(asyncio.to_thread(produce, p.writers[n], count) for n in NAMES),
        asyncio.to_thread(consume_lossy, p.readers["lossy"], got),
        asyncio.to_thread(consume, p.readers["sure"], count, sure))
    try:
        await asyncio.wait_for(ends, WATCHDOG)
        await asyncio.wait_for(asyncio.gather(*tasks), WATCHDOG)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert sure == [count]  # the stream tunnel: every message, in order (consume checks)
    return got, (pumps[0], pumps[1])


def test_a_lossy_tunnel_goes_as_datagrams_and_every_message_is_accounted(
        pair: Pair, tmp_path: Path) -> None:
    async def go() -> tuple[Got, Any, Any]:
        async with quic_links(tmp_path) as links:
            assert isinstance(links["lossy"][0], QuicLink)
            got, (_, recv) = await _run(pair, links)
            return got, recv, links["lossy"][0]
    got, recv, send_link = asyncio.run(go())
    assert send_link.datagram_room > 0
    stats = recv.stats()
    print(f"loopback: delivered {got.count}, missed {stats.missed} of {COUNT}")
    assert stats.delivery == "datagram" and stats.transport == "quic"
    assert got.count + stats.missed == COUNT
    assert got.last == COUNT - 1 or stats.missed > 0


def test_a_lossy_relay_makes_gaps_counted_exactly_and_the_stream_loses_nothing(
        pair: Pair, tmp_path: Path) -> None:
    async def go() -> tuple[Got, Any, UdpRelay]:
        async with quic_links(tmp_path, drop=0.03) as links:
            got, pumps = await _run(pair, links)
            return got, pumps, links["relay"]
    got, (send, recv), relay = asyncio.run(go())
    missed = recv.stats().missed
    print(f"relay dropped {relay.dropped} of {relay.dropped + relay.passed} packets: "
          f"delivered {got.count}, missed {missed} of {COUNT}")
    assert relay.dropped > 0 and missed > 0
    assert got.count + missed == COUNT
    assert send.stats().retransmits == 0 and send.stats().missed == 0  # given up, never resent


def test_datagrams_a_relay_reorders_wait_for_each_other_instead_of_being_missed(
        pair: Pair, tmp_path: Path) -> None:
    """No loss, but each packet 2 ms plus 0 to 4 ms late (so they overtake
    each other) and 1 % sent twice: the receiver's reorder window puts them
    back in order, and a second copy is dropped, not delivered. Without the
    window a quarter of the messages were missed this way."""
    async def go() -> tuple[Got, Any, UdpRelay]:
        async with quic_links(tmp_path, delay=0.002, jitter=0.004, duplicate=0.01) as links:
            got, pumps = await _run(pair, links)
            return got, pumps, links["relay"]
    got, (_, recv), relay = asyncio.run(go())
    stats = recv.stats()
    print(f"relay passed {relay.passed}, reordered {relay.reordered}, duplicated "
          f"{relay.duplicated}: delivered {got.count}, missed {stats.missed} of {COUNT}, "
          f"duplicates dropped {stats.duplicates}")
    assert relay.reordered > 0 and relay.duplicated > 0
    assert got.count + stats.missed == COUNT
    assert stats.missed <= COUNT // 10


def test_over_websocket_a_lossy_tunnel_is_carried_reliably(pair: Pair) -> None:
    async def go() -> tuple[Got, Any]:
        accepted: dict[str, Any] = {}
        port = free_port()
        listener = await WsListener("127.0.0.1", port,
                                    lambda name, link: accepted.__setitem__(name, link)).start()
        tasks = []
        try:
            links: dict[str, Any] = {}
            for n in NAMES:
                send, task = await dial_ws("127.0.0.1", port, n)
                tasks.append(task)
                for _ in range(2000):
                    if n in accepted:
                        break
                    await asyncio.sleep(0.005)
                links[n] = (send, accepted[n])
            return await _run(pair, links)
        finally:
            for t in tasks:
                t.cancel()
            listener.close()
    got, (_, recv) = asyncio.run(go())
    stats = recv.stats()
    assert stats.delivery == "stream" and stats.missed == 0
    assert got.count == COUNT and got.last == COUNT - 1

