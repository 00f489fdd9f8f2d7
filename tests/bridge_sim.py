"""A sender and a receiver session joined by a simulated link that loses,
duplicates and reorders frames, with a fake clock: the sessions' whole
contract (in order, nothing lost, nothing twice, credit respected) checked
without a socket."""

from __future__ import annotations

import random
import struct
from array import array
from dataclasses import dataclass, field

from nanonet.bridge import frames as F
from nanonet.bridge.events import Accepted, Acked, Ended, Messages
from nanonet.bridge.session import ReceiverSession, SenderSession, Timing

TIMING = Timing(hello_every=0.1, heartbeat=0.2, dead_after=1.0, resend_after=0.3)
MAX_PAYLOAD = 64


def message(i: int) -> bytes:
    return struct.pack("<Q", i) * (1 + i % 3)


@dataclass
class Faults:
    drop: float = 0.0
    dup: float = 0.0
    swap: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def apply(self, frames: list[F.Wire]) -> list[F.Wire]:
        out: list[F.Wire] = []
        for f in frames:
            if self.rng.random() < self.drop:
                continue
            out.append(f)
            if self.rng.random() < self.dup:
                out.append(f)
        if len(out) > 1 and self.rng.random() < self.swap:
            i = self.rng.randrange(len(out) - 1)
            out[i], out[i + 1] = out[i + 1], out[i]
        return out


class Sim:
    """``n`` messages from a sender ring to a receiver ring of ``slots``."""

    def __init__(self, n: int, slots: int, faults: Faults, batch: int = 16,
                 consume: int = 4) -> None:
        self.now, self.n, self.slots, self.batch, self.consume = 0.0, n, slots, batch, consume
        self.faults = faults
        self.sender = SenderSession("t", MAX_PAYLOAD, b"k", 0, self.now, TIMING)
        self.receiver = ReceiverSession("t", MAX_PAYLOAD, b"k", 0, slots, self.now, TIMING)
        self.committed = 0  # the sender ring's tail
        self.pos = 0  # its peek position
        self.got: list[bytes] = []  # the receiver ring: written
        self.consumed = 0  # ...and read by its reader
        self.ended = False
        self.most_in_ring = 0

    def credit(self) -> int:
        return self.slots - (len(self.got) - self.consumed)

    def _send(self) -> None:
        s = self.sender
        while (e := s.next_event()) is not None:
            if isinstance(e, Acked | Accepted):
                self.committed = max(self.committed, e.next_seq)
        if self.pos != s.next_send:
            self.pos = s.next_send
        while s.sendable() and self.pos < self.n:
            k = min(s.sendable(), self.batch, self.n - self.pos)
            msgs = [message(i) for i in range(self.pos, self.pos + k)]
            s.send_data(self.pos, array("I", map(len, msgs)), b"".join(msgs))
            self.pos += k
        if self.pos == self.n and s.end_seq is None:
            s.finish(self.n)

    def _receive(self) -> None:
        r = self.receiver
        while (e := r.next_event()) is not None:
            if isinstance(e, Messages):
                assert e.first_seq == len(self.got), "a gap or a duplicate got through"
                b = e.batch
                for i in range(e.skip, len(b.lengths)):
                    self.got.append(bytes(b.payload[b.bounds[i]: b.bounds[i + 1]]))
                assert len(self.got) - self.consumed <= self.slots, "credit overran the ring"
                r.acknowledge(len(self.got), self.credit())
            elif isinstance(e, Ended):
                self.ended = True
        self.consumed = min(len(self.got), self.consumed + self.consume)
        if self.credit() != r.credit:
            r.acknowledge(len(self.got), self.credit())

    def tick(self, dt: float = 0.02) -> None:
        self._send()
        for f in self.faults.apply(self.sender.data_to_send(self.now)):
            self.receiver.receive_data(f, self.now)
        self._receive()
        for f in self.faults.apply(self.receiver.data_to_send(self.now)):
            self.sender.receive_data(f, self.now)
        self.now += dt
        for side in (self.sender, self.receiver):
            at = side.get_timer()
            if at is not None and at <= self.now:
                side.handle_timer(self.now)

    def run(self, ticks: int) -> int:
        for t in range(ticks):
            self.tick()
            if self.sender.done and self.ended:
                return t
        raise AssertionError(f"not done after {ticks} ticks: got {len(self.got)} of {self.n}, "
                             f"sender {self.sender.state} acked {self.sender.acked}")
