"""The real WAT adapter and the pure protocol model, step by step.

A hypothesis state machine sends, receives, commits, closes, restarts the
reader (a fresh adapter attaching at the committed tail) or the writer,
attaches and moves a lossless tap, and corrupts the ring, doing each step on
the real adapters (their exports called directly, one store, no threads) and
on ``ring/protocol.py``'s cursors over a ``RingState``. After every step the
statuses, what the reader got and every counter in the header must agree.
Blocking calls are made only where the model says they return at once.
"""

from __future__ import annotations

import copy
import struct
from collections.abc import Callable

import pytest
import wasmtime
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from model_guest import Guest
from nanonet.host.engine import runtime
from nanonet.observe.tapctl import TapControl
from nanonet.ring import layout as L
from nanonet.ring import protocol as P
from nanonet.ring.adapter import Direction, EndSpec
from nanonet.ring.control import BreakInfo, RingControl
from nanonet.ring.layout import Geometry
from nanonet.ring.memory import RingMemory

pytestmark = pytest.mark.timeout(120)

# mostly messages that fit, some that do not (the largest payload is 8 or 24)
LENGTHS = st.one_of(st.integers(0, 8), st.integers(0, 26))
RARE = 5  # close and corrupt one step in RARE + 1: a ring lives a while first
IN, OUT = 1024, 32768  # where the guests' messages are built and received
COMPARED = (P.Field.HEAD, P.Field.TAIL, P.Field.BYTES_IN, P.Field.BYTES_OUT,
            P.Field.FULL_COUNT, P.Field.EMPTY_COUNT, P.Field.WRITER_WAKES,
            P.Field.READER_WAKES, P.Field.CLOSED, P.Field.QUARANTINE, P.Field.TAP_MODE,
            P.Field.TAP_TAIL, P.Field.MAGIC, P.Field.BROKEN, P.Field.DEAD_LETTERS)
U32_FIELDS = {P.Field.CLOSED, P.Field.QUARANTINE, P.Field.TAP_MODE, P.Field.MAGIC,
              P.Field.BROKEN}


def payload(counter: int, length: int) -> bytes:
    """What the writer sends as message ``counter``: recognisable bytes."""
    return bytes((counter * 7 + i) & 0xFF for i in range(length))


def end_guest(store: wasmtime.Store, ring: RingMemory, direction: Direction) -> Guest:
    """A guest holding the ring's one end in ``direction``."""
    return Guest(store, ring, EndSpec("t", direction, ring.geometry))


class RingAndModel(RuleBasedStateMachine):
    """The adapter and the model, driven together."""

    def __init__(self) -> None:
        super().__init__()
        self.ring: RingMemory | None = None

    @initialize(slots=st.sampled_from([2, 4, 8]), max_payload=st.sampled_from([8, 20]),
                start=st.sampled_from([0, P.U64 - 5]))
    def build(self, slots: int, max_payload: int, start: int = 0) -> None:
        rt = runtime()
        rt.ticker.hold()  # the epoch moves, so a call that parks for ever traps
        self.geo = Geometry.for_payload(slots, max_payload)
        self.ring = RingMemory(rt.engine, self.geo, "t")
        self.store = wasmtime.Store(rt.engine)
        self.writer = end_guest(self.store, self.ring, Direction.WRITE)
        self.reader = end_guest(self.store, self.ring, Direction.READ)
        self.tap = TapControl(rt, self.ring)
        self.control = RingControl(rt, self.ring)
        self.state = P.RingState(self.geo)
        for counter in (P.Field.HEAD, P.Field.TAIL):  # counters wrap at 2**64
            self.ring.put_u64(counter, start)
            self.state.store(counter, start)
        self.mw, self.mr = P.WriterCursor(self.geo), P.ReaderCursor(self.geo)
        self.mtap = P.TapCursor(self.geo)

    def teardown(self) -> None:
        if self.ring is not None:
            self.control.release()
            del self.writer, self.reader, self.tap, self.store, self.control
            self.ring.close()
            runtime().ticker.release()

    # -- the two sides of each step ------------------------------------------

    def _parks(self, step: Callable[[P.RingState, P.WriterCursor, P.ReaderCursor], object]) -> bool:
        """Would this blocking step park? Tried on a copy of the model."""
        state, mw, mr = copy.deepcopy((self.state, self.mw, self.mr))
        try:
            step(state, mw, mr)
        except P.WouldPark:
            return True
        return False

    def _received(self, got: P.Received, data: bytes) -> None:
        expect = b"".join(payload(c, self.state.slot_length(c)) for c in got.counters)
        assert data == expect

    def _next_counter(self) -> int:
        """The counter the writer's next message gets (an unattached one starts at head)."""
        if self.mw.state is P.Attach.UNATTACHED:
            return self.state.load(P.Field.HEAD)
        return self.mw.pos

    def _records(self, lengths: list[int], first: int) -> bytes:
        out = b""
        for i, n in enumerate(lengths):
            body = payload(first + i, n) if n <= self.geo.max_payload else b""
            out += struct.pack("<I", n) + body.ljust(P.record_size(n) - 4, b"\0")
        return out

    # -- writer ---------------------------------------------------------------

    @rule(length=LENGTHS, block=st.booleans())
    def send(self, length: int, block: bool) -> None:
        if block and self._parks(lambda s, w, _r: w.send(s, length, True)):
            return
        self.writer.write(IN, payload(self._next_counter(), length))
        want = self.mw.send(self.state, length, block)
        assert self.writer.call("send" if block else "try_send", IN, length) == want

    @rule(lengths=st.lists(LENGTHS, max_size=6), block=st.booleans())
    def send_batch(self, lengths: list[int], block: bool) -> None:
        if block and self._parks(lambda s, w, _r: w.send_batch(s, lengths, True)):
            return
        self.writer.write(IN, self._records(lengths, self._next_counter()))
        want = self.mw.send_batch(self.state, lengths, block)
        op = "send_batch" if block else "try_send_batch"
        assert self.writer.call(op, IN, len(lengths)) == want

    @rule(now=st.integers(0, RARE))
    def close_writer(self, now: int) -> None:
        if now:
            return
        assert self.writer.call("close") == self.mw.close(self.state)

    @rule()
    def restart_writer(self) -> None:
        """A fresh writer instance attaches at the published head."""
        self.writer = end_guest(self.store, self._ring(), Direction.WRITE)
        self.mw = P.WriterCursor(self.geo)

    # -- reader ---------------------------------------------------------------

    @rule(cap=LENGTHS, block=st.booleans())
    def recv(self, cap: int, block: bool) -> None:
        if block and self._parks(lambda s, _w, r: r.recv(s, cap, True)):
            return
        got = self.mr.recv(self.state, cap, block)
        assert self.reader.call("recv" if block else "try_recv", OUT, cap) == got.result
        self._received(got, self.reader.read(OUT, got.result) if got.counters else b"")

    @rule(cap=st.integers(0, 80), most=st.integers(1, 6), block=st.booleans())
    def recv_batch(self, cap: int, most: int, block: bool) -> None:
        if block and self._parks(lambda s, _w, r: r.recv_batch(s, cap, most, True)):
            return
        got = self.mr.recv_batch(self.state, cap, most, block)
        op = "recv_batch" if block else "try_recv_batch"
        assert self.reader.call(op, OUT, cap, most) == got.result
        data, at = b"", OUT
        for c in got.counters:
            (n,) = struct.unpack("<I", self.reader.read(at, 4))
            assert n == self.state.slot_length(c)
            data += self.reader.read(at + 4, n)
            at += P.record_size(n)
        self._received(got, data)

    @rule()
    def try_recv_raw(self) -> None:
        got = self.mr.recv_raw(self.state)
        assert self.reader.call("try_recv_raw", OUT) == got.result
        for c in got.counters:
            (at,) = struct.unpack("<I", self.reader.read(OUT, 4))
            assert at == P.payload_offset(self.geo, c)
            self._received(got, self._ring().read_bytes(at, got.result))

    @rule()
    def commit(self) -> None:
        assert self.reader.call("commit") == self.mr.commit_op(self.state)

    @rule(now=st.integers(0, RARE))
    def close_reader(self, now: int) -> None:
        if now:
            return
        assert self.reader.call("close") == self.mr.close_end(self.state)

    @rule()
    def restart_reader(self) -> None:
        """The reader traps and restarts: a fresh instance at the committed tail."""
        self.reader = end_guest(self.store, self._ring(), Direction.READ)
        self.mr = P.ReaderCursor(self.geo)

    @rule()
    def dead_letter_and_restart_reader(self) -> None:
        """The reader trapped on the message at its committed tail once too
        often: its supervisor moves that message aside, then restarts it."""
        length = self.state.slot_length(self.state.load(P.Field.TAIL))
        want = P.dead_letter(self.state, self.geo)
        got = self.control.dead_letter()
        assert (None if got is None else got.sequence) == want
        if got is not None:
            assert got.data == payload(got.sequence, length)
        self.restart_reader()

    # -- the host breaks it ---------------------------------------------------

    @rule(side=st.sampled_from([P.Field.READER_YIELD, P.Field.WRITER_YIELD]), on=st.booleans())
    def ask_yield(self, side: P.Field, on: bool) -> None:
        """The host asks an end to yield (a hot upgrade), or takes it back."""
        self._ring().put_u32(side, int(on))
        self.state.store(side, int(on))

    @rule(now=st.integers(0, RARE), reason=st.sampled_from([L.Broken.TRAPPED, L.Broken.FAILED]))
    def break_ring(self, now: int, reason: int) -> None:
        """The service at one end is gone for good: the host breaks the ring."""
        if now:
            return
        self.control.break_(BreakInfo("writer", "w", reason, "trapped"))
        P.break_ring(self.state, reason)

    # -- the tap --------------------------------------------------------------

    @precondition(lambda self: not self.state.load(P.Field.TAP_MODE))
    @rule()
    def tap_attach(self) -> None:
        # TapControl.attach hands back Wasm's signed i64: compare as the u64 it is
        assert self.tap.attach() & P.U64 == self.mtap.attach(self.state)

    @precondition(lambda self: self.state.load(P.Field.TAP_MODE))
    @rule(count=st.integers(1, 2))  # a tap that lags: the writer waits for it
    def tap_advance(self, count: int) -> None:
        ahead = self.mtap.available(self.state)
        if ahead < 0:  # an overrun (a writer ran over the tap): the tap stops and detaches
            self.tap_detach()
        elif min(count, ahead):
            self.tap.advance((self.mtap.pos + min(count, ahead)) & P.U64)
            self.mtap.advance(self.state, min(count, ahead))

    @precondition(lambda self: self.state.load(P.Field.TAP_MODE))
    @rule(now=st.integers(0, RARE))
    def tap_detach(self, now: int = 0) -> None:
        if now:
            return
        self.tap.detach()
        self.mtap.detach(self.state)

    # -- a broken writer ------------------------------------------------------

    @rule(extra=st.integers(1, 1 << 20), pick=st.integers(0, 1 << 16),
          now=st.integers(0, RARE))
    def corrupt_length(self, extra: int, pick: int, now: int) -> None:
        """A slot not yet consumed gets a length larger than its payload."""
        tail, head = self.state.load(P.Field.TAIL), self.state.load(P.Field.HEAD)
        if head == tail or now:
            return
        counter = tail + pick % (head - tail)
        bad = self.geo.max_payload + extra
        self._ring().put_u32(self.geo.slot_offset(counter), bad)
        self.state.put_slot_length(counter, bad)

    @rule(now=st.integers(0, RARE))
    def corrupt_magic(self, now: int) -> None:
        if now:
            return
        self._ring().put_u32(L.OFF_MAGIC, 0)
        self.state.store(P.Field.MAGIC, 0)

    # -- after every step -----------------------------------------------------

    @invariant()
    def header_agrees(self) -> None:
        if self.ring is None:
            return
        real = {f: (self.ring.u32 if f in U32_FIELDS else self.ring.u64)(f) for f in COMPARED}
        assert real == {f: self.state.load(f) for f in COMPARED}

    def _ring(self) -> RingMemory:
        assert self.ring is not None
        return self.ring


RingAndModel.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])
test_adapter_and_model_agree = RingAndModel.TestCase


def test_a_writer_attaching_behind_a_lossless_tap_does_not_overrun_it() -> None:
    steps = RingAndModel()
    steps.build(slots=2, max_payload=8)
    try:
        steps.tap_attach()
        for _ in range(2):
            steps.send(length=1, block=False)
        for _ in range(2):
            steps.recv(cap=8, block=False)
        steps.commit()  # the reader is 2 ahead of the tap: the ring is full for the writer
        steps.send(length=1, block=False)
        assert steps.mtap.available(steps.state) == 2  # held back by the tap
        steps.restart_writer()
        steps.send(length=1, block=False)
        assert steps.mtap.available(steps.state) >= 0, "the writer ran over the tap"
    finally:
        steps.teardown()


def test_a_reader_asked_to_yield_commits_and_takes_nothing() -> None:
    """The commit point of a hot upgrade: the receive commits the previous
    receive's message, then returns YIELD with the next one still queued."""
    steps = RingAndModel()
    steps.build(slots=4, max_payload=8)
    try:
        for _ in range(2):
            steps.send(length=1, block=False)
        steps.recv(cap=8, block=False)
        steps.ask_yield(P.Field.READER_YIELD, True)
        steps.recv(cap=8, block=True)  # would not park: it yields
        assert steps.reader.call("try_recv", OUT, 8) == L.Status.YIELD
        assert steps.mr.recv(steps.state, 8).result == L.Status.YIELD
        assert steps._ring().u64(L.OFF_TAIL) == 1  # the first one committed, the second queued
        steps.ask_yield(P.Field.READER_YIELD, False)
        steps.recv(cap=8, block=False)
        assert steps.mr.pos == 2
    finally:
        steps.teardown()


def test_a_writer_asked_to_yield_sends_then_says_so() -> None:
    steps = RingAndModel()
    steps.build(slots=4, max_payload=8)
    try:
        steps.ask_yield(P.Field.WRITER_YIELD, True)
        steps.writer.write(IN, payload(0, 1))
        assert steps.writer.call("try_send", IN, 1) == L.Status.YIELD
        assert steps.mw.send(steps.state, 1) == L.Status.YIELD
        assert steps._ring().u64(L.OFF_HEAD) == 1  # it was sent
    finally:
        steps.teardown()
