"""A durable tunnel's stream rate against the plain NATS bridge, one run.

``python -m nanonet.bench.durable_rate [COUNT]`` streams COUNT messages of
64 B (and COUNT / 10 of 4 KiB) from a host writer on one mesh to a host
reader on another, first through the NATS bridge (``bridge_inproc``'s
measurement), then through a durable tunnel (a JetStream stream on the same
nats-server, file storage), and prints both rates and their ratio. Not yet
a ``nanonet bench`` row: it has no ``--json`` key or target.
"""

from __future__ import annotations

import asyncio
import sys
import time

from ..bridge.durable import DurableSendPump
from ..bridge.durable_receive import DurableReceivePump
from ..bridge.nats import NatsOptions, connect
from ..bridge.natsd import NatsServer
from ..mesh import Mesh
from .bridge_inproc import _Bridged, _consume, _produce, bridge_rate


async def durable_rate(url: str, n: int, size: int) -> float:
    """Messages per second through a durable tunnel, every one delivered."""
    a, b = Mesh(), Mesh()
    try:
        link = _Bridged(a, b, "t", size)
        reader, writer = b.reader("t"), a.writer("t")
        na, nb = await connect(NatsOptions(url)), await connect(NatsOptions(url))
        tunnel = f"t{size}"
        tasks = [asyncio.create_task(DurableSendPump(na, link.peek, "bench",
                                                     tunnel, b"b").run()),
                 asyncio.create_task(DurableReceivePump(nb, link.inlet, "bench",
                                                        tunnel, b"b").run())]
        t0 = time.perf_counter()
        await asyncio.gather(asyncio.to_thread(_produce, writer, n, size),
                             asyncio.to_thread(_consume, reader, n))
        rate = n / (time.perf_counter() - t0)
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        for nc in (na, nb):
            await nc.close()
        return rate
    finally:
        for m in (a, b):
            m.stop()
            m.close()


async def lines(count: int) -> list[str]:
    out = []
    with NatsServer(jetstream=True) as server:
        for size in (64, 4096):
            n = count if size == 64 else count // 10
            plain = await bridge_rate(server.url, n, size)
            durable = await durable_rate(server.url, n, size)
            out.append(f"{size} B x {n:,}: nats bridge {plain:,.0f} msgs/s, durable "
                       f"{durable:,.0f} msgs/s, durable / nats {durable / plain:.2f}")
    return out


if __name__ == "__main__":
    print("\n".join(asyncio.run(lines(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000))))
