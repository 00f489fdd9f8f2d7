"""A sampled tap's look in Wasm: the counters, the copies and the bound again, at once.

A sampled tap holds nobody, so what it may keep of a look is what the reader
has not consumed by the time its copies are made (``tapskip.py``). A reader
that keeps up leaves few messages in the ring and takes them within
microseconds; a look in Python (the counters, one slice per kept slot, a
fence, the bound again) took tens of microseconds, so most of what it saw was
consumed before it was copied, and the ~100 us a look cost on a 2-core
machine was taken from the tunnel's services (both spin on the two cores:
the tunnel lost about the same share of its throughput as the tap's looks
took of a core). Here one call of a tiny module, instantiated on the ring's
memory with a private memory of its own, loads the bound and ``head``,
copies every ``step``-th whole slot of the window into its memory, fences,
and loads the bound again; a second call builds the kept copies' Enhanced
Packet Blocks from that copy (not from the ring, which the writer may be
rewriting), reading each length once and checking it against
``max_payload``. Python reads the counters back and checks them
(``SkipCursor.window``, ``SkipCursor.drop``) before it uses anything.

Whatever the counters say, the call stays inside both memories: the window
is at most one ring behind ``head`` (``ceil(slots / step)`` copies at most),
each slot index is masked, and counters that no writer could show copy
nothing (the call returns -1 and Python names them).
"""

from __future__ import annotations

from array import array

import wasmtime

from ..capi.fastcall import PlainCall
from ..host.engine import Runtime
from ..ring import layout as L
from ..ring.memory import RingMemory, private_view
from .tapbuild import BadLength, block_max, epb_wat

# the output memory: u64 words (what a grab read, then both calls' arguments),
# then the grab's copies, then the blocks. Arguments go through memory: a call
# with none is one ctypes call (``PlainCall``)
H_OLDEST, H_HEAD, H_AFTER, H_START, H_BAD, H_POS = 0, 1, 2, 3, 4, 5
H_ARGS = 6  # build's: first, from, count, iface, t0, tstep, tlast, at
COPIES = 128
U64 = 0xFFFF_FFFF_FFFF_FFFF

_GRAB_WAT = """
(module
  (import "t" "ring" (memory $ring {P} {P} shared))
  (memory $out (export "out") {OP} {OP})
  ;; the oldest counter whose slot the writer cannot be rewriting (tapskip.oldest_whole)
  (func $oldest (result i64) {OLDEST})
  ;; the counters (oldest, head) at 0 and 8, the first copied counter at 24; every
  ;; {STEP}th slot of the window [max(pos, head - min(head - oldest, slots)), head)
  ;; (pos at 40) copied whole from {COPIES}; then the bound again at 16. The copies
  ;; made, or -1 (nothing copied) for counters no writer could show: the caller names them
  (func (export "grab") (result i32)
    (local $pos i64) (local $old i64) (local $head i64) (local $lag i64) (local $c i64)
    (local $rem i64) (local $n i32) (local $o i32)
    (local.set $pos (i64.load $out (i32.const 40)))
    (local.set $old (call $oldest))  ;; SYNC POINT: the bound before head, so never past it
    (local.set $head (i64.atomic.load $ring (i32.const {OFF_HEAD})))  ;; acquire
    (i64.store $out (i32.const 0) (local.get $old))
    (i64.store $out (i32.const 8) (local.get $head))
    (local.set $lag (i64.sub (local.get $head) (local.get $old)))
    (if (i32.or (i64.lt_s (i64.sub (local.get $head) (local.get $pos)) (i64.const 0))
                (i64.lt_s (local.get $lag) (i64.const 0)))
      (then (return (i32.const -1))))
    (local.set $c (i64.sub (local.get $head)
      (select (local.get $lag) (i64.const {SLOTS})
              (i64.lt_u (local.get $lag) (i64.const {SLOTS})))))
    (if (i64.lt_s (i64.sub (local.get $c) (local.get $pos)) (i64.const 0))
      (then (local.set $c (local.get $pos))))
    (local.set $rem (i64.rem_u (local.get $c) (i64.const {STEP})))  ;; the first kept counter
    (if (i64.ne (local.get $rem) (i64.const 0))
      (then (local.set $c (i64.add (local.get $c) (i64.sub (i64.const {STEP}) (local.get $rem))))))
    (i64.store $out (i32.const 24) (local.get $c))
    (local.set $o (i32.const {COPIES}))
    (block $done (loop $next
      (br_if $done (i64.ge_s (i64.sub (local.get $c) (local.get $head)) (i64.const 0)))
      (memory.copy $out $ring (local.get $o)
        (i32.add (i32.const {HEADER}) (i32.mul (i32.wrap_i64 (i64.and (local.get $c)
                                                                      (i64.const {MASK})))
                                               (i32.const {SLOT})))
        (i32.const {SLOT}))
      (local.set $o (i32.add (local.get $o) (i32.const {SLOT})))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $c (i64.add (local.get $c) (i64.const {STEP})))
      (br $next)))
    ;; SYNC POINT with the writer's reuse of a slot: the copies, a fence, then the
    ;; bound: a slot rewritten meanwhile shows in the bound first
    (atomic.fence)
    (i64.store $out (i32.const 16) (call $oldest))
    (local.get $n))
  ;; the blocks of copies from .. from+count-1 (counters first + {STEP} * i) into $out
  ;; from $at, timed t0 + tstep * i, the last tlast (the arguments: u64s from 48):
  ;; where they end, or -(i + 1) for copy i whose length exceeds max_payload (stored at 32)
  (func (export "build") (result i32)
    (local $first i64) (local $from i32) (local $count i32) (local $iface i32)
    (local $t0 i64) (local $tstep i64) (local $tlast i64)
    (local $i i32) (local $o i32) (local $slot i32) (local $len i32) (local $p i32)
    (local $total i32) (local $ts i64)
    (local.set $first (i64.load $out (i32.const 48)))
    (local.set $from (i32.wrap_i64 (i64.load $out (i32.const 56))))
    (local.set $count (i32.wrap_i64 (i64.load $out (i32.const 64))))
    (local.set $iface (i32.wrap_i64 (i64.load $out (i32.const 72))))
    (local.set $t0 (i64.load $out (i32.const 80)))
    (local.set $tstep (i64.load $out (i32.const 88)))
    (local.set $tlast (i64.load $out (i32.const 96)))
    (local.set $o (i32.wrap_i64 (i64.load $out (i32.const 104))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $slot (i32.add (i32.const {COPIES})
        (i32.mul (i32.add (local.get $from) (local.get $i)) (i32.const {SLOT}))))
      ;; the one read of the length: checked, then the only value used
      (local.set $len (i32.load $out (local.get $slot)))
      (if (i32.gt_u (local.get $len) (i32.const {MAXP})) (then
        (i64.store $out (i32.const 32) (i64.extend_i32_u (local.get $len)))
        (return (i32.sub (i32.const -1) (local.get $i)))))
{BLOCK}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $o))
)
"""


def most_copies(geo: L.Geometry, step: int) -> int:
    """The most slots one grab copies: a ring's window, every ``step``-th."""
    return -(-geo.slot_count // step) + 1


def grab_wat(geo: L.Geometry, step: int) -> str:
    copies = most_copies(geo, step)
    blocks_at = COPIES + copies * geo.slot_size
    out_pages = -(-(blocks_at + copies * block_max(geo.max_payload)) // L.PAGE)
    oldest = (f"(i64.sub (i64.atomic.load $ring (i32.const {L.OFF_HEAD})) "
              f"(i64.const {geo.lossy_window}))" if geo.subscribers else
              f"(i64.atomic.load $ring (i32.const {L.OFF_TAIL}))")  # acquire
    block = epb_wat("out", "(i64.extend_i32_u (local.get $i))",
                    f"(i64.mul (i64.const {step}) (i64.extend_i32_u (local.get $i)))")
    return _GRAB_WAT.format(
        BLOCK=block, STEP=step, P=geo.pages, OP=out_pages, OLDEST=oldest, OFF_HEAD=L.OFF_HEAD,
        SLOTS=geo.slot_count, COPIES=COPIES, HEADER=L.HEADER_SIZE, MASK=geo.mask,
        SLOT=geo.slot_size, MAXP=geo.max_payload)


class Grabber:
    """The grab module on one ring for one ``step``; used by the tap's thread only."""

    def __init__(self, rt: Runtime, ring: RingMemory, step: int) -> None:
        geo = ring.geometry
        self.step = step
        self._store = rt.new_store()
        inst = wasmtime.Instance(self._store, rt.module(grab_wat(geo, step)), [ring.shared])
        exports = inst.exports(self._store)
        grab, build, mem = exports["grab"], exports["build"], exports["out"]
        assert isinstance(grab, wasmtime.Func) and isinstance(build, wasmtime.Func)
        assert isinstance(mem, wasmtime.Memory)
        self._grab, self._build = PlainCall(self._store, grab), PlainCall(self._store, build)
        self.out = private_view(self._store, mem)  # never grown: the view stays valid
        self.counters = self.out[:COPIES].cast("Q")  # what the last grab read, the arguments
        self.blocks_at = COPIES + most_copies(geo, step) * geo.slot_size

    def grab(self, pos: int) -> int:
        """Copies of every ``step``-th slot of the window from ``pos``; -1 if the
        counters read (``counters``) are ones no writer could show."""
        self.counters[H_POS] = pos & U64
        return self._grab()

    def build(self, first: int, index: int, count: int, iface: int, t0: int, tstep: int,
              tlast: int, at: int) -> int:
        """Blocks of copies ``index ..`` (the first of counter ``first``) from ``at``:
        where they end; ``BadLength`` if a copy's length does not fit."""
        self.counters[H_ARGS: H_ARGS + 8] = array("Q", (
            first & U64, index, count, iface, t0 & U64, tstep & U64, tlast & U64, at))
        got = self._build()
        if got < 0:
            raise BadLength(first + (-got - 1) * self.step, self.counters[H_BAD])
        return got
