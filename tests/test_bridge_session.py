"""The sans-I/O bridge sessions: handshake, credit, resume, and a link that
loses, duplicates and reorders frames (tests/bridge_sim.py)."""

from __future__ import annotations

import random
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_sim import MAX_PAYLOAD, TIMING, Faults, Sim, message
from nanonet.bridge import frames as F
from nanonet.bridge.events import Accepted, Connected, LinkLost, Refused
from nanonet.bridge.session import ReceiverSession, SenderSession
from nanonet.errors import BridgeProtocolError, InvalidValue


def test_a_clean_link_delivers_every_message_in_order() -> None:
    sim = Sim(2000, slots=64, faults=Faults())
    sim.run(5000)
    assert sim.got == [message(i) for i in range(2000)]


@settings(max_examples=40, deadline=None)
@given(drop=st.floats(0, 0.3), dup=st.floats(0, 0.3), swap=st.floats(0, 0.5),
       slots=st.sampled_from([4, 16, 64]), batch=st.integers(1, 40),
       salt=st.integers(0, 1 << 32))
def test_loss_duplication_and_reordering_change_nothing_delivered(
        drop: float, dup: float, swap: float, slots: int, batch: int,
        salt: int) -> None:
    sim = Sim(300, slots=slots, faults=Faults(drop, dup, swap, random.Random(salt)), batch=batch)
    sim.run(40_000)
    assert sim.got == [message(i) for i in range(300)]


def test_the_sender_never_has_more_in_flight_than_the_credit() -> None:
    sim = Sim(500, slots=8, faults=Faults(), batch=100, consume=1)
    for _ in range(50):
        sim.tick()
        s = sim.sender
        assert s.next_send - s.acked <= 8 and s.window_end - s.acked <= 8


def _open_pair(now: float = 0.0) -> tuple[SenderSession, ReceiverSession]:
    s = SenderSession("t", MAX_PAYLOAD, b"k", 0, now, TIMING)
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, now, TIMING)
    s.handle_timer(now)
    for f in s.data_to_send(now):
        r.receive_data(f, now)
    for f in r.data_to_send(now):
        s.receive_data(f, now)
    assert isinstance(s.next_event(), Accepted) and isinstance(r.next_event(), Connected)
    return s, r


def test_resume_starts_from_what_the_receiver_says_it_has() -> None:
    s, r = _open_pair()
    s.send_data(0, array("I", [1, 1, 1]), b"abc")
    for f in s.data_to_send(0):
        r.receive_data(f, 0)
    r.next_event()
    r.acknowledge(3, 5)
    r.data_to_send(0)  # the ack is lost; the sender's bridge restarts
    fresh = SenderSession("t", MAX_PAYLOAD, b"k", 0, 1.0, TIMING)
    fresh.handle_timer(1.0)
    for f in fresh.data_to_send(1.0):
        r.receive_data(f, 1.0)
    for f in r.data_to_send(1.0):
        fresh.receive_data(f, 1.0)
    accepted = fresh.next_event()
    assert accepted == Accepted(F.VERSION, 3, 5) and fresh.next_send == 3


@pytest.mark.parametrize(("token", "name", "payload", "code"), [
    (b"wrong", "t", MAX_PAYLOAD, F.Refusal.AUTH),
    (b"k", "u", MAX_PAYLOAD, F.Refusal.TUNNEL),
    (b"k", "t", MAX_PAYLOAD + 1, F.Refusal.TUNNEL),
])
def test_a_hello_that_does_not_match_is_refused_on_both_sides(
        token: bytes, name: str, payload: int, code: F.Refusal) -> None:
    s = SenderSession(name, payload, token, 0, 0.0, TIMING)
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING)
    s.handle_timer(0.0)
    for f in s.data_to_send(0.0):
        r.receive_data(f, 0.0)
    mine = r.next_event()
    assert isinstance(mine, Refused) and mine.code == code and not mine.by_peer
    for f in r.data_to_send(0.0):
        s.receive_data(f, 0.0)
    theirs = s.next_event()
    assert isinstance(theirs, Refused) and theirs.by_peer and s.state == "refused"
    assert r.state == "waiting" and s.sendable() == 0


def test_a_hello_of_no_common_version_is_refused() -> None:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING)
    r.receive_data(F.hello(F.VERSION + 1, F.VERSION + 3, MAX_PAYLOAD, 1, b"t", b"k"), 0.0)
    e = r.next_event()
    assert isinstance(e, Refused) and e.code == F.Refusal.VERSION


def test_silence_is_a_lost_link_and_the_sender_says_hello_again() -> None:
    s, _ = _open_pair()
    s.handle_timer(TIMING.dead_after + 0.01)
    assert isinstance(s.next_event(), LinkLost) and s.state == "hello"
    s.handle_timer(TIMING.dead_after + 0.02)
    assert [F.HEADER.unpack_from(f)[1] for f in s.data_to_send(6.0)] == [F.Kind.HELLO]


def test_a_batch_past_the_credit_is_a_protocol_error() -> None:
    _, r = _open_pair()
    with pytest.raises(BridgeProtocolError, match="past the 8 granted"):
        r.receive_data(F.data(0, array("I", [1] * 9), b"x" * 9), 0.0)
    with pytest.raises(BridgeProtocolError, match="already failed"):
        r.receive_data(F.ping(1), 0.0)


def test_the_driver_cannot_send_beyond_the_credit() -> None:
    s, _ = _open_pair()
    with pytest.raises(InvalidValue, match="8 at most"):
        s.send_data(0, array("I", [1] * 9), b"x" * 9)
    with pytest.raises(InvalidValue, match="sends from 0"):
        s.send_data(2, array("I", [1]), b"x")


def test_a_data_frame_without_a_session_asks_for_a_hello() -> None:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING)
    r.receive_data(F.data(0, array("I", [1]), b"x"), 0.0)
    assert r.next_event() is None
    out = r.data_to_send(0.0)
    assert F.HEADER.unpack_from(out[0])[1] == F.Kind.REFUSE
    assert F.BODIES[F.Kind.REFUSE].unpack_from(out[0], F.HEADER.size)[0] == F.Refusal.RESUME


def test_an_empty_stream_still_ends_on_the_far_side() -> None:
    sim = Sim(0, slots=4, faults=Faults())
    sim.run(100)
    assert sim.ended and sim.got == []


def test_a_reader_that_never_reads_holds_the_sender_at_the_ring_size() -> None:
    sim = Sim(50, slots=2, faults=Faults(), consume=0)
    for _ in range(300):
        sim.tick()
    assert len(sim.got) == 2 and sim.sender.acked == 2 and sim.sender.sendable() == 0
