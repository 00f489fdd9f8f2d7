"""Per-message cost of the component paths against the core-module path, in one run.

    python -m nanonet.bench.component_cost [--count N] [--size BYTES]

Prints: a component's call to another component composed with it
(``component_pair.py``: p50/p99 and calls/s) beside a host call into the
same callee, ``list<u8>`` and strings crossing the host boundary, a host
call into a component, a component's call out to a host function,
``list<u8>`` crossing between Python and a component, strings and
``list<u8>`` of 64 KiB and 1 MiB crossing through the core API (``canon.py``,
what the Wasm tunnel path calls exports with) beside the value layer
(``component_bulk.py``), a component streaming
into a tunnel through a host function (Python in the per-message path), the
fast path (the same producer as a tunnel component, its data plane taken out
by ``split.data_plane`` and run as a core service), and the core-module path
(Wasm producer -> Wasm checker through a tunnel, no
Python); a component writing a tunnel with and without the Wasm tunnel path
(``component_ring.py``); and the cold start of C, JavaScript and Python components beside a
core module's (``component_coldstart.py``). Figures vary from run to run:
compare within one run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import wasmtime

from ..component.echo import echo_wat
from ..component.host import load
from ..component.service import ComponentService, to_tunnel
from ..component.split import data_plane
from ..errors import BenchError
from ..host.engine import runtime
from ..mesh import Mesh
from .component_bulk import figures as bulk_figures
from .component_bulk import print_rows as print_bulk
from .component_coldstart import figures as coldstart_figures
from .component_coldstart import print_rows as print_coldstart
from .component_pair import (
    bytes_speed,
    component_to_component,
    host_to_component,
    through_python,
)
from .component_ring import figures as ring_figures
from .component_ring import print_rows as print_ring
from .wasm_runs import guest, w2_nanonet

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


TUNNEL_COMPONENT = """(component
  (import "ring" (instance $ring
    (export "tunnel" (func (param "name" string) (result s32)))
    (export "send-batch" (func (param "h" s32) (param "records" u32) (param "count" u32)
                                (result s32)))
    (export "close" (func (param "h" s32) (result s32)))))
  (core module $mm (memory (export "memory") 8))
  (core instance $mi (instantiate $mm))
  (core func $tunnel (canon lower (func $ring "tunnel") (memory (core memory $mi "memory"))))
  (core func $send_batch (canon lower (func $ring "send-batch")))
  (core func $close (canon lower (func $ring "close")))
  DATA_PLANE
  (core instance $p (instantiate $data
    (with "env" (instance $mi))
    (with "nanonet" (instance (export "tunnel" (func $tunnel))
      (export "send_batch" (func $send_batch)) (export "close" (func $close))))))
  (func (export "configure") (param "count" u64) (param "size" u32)
    (canon lift (core func $p "configure"))))"""


def producer_component() -> bytes:
    """The W2 producer packaged as a tunnel component: its ``nanonet`` imports
    are lowered from a WIT ``ring`` interface, its control plane (``configure``)
    lifted; ``split.data_plane`` gets the producer back out."""
    text = guest("producer.wat").read_text()
    core = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(";;"))
    wat = TUNNEL_COMPONENT.replace("DATA_PLANE", core.replace("(module", "(core module $data", 1))
    return bytes(wasmtime.wat2wasm(wat))


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


def fast_path_stream(count: int, size: int) -> float:
    """Messages/s from a tunnel component's data plane (run as a core service with
    the adapter) to the Wasm checker: no Python per message."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096, max_payload=max(size, 64))
        prod = mesh.service("producer", data_plane(producer_component()), writes=["stream"])
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        for svc, args in ((prod, (count, size)), (check, (size,))):
            exports: Any = svc.linked.guest.exports(svc.store)
            exports["configure"](svc.store, *args)
        t0 = time.perf_counter()
        mesh.start()
        if not mesh.wait(600) or mesh.traps or prod.exit_code != 0:
            raise BenchError(f"fast path failed: {mesh.traps or prod.exit_code}")
        seconds = time.perf_counter() - t0
        got = exports["received"](check.store)  # the checker's, configured last
    assert got == count, f"checker saw {got} of {count}"
    return count / seconds


def _print_pairs(p: dict[str, float]) -> None:
    print(f"component -> component call (record)  p50 {p['c2c_p50_ns']:8.0f} ns  "
          f"p99 {p['c2c_p99_ns']:8.0f} ns  {p['c2c_calls_per_s']:12.0f} calls/s")
    print(f"host -> component call (same record)  p50 {p['h2c_p50_ns']:8.0f} ns  "
          f"p99 {p['h2c_p99_ns']:8.0f} ns  ({p['h2c_p50_ns'] / p['c2c_p50_ns']:.0f}x the "
          "component -> component p50)")
    print(f"the same import through Python    p50 {p['py_link_p50_ns']:8.0f} ns  "
          f"p99 {p['py_link_p99_ns']:8.0f} ns  (\"service:callee\": a host function calling "
          "the callee's service)")
    print(f"list<u8> 1 MiB round trip     {p['bytes_MBps']:8.1f} MB/s")
    print(f"string 1 MiB round trip       {p['string_MBps']:8.1f} MB/s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = calls()
    rt = runtime()
    pairs = {**component_to_component(rt), **through_python(), **host_to_component(rt),
             **bytes_speed(rt)}
    bulk = bulk_figures(rt)
    comp = component_stream(args.count, args.size)
    outcome, _ = w2_nanonet(args.count * 10, args.size)
    core = outcome["count"] / outcome["seconds"]
    fast = fast_path_stream(args.count * 10, args.size)
    ring = ring_figures(args.count * 10, args.size)  # component -> tunnel, Wasm and host path
    cold = coldstart_figures()
    if args.json:
        print(json.dumps({**figures, **pairs, "component_stream_msg_per_s": comp,
                          "fast_path_msg_per_s": fast, "core_msg_per_s": core, **ring,
                          **bulk, **cold}))
        return
    print_coldstart(cold)
    _print_pairs(pairs)
    print(f"host -> component call        {figures['call_in_us']:8.1f} µs")
    print(f"component -> host import call {figures['call_out_us']:8.1f} µs (incl. the call in)")
    print(f"list<u8> 64 KiB round trip    {figures['bytes_roundtrip_MBps']:8.2f} MB/s")
    print_bulk(bulk)
    print(f"component -> tunnel (host fn) {comp:10.0f} msg/s  {1e9 / comp:9.0f} ns/msg")
    print(f"component data plane (split)  {fast:10.0f} msg/s  {1e9 / fast:9.0f} ns/msg")
    print(f"core module -> tunnel (Wasm)  {core:10.0f} msg/s  {1e9 / core:9.0f} ns/msg")
    print_ring(ring, args.size)
    print(f"core path is {core / comp:.0f}x the component host-function path "
          f"({args.size}-byte messages)")


if __name__ == "__main__":
    main()
