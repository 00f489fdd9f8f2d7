"""A component reading a typed tunnel of ``event`` records, three ways in one run.

    python -m nanonet.bench.typed_read [--batches N] [--json]

The C ``event-reader`` (``nanonet.examples.relay``) takes batches of 200
events the host wrote through ``take-all``, its ``receive-all`` import
wired to the tunnel; only the ``take-all`` calls are timed. On the Wasm
path each checked message is copied into the guest and its pointers moved
(component/typedcopy.py), or, for comparison, decoded into Python values
and lowered through ``canon.py``; on the host path (granted WASI) wasmtime
lowers the decoded values. Every event read is compared with the one sent.
Keys: ``typed_read_msg_per_s``, ``typed_read_values_msg_per_s``,
``typed_read_host_msg_per_s`` and ``typed_read_speedup`` (copy over host).
"""

from __future__ import annotations

import argparse
import json
import time

from ..component.ringpath import RingLoaded
from ..component.typed import wit_record
from ..errors import BenchError
from ..examples.relay import build_event
from ..mesh import Mesh
from .typed_ring import EVENT

BATCH = 200
READS = {"receive": "tunnel:events", "receive-all": "tunnel:events"}


def read(batches: int, wasm_path: bool, copy: bool = True) -> float:
    """Events/s through ``take-all``, every event compared."""
    layout = wit_record("nanonet:tunnel/types.event")
    msg = layout.encode(EVENT)
    with Mesh() as mesh:
        mesh.tunnel("events", wit_type=layout, slots=256, max_payload=1024)
        comp = mesh.component("reader", build_event("c", "event-reader").path, imports=READS,
                              wasi=not wasm_path)
        if isinstance(comp.loaded, RingLoaded) != wasm_path:
            raise BenchError("the reader did not take the path asked for")
        comp.given_imports["receive-all"].copy = copy
        writer = mesh.writer("events")
        mesh.start()
        seconds = 0.0
        for _ in range(batches):
            for _ in range(BATCH):
                writer.send(msg)
            t0 = time.perf_counter()
            got = comp.call("take-all", timeout=120)
            seconds += time.perf_counter() - t0
            if got != [EVENT] * BATCH:
                raise BenchError("the reader did not read back the events sent")
    return batches * BATCH / seconds


def figures(batches: int) -> dict[str, float]:
    copy = read(batches, wasm_path=True)
    values = read(batches, wasm_path=True, copy=False)
    host = read(batches, wasm_path=False)
    return {"typed_read_msg_per_s": copy, "typed_read_values_msg_per_s": values,
            "typed_read_host_msg_per_s": host, "typed_read_speedup": copy / host}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    f = figures(args.batches)
    if args.json:
        print(json.dumps(f))
        return
    print(f"typed tunnel -> component, Wasm path, copied  {f['typed_read_msg_per_s']:10.0f} "
          "events/s")
    print(f"typed tunnel -> component, Wasm path, values  "
          f"{f['typed_read_values_msg_per_s']:10.0f} events/s")
    print(f"typed tunnel -> component, host path          "
          f"{f['typed_read_host_msg_per_s']:10.0f} events/s  (copied "
          f"{f['typed_read_speedup']:.1f}x)")


if __name__ == "__main__":
    main()
