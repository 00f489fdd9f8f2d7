"""Pub-sub throughput: one Wasm writer, four lossless Wasm subscribers, 64 B.

The stream is W2's (``wasm_runs.w2_nanonet``): the bundled producer sends
64 messages per ``send_batch``, each subscriber is the bundled checker
(``recv_batch``, every sequence number checked in Wasm), unchanged: a
reader guest is a subscriber as it is. The single-reader W2 figure is
measured in the same function, run for run beside it, so the target
(pub-sub aggregate at least half of single-reader W2) is a ratio inside one
run, on one machine state.
"""

from __future__ import annotations

import time

from ..errors import BenchError
from ..mesh import Mesh
from .wasm_runs import _exports, _finish, guest, w2_nanonet

SUBSCRIBERS = 4
SIZE = 64
SLOTS = 4096  # as W2's stream tunnel for small messages


def pubsub_run(count: int, size: int = SIZE, subscribers: int = SUBSCRIBERS) -> dict[str, float]:
    """One run: seconds for ``count`` messages to reach every subscriber, each checked."""
    names = [f"sub{i}" for i in range(subscribers)]
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=SLOTS, max_payload=max(size, 64), subscribers=names)
        prod = mesh.service("producer", guest("producer.wat"), writes=["stream"])
        subs = [mesh.service(n, guest("checker.wat"), reads=["stream"]) for n in names]
        _exports(prod)["configure"](prod.store, count, size)
        for svc in subs:
            _exports(svc)["configure"](svc.store, size)
        t0 = time.perf_counter()
        mesh.start()
        seconds = _finish(mesh, t0, prod, *subs)
        received = [_exports(svc)["received"](svc.store) for svc in subs]
        stats = mesh.statistics()["stream"]
    if received != [count] * subscribers:
        raise BenchError(f"subscribers received {received}, expected {count} each")
    return {"seconds": seconds, "delivered": float(sum(received)),
            "writer_parks": float(stats.writer_parks), "times_full": float(stats.times_full)}


def pubsub_row(quick: bool) -> dict[str, float]:
    """Pub-sub 1 -> 4 lossless subscribers at 64 B beside single-reader W2 64 B.

    Keys: ``msgs_per_s`` (aggregate delivered), ``per_sub_msgs_per_s``,
    ``w2_single_msgs_per_s``, ``ratio`` (aggregate / single), ``count``.
    Each side's best of ``reps`` alternating runs."""
    count = 200_000 if quick else 1_000_000
    reps = 1 if quick else 3
    best_ps = best_w2 = float("inf")
    for _ in range(reps):
        best_ps = min(best_ps, pubsub_run(count)["seconds"])
        figures, _ = w2_nanonet(count, SIZE)
        best_w2 = min(best_w2, figures["seconds"])
    aggregate = SUBSCRIBERS * count / best_ps
    single = count / best_w2
    return {"msgs_per_s": aggregate, "per_sub_msgs_per_s": count / best_ps,
            "w2_single_msgs_per_s": single, "ratio": aggregate / single,
            "count": float(count), "subscribers": float(SUBSCRIBERS)}


if __name__ == "__main__":  # python -m nanonet.bench.pubsub_bench [--quick]
    import json
    import sys

    print(json.dumps(pubsub_row("--quick" in sys.argv), indent=1))
