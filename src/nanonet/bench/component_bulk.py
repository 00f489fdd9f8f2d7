"""Strings and ``list<u8>`` across the host boundary: core-API path against the value layer.

    python -m nanonet.bench.component_bulk [--json]

One WAT component exports ``echo-bytes(list<u8>) -> list<u8>`` and
``echo-text(string) -> string`` (the core function hands back what it was
given; ``post-return`` empties its bump allocator). The host calls it two
ways in one run: through the core API, as the Wasm tunnel path does
(``RingInstance``: ``canon.py`` copies the value in with ``realloc`` and one
``Memory.write`` and out with one ``Memory.read``), and through wasmtime's
component runtime and nanonet's value layer (``Instance.call``, the path of
``bytes_roundtrip_MBps``). MB/s counts the bytes both ways, per call (the
median of a few). Keys: ``canon_<kind>_<size>_MBps`` and
``values_<kind>_<size>_MBps`` for kind ``bytes`` or ``string`` and size
``64k`` or ``1m``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from ..component.graph import read_graph
from ..component.host import load
from ..component.ringpath import RingInstance, RingLoaded
from ..errors import BenchError
from ..host.engine import Runtime, runtime

ECHO = """(component
  (core module $m (memory (export "mem") 48)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get 3))) (local.get $at))
    (func (export "echo") (param i32 i32) (result i32)
      (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1))
      (i32.const 8))
    (func (export "reset") (param i32) (global.set $next (i32.const 1024))))
  (core instance $i (instantiate $m))
  (func (export "echo-text") (param "t" string) (result string)
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset"))))
  (func (export "echo-bytes") (param "b" (list u8)) (result (list u8))
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset")))))"""

SIZES = {"64k": 64 * 1024, "1m": 1024 * 1024}


def _bytes(n: int) -> bytes:
    return bytes(range(256)) * (n // 256)


def _text(n: int) -> str:
    return "nanonet!" * (n // 8)


KINDS: dict[str, tuple[str, Callable[[int], Any]]] = {"bytes": ("echo-bytes", _bytes),
                                                       "string": ("echo-text", _text)}
CALLS = {"canon": 20, "values": 3}  # per figure; the value layer is ~100x slower


def _instances(rt: Runtime) -> dict[str, Any]:
    """The same component on each path, in stores of its own."""
    loaded = load(rt, ECHO.encode())
    assert loaded.binary is not None
    ring = RingLoaded(loaded.types, loaded.engine, binary=loaded.binary,
                      graph=read_graph(loaded.binary), rt=rt)
    return {"canon": RingInstance(ring, rt.new_store()),
            "values": loaded.instantiate(rt.new_store(), {})}


def _mbps(instance: Any, fname: str, value: Any, size: int, calls: int) -> float:
    seconds = []
    for _ in range(calls):
        t0 = time.perf_counter()
        back = instance.call(fname, value)
        seconds.append(time.perf_counter() - t0)
        if back != value:
            raise BenchError(f"{fname} handed back something else")
    return 2 * size / statistics.median(seconds) / 1e6


def figures(rt: Runtime | None = None) -> dict[str, float]:
    """MB/s for every path, kind and size (see the module's keys)."""
    instances = _instances(rt or runtime())
    out = {}
    for size_key, size in SIZES.items():
        for kind, (fname, make) in KINDS.items():
            value = make(size)
            for path, instance in instances.items():
                out[f"{path}_{kind}_{size_key}_MBps"] = _mbps(instance, fname, value, size,
                                                              CALLS[path])
    return out


def print_rows(f: dict[str, float]) -> None:
    for size_key in SIZES:
        for kind in KINDS:
            canon, values = f[f"canon_{kind}_{size_key}_MBps"], f[f"values_{kind}_{size_key}_MBps"]
            label = f"{'list<u8>' if kind == 'bytes' else 'string'} {size_key.upper()}iB"
            print(f"{label:<14} round trip, core API (canon.py) {canon:9.1f} MB/s  "
                  f"value layer {values:8.2f} MB/s  (core API {canon / values:.1f}x)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    f = figures()
    if args.json:
        print(json.dumps(f))
    else:
        print_rows(f)


if __name__ == "__main__":
    main()
