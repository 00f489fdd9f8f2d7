"""Per-message cost of the component paths against the core-module path, in one run.

    python -m nanonet.component.measure [--count N] [--size BYTES]

Prints: a host call into a component, a component's call out to a host
function, ``list<u8>`` crossing between Python and a component, a component
streaming into a tunnel through a host function (Python in the per-message
path), and the core-module path (Wasm producer -> Wasm checker through a
tunnel, no Python). Figures vary from run to run: compare within one run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from ..bench.wasm_runs import guest, w2_nanonet
from ..mesh import Mesh
from .echo import echo_wat
from .host import load
from .service import ComponentService, to_tunnel

STREAMER = """(component
  (import "send" (func $send (param "data" (list u8))))
  (core module $mm (memory (export "mem") 1))
  (core instance $mi (instantiate $mm))
  (core func $sendl (canon lower (func $send) (memory (core memory $mi "mem"))))
  (core module $m
    (import "m" "mem" (memory 1))
    (import "h" "send" (func $send (param i32 i32)))
    (func (export "run") (param $n i32) (param $size i32) (local $i i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i64.store (i32.const 0) (i64.extend_i32_u (local.get $i)))
        (call $send (i32.const 0) (local.get $size))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))))
  (core instance $i (instantiate $m (with "m" (instance $mi))
                                    (with "h" (instance (export "send" (func $sendl))))))
  (func (export "run") (param "n" u32) (param "size" u32) (canon lift (core func $i "run"))))"""

QUAD = """(component
  (import "double" (func $d (param "x" u32) (result u32)))
  (core func $dl (canon lower (func $d)))
  (core module $m (import "h" "double" (func $double (param i32) (result i32)))
    (func (export "quad") (param i32) (result i32) (call $double (local.get 0))))
  (core instance $i (instantiate $m (with "h" (instance (export "double" (func $dl))))))
  (func (export "quad") (param "x" u32) (result u32) (canon lift (core func $i "quad"))))"""


def _per_call(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def calls(n: int = 2000) -> dict[str, float]:
    """µs per call in, per call out, and MB/s of list<u8> crossing both ways."""
    with ComponentService("quad", QUAD, imports={"double": lambda x: 2 * x}) as quad:
        out_us = _per_call(lambda: quad.call("quad", 3), n) * 1e6
    inst = load(quad.rt, echo_wat({"u32": "u32", "bytes": "(list u8)"})).instantiate(
        quad.rt.new_store(), {})
    pad = tuple(range(16))
    in_us = _per_call(lambda: inst.call("echo-u32", 7, pad), n) * 1e6
    blob = bytes(64 * 1024)
    per = _per_call(lambda: inst.call("echo-bytes", blob, pad), 5)
    return {"call_in_us": in_us, "call_out_us": out_us,
            "bytes_roundtrip_MBps": 2 * len(blob) / per / 1e6}


def component_stream(count: int, size: int) -> float:
    """Messages/s from a component into a tunnel via a host function, to a Wasm checker."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=1024, max_payload=size)
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        exports: Any = check.linked.guest.exports(check.store)
        exports["configure"](check.store, size)
        writer = mesh.writer("stream")
        mesh.start()
        with ComponentService("streamer", STREAMER, rt=mesh.rt,
                              imports={"send": to_tunnel(writer, bytes)}) as streamer:
            t0 = time.perf_counter()
            streamer.call("run", count, size, timeout=600)
            writer.close()
            mesh.wait(60)
            seconds = time.perf_counter() - t0
        got = exports["received"](check.store)
    assert got == count, f"checker saw {got} of {count}"
    return count / seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args(argv)
    figures = calls()
    comp = component_stream(args.count, args.size)
    outcome, _ = w2_nanonet(args.count * 10, args.size)
    core = outcome["count"] / outcome["seconds"]
    print(f"host -> component call        {figures['call_in_us']:8.1f} µs")
    print(f"component -> host import call {figures['call_out_us']:8.1f} µs (incl. the call in)")
    print(f"list<u8> 64 KiB round trip    {figures['bytes_roundtrip_MBps']:8.2f} MB/s")
    print(f"component -> tunnel (host fn) {comp:10.0f} msg/s  {1e9 / comp:9.0f} ns/msg")
    print(f"core module -> tunnel (Wasm)  {core:10.0f} msg/s  {1e9 / core:9.0f} ns/msg")
    print(f"core path is {core / comp:.0f}x the component host-function path "
          f"({args.size}-byte messages)")


if __name__ == "__main__":
    main()
