"""The sans-I/O sessions of a tunnel that opts into loss: batches as DGRAM
frames over a channel that loses and reorders them, control frames over a
reliable stream beside it. What arrives is in order and once, what did not
is counted as missed exactly (delivered + missed == sent), the credit still
bounds the receiving ring, and a lost tail is given up by SENT, not resent."""

from __future__ import annotations

import itertools
import random
import struct
from array import array
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_sim import MAX_PAYLOAD, TIMING
from nanonet.bridge import frames as F
from nanonet.bridge.events import Accepted, Acked, Connected, Ended, Messages, Refused
from nanonet.bridge.session import ReceiverSession, SenderSession
from nanonet.errors import BridgeProtocolError


def _seq(payload: memoryview) -> int:
    return int(struct.unpack_from("<Q", payload)[0])


@dataclass
class Lossy:
    """DGRAM frames: each lost with ``drop``, a pair swapped with ``swap``."""

    drop: float = 0.0
    swap: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    lost: int = 0  # messages in the datagrams dropped here

    def apply(self, frames: list[F.Wire]) -> list[F.Wire]:
        out = []
        for f in frames:
            if self.rng.random() < self.drop:
                self.lost += struct.unpack_from("<I", f, F.HEADER.size + 8)[0]
                continue
            out.append(f)
        if len(out) > 1 and self.rng.random() < self.swap:
            i = self.rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
        return out


class DgramSim:
    """``n`` numbered messages from a sender ring to a receiver ring of ``slots``."""

    def __init__(self, n: int, slots: int, lossy: Lossy, batch: int = 8) -> None:
        self.now, self.n, self.slots, self.batch, self.lossy = 0.0, n, slots, batch, lossy
        self.sender = SenderSession("t", MAX_PAYLOAD, b"k", 0, 0.0, TIMING, datagrams=True)
        self.receiver = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, slots, 0.0, TIMING,
                                        datagrams=True)
        self.pos = 0
        self.got: list[int] = []  # the receiving ring: what was written, in order
        self.consumed = 0
        self.ended = False

    def _credit(self) -> int:
        return self.slots - (len(self.got) - self.consumed)

    def _send(self) -> None:
        s = self.sender
        while s.next_event() is not None:
            pass
        self.pos = s.next_send
        while s.sendable() and self.pos < self.n:
            k = min(s.sendable(), self.batch, self.n - self.pos)
            s.send_data(self.pos, array("I", [8] * k),
                        array("Q", range(self.pos, self.pos + k)).tobytes())
            self.pos += k
        if self.pos == self.n and s.end_seq is None:
            s.finish(self.n)

    def _receive(self) -> None:
        r = self.receiver
        while (e := r.next_event()) is not None:
            if isinstance(e, Messages):
                b = e.batch
                self.got += [_seq(b.payload[b.bounds[i]:]) for i in range(e.skip, e.count)]
                assert len(self.got) - self.consumed <= self.slots, "credit overran the ring"
            elif isinstance(e, Ended):
                self.ended = True
        self.consumed = min(len(self.got), self.consumed + 4)
        r.acknowledge(len(self.got) + r.missed, self._credit())  # the ring's head + missed

    def tick(self) -> None:
        self._send()
        frames = self.sender.data_to_send(self.now)
        stream = [f for f in frames if not F.is_datagram(f)]
        for f in stream:
            self.receiver.receive_data(f, self.now)
        for f in self.lossy.apply([f for f in frames if F.is_datagram(f)]):
            self.receiver.receive_datagram(f, self.now)
        self._receive()
        for f in self.receiver.data_to_send(self.now):
            self.sender.receive_data(f, self.now)
        self.now += 0.02
        for side in (self.sender, self.receiver):
            at = side.get_timer()
            if at is not None and at <= self.now:
                side.handle_timer(self.now)

    def run(self, ticks: int = 40_000) -> None:
        for _ in range(ticks):
            self.tick()
            if self.sender.done and self.ended:
                return
        raise AssertionError(f"not done: got {len(self.got)} + missed {self.receiver.missed} "
                             f"of {self.n}, sender acked {self.sender.acked}")


def _check(sim: DgramSim) -> None:
    got = sim.got
    assert all(a < b for a, b in itertools.pairwise(got)), "out of order or twice"
    assert len(got) + sim.receiver.missed == sim.n


def test_a_clean_channel_delivers_every_message_as_datagrams() -> None:
    sim = DgramSim(2000, slots=64, lossy=Lossy())
    sim.run()
    assert sim.got == list(range(2000)) and sim.receiver.missed == 0
    assert sim.sender.retransmits == 0


def test_a_lost_datagram_is_a_gap_counted_not_resent() -> None:
    sim = DgramSim(3000, slots=64, lossy=Lossy(drop=0.1, rng=random.Random(3)))
    sim.run()
    _check(sim)
    assert sim.receiver.missed == sim.lossy.lost > 0
    assert sim.sender.retransmits == 0  # nothing was sent twice


@settings(max_examples=40, deadline=None)
@given(drop=st.floats(0, 0.6), swap=st.floats(0, 0.5), slots=st.sampled_from([8, 16, 64]),
       batch=st.integers(1, 20), salt=st.integers(0, 1 << 32))
def test_loss_and_reordering_keep_order_and_the_count(drop: float, swap: float, slots: int,
                                                      batch: int, salt: int) -> None:
    sim = DgramSim(400, slots=slots, lossy=Lossy(drop, swap, random.Random(salt)), batch=batch)
    sim.run()
    _check(sim)


def _kinds(frames: list[F.Wire]) -> list[F.Kind]:
    """The frames' kinds, heartbeats left out."""
    return [F.Kind(f[2]) for f in frames if f[2] != F.Kind.PING]


def test_a_lost_tail_is_given_up_by_sent_after_resend_after() -> None:
    s = SenderSession("t", MAX_PAYLOAD, b"k", 0, 0.0, TIMING, datagrams=True)
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 16, 0.0, TIMING, datagrams=True)
    s.handle_timer(0.0)
    for f in s.data_to_send(0.0):
        r.receive_data(f, 0.0)
    for f in r.data_to_send(0.0):
        s.receive_data(f, 0.0)
    assert isinstance(s.next_event(), Accepted)
    s.send_data(0, array("I", [8] * 4), bytes(32))
    s.finish(4)
    assert all(F.is_datagram(f) for f in s.data_to_send(0.0))  # no CLOSE before the ACK
    s.handle_timer(TIMING.resend_after)
    out = s.data_to_send(TIMING.resend_after)
    assert _kinds(out) == [F.Kind.SENT]
    for f in out:
        r.receive_data(f, 1.0)
    assert r.missed == 4 and r.expected == 4
    r.acknowledge(0 + r.missed, 16)  # nothing written, four missed
    for f in r.data_to_send(1.0):
        s.receive_data(f, 1.0)
    assert isinstance(s.next_event(), Acked) and s.acked == 4
    out = s.data_to_send(1.0)
    assert _kinds(out) == [F.Kind.CLOSE]


def _hello_to(r: ReceiverSession, datagrams: bool) -> bytes:
    r.receive_data(F.hello(1, 1, MAX_PAYLOAD, 9, b"t", b"k", datagrams), 0.0)
    return b"".join(r.data_to_send(0.0))


@pytest.mark.parametrize("here", [True, False])
def test_both_ends_must_agree_on_datagrams(here: bool) -> None:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING, datagrams=here)
    reply = _hello_to(r, not here)
    assert reply[2] == F.Kind.REFUSE and r.state == "waiting"
    e = r.next_event()
    assert isinstance(e, Refused) and e.code == F.Refusal.TUNNEL and "datagram" in e.reason


def test_a_dgram_or_sent_on_a_stream_tunnel_is_a_protocol_error() -> None:
    for frame in (F.data(0, array("I", [1]), b"x", F.Kind.DGRAM), F.sent(1)):
        r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING)
        _hello_to(r, False)
        with pytest.raises(BridgeProtocolError):
            r.receive_data(frame, 0.0)


def test_a_datagram_is_exactly_one_dgram_frame() -> None:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING, datagrams=True)
    _hello_to(r, True)
    one = F.data(0, array("I", [1]), b"x", F.Kind.DGRAM)
    for bad in (one + one, one[:-1], F.ping(1), F.data(0, array("I", [1]), b"x")):
        with pytest.raises(BridgeProtocolError):
            ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING,
                            datagrams=True).receive_datagram(bad, 0.0)
    r.receive_datagram(one, 0.0)
    assert [type(e) for e in (r.next_event(), r.next_event())] == [Connected, Messages]


def test_a_sent_past_the_credit_is_a_protocol_error() -> None:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 8, 0.0, TIMING, datagrams=True)
    _hello_to(r, True)
    with pytest.raises(BridgeProtocolError):
        r.receive_data(F.sent(9), 0.0)


def test_a_dgram_batch_fits_one_datagram() -> None:
    for size in (1, 8, 64, 248, 1024):
        n = F.dgram_batch(size)
        assert n >= 1
        assert len(F.data(0, array("I", [size] * n), bytes(size * n), F.Kind.DGRAM)) \
            <= F.DGRAM_ROOM
    assert F.dgram_batch(F.DGRAM_ROOM) == 0


def test_datagrams_that_swap_places_are_all_delivered_in_order() -> None:
    """One message per datagram, half of the neighbours swapped: the batch
    that comes first waits for the one it overtook, so nothing is missed."""
    sim = DgramSim(2000, slots=64, lossy=Lossy(swap=0.5, rng=random.Random(5)), batch=1)
    sim.run()
    assert sim.got == list(range(2000)) and sim.receiver.missed == 0


def _open_receiver() -> ReceiverSession:
    r = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, 64, 0.0, TIMING, datagrams=True)
    _hello_to(r, True)
    assert isinstance(r.next_event(), Connected)
    return r


def _dgram(first: int, n: int) -> bytes:
    return F.data(first, array("I", [8] * n), array("Q", range(first, first + n)).tobytes(),
                  F.Kind.DGRAM)


def _delivered(r: ReceiverSession) -> list[int]:
    out = []
    while (e := r.next_event()) is not None:
        if isinstance(e, Messages):
            b = e.batch
            out += [_seq(b.payload[b.bounds[i]:]) for i in range(e.skip, e.count)]
    return out


def test_a_batch_ahead_of_a_gap_waits_for_it_then_gives_it_up() -> None:
    r = _open_receiver()
    r.receive_datagram(_dgram(4, 4), 0.0)
    r.receive_datagram(_dgram(4, 4), 0.001)  # the path sent it twice
    assert _delivered(r) == [] and r.missed == 0 and r.duplicates == 4
    assert r.get_timer() == pytest.approx(TIMING.reorder_wait)
    r.handle_timer(TIMING.reorder_wait / 2)
    assert _delivered(r) == []  # still waiting
    r.handle_timer(TIMING.reorder_wait)
    assert _delivered(r) == [4, 5, 6, 7] and r.missed == 4 and r.expected == 8
    r.receive_datagram(_dgram(0, 4), 0.01)  # too late: given up already
    assert _delivered(r) == [] and r.duplicates == 8 and r.missed == 4


def test_a_gap_that_fills_in_time_delivers_both_batches_in_order() -> None:
    r = _open_receiver()
    r.receive_datagram(_dgram(8, 4), 0.0)
    r.receive_datagram(_dgram(4, 4), 0.001)
    assert _delivered(r) == []
    r.receive_datagram(_dgram(0, 4), 0.002)
    assert _delivered(r) == list(range(12)) and r.missed == 0 and r.expected == 12
    assert r.get_timer() != pytest.approx(TIMING.reorder_wait)  # nothing held


def test_a_sent_gives_up_the_gaps_before_what_is_held() -> None:
    r = _open_receiver()
    r.receive_datagram(_dgram(6, 2), 0.0)
    r.receive_data(F.sent(10), 0.001)
    assert _delivered(r) == [6, 7] and r.missed == 8 and r.expected == 10


def test_an_overlapping_batch_beside_one_held_counts_as_a_duplicate() -> None:
    r = _open_receiver()
    r.receive_datagram(_dgram(4, 4), 0.0)
    r.receive_datagram(_dgram(6, 4), 0.0)  # 6 and 7 are held already
    r.handle_timer(TIMING.reorder_wait)
    assert _delivered(r) == [4, 5, 6, 7] and r.duplicates == 4
