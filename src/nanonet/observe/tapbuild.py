"""A lossless tap's pcapng blocks, built in Wasm straight from the ring.

A lossless tap holds the writer, so its cost per message is the tunnel's.
Python building blocks a field column at a time (``pcapng.packet_run``)
still pays a strided copy per 8 bytes of payload, and a copy of the slots
before that. Here one call of a tiny module, instantiated on the ring's
memory with a private memory of its own for the output, reads each slot's
length once, checks it against ``max_payload`` (a bad one stops the call:
its index and value come back, nothing is built past it), and writes the
message's Enhanced Packet Block (head, payload padded to 4, ``epb_packetid``,
end of options, total) into the output, for messages of any lengths: a
4096-message batch costs one call of a few microseconds plus tens of
nanoseconds per message. The bytes are those of ``pcapng.packet`` for each
message, byte for byte.

Times: a call gives messages ``t0 + step * (i + 1)`` and its last message
``t_last``, the even spread of ``tapclock.message_times`` between two known
times; ``build`` makes one call per stretch between anchors (the writer's
stamps, the two looks), in chunks that fit the output memory.
"""

from __future__ import annotations

from itertools import pairwise

import wasmtime

from ..capi.fastcall import FastFunc
from ..host.engine import Runtime
from ..ring import layout as L
from ..ring.memory import RingMemory, private_view
from .pcapng import EPB, EPB_PACKETID, OPT_END
from .tapclock import _anchors as anchors  # the times build spreads between

OUT_MIN = 1 << 20  # bytes of output memory at least (a 4096-slot ring of 64 B in one go)

_BUILD_WAT = """
(module
  (import "t" "ring" (memory $ring {P} {P} shared))
  (memory $out (export "out") {OP} {OP})
  ;; blocks of messages first .. first+count-1 into $out from $at: where they end,
  ;; or -(i + 1) for message i whose length exceeds max_payload (stored at 0)
  (func (export "build") (param $first i64) (param $count i32) (param $iface i32)
        (param $t0 i64) (param $tstep i64) (param $tlast i64) (param $at i32) (result i32)
    (local $i i32) (local $o i32) (local $slot i32) (local $len i32) (local $p i32)
    (local $total i32) (local $ts i64)
    (local.set $o (local.get $at))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $slot (i32.add (i32.const {HEADER})
        (i32.mul (i32.wrap_i64 (i64.and (i64.add (local.get $first)
                                                 (i64.extend_i32_u (local.get $i)))
                                        (i64.const {MASK})))
                 (i32.const {SLOT}))))
      ;; the one read of the length: checked, then the only value used
      (local.set $len (i32.load $ring (local.get $slot)))
      (if (i32.gt_u (local.get $len) (i32.const {MAXP})) (then
        (i32.store $out (i32.const 0) (local.get $len))
        (return (i32.sub (i32.const -1) (local.get $i)))))
{BLOCK}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $o))
)
"""


def epb_wat(source: str, ts_index: str, id_offset: str) -> str:
    """The WAT both tap modules share: message ``$i``'s Enhanced Packet Block
    at ``$o`` (its ``$len`` checked already, copied from memory ``source`` at
    ``$slot``), its time ``$t0`` + ``$tstep`` x ``ts_index`` (the last one's
    ``$tlast``), its packet id ``$first`` + ``id_offset``; ``$o`` moves past
    it."""
    return _EPB_WAT.format(SOURCE=source, TS_INDEX=ts_index, ID_OFFSET=id_offset,
                           EPB=EPB, SLOTHEAD=L.SLOT_HEADER, IDOPT=EPB_PACKETID | (8 << 16),
                           END=OPT_END)


_EPB_WAT = """      (local.set $p (i32.add (local.get $o) (i32.add (i32.const 28)
        (i32.and (i32.add (local.get $len) (i32.const 3)) (i32.const -4)))))
      (local.set $total (i32.add (i32.sub (local.get $p) (local.get $o)) (i32.const 20)))
      (local.set $ts (if (result i64) (i32.eq (local.get $i)
                                              (i32.sub (local.get $count) (i32.const 1)))
        (then (local.get $tlast))
        (else (i64.add (local.get $t0) (i64.mul (local.get $tstep)
                                                {TS_INDEX})))))
      (i32.store $out (local.get $o) (i32.const {EPB}))
      (i32.store $out offset=4 (local.get $o) (local.get $total))
      (i32.store $out offset=8 (local.get $o) (local.get $iface))
      (i32.store $out offset=12 (local.get $o) (i32.wrap_i64 (i64.shr_u (local.get $ts)
                                                                       (i64.const 32))))
      (i32.store $out offset=16 (local.get $o) (i32.wrap_i64 (local.get $ts)))
      (i32.store $out offset=20 (local.get $o) (local.get $len))
      (i32.store $out offset=24 (local.get $o) (local.get $len))
      ;; zero padding first: the payload copy, then the options, write over the rest
      (i32.store $out (i32.sub (local.get $p) (i32.const 4)) (i32.const 0))
      (memory.copy $out ${SOURCE} (i32.add (local.get $o) (i32.const 28))
                   (i32.add (local.get $slot) (i32.const {SLOTHEAD})) (local.get $len))
      (i32.store $out (local.get $p) (i32.const {IDOPT}))  ;; code 5, length 8
      (i64.store $out offset=4 (local.get $p) (i64.add (local.get $first) {ID_OFFSET}))
      (i32.store $out offset=12 (local.get $p) (i32.const {END}))
      (i32.store $out offset=16 (local.get $p) (local.get $total))
      (local.set $o (i32.add (local.get $o) (local.get $total)))
"""


def block_max(max_payload: int) -> int:
    """Bytes of the largest block one message of the ring can make."""
    return 48 + (max_payload + 3) // 4 * 4


def build_wat(geo: L.Geometry) -> str:
    out_pages = -(-max(OUT_MIN, block_max(geo.max_payload)) // L.PAGE)
    block = epb_wat("ring", "(i64.extend_i32_u (i32.add (local.get $i) (i32.const 1)))",
                    "(i64.extend_i32_u (local.get $i))")
    return _BUILD_WAT.format(BLOCK=block, P=geo.pages, OP=out_pages, HEADER=L.HEADER_SIZE,
                             MASK=geo.mask, SLOT=geo.slot_size, MAXP=geo.max_payload)


class BadLength(Exception):
    """Message ``counter``'s slot holds ``length``, over the tunnel's max_payload."""

    def __init__(self, counter: int, length: int) -> None:
        super().__init__(counter, length)
        self.counter, self.length = counter, length


class BlockBuilder:
    """The build module on one ring; used by the tap's thread only."""

    def __init__(self, rt: Runtime, ring: RingMemory) -> None:
        self._store = rt.new_store()
        inst = wasmtime.Instance(self._store, rt.module(build_wat(ring.geometry)),
                                 [ring.shared])
        exports = inst.exports(self._store)
        func, mem = exports["build"], exports["out"]
        assert isinstance(func, wasmtime.Func) and isinstance(mem, wasmtime.Memory)
        self._build = FastFunc(self._store, func)
        self._out = private_view(self._store, mem)  # never grown: the view stays valid
        self._block = block_max(ring.geometry.max_payload)
        self._per_call = len(self._out) // self._block
        self._used = 0  # bytes of this build's blocks in the output memory
        self._parts: list[bytes] = []  # what a build larger than the output memory filled

    def build(self, first: int, count: int, iface: int, lo: int, hi: int,
              stamped: dict[int, int], upto: int) -> bytes:
        """The blocks of the first ``upto`` of ``count`` messages from ``first``,
        published in ``(lo, hi]``; ``BadLength`` if a slot's length does not fit
        (nothing of the batch is handed out)."""
        return bytes(self.build_view(first, count, iface, lo, hi, stamped, upto))

    def build_view(self, first: int, count: int, iface: int, lo: int, hi: int,
                   stamped: dict[int, int], upto: int) -> bytes | memoryview:
        """``build``, as a view of the output memory when the blocks fit there
        (no copy: valid until the next build, so only for an output that copies
        what it is given); else as one ``bytes``."""
        self._used, self._parts = 0, []
        for (c0, t0), (c1, t1) in pairwise(anchors(first, count, lo, hi, stamped)):
            steps = min(c1, first + upto - 1) - c0
            if steps <= 0:
                break
            self._stretch(c0 + 1, steps, c1 - c0, t0, (t1 - t0) // (c1 - c0), t1, iface)
        done = self._out[: self._used]
        return b"".join([*self._parts, done]) if self._parts else done

    def _stretch(self, first: int, steps: int, span: int, t0: int, step: int, t1: int,
                 iface: int) -> None:
        """Messages ``first .. first+steps-1`` of a stretch of ``span`` timed
        ``t0 + step * k``, its last (``first + span - 1``) ``t1``, appended to
        the output memory (its blocks so far copied out first if full)."""
        done = 0
        while done < steps:
            if len(self._out) - self._used < self._block:  # full: copy its blocks out
                self._parts.append(bytes(self._out[: self._used]))
                self._used = 0
            room = (len(self._out) - self._used) // self._block
            n = min(room, self._per_call, steps - done)
            last = t1 if done + n == span else t0 + step * (done + n)
            got = self._build(first + done, n, iface, t0 + step * done, step, last, self._used)
            if got is None or got < 0:
                at = -(got or 0) - 1
                raise BadLength(first + done + at, int.from_bytes(self._out[:4], "little"))
            self._used = got
            done += n
