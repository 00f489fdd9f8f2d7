"""Both ends of a NATS-bridged tunnel in one process: the in-process stream rate.

Two meshes, the bridge's two pumps on one asyncio loop, a host writer and a
host reader as threads: what ``durable_rate`` compares a durable tunnel
with. The ``bridge`` workload's rows put each end in a process of its own
instead (``bridge_bench``), as two nodes are. The bridged rings at 64 B have
32768 slots (a cross-machine tunnel's window, docs/bridge.md); at 4 KiB 1024.
"""

from __future__ import annotations

import asyncio
import time
from array import array

from ..bridge.nats import NatsLink, NatsOptions, connect
from ..bridge.pump import ReceivePump, SendPump
from ..errors import BenchError, TunnelClosed
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.endpoint import TunnelReader, TunnelWriter
from ..ring.packed import Packed
from ..ring.peek import PeekingReader

BATCH = 1024
# the throughput rows' ring slots by message size: a window of 1-4 MiB, as a cross-machine
# tunnel would have (docs/bridge.md: credit is the far ring's room), within the 8 MiB inbox
STREAM_SLOTS = {64: 32768, 4096: 1024}


class _Bridged:
    """Two meshes with tunnel ``name`` bridged over NATS (a to b)."""

    def __init__(self, a: Mesh, b: Mesh, name: str, size: int, slots: int = 1024) -> None:
        for m in (a, b):
            m.tunnel(name, slots=slots, max_payload=size)
        t = a.tunnels[name]
        t.take(Direction.READ, "<bridge>")
        self.name, self.peek, self.inlet = name, PeekingReader(t.ring, t.control), b.writer(name)

    async def pumps(self, url: str, mesh: str) -> list[asyncio.Task[None]]:
        na, nb = await connect(NatsOptions(url)), await connect(NatsOptions(url))
        self.conns = (na, nb)
        send = await NatsLink.sender(na, mesh, self.name)
        recv = await NatsLink.receiver(nb, mesh, self.name)
        return [asyncio.create_task(SendPump(self.peek, send, self.name, b"b").run()),
                asyncio.create_task(ReceivePump(self.inlet, recv, self.name, b"b").run())]

    async def close(self) -> None:
        for nc in self.conns:
            await nc.close()


def _produce(w: TunnelWriter, n: int, size: int) -> None:
    for start in range(0, n, BATCH):
        k = min(BATCH, n - start)
        buf = bytearray(k * size)
        memoryview(buf).cast("B")[: 8 * k] = array("Q", range(start, start + k)).tobytes()
        w.send_many(Packed.fixed(bytes(buf), size), timeout=60)
    w.close()


def _consume(r: TunnelReader, n: int) -> None:
    got = 0
    while True:
        try:
            got += len(r.recv_packed(timeout=60))
        except TunnelClosed:
            break
    if got != n:
        raise BenchError(f"the bridge delivered {got} of {n} messages")


async def bridge_rate(url: str, n: int, size: int) -> float:
    """Delivered msgs/s from a writer on one mesh to a reader on another, in this process."""
    a, b = Mesh(), Mesh()
    try:
        link = _Bridged(a, b, "t", size, STREAM_SLOTS.get(size, 1024))
        reader, writer = b.reader("t"), a.writer("t")
        tasks = await link.pumps(url, f"bench{size}")
        t0 = time.perf_counter()
        await asyncio.gather(asyncio.to_thread(_produce, writer, n, size),
                             asyncio.to_thread(_consume, reader, n))
        rate = n / (time.perf_counter() - t0)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await link.close()
        return rate
    finally:
        for m in (a, b):
            m.stop()
            m.close()
