"""A frozen snapshot of a tunnel's counters, read without stopping anything.

The counters are the ones the data plane keeps anyway in the ring header
(``layout``); reading them is a handful of aligned loads.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import layout as L
from .memory import RingMemory


@dataclass(frozen=True)
class TunnelStats:
    """Counters of one tunnel at one instant."""

    sent: int  # messages published by the writer (head)
    received: int  # messages committed by the reader (tail)
    bytes_in: int
    bytes_out: int
    times_full: int
    times_empty: int
    writer_parks: int
    reader_parks: int
    writer_wakes: int  # notifies the writer issued to a parked reader
    reader_wakes: int
    slots: int
    closed: bool
    quarantine: int
    broken: int = 0  # 0 intact, else why its other end is gone (layout.Broken)
    dead_letters: int = 0  # messages moved aside at the reader's tail

    @property
    def fill(self) -> int:
        """Messages in the ring now."""
        return max(0, self.sent - self.received)


def snapshot(ring: RingMemory) -> TunnelStats:
    u64 = ring.u64
    return TunnelStats(
        sent=u64(L.OFF_HEAD), received=u64(L.OFF_TAIL),
        bytes_in=u64(L.OFF_BYTES_IN), bytes_out=u64(L.OFF_BYTES_OUT),
        times_full=u64(L.OFF_FULL), times_empty=u64(L.OFF_EMPTY),
        writer_parks=u64(L.OFF_WRITER_PARKS), reader_parks=u64(L.OFF_READER_PARKS),
        writer_wakes=u64(L.OFF_WRITER_WAKES), reader_wakes=u64(L.OFF_READER_WAKES),
        slots=ring.geometry.slot_count, closed=ring.closed, quarantine=ring.quarantine,
        broken=ring.broken, dead_letters=u64(L.OFF_DEAD_LETTERS),
    )


def combine(parts: list[TunnelStats]) -> TunnelStats:
    """A fan-in tunnel's counters: its sub-rings' (one per writer) added up;
    closed once every one is, quarantined or broken if one is."""
    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    counts = {name: total(name) for name in _COUNTS}
    return TunnelStats(**counts, closed=all(p.closed for p in parts),
                       quarantine=max(p.quarantine for p in parts),
                       broken=max(p.broken for p in parts))


_COUNTS = ("sent", "received", "bytes_in", "bytes_out", "times_full", "times_empty",
           "writer_parks", "reader_parks", "writer_wakes", "reader_wakes", "slots",
           "dead_letters")
