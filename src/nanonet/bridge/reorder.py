"""A short wait for datagram batches that arrive ahead of a gap.

Datagrams overtake each other on real paths (a relay, two routes, a
retransmitting NIC): a batch that comes before the one it follows is not
proof that the earlier one was lost. A lossy receiver that gave up every gap
at once counted such a batch's predecessor as missed and then dropped it as
late when it came a moment after. The window holds a batch ahead of a gap
for ``wait`` seconds: if the gap fills, everything is delivered in order;
if not, the gap is given up (missed) and the held batches are delivered.

The window holds no two batches that share a sequence number, so what it
holds is bounded by the credit the receiver granted: each held message has
its own sequence number inside the window the sender may use.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from .frames import Batch


@dataclass
class ReorderWindow:
    """Batches held until the gap before them fills or ``wait`` passes."""

    wait: float
    _firsts: list[int] = field(default_factory=list)  # sorted first sequences held
    _held: dict[int, tuple[Batch, float]] = field(default_factory=dict)  # first: (batch, when)

    def __len__(self) -> int:
        return len(self._firsts)

    def hold(self, batch: Batch, now: float) -> bool:
        """Keep ``batch`` until ``take`` gives it out; False: a batch that
        shares a sequence number with one held is a second copy, not kept."""
        first, end = batch.first_seq, batch.end_seq
        at = bisect_left(self._firsts, first)
        if at > 0 and self._held[self._firsts[at - 1]][0].end_seq > first:
            return False
        if at < len(self._firsts) and self._firsts[at] < end:
            return False
        self._firsts.insert(at, first)
        self._held[first] = (batch, now)
        return True

    def due(self) -> float | None:
        """When the batch held longest has waited ``wait`` (None: none held)."""
        oldest = min((when for _, when in self._held.values()), default=None)
        return None if oldest is None else oldest + self.wait

    def waited_past(self, now: float) -> int | None:
        """The highest first sequence of the batches that waited ``wait`` by
        ``now``: the gaps up to it are given up (None: none waited that long)."""
        late = [first for first, (_, when) in self._held.items() if when + self.wait <= now]
        return max(late, default=None)

    def take(self, expected: int, give_up_to: int) -> list[Batch]:
        """The held batches, in order, that now follow ``expected`` without a
        gap, or that start at or before ``give_up_to`` (the gap before them
        is given up)."""
        out: list[Batch] = []
        while self._firsts and self._firsts[0] <= max(expected, give_up_to):
            batch, _ = self._held.pop(self._firsts.pop(0))
            expected = max(expected, batch.end_seq)
            out.append(batch)
        return out
