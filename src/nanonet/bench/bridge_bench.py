"""Bench rows of the bridges (NATS, QUIC, WebSocket) against raw nats-py and ZeroMQ, one run.

Every row is cross-node: this process is the near end (in the near
network namespace when ``netpair`` could make two, else on loopback, and
each row's ``placement`` says which), every far end a process of its own
on the far side (``bridge_far``), the nats-server on the near side.

Throughput, 64 B and 4 KiB: a host writer on the near mesh streams to a
host reader on the far mesh through the bridge's own pumps (the near
writer hands batches of records in one buffer, as ``host_async.Records``),
against nats-py publishing one NATS message per message and ZeroMQ
PUSH/PULL over TCP; the far end checks every sequence number and the row
reports what was lost and what came out of order. The 64 B rings have 32768
slots: credit is the far ring's room, the window a user gives a
cross-machine tunnel (docs/bridge.md); at 4 KiB 1024 slots hold 4 MiB.

Round trip, 64 B and 4 KiB: one message out and its echo back through two
bridged tunnels (``req``, ``rep``), one at a time, against nats-py
request/reply and ZeroMQ REQ/REP; p50 and p99. The client and the far echo
are threads beside the pumps' asyncio loop, as a node's host ends are.
"""

from __future__ import annotations

import asyncio
import time
from array import array
from collections.abc import Callable
from typing import Any

from ..bridge.natsd import NatsServer
from ..mesh import Mesh
from ..ring.endpoint import TunnelReader, TunnelWriter
from ..ring.packed import Packed
from . import bridge_raw
from .bridge_check import (
    FarEnds,
    Figures,
    cpu_seconds,
    port_of,
    result_of,
    rtt_figures,
    stream_figures,
)
from .bridge_links import RTT_SLOTS, STREAM_SLOTS, Ends, dial
from .netpair import Placement
from .pace import message, seq_of

BATCH = 1024
STREAM_TIMEOUT = 240.0  # seconds a stream may take: QUIC's 4 KiB one on a loaded machine
# result key -> peer -> the far end's kind
PEERS = {"nanonet": "nats", "nanonet-quic": "quic", "nanonet-ws": "websocket",
         "nats": "nats-py", "zmq-tcp": "zmq"}
SIZES = (64, 4096)
STREAM_KEYS = {64: "bridge_64", 4096: "bridge_4096"}
RTT_KEYS = {64: "bridge_rtt", 4096: "bridge_rtt_4096"}
COUNTS = {True: {64: 20_000, 4096: 2_000, "rtt": 200},
          False: {64: 400_000, 4096: 40_000, "rtt": 2_000}}


def _produce(w: TunnelWriter, n: int, size: int) -> None:
    """``n`` records numbered from 0, ``BATCH`` of them in one buffer per call
    (``host_async.Records``' way: no object per message), then the close."""
    for start in range(0, n, BATCH):
        k = min(BATCH, n - start)
        buf = array("q", bytes(k * size))
        buf[0:: size // 8] = array("q", range(start, start + k))
        w.send_many(Packed.fixed(memoryview(buf).cast("B"), size), timeout=60)
    w.close()


async def _bridge_stream(far_ends: FarEnds, kind: str, n: int, size: int) -> Figures:
    place, url = far_ends.place, far_ends.url
    with far_ends.job(kind, "sink", size) as far, Mesh() as mesh:
        mesh.tunnel("t", slots=STREAM_SLOTS.get(size, 1024), max_payload=size)
        links = await dial(kind, ["t"], url, place.far_addr, port_of(far))
        ends = Ends(mesh, kind, {"t"})
        ends.start("t", links["t"])
        await ends.opened(["t"])
        t0, cpu0 = time.perf_counter(), cpu_seconds()
        await asyncio.gather(asyncio.to_thread(_produce, mesh.writer("t"), n, size),
                             ends.finished(STREAM_TIMEOUT))
        cpu = cpu_seconds() - cpu0
        got = await asyncio.to_thread(result_of, far)
        await links.close()
    return stream_figures(n, t0, cpu, got, place)


def _client(w: TunnelWriter, r: TunnelReader, rounds: int, size: int) -> tuple[list[int], int]:
    times, errors = [], 0
    for i in range(-bridge_raw.WARMUP, rounds):
        t0 = time.perf_counter_ns()
        w.send(message(i, size), timeout=10)
        back = r.recv(timeout=10)
        if i >= 0:
            times.append(time.perf_counter_ns() - t0)
            errors += seq_of(back) != i
    w.close()
    return times, errors


async def _bridge_rtt(far_ends: FarEnds, kind: str, rounds: int, size: int) -> Figures:
    place, url = far_ends.place, far_ends.url
    with far_ends.job(kind, "echo", size) as far, Mesh() as mesh:
        for name in ("req", "rep"):
            mesh.tunnel(name, slots=RTT_SLOTS, max_payload=size)
        links = await dial(kind, ["req", "rep"], url, place.far_addr, port_of(far))
        ends = Ends(mesh, kind, {"req"})
        for name in ("req", "rep"):
            ends.start(name, links[name])
        await ends.opened(["req", "rep"])
        times, errors = await asyncio.to_thread(_client, mesh.writer("req"), mesh.reader("rep"),
                                                rounds, size)
        await ends.finished()
        await asyncio.to_thread(result_of, far)
        await links.close()
    return rtt_figures(times, errors, place)


async def _raw_stream(far_ends: FarEnds, kind: str, n: int, size: int) -> Figures:
    place, url = far_ends.place, far_ends.url
    with far_ends.job(kind, "sink", size) as far:
        cpu0 = cpu_seconds()
        if kind == "nats-py":
            t0 = await bridge_raw.nats_stream(url, n, size)
        else:
            t0 = await asyncio.to_thread(bridge_raw.zmq_stream, place.far_addr, port_of(far),
                                         n, size)
        cpu = cpu_seconds() - cpu0
        got = await asyncio.to_thread(result_of, far)
    return stream_figures(n, t0, cpu, got, place)


async def _raw_rtt(far_ends: FarEnds, kind: str, rounds: int, size: int) -> Figures:
    place, url = far_ends.place, far_ends.url
    with far_ends.job(kind, "echo", size) as far:
        if kind == "nats-py":
            times, errors = await bridge_raw.nats_rtt(url, rounds, size)
        else:
            times, errors = await asyncio.to_thread(bridge_raw.zmq_rtt, place.far_addr,
                                                    port_of(far), rounds, size)
        await asyncio.to_thread(result_of, far)
    return rtt_figures(times, errors, place)


Measure = Callable[[FarEnds, str, int, int], Any]


async def _one(measure: Measure, far: FarEnds, kind: str, n: int, size: int) -> Figures:
    """One row's figures, or why it failed (the other rows go on)."""
    try:
        out: Figures = await asyncio.wait_for(measure(far, kind, n, size), 300)
        return out
    except Exception as err:  # recorded in the row: one broken peer hides no other
        return {"error": f"{type(err).__name__}: {err}"}


async def _rows(far: FarEnds, quick: bool, peers: list[str]) -> dict[str, Any]:
    counts = COUNTS[quick]
    rows: dict[str, dict[str, Figures]] = {key: {} for key in (*STREAM_KEYS.values(),
                                                               *RTT_KEYS.values())}
    for peer in peers:  # a peer's rows one after the other, on one far process
        kind = PEERS[peer]
        bridged = kind in ("nats", "quic", "websocket")
        stream, rtt = (_bridge_stream, _bridge_rtt) if bridged else (_raw_stream, _raw_rtt)
        for size in SIZES:
            rows[STREAM_KEYS[size]][peer] = await _one(stream, far, kind, counts[size], size)
            rows[RTT_KEYS[size]][peer] = await _one(rtt, far, kind, counts["rtt"], size)
    return rows


def bridge_rows(quick: bool, place: Placement, peers: list[str]) -> dict[str, Any]:
    """Every row of ``peers``, on a nats-server started here (the near side)."""
    with NatsServer(host=place.near_addr) as server, FarEnds(place, server.url) as far:
        return asyncio.run(_rows(far, quick, peers))
