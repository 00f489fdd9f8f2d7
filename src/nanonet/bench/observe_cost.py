"""The ``observe`` bench workload, run in a child: what observing costs.

One Wasm producer -> Wasm checker stream (64 B, throughput) and one Wasm
pinger <-> echo ping-pong (one-way latency, RTT/2), each run with
observability off, with counters (the Observer's 4 Hz poll plus a Prometheus
scrape 4 times a second), with a lossless tap (counters too) writing pcapng
to the null device, and with a sampled tap (one message in ``SAMPLE``, counters
too) writing there as well. Runs interleave (off, counters, tap, sampled-tap,
off, ...) and each
figure is the median of its repeats, so drift on a noisy VM hits every mode.
Prints one JSON line.

    python -m nanonet.bench.observe_cost COUNT ROUNDS REPEATS
"""

from __future__ import annotations

import json
import os
import statistics
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import BenchError
from ..mesh import Mesh
from ..observe.observer import Observer
from ..observe.tap import Tap, TapFilter
from .wasm_runs import _exports as exports
from .wasm_runs import guest

MODES = ("off", "counters", "tap", "sampled-tap")
SIZE = 64
TAP_SHARE = 10  # a lossless tap writes every message: it runs 1/10 of the messages
SAMPLE = 100  # the sampled tap keeps one message in 100


@contextmanager
def observing(mesh: Mesh, mode: str, tunnel: str) -> Iterator[Tap | None]:
    """``mode`` applied to ``mesh`` for the block (its tap, if any); scrapes run
    on a thread of their own."""
    if mode == "off":
        yield None
        return
    stop = threading.Event()
    with Observer(mesh) as obs, open(os.devnull, "wb") as null:
        scraper = threading.Thread(target=_scrape, args=(obs, stop), daemon=True)
        scraper.start()
        tap = None
        if mode == "tap":
            tap = obs.tap(tunnel, null)
        elif mode == "sampled-tap":
            tap = obs.tap(tunnel, null, TapFilter(sample=SAMPLE))
        try:
            yield tap
        finally:
            stop.set()
            scraper.join(5)


def _scrape(obs: Observer, stop: threading.Event) -> None:
    while not stop.wait(0.25):
        obs.metrics()


def _wait(mesh: Mesh) -> None:
    if not mesh.wait(300) or mesh.traps:
        raise BenchError(f"run failed: {mesh.traps or 'timeout'}")


def _settle(tap: Tap, count: int, bound: float = 30.0) -> None:
    """Wait (``bound`` at most) until the tap has passed every message."""
    deadline = time.monotonic() + bound
    while tap.seen + tap.missed < count and tap.error is None and time.monotonic() < deadline:
        time.sleep(0.001)


def stream(mode: str, count: int) -> tuple[float, float]:
    """Messages per second through producer -> checker, every sequence checked,
    and the share of the messages its filter keeps that the tap captured (a
    sampled tap never holds the writer: it misses what it does not copy in time)."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096, max_payload=SIZE)
        prod = mesh.service("producer", guest("producer.wat"), writes=["stream"])
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        exports(prod)["configure"](prod.store, count, SIZE)
        exports(check)["configure"](check.store, SIZE)
        with observing(mesh, mode, "stream") as tap:
            t0 = time.perf_counter()
            mesh.start()
            _wait(mesh)
            seconds = time.perf_counter() - t0
            if tap is not None:
                _settle(tap, count)
        got = exports(check)["received"](check.store)
    if got != count:
        raise BenchError(f"checker saw {got} of {count} messages")
    wanted = count if mode == "tap" else count // SAMPLE
    return count / seconds, (tap.kept / wanted if tap is not None else 1.0)


def pingpong(mode: str, rounds: int) -> tuple[float, float]:
    """p50 and p99 one-way latency (ns) of a Wasm ping-pong."""
    with Mesh() as mesh:
        for name in ("ping", "pong"):
            mesh.tunnel(name, slots=64, max_payload=SIZE)
        pinger = mesh.service("pinger", guest("pinger.wat"), writes=["ping"], reads=["pong"],
                              grants=["clock"])
        mesh.service("echo", guest("echo.wat"), reads=["ping"], writes=["pong"])
        ex = exports(pinger)
        ex["configure"](pinger.store, rounds, SIZE, rounds // 10)
        ex["pace"](pinger.store, 0)
        with observing(mesh, mode, "ping"):
            mesh.start()
            _wait(mesh)
        base = ex["rtt_base"](pinger.store)
        raw = pinger.linked.memory.read(pinger.store, base, base + 4 * rounds)
    rtts = sorted(struct.unpack(f"<{rounds}I", raw))
    return rtts[len(rtts) // 2] / 2, rtts[len(rtts) * 99 // 100] / 2


def measure(count: int, rounds: int, repeats: int) -> dict[str, Any]:
    runs: dict[str, dict[str, list[float]]] = {m: {"msgs": [], "p50": [], "p99": [],
                                                   "captured": []} for m in MODES}
    stream("off", count // 10)  # warm-up: compile and cache every module first
    pingpong("off", rounds // 10)
    for _ in range(repeats):
        for mode in MODES:
            n = count // TAP_SHARE if mode == "tap" else count
            rate, captured = stream(mode, n)
            runs[mode]["msgs"].append(rate)
            runs[mode]["captured"].append(captured)
            p50, p99 = pingpong(mode, rounds)
            runs[mode]["p50"].append(p50)
            runs[mode]["p99"].append(p99)
    med: Callable[[list[float]], float] = statistics.median
    out: dict[str, Any] = {m: {"msgs_per_s": med(r["msgs"]), "p50_ns": med(r["p50"]),
                               "p99_ns": med(r["p99"])} for m, r in runs.items()}
    base = out["off"]["msgs_per_s"]
    for m in MODES[1:]:
        out[m]["overhead_pct"] = 100.0 * (1 - out[m]["msgs_per_s"] / base)
    for m in ("tap", "sampled-tap"):  # the share of its filter's messages the capture has
        out[m]["captured_pct"] = 100.0 * med(runs[m]["captured"])
    out["repeats"] = repeats
    return out


def main(argv: list[str]) -> int:
    count, rounds, repeats = (int(x) for x in argv[:3])
    print(json.dumps(measure(count, rounds, repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
