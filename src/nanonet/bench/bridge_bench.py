"""Bench rows of the NATS bridge against raw nats-py, measured in the same run.

Throughput: a stream of messages (64 B, 4 KiB) from a host writer on one
mesh to a host reader on another, through the bridge over a local
nats-server, every sequence number checked (loss 0 or the row fails);
against nats-py publishing the same messages one NATS message each to a
subscriber on a second connection. The bridged rings at 64 B have 32768
slots: credit is the far ring's room, and that is the window a user gives
a cross-machine tunnel (docs/bridge.md); at 4 KiB 1024 slots already hold
4 MiB. Round trip: one message out and its echo
back through two bridged tunnels, against nats-py request/reply. Each row
is ``{"nanonet ...": x, "nats-py ...": y, "ratio": x / y}``.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from array import array
from typing import Any

from ..bridge.nats import NatsLink, NatsOptions, connect
from ..bridge.natsd import NatsServer
from ..bridge.pump import ReceivePump, SendPump
from ..errors import BenchError, TunnelClosed
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.endpoint import TunnelReader, TunnelWriter
from ..ring.packed import Packed
from ..ring.peek import PeekingReader

Row = dict[str, float]
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


async def _bridge_rate(url: str, n: int, size: int) -> float:
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


async def _nats_rate(url: str, n: int, size: int) -> float:
    pub, sub = await connect(NatsOptions(url)), await connect(NatsOptions(url))
    done, got = asyncio.Event(), [0]

    async def arrived(msg: Any) -> None:
        got[0] += 1
        if got[0] == n:
            done.set()
    await sub.subscribe("raw.rate", cb=arrived, pending_msgs_limit=-1, pending_bytes_limit=-1)
    await sub.flush()
    data = bytes(size)
    t0 = time.perf_counter()
    for _ in range(n):
        await pub.publish("raw.rate", data)
    await pub.flush()
    try:
        await asyncio.wait_for(done.wait(), 60)
    except TimeoutError:
        raise BenchError(f"nats-py delivered {got[0]} of {n} messages (a slow consumer)") from None
    rate = n / (time.perf_counter() - t0)
    await pub.close()
    await sub.close()
    return rate


def _echo(r: TunnelReader, w: TunnelWriter, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            w.send(r.recv(timeout=0.2))
        except TimeoutError:
            continue
        except TunnelClosed:
            return


async def _bridge_rtt(url: str, n: int) -> float:
    a, b = Mesh(), Mesh()
    stop = threading.Event()
    try:
        out, back = _Bridged(a, b, "req", 64), _Bridged(b, a, "rep", 64)
        tasks = await out.pumps(url, "rtt") + await back.pumps(url, "rtt")
        client_w, client_r = a.writer("req"), a.reader("rep")
        echo = asyncio.to_thread(_echo, b.reader("req"), b.writer("rep"), stop)
        echo_task = asyncio.ensure_future(echo)

        def client() -> list[float]:
            out_ns = []
            for i in range(n):
                t0 = time.perf_counter_ns()
                client_w.send(i.to_bytes(8, "little"))
                client_r.recv(timeout=10)
                out_ns.append((time.perf_counter_ns() - t0) / 1000)
            return out_ns
        times = await asyncio.to_thread(client)
        stop.set()
        await echo_task
        for t in tasks:
            t.cancel()
        await out.close()
        await back.close()
        return statistics.median(times)
    finally:
        for m in (a, b):
            m.stop()
            m.close()


async def _nats_rtt(url: str, n: int) -> float:
    server, client = await connect(NatsOptions(url)), await connect(NatsOptions(url))

    async def answer(msg: Any) -> None:
        await msg.respond(msg.data)
    await server.subscribe("raw.rtt", cb=answer)
    await server.flush()
    for _ in range(50):  # until the server routes to the responder (it may lag the flush)
        try:
            await client.request("raw.rtt", b"warm", timeout=1)
            break
        except Exception:  # nats-py's NoRespondersError or its timeout: ask again
            await asyncio.sleep(0.02)
    times = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        await client.request("raw.rtt", i.to_bytes(8, "little"), timeout=10)
        times.append((time.perf_counter_ns() - t0) / 1000)
    await server.close()
    await client.close()
    return statistics.median(times)


def _row(ours: float, theirs: float, unit: str) -> Row:
    return {f"nanonet {unit}": ours, f"nats-py {unit}": theirs, "ratio": ours / theirs}


async def _rows(url: str, quick: bool) -> dict[str, Row]:
    scale = 1 if quick else 4
    rows: dict[str, Row] = {}
    for size, n in ((64, 50_000 * scale), (4096, 5_000 * scale)):
        ours, theirs = await _bridge_rate(url, n, size), await _nats_rate(url, n, size)
        rows[f"bridge nats {size} B"] = {**_row(ours, theirs, "msgs/s"), "loss": 0.0}
    rtt = 300 * scale
    rows["bridge nats round trip"] = _row(await _bridge_rtt(url, rtt), await _nats_rtt(url, rtt),
                                          "us p50")
    return rows


def bridge_rows(quick: bool) -> dict[str, dict[str, float]]:
    """The bridge's rows against raw nats-py, on a nats-server started here."""
    with NatsServer() as server:
        return asyncio.run(_rows(server.url, quick))
