"""Request/reply over a nanonet port, beside W1 in the same run.

``reqrep_rows`` measures three things one after the other, in one process,
so that their ratio means something on a machine whose core-to-core floor
moves by minutes (FACTS.md): W1's one-way p50 over two tunnels (Wasm pinger
and echo, ``wasm_runs.w1_nanonet``), a Wasm client calling a Wasm server
over a port (the caller records each round trip in its own memory, with
WASI's clock: no Python per call), and a host client calling the same Wasm
server (``PortClient.call``, timed in Python). The round trip of a call is
two one-way hops, so "Wasm<->Wasm p50 <= 3x W1 p50" compares a call's p50
with three one-way hops.
"""

from __future__ import annotations

import struct
import time

from ..errors import BenchError
from ..mesh import Mesh
from .measure import latency
from .wasm_runs import RUN_TIMEOUT, guest, w1_nanonet

SIZE = 64
Rows = dict[str, dict[str, float]]


def _rounds(quick: bool) -> tuple[int, int]:
    """(rounds, warmup) per measurement."""
    return (5_000, 500) if quick else (50_000, 5_000)


def _figures(samples: list[int], seconds: float) -> dict[str, float]:
    lat = latency(samples, halve=False)
    return {"p50_ns": lat["p50_ns"], "p99_ns": lat["p99_ns"], "p999_ns": lat["p999_ns"],
            "calls_per_s": len(samples) / seconds, "calls": float(len(samples))}


def wasm_calls(rounds: int, warmup: int) -> dict[str, float]:
    """Wasm caller -> Wasm echo server over port "rpc": each round trip, from the caller."""
    with Mesh() as mesh:
        mesh.port("rpc", clients=1, host_clients=0, max_payload=max(SIZE, 64))
        mesh.service("server", guest("rpc_echo.wat"), serves=["rpc"])
        caller = mesh.service("caller", guest("rpc_caller.wat"), calls=["rpc"],
                              grants=["clock"])
        caller.call("configure", rounds, SIZE, warmup)
        t0 = time.perf_counter()
        mesh.start()
        if not caller.join(RUN_TIMEOUT):
            raise BenchError(f"the port caller still runs after {RUN_TIMEOUT:.0f} s")
        seconds = time.perf_counter() - t0
        if caller.exit_code != 0 or mesh.traps:
            raise BenchError(f"the port caller ended with {caller.outcome} "
                             f"(traps: {mesh.traps})")
        base = caller.call("rtt_base")
        raw = caller.linked.memory.read(caller.store, base, base + 4 * rounds)
    return _figures(list(struct.unpack(f"<{rounds}I", raw)), seconds)


def host_calls(rounds: int, warmup: int) -> dict[str, float]:
    """Host client (Python) -> Wasm echo server: ``PortClient.call`` timed in Python."""
    with Mesh() as mesh:
        mesh.port("rpc", clients=0, host_clients=1, max_payload=max(SIZE, 64))
        mesh.service("server", guest("rpc_echo.wat"), serves=["rpc"])
        client = mesh.client("rpc")
        mesh.start()
        payload = bytes(SIZE)
        for _ in range(warmup):
            client.call(payload, timeout=RUN_TIMEOUT)
        samples = []
        now = time.perf_counter_ns
        t0 = time.perf_counter()
        for i in range(rounds):
            request = struct.pack("<q", i) + payload[8:]
            start = now()
            reply = client.call(request, timeout=RUN_TIMEOUT)
            samples.append(now() - start)
            if reply != request:
                raise BenchError(f"call {i}: the reply is not the request")
        seconds = time.perf_counter() - t0
    return _figures(samples, seconds)


def reqrep_rows(quick: bool) -> Rows:
    """Rows "nanonet-wasm" (with W1's one-way p50 as ``w1_p50_ns`` and the
    ratio ``p50_over_w1``) and "nanonet-host": p50_ns, p99_ns, calls_per_s."""
    rounds, warmup = _rounds(quick)
    _, samples = w1_nanonet(rounds, SIZE, warmup)
    if len(samples) != rounds:
        raise BenchError(f"W1: expected {rounds} round trips, got {len(samples)}")
    w1_p50 = latency(samples, halve=True)["p50_ns"]
    wasm = wasm_calls(rounds, warmup)
    wasm.update(w1_p50_ns=w1_p50, p50_over_w1=wasm["p50_ns"] / w1_p50)
    return {"nanonet-wasm": wasm, "nanonet-host": host_calls(rounds, warmup)}


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(reqrep_rows("--quick" in sys.argv), indent=2))
