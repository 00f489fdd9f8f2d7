"""A frozen snapshot of a tunnel's counters, read without stopping anything.

The counters are the ones the data plane keeps anyway in the ring header
(``layout``); reading them is a handful of aligned loads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from . import layout as L
from .memory import RingMemory


@dataclass(frozen=True)
class SubscriberStats:
    """One subscriber line of a pub-sub tunnel at one instant."""

    line: int
    policy: str  # "block" or "lossy"
    received: int  # its tail
    lag: int  # messages published it has not consumed
    missed: int  # messages a lossy subscriber lost to the writer lapping it


@dataclass(frozen=True)
class TunnelStats:
    """Counters of one tunnel at one instant."""

    sent: int  # messages published by the writer (head)
    # the reader's side: in a pub-sub tunnel, its slowest subscriber's line
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
    subscribers: tuple[SubscriberStats, ...] = ()  # a pub-sub tunnel: each held line

    @property
    def fill(self) -> int:
        """Messages in the ring now."""
        return max(0, self.sent - self.received)


def _reader_line(ring: RingMemory, subs: tuple[SubscriberStats, ...]) -> dict[str, int]:
    """The reader's counters: the header's reader line, or in a pub-sub ring
    (whose header has no reader) the line of its slowest subscriber."""
    u64 = ring.u64
    if not ring.geometry.subscribers:
        return dict(received=u64(L.OFF_TAIL), bytes_out=u64(L.OFF_BYTES_OUT),
                    times_empty=u64(L.OFF_EMPTY), reader_parks=u64(L.OFF_READER_PARKS),
                    reader_wakes=u64(L.OFF_READER_WAKES))
    if not subs:
        return dict(received=u64(L.OFF_HEAD), bytes_out=u64(L.OFF_BYTES_IN), times_empty=0,
                    reader_parks=0, reader_wakes=0)
    at = ring.geometry.sub_line(min(subs, key=lambda s: s.received).line)
    return dict(received=u64(at + L.SUB_TAIL), bytes_out=u64(at + L.SUB_BYTES_OUT),
                times_empty=u64(at + L.SUB_EMPTY), reader_parks=u64(at + L.SUB_PARKS),
                reader_wakes=u64(at + L.SUB_WAKES))


def snapshot(ring: RingMemory) -> TunnelStats:
    u64 = ring.u64
    subs = subscriber_stats(ring)
    return TunnelStats(
        sent=u64(L.OFF_HEAD), bytes_in=u64(L.OFF_BYTES_IN),
        times_full=u64(L.OFF_FULL), writer_parks=u64(L.OFF_WRITER_PARKS),
        writer_wakes=u64(L.OFF_WRITER_WAKES), **_reader_line(ring, subs),
        slots=ring.geometry.slot_count, closed=ring.closed, quarantine=ring.quarantine,
        broken=ring.broken, dead_letters=u64(L.OFF_DEAD_LETTERS),
        subscribers=subs,
    )


_POLICY = {L.SubMode.BLOCK: "block", L.SubMode.LOSSY: "lossy"}


def subscriber_stats(ring: RingMemory) -> tuple[SubscriberStats, ...]:
    """The lines a subscriber holds (mode set), with lag and missed counts."""
    g, head = ring.geometry, ring.u64(L.OFF_HEAD)
    out = []
    for line in range(g.subscribers):
        at = g.sub_line(line)
        policy = _POLICY.get(ring.u32(at + L.SUB_MODE))
        if policy is not None:
            tail = ring.u64(at + L.SUB_TAIL)
            out.append(SubscriberStats(line, policy, tail, max(0, head - tail),
                                       ring.u64(at + L.SUB_MISSED)))
    return tuple(out)


def combine(parts: list[TunnelStats]) -> TunnelStats:
    """A fan-in tunnel's counters: its sub-rings' (one per writer) added up;
    closed once every one is, quarantined or broken if one is."""
    def total(name: str) -> int:
        return sum(int(getattr(p, name)) for p in parts)

    counts: dict[str, Any] = {name: total(name) for name in _COUNTS}
    return replace(parts[0], **counts, closed=all(p.closed for p in parts),
                   quarantine=max(p.quarantine for p in parts),
                   broken=max(p.broken for p in parts))


_COUNTS = ("sent", "received", "bytes_in", "bytes_out", "times_full", "times_empty",
           "writer_parks", "reader_parks", "writer_wakes", "reader_wakes", "slots",
           "dead_letters")
