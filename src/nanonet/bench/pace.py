"""The clock of a W1 run: closed loop, or a fixed offered rate.

Closed loop sends the next message when the previous reply arrives, so a
stall delays the sends that would have queued behind it and those delays
never show (coordinated omission). At a fixed rate each message has an
intended send time, ``start + i * interval``, and its latency is counted from
that time: a stall shows up in every message that should have gone during it.
Waiting spins, yielding the core at each turn: ``time.sleep`` is coarser
than the 100 us between sends, and on two cores the far end may need ours.
"""

from __future__ import annotations

import os
import struct
import time

_SEQ = struct.Struct("<q")


class Pacer:
    """Hands out the instant each round's latency is counted from."""

    def __init__(self, interval_ns: int) -> None:
        self.interval = interval_ns
        self.start = 0

    def begin(self, i: int) -> int:
        """For round ``i`` (< 0: warm-up, never paced): wait for its slot; its start."""
        now = time.perf_counter_ns()
        if self.interval <= 0 or i < 0:
            return now
        if i == 0:
            self.start = now
        intended = self.start + i * self.interval
        while now < intended:
            os.sched_yield()  # the far end may need this core more than we do
            now = time.perf_counter_ns()
        return intended


def message(seq: int, size: int) -> bytes:
    """A bench message: its sequence number (i64), then zeros up to ``size``."""
    return _SEQ.pack(seq) + bytes(size - 8)


def seq_of(data: bytes | bytearray | memoryview) -> int:
    return int(_SEQ.unpack_from(data)[0])


class Checker:
    """Counts stream messages and the ones out of sequence or of the wrong size."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.received = 0
        self.errors = 0

    def check(self, data: bytes | bytearray | memoryview) -> None:
        self.errors += len(data) != self.size or seq_of(data) != self.received
        self.received += 1

    def summary(self, count: int, seconds: float) -> dict[str, float]:
        return {"count": count, "received": self.received, "errors": self.errors,
                "seconds": seconds}
