"""Two meshes joined by a bridge over one transport, and a stream through
them with every sequence number checked (for tests/test_bridge_*.py)."""

from __future__ import annotations

import asyncio
import random
import threading
from array import array
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from nanonet import Mesh
from nanonet.bridge.inbox import Inbox
from nanonet.bridge.nats import NatsLink, NatsOptions, connect
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.bridge.session import Timing
from nanonet.errors import TunnelClosed
from nanonet.ring.adapter import Direction
from nanonet.ring.endpoint import TunnelReader, TunnelWriter
from nanonet.ring.packed import Packed
from nanonet.ring.peek import PeekingReader

TIMING = Timing(hello_every=0.1, heartbeat=0.3, dead_after=1.5, resend_after=0.3)
WATCHDOG = 300.0  # seconds any one stream may take before the test fails


class MemLink:
    """An in-process link; ``drop`` loses that share of wire messages."""

    def __init__(self, drop: float = 0.0) -> None:
        self.inbox = Inbox()
        self.peer: MemLink | None = None
        self.drop, self.rng = drop, random.Random(7)

    async def send(self, data: bytes) -> None:
        assert self.peer is not None
        if self.rng.random() >= self.drop:
            self.peer.inbox.put(data)

    async def close(self) -> None:
        pass


def mem_pair(drop: float = 0.0) -> tuple[MemLink, MemLink]:
    a, b = MemLink(drop), MemLink(drop)
    a.peer, b.peer = b, a
    return a, b


@dataclass
class Nodes:
    """Mesh ``a`` holds the tunnel's writer, mesh ``b`` its reader."""

    a: Mesh
    b: Mesh
    writer: TunnelWriter  # the producer's end, on a
    reader: TunnelReader  # the consumer's end, on b
    inlet: TunnelWriter  # the bridge's end on b
    got: list[int] = field(default_factory=lambda: [0])  # messages checked so far
    pumps: dict[str, Any] = field(default_factory=dict)  # the last stream's first pumps

    def peeker(self) -> PeekingReader:
        """A (new) bridge read end on a: a restarted bridge gets a fresh one."""
        t = self.a.tunnels["t"]
        return PeekingReader(t.ring, t.control)


def nodes(slots: int = 1024, max_payload: int = 64) -> Nodes:
    a, b = Mesh(), Mesh()
    a.tunnel("t", slots=slots, max_payload=max_payload)
    b.tunnel("t", slots=slots, max_payload=max_payload)
    writer = a.writer("t")
    a.tunnels["t"].take(Direction.READ, "<bridge>")
    return Nodes(a, b, writer, b.reader("t"), b.writer("t"))


def _seqs(start: int, stop: int, size: int) -> array[int]:
    """Messages start..stop-1 end to end: each its number, ``size // 8`` times."""
    pad = size // 8
    if pad == 1:
        return array("Q", range(start, stop))
    return array("Q", [s for s in range(start, stop) for _ in range(pad)])


def produce(w: TunnelWriter, n: int, size: int = 8, batch: int = 1024) -> None:
    """Messages 0..n-1: each its sequence number (u64), padded to ``size``."""
    for start in range(0, n, batch):
        seqs = _seqs(start, min(n, start + batch), size)
        w.send_many(Packed.fixed(seqs, size), timeout=WATCHDOG)
    w.close()


def consume(r: TunnelReader, n: int, got: list[int], size: int = 8,
            gate: threading.Event | None = None) -> None:
    """Check every message is the next sequence number; fail on any other.
    With a ``gate``, read nothing until it opens (a stalled far reader)."""
    pad = size // 8
    if gate is not None and not gate.wait(WATCHDOG):
        raise AssertionError("the gate never opened")
    while True:
        try:
            p = r.recv_packed(timeout=WATCHDOG)
        except TunnelClosed:
            break
        k = len(p)
        want = _seqs(got[0], got[0] + k, size)
        if p.data.tobytes() != want.tobytes():
            seen = array("Q", p.data.tobytes())[::pad]
            bad = next(i for i in range(k) if seen[i] != got[0] + i)
            raise AssertionError(f"message {got[0] + bad} arrived as {seen[bad]}")
        got[0] += k
    assert got[0] == n, f"{got[0]} of {n} messages arrived"


Links = Callable[[], Any]  # async () -> (sender link, receiver link)


@asynccontextmanager
async def nats_links(url: str, nats_token: str | None = None
                     ) -> AsyncIterator[Callable[[], Any]]:
    """``make()`` -> a sender and a receiver link, each on its own connection."""
    conns: list[Any] = []
    made: list[NatsLink] = []

    async def make() -> tuple[NatsLink, NatsLink]:
        na = await connect(NatsOptions(url, token=nats_token))
        nb = await connect(NatsOptions(url, token=nats_token))
        conns.extend([na, nb])
        pair = await NatsLink.sender(na, "m", "t"), await NatsLink.receiver(nb, "m", "t")
        made.extend(pair)
        return pair

    try:
        yield make
    finally:
        for link in made:
            await link.close()
        for nc in conns:
            await nc.close()


async def stream(n: Nodes, count: int, send_link: Any, recv_link: Any, size: int = 8,
                 token: bytes = b"k", during: Callable[..., Any] | None = None,
                 gate: threading.Event | None = None) -> None:
    """``count`` messages from a to b through the bridge; ``during(nodes,
    tasks)`` runs beside it (to restart something mid-stream)."""
    n.pumps = {"send": SendPump(n.peeker(), send_link, "t", token, TIMING),
               "receive": ReceivePump(n.inlet, recv_link, "t", token, TIMING, linger=0.5)}
    tasks = {side: asyncio.create_task(p.run()) for side, p in n.pumps.items()}
    ends = asyncio.gather(asyncio.to_thread(produce, n.writer, count, size),
                          asyncio.to_thread(consume, n.reader, count, n.got, size, gate))
    extra = asyncio.create_task(during(n, tasks)) if during else None
    try:
        try:
            await asyncio.wait_for(ends, WATCHDOG)
        except TimeoutError:
            raise AssertionError(f"the stream stalled at {n.got[0]} of {count}: "
                                 f"{_states(tasks)}") from None
        await asyncio.wait_for(asyncio.gather(*tasks.values()), WATCHDOG)
        if extra:
            await extra
    finally:
        for t in [*tasks.values(), *([extra] if extra else [])]:
            t.cancel()
        n.writer.close()
        n.reader.close()


def _states(tasks: dict[str, asyncio.Task[None]]) -> str:
    """What each pump task is doing (for a stalled stream's failure)."""
    out = []
    for side, t in tasks.items():
        if not t.done():
            out.append(f"{side} running")
        elif t.cancelled():
            out.append(f"{side} cancelled")
        else:
            out.append(f"{side} ended with {t.exception()!r}")
    return "; ".join(out)


def wait_for_progress(n: Nodes, at: int) -> Any:
    async def until() -> None:
        while n.got[0] < at:
            await asyncio.sleep(0.005)
    return until()


def close_nodes(n: Nodes) -> None:
    for m in (n.a, n.b):
        m.stop()
        m.close()

