"""Component -> typed tunnel of ``event`` records, with and without the Wasm path, in one run.

    python -m nanonet.bench.typed_ring [--count N] [--json]

One WAT component (``producer_wat``) calls its import ``send(e: event)``
(``nanonet:tunnel/types.event``: an enum, a variant, an option, a result,
flags, a list of strings and a list of records; 17 core values, so passed
by pointer) n times with the same event, which sits at address 0 of its
memory: ``RecordLayout.encode`` writes a message whose offsets count from
its first byte, so it is also a valid memory image at address 0. A core
counter service reads the tunnel. With the Wasm path the generated glue
(component/typedglue.py) lays each event out into the ring; on the host
path wasmtime lifts it into Python and the host encodes it (``to_tunnel``
over ``wiring.typed_encoder``). Keys: ``typed_ring_msg_per_s``,
``typed_ring_host_msg_per_s`` and their ratio ``typed_ring_speedup``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..component.host import load
from ..component.ringpath import RingLoaded
from ..component.service import ComponentService, to_tunnel
from ..component.shapes import Signature
from ..component.typed import RecordLayout, wit_record
from ..component.values import Err, Variant
from ..component.wat_types import WatTypes
from ..component.wiring import typed_encoder
from ..errors import BenchError
from ..mesh import Mesh
from ..ring.endpoint import TunnelWriter
from .component_ring import run_to_end

EVENT = {"id": 7, "source": "sensor-12", "level": "warn", "tags": ["room-4", "floor-1"],
         "body": Variant("text", "door opened"), "reply-to": 80, "outcome": Err("late"),
         "marks": frozenset({"urgent"}), "samples": [{"at": 1, "value": 0.5},
                                                    {"at": 2, "value": 0.75}]}

COUNTER = """(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (data (i32.const 0) "events")
  (global $n (mut i32) (i32.const 0))
  (func (export "received") (result i32) (global.get $n))
  (func (export "run") (result i32) (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 6)))
    (loop $more
      (if (i32.ge_s (call $recv (local.get $h) (i32.const 1024) (i32.const 4096)) (i32.const 0))
        (then (global.set $n (i32.add (global.get $n) (i32.const 1))) (br $more))))
    (i32.const 0)))"""


def producer_wat(layout: RecordLayout, value: Any) -> str:
    """``run(n)`` calls ``send`` n times with ``value``, laid out at address 0."""
    types = WatTypes()
    ref = types.ref(layout.shape)
    data = "".join(f"\\{b:02x}" for b in layout.encode(value))
    return ("(component\n" + types.text() +
            f'  (import "send" (func $send (param "e" {ref})))\n'
            f'  (core module $mm (memory (export "mem") 1) (data (i32.const 0) "{data}"))\n'
            "  (core instance $mi (instantiate $mm))\n"
            '  (core func $sendl (canon lower (func $send) (memory (core memory $mi "mem"))))\n'
            '  (core module $m (import "h" "send" (func $send (param i32)))\n'
            '    (func (export "run") (param $n i32) (result i32) (local $i i32)\n'
            "      (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (local.get $n)))\n"
            "        (call $send (i32.const 0))\n"
            "        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))\n"
            "      (local.get $n)))\n"
            '  (core instance $i (instantiate $m (with "h" (instance (export "send" '
            "(func $sendl))))))\n"
            '  (func (export "run") (param "n" u32) (result u32)\n'
            '    (canon lift (core func $i "run"))))')


def _producer(mesh: Mesh, wat: str, layout: RecordLayout,
              wasm_path: bool) -> tuple[ComponentService, list[TunnelWriter]]:
    if wasm_path:
        comp = mesh.component("producer", wat, imports={"send": "tunnel:events"})
        if not isinstance(comp.loaded, RingLoaded):
            raise BenchError("the producer did not take the Wasm tunnel path")
        return comp, []
    sig = load(mesh.rt, wat).imports["send"]
    assert isinstance(sig, Signature)
    writer = mesh.writer("events")
    send = to_tunnel(writer, typed_encoder(sig, layout, "producer", "events"))
    return mesh.component("producer", wat, imports={"send": send}), [writer]


def stream(count: int, wasm_path: bool) -> float:
    """Events/s from the component to the counter, every one counted."""
    layout = wit_record("nanonet:tunnel/types.event")
    wat = producer_wat(layout, EVENT)
    with Mesh() as mesh:
        mesh.tunnel("events", wit_type=layout, slots=4096, max_payload=1024)
        counter = mesh.service("counter", COUNTER, reads=["events"])
        exports: Any = counter.linked.guest.exports(counter.store)
        comp, ends = _producer(mesh, wat, layout, wasm_path)
        seconds = run_to_end(mesh, comp, ends, "typed ring", count)
        got = exports["received"](counter.store)
    if got != count:
        raise BenchError(f"the counter saw {got} of {count} events")
    return count / seconds


def figures(count: int) -> dict[str, float]:
    """Both paths, the host path with a hundredth of the events (it is far slower)."""
    host = stream(max(count // 100, 200), wasm_path=False)
    wasm = stream(count, wasm_path=True)
    return {"typed_ring_msg_per_s": wasm, "typed_ring_host_msg_per_s": host,
            "typed_ring_speedup": wasm / host}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    f = figures(args.count)
    if args.json:
        print(json.dumps(f))
        return
    print(f"component -> typed tunnel, Wasm path  {f['typed_ring_msg_per_s']:12.0f} events/s")
    print(f"component -> typed tunnel, host path  {f['typed_ring_host_msg_per_s']:12.0f} "
          f"events/s  (Wasm path {f['typed_ring_speedup']:.0f}x)")


if __name__ == "__main__":
    main()
