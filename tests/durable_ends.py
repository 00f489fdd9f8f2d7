"""The two ends of a durable tunnel for tests/test_bridge_durable.py, each
runnable as a process of its own that a test kills with SIGKILL:

``python tests/durable_ends.py read URL OUT`` builds a mesh holding the
tunnel's reader, bridges it from the JetStream stream, and appends every
message it reads (a u64 sequence number) to OUT before it takes it from the
ring: what OUT holds is what this reader saw, even after a kill.
``python tests/durable_ends.py write URL COUNT`` writes sequence numbers
0..COUNT-1, bridges them to the stream, and prints ``stored`` once the
stream holds them all (then waits to be killed).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from array import array

from nanonet import Mesh
from nanonet.bridge.durable import DurableSendPump
from nanonet.bridge.durable_receive import DurableReceivePump
from nanonet.bridge.nats import NatsOptions, connect
from nanonet.errors import TunnelClosed
from nanonet.ring.adapter import Direction
from nanonet.ring.packed import Packed
from nanonet.ring.peek import PeekingReader

MESH, TUNNEL, TOKEN = "m", "t", b"k"
SLOTS, MAX_PAYLOAD = 1024, 64
PARK_NS = 20_000_000


def mesh() -> Mesh:
    m = Mesh()
    m.tunnel(TUNNEL, slots=SLOTS, max_payload=MAX_PAYLOAD)
    return m


def record(r: PeekingReader, fd: int) -> None:
    """Append each message to ``fd``, then give its slot back: a kill never
    loses a message this reader took without recording it."""
    while True:
        try:
            first, p = r.peek_packed()
        except TunnelClosed:
            return
        if len(p):
            os.write(fd, p.data)
            r.commit_to(first + len(p))
        elif r.idle():
            r.park(PARK_NS)


async def read(url: str, out: str) -> None:
    m = mesh()
    t = m.tunnels[TUNNEL]
    t.take(Direction.READ, "recorder")
    nc = await connect(NatsOptions(url))
    pump = DurableReceivePump(nc, m.writer(TUNNEL), MESH, TUNNEL, TOKEN)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    task = asyncio.create_task(pump.run())
    await asyncio.to_thread(record, PeekingReader(t.ring, t.control), fd)
    await task  # every batch acked
    os.close(fd)
    await nc.close()
    print(f"duplicates dropped {pump.duplicates}", flush=True)


def produce(m: Mesh, count: int, close: bool) -> None:
    w = m.writer(TUNNEL)
    for start in range(0, count, 512):
        seqs = range(start, min(count, start + 512))
        w.send_many(Packed.fixed(array("Q", seqs), 8), timeout=60)
    if close:
        w.close()


async def write(url: str, count: int) -> None:
    """Write ``count`` messages, never close: say ``stored`` once the stream
    holds them all, then wait for the kill."""
    m = mesh()
    t = m.tunnels[TUNNEL]
    t.take(Direction.READ, "<bridge>")
    reader = PeekingReader(t.ring, t.control)
    nc = await connect(NatsOptions(url))
    task = asyncio.create_task(DurableSendPump(nc, reader, MESH, TUNNEL,
                                               TOKEN).run())
    await asyncio.to_thread(produce, m, count, False)
    while reader.committed < count:
        await asyncio.sleep(0.01)
    print("stored", flush=True)
    await asyncio.to_thread(threading.Event().wait)
    task.cancel()


if __name__ == "__main__":
    if sys.argv[1] == "read":
        asyncio.run(read(sys.argv[2], sys.argv[3]))
    else:
        asyncio.run(write(sys.argv[2], int(sys.argv[3])))
