"""One look's worth of a tunnel's messages, copied out of the ring at once.

The tap copies every contiguous run of waiting slots with one ``bytes`` copy
(``RingMemory.copy_slots``), then reads lengths and payloads from that copy:
a guest that writes the ring meanwhile cannot change a length once the tap
has checked it, and the tap pays one copy per run instead of one call per
message. The lengths of a run come out of one strided view of the copy; a
run of messages of one length becomes its pcapng blocks in one go
(``pcapng.packet_run``), so the lossless tap's Python does not loop per
message; a sampled tap copies, checks and times only the messages it keeps.
No I/O here: the copy is made by the caller.
"""

from __future__ import annotations

import struct
import sys
from bisect import bisect_right
from collections.abc import Callable

from ..ring import layout as L
from .pcapng import packet, packet_run
from .tapclock import message_times, times_at, times_every

U64 = 0xFFFF_FFFF_FFFF_FFFF
_LENGTH = struct.Struct("<I")


def run_lengths(slots: bytes, slot_size: int) -> list[int]:
    """The length field of each slot in ``slots`` (whole slots, unchecked)."""
    if sys.byteorder == "little":
        return memoryview(slots).cast("I")[:: slot_size // 4].tolist()
    return [_LENGTH.unpack_from(slots, off)[0] for off in range(0, len(slots), slot_size)]


class Batch:
    """``count`` messages from counter ``first``, of which ``runs`` holds copies:
    ``(counter, whole slots of it and every ``step``-th counter after it)``,
    ascending; every slot of the batch (step 1) for a tap that writes every
    message, only the ones it keeps for a sampled one."""

    def __init__(self, first: int, count: int, slot_size: int, runs: list[tuple[int, bytes]],
                 stamped: dict[int, int], step: int = 1) -> None:
        self.first, self.count, self.slot_size, self.step = first, count, slot_size, step
        self.runs, self.stamped = runs, stamped
        self.run_lengths = [run_lengths(slots, slot_size) for _first, slots in runs]
        self._starts = [start for start, _slots in runs]

    def lengths(self) -> list[int]:
        return [n for lengths in self.run_lengths for n in lengths]

    def payload(self, counter: int) -> bytes:
        """The payload of message ``counter`` (copied; lengths checked)."""
        at = bisect_right(self._starts, counter) - 1
        index, between = divmod(counter - self._starts[at], self.step) if at >= 0 else (-1, 0)
        if between or not 0 <= index < len(self.run_lengths[at]):
            raise IndexError(f"message {counter} was not copied")
        off = index * self.slot_size + L.SLOT_HEADER
        return self.runs[at][1][off: off + self.run_lengths[at][index]]

    def blocks(self, iface: int, lo: int, hi: int, upto: int) -> bytes:
        """The pcapng blocks of the first ``upto`` messages, in ring order
        (a batch with every slot copied: step 1)."""
        times = message_times(self.first, self.count, lo, hi, self.stamped)
        out, done = [], 0
        for (first, slots), lengths in zip(self.runs, self.run_lengths, strict=True):
            take = min(len(lengths), upto - done)
            if take <= 0:
                break
            out.append(self._run_blocks(slots, lengths[:take], times[done: done + take],
                                        iface, first))
            done += take
        return b"".join(out)

    def _run_blocks(self, slots: bytes, lengths: list[int], times: list[int], iface: int,
                    first: int) -> bytes:
        if min(lengths) == max(lengths):
            return packet_run(slots, self.slot_size, lengths[0], times, iface, first & U64)
        size, head = self.slot_size, L.SLOT_HEADER
        return b"".join([packet(slots[i * size + head: i * size + head + n], ts, iface,
                                (first + i) & U64)
                         for i, (n, ts) in enumerate(zip(lengths, times, strict=True))])

    def sampled_blocks(self, iface: int, lo: int, hi: int, upto: int) -> tuple[bytes, int]:
        """The pcapng blocks of the first ``upto`` copied messages of a sampled
        batch, and how many: runs of one length built a field at a time
        (``packet_run``), so a look's work does not grow per message in Python."""
        out, done = [], 0
        for (start, slots), lengths in zip(self.runs, self.run_lengths, strict=True):
            take = min(len(lengths), upto - done)
            if take <= 0:
                break
            counters = range(start, start + take * self.step, self.step)
            times = times_every(self.first, self.count, lo, hi, self.stamped, counters)
            if min(lengths[:take]) == max(lengths[:take]):
                out.append(packet_run(slots, self.slot_size, lengths[0], times, iface,
                                      start & U64, self.step))
            else:
                out += [packet(self.payload(c), ts, iface, c & U64)
                        for c, ts in zip(counters, times, strict=True)]
            done += take
        return b"".join(out), done

    def records(self, iface: int, lo: int, hi: int, sample: int,
                keep: Callable[[int, bytes], bool]) -> list[tuple[int, bytes]]:
        """(time, block) of each message ``keep`` keeps among every ``sample``-th
        counter: a sampled tap reads and times only those."""
        counters = range(self.first + (-self.first % sample), self.first + self.count, sample)
        picked = [(c, data) for c in counters if keep(c, data := self.payload(c))]
        times = times_at(self.first, self.count, lo, hi, self.stamped, [c for c, _d in picked])
        return [(ts, packet(data, ts, iface, c & U64))
                for (c, data), ts in zip(picked, times, strict=True)]
