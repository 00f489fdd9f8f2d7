"""The host's writer, reader and tap are cursors of the ring model.

``ring/protocol.py`` is checked against the real adapter step by step
(``test_protocol_model.py``). The host's ends must decide nothing of their
own: the batch steps they call (``room_count``, ``available_count``,
``fitting``) must say what the adapter-checked one-message steps say, the
host must do what they predict on a real ring, and the host ends and the
tap must hold no counter arithmetic or length comparison of their own.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nanonet
from nanonet import Mesh
from nanonet.errors import MessageTooBig, TunnelCorrupt
from nanonet.host.engine import runtime
from nanonet.observe.tapctl import TapControl
from nanonet.ring import layout as L
from nanonet.ring import protocol as P
from nanonet.ring.layout import Geometry, Quarantine, Status

pytestmark = pytest.mark.timeout(120)
GEO = Geometry.for_payload(8, 16)
SRC = Path(nanonet.__file__).parent
HOST_ENDS = (SRC / "ring" / "end.py", SRC / "ring" / "writer.py", SRC / "ring" / "reader.py",
             SRC / "observe" / "tap.py")


def _ring_at(head: int, tail: int, tap: int | None = None) -> P.RingState:
    state = P.RingState(GEO)
    state.store(P.Field.HEAD, head)
    state.store(P.Field.TAIL, tail)
    if tap is not None:
        state.store(P.Field.TAP_MODE, 1)
        state.store(P.Field.TAP_TAIL, tap)
    return state


@given(tail=st.integers(0, P.U64), ahead=st.integers(0, 8), behind=st.integers(0, 8),
       tap=st.booleans())
def test_room_count_is_how_many_single_sends_succeed(tail: int, ahead: int, behind: int,
                                                     tap: bool) -> None:
    head = (tail + ahead) & P.U64
    state = _ring_at(head, tail, (tail - behind) & P.U64 if tap and behind + ahead <= 8 else None)
    batch, single = P.WriterCursor(GEO), P.WriterCursor(GEO)
    batch.start(state)
    ring = copy.deepcopy(state)
    assert single.attach(ring) == Status.OK
    single.refresh(ring)  # attach loads the tail, not a tap's cursor (the xfail in
    sends = 0  # test_protocol_model.py); the host's start leaves it to the first re-read
    while single.send(ring, 0) == Status.OK:
        sends += 1
    assert batch.room_count(state) == sends
    assert batch.parks_on is single.parks_on


@given(tail=st.integers(0, P.U64), ahead=st.integers(0, 8))
def test_available_count_is_how_many_single_receives_succeed(tail: int, ahead: int) -> None:
    state = _ring_at((tail + ahead) & P.U64, tail)
    batch, single = P.ReaderCursor(GEO), P.ReaderCursor(GEO)
    batch.start(state)
    assert single.attach(state) == Status.OK
    receives = 0
    while single.recv(state, GEO.max_payload).result >= 0:
        receives += 1
    assert batch.available_count(state) == receives == ahead


@given(tail=st.integers(0, P.U64), beyond=st.integers(9, 1 << 40))
def test_a_head_beyond_the_ring_is_corrupt_in_both_forms(tail: int, beyond: int) -> None:
    batch, single = P.ReaderCursor(GEO), P.ReaderCursor(GEO)
    state = _ring_at(tail, tail)
    batch.start(state)
    assert single.attach(state) == Status.OK
    state.store(P.Field.HEAD, tail + beyond)
    assert single.recv(copy.deepcopy(state), GEO.max_payload).result == Status.CORRUPT
    assert batch.available_count(state) == Status.CORRUPT
    assert state.load(P.Field.QUARANTINE) == Quarantine.BAD_COUNTERS
    assert batch.waiting() == 0, "the forged head was cached"


@given(st.lists(st.integers(0, GEO.max_payload + 4), max_size=10))
def test_fitting_counts_the_lengths_a_single_send_accepts(lengths: list[int]) -> None:
    accepted = 0
    for n in lengths:
        if not P.length_ok(n, GEO):
            break
        accepted += 1
    assert P.fitting(lengths, GEO) == accepted


STEP = st.one_of(st.tuples(st.just("send"), st.lists(st.integers(0, GEO.max_payload + 2),
                                                     max_size=12)),
                 st.tuples(st.just("recv"), st.integers(1, 12)),
                 st.tuples(st.just("tap"), st.integers(0, 8)))


def _try_send_many(cursor: P.WriterCursor, ring: P.Ring, lengths: list[int]) -> int:
    """What a try batch sends by the model: room counted again each time it runs out."""
    sent = 0
    while lengths and (room := cursor.room_count(ring)) > 0:
        ok = P.fitting(lengths[:room], cursor.geometry)
        cursor.put(ok)
        sent += ok
        if ok < min(room, len(lengths)):
            break
        lengths = lengths[ok:]
    return sent


@settings(max_examples=40, deadline=None)
@given(st.lists(STEP, max_size=25))
def test_host_ends_do_what_the_model_predicts_on_a_real_ring(steps: list[tuple[str, Any]]) -> None:
    """Each host batch sends (receives) what a fresh model cursor over the
    same ring counts: room (messages) and the length check, a lossless tap
    holding the writer included."""
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=GEO.slot_count, max_payload=GEO.max_payload)
        ring, writer, reader = tunnel.ring, mesh.writer("t"), mesh.reader("t")
        tap, tap_cur = TapControl(runtime(), ring), P.TapCursor(tunnel.geometry)
        tap_cur.start_at(tap.attach())
        model_w, model_r = P.WriterCursor(tunnel.geometry), P.ReaderCursor(tunnel.geometry)
        model_w.start(ring)
        model_r.start(ring)
        for kind, arg in steps:
            if kind == "send":
                want = _try_send_many(model_w, ring, list(arg))
                try:
                    sent = writer.try_send_many(bytes(n) for n in arg)
                except MessageTooBig as err:
                    sent = err.sent
                assert sent == want
            elif kind == "recv":
                want = min(arg, model_r.available_count(ring))
                assert len(reader.try_recv_many(arg)) == want
                model_r.take(want)
            else:
                count = min(arg, tap_cur.available(ring))
                tap_cur.take(count)
                tap.advance(tap_cur.pos)


def test_a_host_reader_refuses_a_head_beyond_the_ring_for_good() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=GEO.slot_count, max_payload=GEO.max_payload)
        reader = mesh.reader("t")
        tunnel.ring.put_u64(L.OFF_HEAD, 9)
        for _ in range(2):
            with pytest.raises(TunnelCorrupt):
                reader.try_recv_many()
        assert tunnel.ring.quarantine == Quarantine.BAD_COUNTERS


def own_decisions(source: str) -> list[str]:
    """Counter arithmetic (``& mask``) and comparisons with a geometry bound:
    what the model decides, done by hand."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            hits.append(f"{node.lineno}: counter arithmetic")
        if isinstance(node, ast.Compare):
            names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            if names & {"max_payload", "slot_count", "mask", "OFF_QUARANTINE"}:
                hits.append(f"{node.lineno}: a bound compared")
        if isinstance(node, ast.Attribute) and node.attr in ("Quarantine", "OFF_QUARANTINE"):
            hits.append(f"{node.lineno}: a quarantine decided")
    return hits


@pytest.mark.parametrize("path", HOST_ENDS, ids=lambda p: p.name)
def test_the_host_ends_decide_nothing_themselves(path: Path) -> None:
    assert own_decisions(path.read_text()) == []


def test_the_decision_check_sees_hand_made_checks() -> None:
    made = ("def f(self, size, head, tail):\n"
            "    if size > self.geometry.max_payload:\n"
            "        self.ring.put_u32(L.OFF_QUARANTINE, L.Quarantine.BAD_LENGTH)\n"
            "    return (head - tail) & U64\n")
    assert sorted(own_decisions(made)) == ["2: a bound compared", "3: a quarantine decided",
                                           "3: a quarantine decided", "4: counter arithmetic"]


@given(st.lists(st.integers(0, GEO.max_payload + 4), max_size=10))
def test_claim_moves_the_writer_past_what_fits(lengths: list[int]) -> None:
    cursor = P.WriterCursor(GEO)
    cursor.pos = P.U64 - 3  # across the wrap
    ok = cursor.claim([bytes(n) for n in lengths])
    assert ok == P.fitting(lengths, GEO)
    assert cursor.pos == (P.U64 - 3 + ok) & P.U64
