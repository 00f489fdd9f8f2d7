"""Component -> tunnel, with and without the Wasm tunnel path, in one run.

    python -m nanonet.bench.component_ring [--count N] [--size BYTES] [--json]

One component (``SEQ_STREAMER``, WAT: ``run(n, size)`` calls its import
``send(seq: u64, payload: list<u8>)`` n times) writes into a tunnel read by
the Wasm checker (``guests/checker.wat``, which checks every sequence
number). With the Wasm path, ``Mesh.component`` wires ``"tunnel:stream"``
to generated Wasm on the ring (component/ringpath.py); without it, the same
component's import is the host function ``"tunnel:stream"`` makes on the host
path (``to_tunnel`` over ``wiring.encoder``: one Python call per message).
Both carry the same messages (u64 seq, u32 length, payload). Keys:
``component_ring_msg_per_s``, ``component_ring_host_msg_per_s`` and their ratio
``component_ring_speedup``.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ..component.host import load
from ..component.ringpath import RingLoaded
from ..component.service import ComponentService, to_tunnel
from ..component.shapes import Signature
from ..component.wiring import encoder
from ..errors import BenchError
from ..mesh import Mesh
from ..ring.endpoint import TunnelWriter
from .wasm_runs import guest

SEQ_STREAMER = """(component
  (import "send" (func $send (param "seq" u64) (param "payload" (list u8))))
  (core module $mm (memory (export "mem") 2))
  (core instance $mi (instantiate $mm))
  (core func $sendl (canon lower (func $send) (memory (core memory $mi "mem"))))
  (core module $m
    (import "h" "send" (func $send (param i64 i32 i32)))
    (func (export "run") (param $n i32) (param $size i32) (result i32) (local $i i32)
      (block $done (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $send (i64.extend_i32_u (local.get $i)) (i32.const 0) (local.get $size))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
      (local.get $n)))
  (core instance $i (instantiate $m (with "h" (instance (export "send" (func $sendl))))))
  (func (export "run") (param "n" u32) (param "size" u32) (result u32)
    (canon lift (core func $i "run"))))"""

HEADER = 12  # the u64 sequence number and the payload's u32 length


def _producer(mesh: Mesh, wasm_path: bool) -> tuple[ComponentService, list[TunnelWriter]]:
    """The streamer, and the write ends to close after it (the host path's is ours)."""
    if wasm_path:
        comp = mesh.component("streamer", SEQ_STREAMER, imports={"send": "tunnel:stream"})
        if not isinstance(comp.loaded, RingLoaded):
            raise BenchError("the streamer did not take the Wasm tunnel path")
        return comp, []
    sig = load(mesh.rt, SEQ_STREAMER).imports["send"]
    assert isinstance(sig, Signature)
    writer = mesh.writer("stream")
    send = to_tunnel(writer, encoder(sig, "streamer"))
    return mesh.component("streamer", SEQ_STREAMER, imports={"send": send}), [writer]


def run_to_end(mesh: Mesh, comp: ComponentService, ends: list[TunnelWriter], what: str,
               *args: int) -> float:
    """Start ``mesh``, call the component's ``run(*args)``, close its write
    ends (the Wasm path's with the component) and wait for the readers to
    drain and end: the seconds from the call to the end."""
    mesh.start()
    t0 = time.perf_counter()
    comp.call("run", *args, timeout=600)
    comp.close()  # closes the Wasm path's write end: the reader drains and ends
    for end in ends:
        end.close()
    if not mesh.wait(600) or mesh.traps:
        raise BenchError(f"{what} stream failed: {mesh.traps}")
    return time.perf_counter() - t0


def stream(count: int, size: int, wasm_path: bool) -> float:
    """Messages/s from the component to the Wasm checker, all checked."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096, max_payload=HEADER + size)
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        exports: Any = check.linked.guest.exports(check.store)
        exports["configure"](check.store, HEADER + size)
        comp, ends = _producer(mesh, wasm_path)
        seconds = run_to_end(mesh, comp, ends, "component ring", count, size)
        got = exports["received"](check.store)
    if got != count:
        raise BenchError(f"the checker saw {got} of {count} messages")
    return count / seconds


def figures(count: int, size: int) -> dict[str, float]:
    """Both paths, the host path with a tenth of the messages (it is ~1000x slower)."""
    host = stream(max(count // 10, 1000), size, wasm_path=False)
    wasm = stream(count, size, wasm_path=True)
    return {"component_ring_msg_per_s": wasm, "component_ring_host_msg_per_s": host,
            "component_ring_speedup": wasm / host}


def print_rows(f: dict[str, float], size: int) -> None:
    print(f"component -> tunnel, Wasm path   {f['component_ring_msg_per_s']:12.0f} msg/s  "
          f"{1e9 / f['component_ring_msg_per_s']:9.0f} ns/msg")
    print(f"component -> tunnel, host path   {f['component_ring_host_msg_per_s']:12.0f} msg/s  "
          f"{1e9 / f['component_ring_host_msg_per_s']:9.0f} ns/msg  "
          f"(Wasm path {f['component_ring_speedup']:.0f}x, {size}-byte payloads)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    f = figures(args.count, args.size)
    if args.json:
        print(json.dumps(f))
    else:
        print_rows(f, args.size)


if __name__ == "__main__":
    main()
