"""The tap's hands on a ring: attach, advance and detach, in Wasm atomics.

Attaching must be ordered against the writer: the tap stores ``tap_tail``,
then ``tap_mode = 1``, then reads ``head``; a plain Python store could be
reordered after that load (x86 allows store-load reordering), and the writer
might then reuse a slot the tap believes is held. Wasm's sequentially
consistent atomics give the order, so, like ``ring/control.py``, the tap keeps
one tiny module instance on the ring in a store of its own. ``advance`` also
wakes a writer parked on the tap (on ``tap_tail``, as
``RingControl.notify_tail`` does), so a batch costs the tap one Wasm call;
after a detach the tap calls ``notify_tail`` (the writer re-reads ``tap_mode``).
"""

from __future__ import annotations

import wasmtime

from ..capi.fastcall import FastFunc
from ..host.engine import Runtime
from ..ring import layout as L
from ..ring.memory import RingMemory

_TAP_WAT = """
(module
  (import "t" "ring" (memory {P} {P} shared))
  ;; start at the current head; the writer honours tap_tail from its next check
  (func (export "attach") (result i64)
    (i64.atomic.store offset={O_TAPTAIL} (i32.const 0) (i64.atomic.load offset={O_HEAD}
                                                       (i32.const 0)))
    ;; SYNC POINT with the writer's tap hold in ring/adapter.py ($refresh): tap_tail,
    ;; then tap_mode, are stored before head is read; the writer reads tap_mode, then tap_tail
    (i32.atomic.store offset={O_TAPMODE} (i32.const 0) (i32.const 1))  ;; SC: before the load
    (i64.atomic.load offset={O_HEAD} (i32.const 0)))
  ;; publish the tap's cursor, and wake a writer parked on it: one call per batch
  (func (export "advance") (param i64)
    (i64.atomic.store offset={O_TAPTAIL} (i32.const 0) (local.get 0))
    ;; SYNC POINT with the writer's park on the tap ($wait in ring/adapter.py, and
    ;; notify_tail in ring/control.py): tap_tail is stored (SC) before writer_waiting
    ;; is read; the writer stores writer_waiting before it re-reads tap_tail
    (if (i32.atomic.load offset={O_WWAIT} (i32.const 0))
      (then (drop (memory.atomic.notify offset={O_TAPTAIL} (i32.const 0) (i32.const 1))))))
  (func (export "detach")
    (i32.atomic.store offset={O_TAPMODE} (i32.const 0) (i32.const 0)))
)
"""


def tap_wat(pages: int) -> str:
    return _TAP_WAT.format(P=pages, O_HEAD=L.OFF_HEAD, O_TAPTAIL=L.OFF_TAP_TAIL,
                           O_TAPMODE=L.OFF_TAP_MODE, O_WWAIT=L.OFF_WRITER_WAITING)


class TapControl:
    """attach / advance / detach for one ring; used by the tap's thread only."""

    def __init__(self, rt: Runtime, ring: RingMemory) -> None:
        store = rt.new_store()
        inst = wasmtime.Instance(store, rt.module(tap_wat(ring.geometry.pages)), [ring.shared])
        funcs = {}
        for name, func in inst.exports(store).items():
            assert isinstance(func, wasmtime.Func)
            funcs[name] = FastFunc(store, func)
        self._attach, self._advance, self._detach = (
            funcs["attach"], funcs["advance"], funcs["detach"])

    def attach(self) -> int:
        """Hold the writer from now on; the counter of the first message the tap sees."""
        return int(self._attach() or 0)

    def advance(self, counter: int) -> None:
        self._advance(counter)

    def detach(self) -> None:
        self._detach()
