"""W4: how long creating a service takes, and what an idle one costs in memory.

Runs in a child process of its own. One service is created first so that
every module is compiled and cached (on disk and in the process); then each
timed creation is what a warm runtime pays: a new store, the guest and its
adapter instantiated and linked. Each service gets its own mesh and tunnel
(same tunnel name, so the adapter module is the same). Then every service is
started and left parked on its empty tunnel, and the growth of VmRSS divided
by their number is the memory one idle service costs, tunnel and thread
included.

Before each timed part the garbage collector runs once (``settle``): what
importing nanonet and wasmtime left for its first full collection (tens of
milliseconds here) is the import's cost, not a service's; the collections
the services' own objects cause stay inside the figures.
"""

from __future__ import annotations

import gc
import time

import wasmtime

from ..errors import BenchError
from ..host.engine import runtime
from ..mesh import Mesh
from .wasm_runs import guest

PARK_TIMEOUT = 20.0


def vmrss_kb() -> int:
    """This process's resident set, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchError("no VmRSS line in /proc/self/status")


def settle() -> None:
    """One full collection, so that the timed part does not pay for the
    objects of the imports before it (the first full collection of a process)."""
    gc.collect()


def _new(wasm: bytes) -> tuple[Mesh, int]:
    """A mesh with one idle service; returns it and the creation time in ns."""
    mesh = Mesh(runtime())
    mesh.tunnel("stream", slots=16, max_payload=64)
    t0 = time.perf_counter_ns()
    mesh.service("idle", wasm, reads=["stream"])
    return mesh, time.perf_counter_ns() - t0


def wait_parked(meshes: list[Mesh]) -> None:
    """Until every service has parked at least once (bounded)."""
    deadline = time.monotonic() + PARK_TIMEOUT
    for mesh in meshes:
        while mesh.statistics()["stream"].reader_parks == 0:
            if time.monotonic() > deadline:
                raise BenchError("idle services did not park in time")
            time.sleep(0.001)


def start_parked(meshes: list[Mesh]) -> None:
    """Start every mesh (all their services at once: ``Mesh.start_all``) and
    wait until each idle service sleeps on its tunnel."""
    Mesh.start_all(meshes)
    wait_parked(meshes)


def stop_all(meshes: list[Mesh]) -> None:
    """Close every tunnel first (all parked services wake at once), then stop."""
    for mesh in meshes:
        mesh.close_tunnels()
    for mesh in meshes:
        mesh.stop()


def engine_floor(wasm: bytes, count: int) -> list[int]:
    """What the engine alone asks per instance of the same guest: a new Store
    and ``InstancePre.instantiate``, imports resolved once by a Linker whose
    host functions do nothing (no adapter, no ring, no thread). The floor
    under a service's creation, in ns per sample."""
    rt = runtime()
    module = rt.module(wasm)
    linker = wasmtime.Linker(rt.engine)
    for imp in module.imports:
        kind = imp.type
        if isinstance(kind, wasmtime.FuncType):
            results = len(kind.results)
            linker.define_func(imp.module, imp.name or "", kind,
                               lambda *_, n=results: 0 if n else None)
    pre = linker.instantiate_pre(module)
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        pre.instantiate(wasmtime.Store(rt.engine))
        samples.append(time.perf_counter_ns() - t0)
    return samples


def run(count: int) -> tuple[dict[str, float], list[int]]:
    """Create ``count`` services (timed), start them idle, measure RSS; and
    the engine floor of the same guest, measured beside them."""
    wasm = bytes(wasmtime.wat2wasm(guest("checker.wat").read_text()))
    first, first_ns = _new(wasm)
    first.stop()
    floor = sorted(engine_floor(wasm, count))
    settle()
    rss0 = vmrss_kb()
    meshes: list[Mesh] = []
    samples: list[int] = []
    try:
        for _ in range(count):
            mesh, ns = _new(wasm)
            meshes.append(mesh)
            samples.append(ns)
        start_parked(meshes)
        rss1 = vmrss_kb()
    finally:
        stop_all(meshes)
    return {"count": count, "first_service_ns": first_ns, "rss_before_kb": rss0,
            "rss_after_kb": rss1, "engine_floor_p50_ns": floor[len(floor) // 2]}, samples
