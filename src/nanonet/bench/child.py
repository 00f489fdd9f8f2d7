"""The measuring child process: ``python -m nanonet.bench.child W T COUNT SIZE WARMUP [INTERVAL]``.

One run per process, so that a system-call count (W3) or a memory figure (W4)
covers exactly that run. It speaks the same protocol as the native peers:
one JSON line of figures, then (for W1) one latency in ns per line.
``INTERVAL`` (ns, W1 only) paces the run at a fixed offered rate.
Scale runs (transport ``nanonet``): ``idle`` COUNT services, their CPU counted
over SIZE ms while parked; ``pipelines``
with COUNT messages per pipeline and WARMUP pipelines.
``serve`` is the far end of the process-to-process peers. A peer's library
is imported only when that peer runs, so a missing one fails only its rows.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import pysock, waitrows

Outcome = tuple[dict[str, float], list[int]]


def _peer(name: str) -> Any:
    """A peer module, imported now: its library may be missing, and a peer
    that never runs Wasm starts without importing wasmtime and the mesh."""
    return importlib.import_module(f"nanonet.bench.{name}")


def _w1(transport: str, n: int, size: int, warm: int, gap: int) -> Callable[[], Outcome]:
    runs: dict[str, Callable[[], Outcome]] = {
        "nanonet": lambda: _peer("wasm_runs").w1_nanonet(n, size, warm, gap),
        "nanonet-host": lambda: _peer("wasm_runs").w1_host(n, size, warm, gap),
        "nanonet-py": lambda: _peer("pytunnel").w1(n, size, warm, gap),
        "py-tcp": lambda: pysock.w1("tcp", n, size, warm, gap),
        "py-unix": lambda: pysock.w1("unix", n, size, warm, gap),
        "mp-pipe": lambda: _peer("mppipe").w1(n, size, warm, gap),
        "zmq-ipc": lambda: _peer("zmqpeer").ipc("w1", n, size, warm, gap),
        "zmq-inproc": lambda: _peer("zmqpeer").inproc("w1", n, size, warm, gap),
        "iceoryx2": lambda: _peer("iox").w1(n, size, warm, gap),
        "nats": lambda: _peer("natspeer").w1(n, size, warm, gap),
    }
    for row, wait in waitrows.POLICY_ROWS.items():  # the rate workload's rows per wait policy
        runs[row] = functools.partial(lambda w: _peer("wasm_runs").w1_nanonet(n, size, warm,
                                                                               gap, w), wait)
    return runs[transport]


def _w2(transport: str, n: int, size: int) -> Callable[[], Outcome]:
    runs: dict[str, Callable[[], Outcome]] = {
        "nanonet": lambda: _peer("wasm_runs").w2_nanonet(n, size),
        "nanonet-host": lambda: _peer("host_async").w2_host(n, size),
        "nanonet-host-async": lambda: _peer("host_async").w2_async(n, size),
        "nanonet-py": lambda: _peer("pytunnel").w2(n, size),
        "py-tcp": lambda: pysock.w2("tcp", n, size),
        "py-unix": lambda: pysock.w2("unix", n, size),
        "mp-pipe": lambda: _peer("mppipe").w2(n, size),
        "zmq-ipc": lambda: _peer("zmqpeer").ipc("w2", n, size),
        "zmq-inproc": lambda: _peer("zmqpeer").inproc("w2", n, size),
        "iceoryx2": lambda: _peer("iox").w2(n, size),
        "nats": lambda: _peer("natspeer").w2(n, size),
    }
    return runs[transport]


def _dispatch(workload: str, transport: str, count: int, size: int, warmup: int,
              interval: int) -> Outcome:
    try:
        if workload == "w1":
            return _w1(transport, count, size, warmup, interval)()
        if workload == "w2":
            return _w2(transport, count, size)()
    except KeyError:
        pass
    if (workload, transport) == ("w4", "nanonet"):
        out: Outcome = _peer("coldstart").run(count)
        return out
    if (workload, transport) == ("pipelines", "nanonet"):
        out = _peer("scale").pipelines(count, size, warmup)  # WARMUP: lanes
        return out
    if (workload, transport) == ("idle", "nanonet"):
        out = _peer("scale").idle(count, size / 1e3)  # SIZE: the idle window in ms
        return out
    raise SystemExit(f"no {workload} run for transport {transport!r}")


def _serve(argv: Sequence[str]) -> int:
    kind = argv[0]
    if kind in ("zmq", "iox", "nats"):
        module = _peer({"zmq": "zmqpeer", "iox": "iox", "nats": "natspeer"}[kind])
        return int(module.serve(argv[1], int(argv[2]), *argv[3:]))
    workload, sock_kind, size, where = argv[:4]
    return pysock.serve(workload, sock_kind, int(size), where)


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "serve":
        return _serve(argv[1:])
    if len(argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        return 64
    workload, transport, count, size, warmup = argv[:5]
    interval = int(argv[5]) if len(argv) == 6 else 0
    summary, samples = _dispatch(workload, transport, int(count), int(size), int(warmup),
                                 interval)
    out = [json.dumps(summary)] + [str(s) for s in samples]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
