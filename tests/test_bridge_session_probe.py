"""A sender whose window is shut meets a restarted receiver: its probe
(a PING) must get it a new session, or neither side ever moves again."""

from __future__ import annotations

from array import array

from bridge_sim import MAX_PAYLOAD, TIMING
from nanonet.bridge import frames as F
from nanonet.bridge.events import Accepted, Connected
from nanonet.bridge.session import ReceiverSession, SenderSession


def _kinds(frames: list[F.Wire]) -> list[F.Kind]:
    return [F.Kind(F.HEADER.unpack_from(f)[1]) for f in frames]


def _deliver(frames: list[F.Wire], to: SenderSession | ReceiverSession, now: float) -> None:
    for f in frames:
        to.receive_data(f, now)


def _shut_window() -> tuple[SenderSession, ReceiverSession]:
    """A sender that sent its whole credit (8) and heard ACK(8, credit 0)."""
    s = SenderSession("t", MAX_PAYLOAD, b"k", 0, 0.0, TIMING)
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING)
    s.handle_timer(0.0)
    _deliver(s.data_to_send(0.0), r, 0.0)
    _deliver(r.data_to_send(0.0), s, 0.0)
    assert isinstance(s.next_event(), Accepted) and isinstance(r.next_event(), Connected)
    s.send_data(0, array("I", [1] * 8), b"x" * 8)
    _deliver(s.data_to_send(0.0), r, 0.0)
    r.next_event()
    r.acknowledge(8, 0)  # the far ring is full: no credit
    _deliver(r.data_to_send(0.0), s, 0.0)
    assert s.state == "open" and s.sendable() == 0 and s.acked == 8
    return s, r


def test_a_probe_to_a_restarted_receiver_reopens_the_window() -> None:
    s, _ = _shut_window()
    fresh = ReceiverSession("t", MAX_PAYLOAD, b"k", 8, 8, 0.0, TIMING)  # restarted, ring drained
    now = TIMING.resend_after
    s.handle_timer(now)
    probe = s.data_to_send(now)
    assert _kinds(probe) == [F.Kind.PING]
    _deliver(probe, fresh, now)
    answer = fresh.data_to_send(now)
    assert F.Kind.REFUSE in _kinds(answer)
    _deliver(answer, s, now)
    assert s.state == "hello"
    s.handle_timer(now)
    _deliver(s.data_to_send(now), fresh, now)
    _deliver(fresh.data_to_send(now), s, now)
    assert s.state == "open" and s.sendable() == 8


def test_a_probe_to_an_open_receiver_gets_its_window() -> None:
    s, r = _shut_window()
    r.acknowledge(8, 8)  # its reader freed the ring...
    r.data_to_send(0.0)  # ...and that window update was lost
    now = TIMING.resend_after
    s.handle_timer(now)
    _deliver(s.data_to_send(now), r, now)
    answer = r.data_to_send(now)
    assert F.Kind.ACK in _kinds(answer) and F.Kind.REFUSE not in _kinds(answer)
    _deliver(answer, s, now)
    assert s.sendable() == 8
