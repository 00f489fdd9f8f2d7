"""W1 and W2 over nanonet tunnels: Wasm to Wasm, and Python host to Wasm.

The Wasm-to-Wasm runs never enter Python per message: the pinger records
each round trip in its own memory (WASI clock grant) and the checker counts
and checks sequence numbers in Wasm; Python reads the figures afterwards.
The host runs put Python on one side, so they measure the host endpoint
(W2's host rows are in ``host_async``).
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

from ..errors import BenchError
from ..mesh import Mesh
from ..runtime.service import Service
from .pace import Pacer

GUESTS = Path(__file__).resolve().parent.parent / "guests"
RUN_TIMEOUT = 120.0
Outcome = tuple[dict[str, float], list[int]]


def guest(name: str) -> Path:
    """The path of a bundled WAT guest."""
    return GUESTS / name


def _exports(svc: Service) -> Any:
    return svc.linked.guest.exports(svc.store)


def _finish(mesh: Mesh, t0: float, *services: Service) -> float:
    """Wait for the services; fail loudly on a timeout, a trap or an error code."""
    if not mesh.wait(RUN_TIMEOUT):
        raise BenchError(f"services still running after {RUN_TIMEOUT:.0f} s")
    seconds = time.perf_counter() - t0
    if mesh.traps:
        raise BenchError(f"guest trapped: {mesh.traps[0]}")
    for svc in services:
        if svc.exit_code != 0:
            raise BenchError(f"service {svc.name!r} returned {svc.exit_code}")
    return seconds


def _stream_tunnel(mesh: Mesh, size: int) -> None:
    mesh.tunnel("stream", slots=4096 if size <= 256 else 512, max_payload=max(size, 64))


def _pingpong_tunnels(mesh: Mesh, size: int, wait: str = "adaptive") -> None:
    for name in ("ping", "pong"):
        mesh.tunnel(name, slots=64, max_payload=max(size, 64), wait=wait)


def w1_nanonet(rounds: int, size: int, warmup: int, interval_ns: int = 0,
               wait: str = "adaptive") -> Outcome:
    """Wasm pinger <-> Wasm echo; RTTs come from the pinger's memory (paced in Wasm);
    both tunnels wait by policy ``wait``; ``cpu_s``: the process's CPU time meanwhile."""
    with Mesh() as mesh:
        _pingpong_tunnels(mesh, size, wait)
        pinger = mesh.service("pinger", guest("pinger.wat"), writes=["ping"], reads=["pong"],
                              grants=["clock"])
        mesh.service("echo", guest("echo.wat"), reads=["ping"], writes=["pong"])
        ex = _exports(pinger)
        ex["configure"](pinger.store, rounds, size, warmup)
        ex["pace"](pinger.store, interval_ns)
        t0, cpu0 = time.perf_counter(), time.process_time()
        mesh.start()
        seconds = _finish(mesh, t0, pinger)
        cpu = time.process_time() - cpu0
        base = ex["rtt_base"](pinger.store)
        raw = pinger.linked.memory.read(pinger.store, base, base + 4 * rounds)
    return ({"count": rounds, "seconds": seconds, "cpu_s": cpu},
            list(struct.unpack(f"<{rounds}I", raw)))


def w2_nanonet(count: int, size: int) -> Outcome:
    """Wasm producer -> Wasm checker, 64 messages per send_batch."""
    with Mesh() as mesh:
        _stream_tunnel(mesh, size)
        prod = mesh.service("producer", guest("producer.wat"), writes=["stream"])
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        _exports(prod)["configure"](prod.store, count, size)
        _exports(check)["configure"](check.store, size)
        t0 = time.perf_counter()
        mesh.start()
        seconds = _finish(mesh, t0, prod, check)
        received = _exports(check)["received"](check.store)
    return {"count": count, "received": received, "seconds": seconds}, []


def _message(seq: int, size: int) -> bytes:
    return struct.pack("<q", seq) + bytes(size - 8)


def w1_host(rounds: int, size: int, warmup: int, interval_ns: int = 0) -> Outcome:
    """Python host endpoints <-> Wasm echo: the host pays Python per message."""
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    with Mesh() as mesh:
        _pingpong_tunnels(mesh, size)
        mesh.service("echo", guest("echo.wat"), reads=["ping"], writes=["pong"])
        out, back = mesh.writer("ping"), mesh.reader("pong")
        mesh.start()
        t0 = time.perf_counter()
        for i in range(-warmup, rounds):
            msg = _message(i, size)
            start = pacer.begin(i)
            out.send(msg, timeout=10)
            got = back.recv(timeout=10)
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
            if got[:8] != msg[:8]:
                raise BenchError(f"echo returned the wrong message at round {i}")
        seconds = time.perf_counter() - t0
        out.close()
        _finish(mesh, t0)
    return {"count": rounds, "seconds": seconds}, samples
