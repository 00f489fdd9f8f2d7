"""The real pub-sub adapters and the model (``ring/pubsub_model.py``), step by step.

A hypothesis state machine drives a pub-sub writer, a blocking subscriber
and a lossy one (real adapters, their exports called directly, one store,
no threads, the try forms only) and a host subscriber on a third line that
joins, lags and leaves, doing each step on the real ring and on the model.
After every step the statuses, the bytes each subscriber got and every
counter of the header and of each line must agree.
"""

from __future__ import annotations

import struct

import pytest
import wasmtime
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from model_guest import Guest
from nanonet.host.engine import runtime
from nanonet.ring import layout as L
from nanonet.ring import protocol as P
from nanonet.ring import pubsub_model as M
from nanonet.ring.adapter import Direction, EndSpec
from nanonet.ring.layout import Geometry, SubMode
from nanonet.ring.memory import RingMemory
from nanonet.ring.pubsub_wat import Sub

pytestmark = pytest.mark.timeout(180)

LENGTHS = st.integers(0, 8)
IN, OUT = 1024, 32768
HEADER = (P.Field.HEAD, P.Field.BYTES_IN, P.Field.FULL_COUNT, P.Field.WRITER_WAKES,
          P.Field.QUARANTINE, P.Field.CLOSED)
LINE = (L.SUB_TAIL, L.SUB_BYTES_OUT, L.SUB_EMPTY, L.SUB_WAKES, L.SUB_MISSED, L.SUB_MODE)
BLOCKING, LOSSY, HOST = 0, 1, 2  # the lines


def payload(counter: int, length: int) -> bytes:
    return bytes((counter * 7 + i) & 0xFF for i in range(length))


class RealLines:
    """``pubsub_model.Lines`` over a real ring's subscriber lines."""

    def __init__(self, ring: RingMemory) -> None:
        self.ring = ring

    def line_load(self, line: int, off: int) -> int:
        at = self.ring.geometry.sub_line(line) + off
        return self.ring.u32(at) if off == L.SUB_MODE else self.ring.u64(at)

    def line_store(self, line: int, off: int, value: int) -> None:
        at = self.ring.geometry.sub_line(line) + off
        (self.ring.put_u32 if off == L.SUB_MODE else self.ring.put_u64)(at, value)


class PubSubAndModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ring: RingMemory | None = None

    @initialize(slots=st.sampled_from([2, 4, 8]), start=st.sampled_from([0, P.U64 - 5]))
    def build(self, slots: int, start: int) -> None:
        rt = runtime()
        rt.ticker.hold()
        self.geo = Geometry.for_payload(slots, 8, 3)
        self.ring = RingMemory(rt.engine, self.geo, "t")
        self.real = RealLines(self.ring)
        self.state = M.PubSubState(self.geo)
        self.ring.put_u64(L.OFF_HEAD, start)
        self.state.store(P.Field.HEAD, start)
        for line, mode in ((BLOCKING, SubMode.BLOCK), (LOSSY, SubMode.LOSSY)):
            for lines in (self.real, self.state):
                lines.line_store(line, L.SUB_TAIL, start)
                lines.line_store(line, L.SUB_MODE, mode)
        self.real.line_store(HOST, L.SUB_TAIL, 0xDEAD_BEEF)  # a free line: ignored
        self.state.line_store(HOST, L.SUB_TAIL, 0xDEAD_BEEF)
        self.store = wasmtime.Store(rt.engine)
        self.restart_writer()
        self.restart_subscriber(BLOCKING)
        self.restart_subscriber(LOSSY)

    def teardown(self) -> None:
        if self.ring is not None:
            del self.guests, self.store
            self.ring.close()
            runtime().ticker.release()

    def _ring(self) -> RingMemory:
        assert self.ring is not None
        return self.ring

    # -- the ends ---------------------------------------------------------------
    @rule()
    def restart_writer(self) -> None:
        self.guests: dict[int | str, Guest] = getattr(self, "guests", {})
        self.guests["w"] = Guest(self.store, self._ring(), EndSpec("t", Direction.WRITE,
                                                                   self.geo))
        self.mw = M.PubSubWriterCursor(self.geo, self.state)

    @rule(line=st.sampled_from([BLOCKING, LOSSY]))
    def restart_subscriber(self, line: int) -> None:
        """A subscriber traps and restarts: a fresh instance at its committed tail."""
        sub = Sub(line, line == LOSSY)
        self.guests[line] = Guest(self.store, self._ring(),
                                  EndSpec("t", Direction.READ, self.geo, sub=sub))
        cursor = M.LossyCursor if sub.lossy else M.SubscriberCursor
        if line == BLOCKING:
            self.mb: M.SubscriberCursor = cursor(self.geo)
        else:
            self.ml: M.SubscriberCursor = cursor(self.geo)

    def _next_counter(self) -> int:
        if self.mw.state is P.Attach.UNATTACHED:
            return self.state.load(P.Field.HEAD)
        return self.mw.pos

    @rule(length=LENGTHS)
    def send(self, length: int) -> None:
        self.guests["w"].write(IN, payload(self._next_counter(), length))
        want = self.mw.send(self.state, length)
        assert self.guests["w"].call("try_send", IN, length) == want

    @rule(lengths=st.lists(LENGTHS, max_size=10))
    def send_batch(self, lengths: list[int]) -> None:
        first, out = self._next_counter(), b""
        for i, n in enumerate(lengths):
            out += struct.pack("<I", n) + payload(first + i, n).ljust(P.record_size(n) - 4,
                                                                      b"\0")
        self.guests["w"].write(IN, out)
        want = self.mw.send_batch(self.state, lengths)
        assert self.guests["w"].call("try_send_batch", IN, len(lengths)) == want

    def _sub(self, line: int) -> tuple[Guest, M.SubscriberCursor, M.LineView]:
        return self.guests[line], (self.mb if line == BLOCKING else self.ml), \
            M.LineView(self.state, self.state, line)

    @rule(line=st.sampled_from([BLOCKING, LOSSY]), cap=st.integers(0, 8))
    def recv(self, line: int, cap: int) -> None:
        guest, cursor, view = self._sub(line)
        got = cursor.recv(view, cap)
        assert guest.call("try_recv", OUT, cap) == got.result
        if got.counters:
            (c,) = got.counters
            assert guest.read(OUT, got.result) == payload(c, self.state.slot_length(c))

    @rule(line=st.sampled_from([BLOCKING, LOSSY]), cap=st.integers(0, 80),
          most=st.integers(1, 8))
    def recv_batch(self, line: int, cap: int, most: int) -> None:
        guest, cursor, view = self._sub(line)
        got = cursor.recv_batch(view, cap, most)
        assert guest.call("try_recv_batch", OUT, cap, most) == got.result
        at = OUT
        for c in got.counters:
            (n,) = struct.unpack("<I", guest.read(at, 4))
            assert guest.read(at + 4, n) == payload(c, self.state.slot_length(c))
            at += P.record_size(n)

    @rule(line=st.sampled_from([BLOCKING, LOSSY]))
    def raw(self, line: int) -> None:
        guest, cursor, view = self._sub(line)
        got = cursor.recv_raw(view)
        assert guest.call("try_recv_raw", OUT) == got.result

    @rule(line=st.sampled_from([BLOCKING, LOSSY]))
    def commit(self, line: int) -> None:
        guest, cursor, view = self._sub(line)
        assert guest.call("commit") == cursor.commit_op(view)

    @rule()
    def missed(self) -> None:
        assert self.guests[LOSSY].call("missed") == self.state.line_load(LOSSY, L.SUB_MISSED)
        assert self.guests[BLOCKING].call("missed") == 0

    # -- a host subscriber on line 2: joins at head, lags, moves, leaves --------
    @rule(join=st.booleans())
    def host_joins_or_leaves(self, join: bool) -> None:
        head = self.state.load(P.Field.HEAD)
        for lines in (self.real, self.state):
            if join:
                lines.line_store(HOST, L.SUB_TAIL, head)
            lines.line_store(HOST, L.SUB_MODE, SubMode.BLOCK if join else SubMode.FREE)

    @rule(count=st.integers(1, 4))
    def host_consumes(self, count: int) -> None:
        if self.state.line_load(HOST, L.SUB_MODE) != SubMode.BLOCK:
            return
        tail = self.state.line_load(HOST, L.SUB_TAIL)
        tail = (tail + min(count, P.used(self.state.load(P.Field.HEAD), tail))) & P.U64
        for lines in (self.real, self.state):
            lines.line_store(HOST, L.SUB_TAIL, tail)

    # -- after every step ---------------------------------------------------------
    @invariant()
    def ring_agrees(self) -> None:
        if self.ring is None:
            return
        u32 = {P.Field.QUARANTINE, P.Field.CLOSED}
        real = {f: (self.ring.u32 if f in u32 else self.ring.u64)(f) for f in HEADER}
        assert real == {f: self.state.load(f) for f in HEADER}
        for line in (BLOCKING, LOSSY, HOST):
            assert [self.real.line_load(line, off) for off in LINE] == \
                [self.state.line_load(line, off) for off in LINE], line


PubSubAndModel.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])
test_pubsub_adapters_and_model_agree = PubSubAndModel.TestCase


def test_the_writer_holds_for_the_slowest_blocking_line_only() -> None:
    g = Geometry.for_payload(8, 8, 3)
    lines = [(SubMode.BLOCK, 90), (SubMode.LOSSY, 10), (SubMode.FREE, 0)]
    assert M.sub_hold(100, lines, g) == 90  # the lossy and the free lines do not hold
    assert M.sub_hold(100, [(SubMode.BLOCK, 97)], g) == 94  # publish_every bounds it
    assert M.sub_hold(100, [(SubMode.LOSSY, 10)], g) == 100 - (8 - g.publish_every)


def test_a_lossy_cursor_resumes_at_the_oldest_safe_message() -> None:
    g = Geometry.for_payload(8, 8, 1)
    assert g.lossy_window == 6
    assert M.catch_up(100, 97, g) == (97, 0)
    assert M.catch_up(100, 10, g) == (94, 84)
    assert M.stale(100, 90, 8, g) == 4  # 90..93 may be overwritten: head - n > 6
    assert M.behind(5, 10) == -1
