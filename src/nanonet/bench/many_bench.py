"""Bench rows for waiting on many ends and for fan-in tunnels.

``fanin_row``: four Wasm producers write one fan-in tunnel (a sub-ring
each), one Wasm reader takes it as one handle in batches; the figure is the
aggregate rate, all messages counted by the reader in Wasm.

``waitany_row``: W1's pinger against an echo that waits on eight read ends
at once (``wait_any``), the pings arriving on the last of them; one-way =
round trip / 2, as W1. The plain W1 (pinger <-> echo on one end each) runs
beside it in the same function, so the two p50s compare within one run.
"""

from __future__ import annotations

import struct
import time

from ..errors import BenchError
from ..mesh import Mesh
from .measure import latency
from .wasm_runs import _exports, _finish, guest, w1_nanonet

FAN_WRITERS = 4
SIZE = 64
IDLE_ENDS = 7  # ends the waiter also waits on, which stay quiet


def fanin_row(quick: bool) -> dict[str, float]:
    """Aggregate msgs/s of 4 Wasm writers -> a fan-in tunnel -> 1 Wasm reader, 64 B."""
    per_writer = 50_000 if quick else 500_000
    writers = [f"p{i}" for i in range(FAN_WRITERS)]
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096, max_payload=SIZE, writers=writers)
        producers = [mesh.service(w, guest("producer.wat"), writes=["stream"]) for w in writers]
        sink = mesh.service("sink", guest("fan_sink.wat"), reads=["stream"])
        for prod in producers:
            _exports(prod)["configure"](prod.store, per_writer, SIZE)
        t0 = time.perf_counter()
        mesh.start()
        seconds = _finish(mesh, t0, sink, *producers)
        received = int(_exports(sink)["received"](sink.store))
    total = per_writer * FAN_WRITERS
    if received != total:
        raise BenchError(f"the fan-in reader counted {received} of {total} messages")
    return {"msgs_per_s": total / seconds, "messages": float(total), "seconds": seconds,
            "writers": float(FAN_WRITERS)}


def _waitany_rtts(rounds: int, warmup: int) -> list[int]:
    """Round trips of the pinger against the wait-any echo (ns)."""
    with Mesh() as mesh:
        for name in ("ping", "pong", *[f"idle{i}" for i in range(IDLE_ENDS)]):
            mesh.tunnel(name, slots=64, max_payload=SIZE)
        pinger = mesh.service("pinger", guest("pinger.wat"), writes=["ping"], reads=["pong"],
                              grants=["clock"])
        reads = [*[f"idle{i}" for i in range(IDLE_ENDS)], "ping"]  # the busy end scanned last
        echo = mesh.service("echo", guest("any_echo.wat"), reads=reads, writes=["pong"])
        _exports(echo)["configure"](echo.store, len(reads))
        ex = _exports(pinger)
        ex["configure"](pinger.store, rounds, SIZE, warmup)
        ex["pace"](pinger.store, 0)
        t0 = time.perf_counter()
        mesh.start()
        _finish(mesh, t0, pinger, echo)
        base = ex["rtt_base"](pinger.store)
        raw = pinger.linked.memory.read(pinger.store, base, base + 4 * rounds)
    return list(struct.unpack(f"<{rounds}I", raw))


def waitany_row(quick: bool) -> dict[str, float]:
    """Wake-up p50/p99 (one-way, ns) of a Wasm service waiting on 8 ends, and
    W1's one-way p50 measured beside it."""
    rounds, warmup = (5_000, 500) if quick else (50_000, 2_000)
    w1 = latency(w1_nanonet(rounds, SIZE, warmup)[1], halve=True)
    many = latency(_waitany_rtts(rounds, warmup), halve=True)
    return {"p50_ns": many["p50_ns"], "p99_ns": many["p99_ns"], "w1_p50_ns": w1["p50_ns"],
            "w1_p99_ns": w1["p99_ns"], "ends": float(IDLE_ENDS + 1), "rounds": float(rounds)}
