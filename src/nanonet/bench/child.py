"""The measuring child process: ``python -m nanonet.bench.child W T COUNT SIZE WARMUP``.

One run per process, so that a system-call count (W3) or a memory figure (W4)
covers exactly that run. It speaks the same protocol as the native peers:
one JSON line of figures, then (for W1) one round-trip time in ns per line.
``serve`` is the far end of the Python socket transports.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence

from . import coldstart, pysock, wasm_runs

Outcome = tuple[dict[str, float], list[int]]


def _dispatch(workload: str, transport: str, count: int, size: int,
              warmup: int) -> Outcome:
    runs: dict[tuple[str, str], Callable[[], Outcome]] = {
        ("w1", "nanonet"): lambda: wasm_runs.w1_nanonet(count, size, warmup),
        ("w2", "nanonet"): lambda: wasm_runs.w2_nanonet(count, size),
        ("w1", "nanonet-host"): lambda: wasm_runs.w1_host(count, size, warmup),
        ("w2", "nanonet-host"): lambda: wasm_runs.w2_host(count, size),
        ("w1", "py-tcp"): lambda: pysock.w1("tcp", count, size, warmup),
        ("w2", "py-tcp"): lambda: pysock.w2("tcp", count, size),
        ("w1", "py-unix"): lambda: pysock.w1("unix", count, size, warmup),
        ("w2", "py-unix"): lambda: pysock.w2("unix", count, size),
        ("w4", "nanonet"): lambda: coldstart.run(count),
    }
    run = runs.get((workload, transport))
    if run is None:
        raise SystemExit(f"no {workload} run for transport {transport!r}")
    return run()


def main(argv: Sequence[str]) -> int:
    if argv and argv[0] == "serve":
        workload, kind, size, where = argv[1:5]
        return pysock.serve(workload, kind, int(size), where)
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 64
    workload, transport, count, size, warmup = argv
    summary, samples = _dispatch(workload, transport, int(count), int(size), int(warmup))
    out = [json.dumps(summary)] + [str(s) for s in samples]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
