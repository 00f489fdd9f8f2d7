"""One tunnel of a tap: its ring, the tap's hands on it and its cursor.

A lossless line holds the writer (``TapCursor``, ``tapctl.TapControl``) and
builds its blocks in Wasm straight from the slots (``tapbuild.py``); a
sampled one reads with a cursor the writer ignores (``tapskip.py``) and
copies only the slots it keeps (``tapbatch.py``). Every length a line reads
is checked before it is used; a writer that broke the ring is a ``TapError``.
"""

from __future__ import annotations

from ..errors import TapError
from ..host.engine import Runtime
from ..mesh import Tunnel
from ..ring import layout as L
from ..ring.protocol import Field, TapCursor, fitting
from .tapbatch import Batch
from .tapbuild import BadLength, BlockBuilder
from .tapclock import stamps, stretches_every
from .tapctl import TapControl
from .tapgrab import H_AFTER, H_HEAD, H_OLDEST, H_START, Grabber
from .tapskip import SkipCursor, trim_run


class Line:
    """One tunnel of a tap: its ring, the tap's hands on it and its cursor."""

    def __init__(self, rt: Runtime, tunnel: Tunnel, iface: int, holds: bool) -> None:
        self.tunnel, self.ring, self.iface, self.holds = tunnel, tunnel.ring, iface, holds
        self.rt, self.ctl = rt, TapControl(rt, tunnel.ring)
        # the model's tap: a second read cursor the writer honours; else one it ignores
        self.cur: TapCursor | SkipCursor = TapCursor(tunnel.geometry) if holds \
            else SkipCursor(tunnel.ring)
        self.attached = False
        self.waiting = 0  # messages past the cursor at the round's look
        self._builder: BlockBuilder | None = None  # made by ``prepare`` (a lossless tap)
        self._grabber: Grabber | None = None  # made by ``prepare_grab`` (a sampled tap)
        self.kept_copies = (0, 0, 0)  # a grab's: first kept counter, its index, how many
        self.first = self.count = 0  # a grab's messages, after those that may be rewritten

    def prepare(self) -> None:
        """Make the block builder before the tap attaches: instantiating it takes
        about a millisecond, which on the first batch the held writer would wait."""
        if self._builder is None:
            self._builder = BlockBuilder(self.rt, self.ring)

    def prepare_grab(self, step: int) -> None:
        """Make the grab module (``tapgrab.py``) of a sampled line before it attaches."""
        if self._grabber is None:
            self._grabber = Grabber(self.rt, self.ring, step)

    def grab(self) -> int:
        """A sampled line's look and copies in one call (``tapgrab.py``): the
        counters it read checked as ``look`` checks them, the copies the writer
        may have come round to dropped (counted as missed); messages waiting."""
        grabber, cur = self._grabber, self.cur
        assert grabber is not None and isinstance(cur, SkipCursor)
        copies, read = grabber.grab(cur.pos), grabber.counters
        waiting = self.waiting = cur.window(read[H_OLDEST], read[H_HEAD])  # checked here
        if copies < 0:  # cannot be: window raised on the same counters
            raise TapError(f"tunnel {self.tunnel.name!r}: the tap read counters no writer "
                           "could show")
        lost = cur.drop(waiting, read[H_AFTER])
        self.first, self.count = cur.pos + lost, waiting - lost
        start, step = read[H_START], grabber.step
        gone = min(copies, max(0, -(-(self.first - start) // step)))
        self.kept_copies = (start + gone * step, gone, copies - gone)
        return waiting

    def grabbed_blocks(self, lo: int, hi: int, room: int) -> tuple[memoryview, int]:
        """The blocks of the first ``room`` copies the last grab kept, built in
        Wasm from its copy, each length checked: a view valid until the next grab."""
        grabber = self._grabber
        assert grabber is not None
        start, index, copies = self.kept_copies
        take = min(copies, room)
        if take <= 0:
            return grabber.out[:0], 0
        counters = range(start, start + take * grabber.step, grabber.step)
        end = grabber.blocks_at
        runs = stretches_every(self.first, self.count, lo, hi,
                               stamps(self.ring, self.first, self.count), counters)
        try:
            for at, n, t0, step, last in runs:
                end = grabber.build(counters[at], index + at, n, self.iface, t0, step, last,
                                    end)
        except BadLength as bad:
            raise TapError(f"tunnel {self.tunnel.name!r}: slot length {bad.length} exceeds "
                           f"its max_payload of {self.ring.geometry.max_payload} bytes") from None
        return grabber.out[grabber.blocks_at: end], take

    def attach(self) -> None:
        if not self.holds:  # the writer never knows of it: nothing to refuse or to store
            self.cur.start_at(self.ring.load(Field.HEAD))
            self.attached = True
            return
        if self.ring.u32(L.OFF_TAP_MODE):
            raise TapError(f"tunnel {self.tunnel.name!r} already has a tap attached")
        self.cur.start_at(self.ctl.attach())
        self.attached = True

    def look(self) -> int:
        """Messages published past the cursor; a writer that ran over it is an error."""
        n = self.cur.available(self.ring)
        if n < 0:
            raise TapError(f"tunnel {self.tunnel.name!r}: head={self.ring.load(Field.HEAD)} "
                           f"is more than a ring ahead of the tap at {self.cur.pos}; the "
                           "writer ignored the tap")
        self.waiting = n
        return n

    def ended(self) -> bool:
        """Closed, and nothing published past the cursor (closed is stored last)."""
        # SYNC POINT with $close in ring/adapter.py and close in ring/control.py:
        # closed is read before head, as closed is stored after the last publish
        return self.cur.ended(self.ring)

    def blocks(self, lo: int, hi: int, upto: int) -> bytes | memoryview:
        """The pcapng blocks of the first ``upto`` waiting messages, built in Wasm
        from the slots (``tapbuild.py``), each length checked before it is used;
        a view of the builder's memory, valid until the next batch, if they fit."""
        self.prepare()
        assert self._builder is not None
        first, count = self.cur.pos, self.waiting
        try:
            return self._builder.build_view(first, count, self.iface, lo, hi,
                                            stamps(self.ring, first, count), upto)
        except BadLength as bad:
            raise TapError(f"tunnel {self.tunnel.name!r}: slot length {bad.length} exceeds "
                           f"its max_payload of {self.ring.geometry.max_payload} bytes") from None

    def snapshot(self, sample: int) -> Batch:
        """The waiting slots copied out (one copy per contiguous run; only every
        ``sample``-th slot for a sampled tap), every length in the copy checked
        before anything is read by it."""
        first, count, geo = self.cur.pos, self.waiting, self.ring.geometry
        if sample == 1:
            runs = self.ring.copy_slots(first, count)
        else:
            start = first + (-first % sample)  # the first counter the sample keeps
            kept = len(range(start, first + count, sample))
            runs = [(start, self.ring.copy_every(start, kept, sample))] if kept else []
        if isinstance(self.cur, SkipCursor):  # drop what the writer may have rewritten
            lost = self.cur.stale(count)
            first, count = first + lost, count - lost
            runs = [run for start, slots in runs
                    if (run := trim_run(start, slots, sample, geo.slot_size, first))[1]]
        batch = Batch(first, count, geo.slot_size, runs, stamps(self.ring, first, count),
                      sample)
        lengths = batch.lengths()
        if not self.cur.check_lengths(lengths):
            size = lengths[fitting(lengths, geo)]
            raise TapError(f"tunnel {self.tunnel.name!r}: slot length {size} exceeds its "
                           f"max_payload of {geo.max_payload} bytes")
        return batch
