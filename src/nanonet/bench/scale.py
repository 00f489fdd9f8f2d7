"""Scale rows, each run in a child process of its own.

``idle``: N idle services in one process (each with its own mesh and tunnel,
as W4, since the bundled guest names its tunnel ``stream``), created,
started and parked; the total time that takes, the growth of RSS per
service, and the CPU time the process burns per second of wall time while
they all sit parked. ``pipelines``: P producer -> checker Wasm pairs running at once,
every sequence number checked; the total messages per second of all of them
(16 service threads on however many cores there are).
"""

from __future__ import annotations

import os
import time

import wasmtime

from ..errors import BenchError
from ..host.engine import runtime
from ..mesh import Mesh
from ..runtime.service import Service
from .coldstart import settle, start_parked, stop_all, vmrss_kb
from .wasm_runs import RUN_TIMEOUT, _exports, guest

Outcome = tuple[dict[str, float], list[int]]

def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def idle_cpu(window: float) -> float:
    """CPU seconds this process burns per wall second over ``window``."""
    cpu0, wall0 = _cpu_seconds(), time.monotonic()
    time.sleep(window)
    return (_cpu_seconds() - cpu0) / (time.monotonic() - wall0)


def idle(count: int, window: float) -> Outcome:
    """Create, start and park ``count`` services; total time, RSS growth, and
    the CPU the process burns per wall second over ``window`` s while parked."""
    wasm = bytes(wasmtime.wat2wasm(guest("checker.wat").read_text()))
    warm = Mesh(runtime())  # compile and cache once, outside the timed part
    warm.tunnel("stream", slots=16, max_payload=64)
    warm.service("idle", wasm, reads=["stream"])
    warm.stop()
    settle()
    rss0, t0 = vmrss_kb(), time.perf_counter()
    meshes: list[Mesh] = []
    try:
        for _ in range(count):
            mesh = Mesh(runtime())
            mesh.tunnel("stream", slots=16, max_payload=64)
            mesh.service("idle", wasm, reads=["stream"])
            meshes.append(mesh)
        start_parked(meshes)
        seconds, rss1 = time.perf_counter() - t0, vmrss_kb()
        cpu = idle_cpu(window)
    finally:
        stop_all(meshes)
    return {"count": count, "seconds": seconds, "rss_before_kb": rss0,
            "rss_after_kb": rss1, "idle_cpu_per_s": cpu}, []


def _pipeline(count: int, size: int) -> tuple[Mesh, Service]:
    mesh = Mesh(runtime())
    mesh.tunnel("stream", slots=4096 if size <= 256 else 512, max_payload=max(size, 64))
    prod = mesh.service("producer", guest("producer.wat"), writes=["stream"])
    check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
    _exports(prod)["configure"](prod.store, count, size)
    _exports(check)["configure"](check.store, size)
    return mesh, check


def pipelines(count: int, size: int, lanes: int) -> Outcome:
    """``lanes`` producer -> checker pairs of ``count`` messages each, all at once."""
    built = [_pipeline(count, size) for _ in range(lanes)]
    try:
        t0 = time.perf_counter()
        for mesh, _ in built:
            mesh.start()
        for mesh, _ in built:
            if not mesh.wait(RUN_TIMEOUT):
                raise BenchError(f"pipelines still running after {RUN_TIMEOUT:.0f} s")
        seconds = time.perf_counter() - t0
        received = 0
        for mesh, check in built:
            if mesh.traps or check.exit_code != 0:
                raise BenchError(f"a pipeline failed: {mesh.traps or check.exit_code}")
            received += _exports(check)["received"](check.store)
    finally:
        for mesh, _ in built:
            mesh.stop()
    return {"count": count * lanes, "received": received, "seconds": seconds}, []

