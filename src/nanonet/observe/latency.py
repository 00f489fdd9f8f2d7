"""Per-tunnel latency from the samples the reader adapter leaves in the header.

The reader adapter writes one entry per 1024 messages (``layout``: lines 5-12),
nanoseconds first, then the message counter. The host polls the entries,
remembers the last counter it took from each so nothing is counted twice, and
records new ones into one HDR histogram per tunnel (and their exact sum, for
a Prometheus histogram's ``_sum``). It trusts nothing: an
entry whose counter does not belong to its index, or that changed while it
was read, is left for the next poll.
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

from ..ring import layout as L
from ..ring.memory import RingMemory

HDR_MAX_NS = 60_000_000_000  # a minute
HDR_DIGITS = 3
# the upper bounds (ns) of the Prometheus histogram's buckets: 1, 2.5, 5 per decade
BUCKET_BOUNDS_NS = (*(int(m * 10 ** e) for e in range(2, 11) for m in (1, 2.5, 5)
                      if m * 10 ** e <= 10_000_000_000), HDR_MAX_NS)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, HDR_MAX_NS, HDR_DIGITS)


class LatencySampler:
    """Polls one ring's latency entries into a histogram; one poller at a time."""

    def __init__(self, ring: RingMemory) -> None:
        self.ring = ring
        self.histogram = new_histogram()
        self.samples = 0
        self.sum_ns = 0
        self._last: list[int | None] = [None] * L.SAMPLE_ENTRIES

    def _entry(self, index: int) -> tuple[int, int] | None:
        """(counter, ns) of entry ``index`` if it is whole and plausible."""
        off = L.OFF_LATENCIES + index * L.SAMPLE_ENTRY
        counter = self.ring.u64(off)
        ns = self.ring.u64(off + 8)
        if self.ring.u64(off) != counter or ns == 0:
            return None  # being rewritten, or never written
        if counter & L.SAMPLE_MASK or (counter >> L.SAMPLE_SHIFT) % L.SAMPLE_ENTRIES != index:
            return None  # not a sample this entry can hold: a broken or hostile reader
        return counter, ns

    def poll(self) -> list[tuple[int, int]]:
        """Record every entry new since the last poll; returns them (counter, ns)."""
        new = []
        for i in range(L.SAMPLE_ENTRIES):
            got = self._entry(i)
            if got is None or got[0] == self._last[i]:
                continue
            self._last[i] = got[0]
            if got[1] <= HDR_MAX_NS:  # larger: the clock stepped back; not a latency
                self.histogram.record_value(got[1])
                self.sum_ns += got[1]
                new.append(got)
        self.samples += len(new)
        return new

    def percentile(self, p: float) -> int | None:
        return int(self.histogram.get_value_at_percentile(p)) if self.samples else None

    def buckets(self, bounds: tuple[int, ...] = BUCKET_BOUNDS_NS) -> list[int]:
        """How many samples are at most each bound (cumulative, one count per bound).

        The histogram holds values to 3 significant digits: a sample counts
        under a bound only if its whole HDR range does, so one within 0.1 %
        below a bound may count in the next bucket, never one above it in
        this one."""
        counts = [0] * len(bounds)
        i = 0
        for item in self.histogram.get_recorded_iterator():
            while i < len(bounds) and item.value_iterated_to > bounds[i]:
                i += 1
            if i < len(bounds):
                counts[i] += item.count_at_value_iterated_to
        for j in range(1, len(counts)):
            counts[j] += counts[j - 1]
        return counts
