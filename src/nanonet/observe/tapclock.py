"""When each message a tap copies was sent: the writer's stamp, else an estimate.

A ring keeps no time per message. Two clocks say something about it:

- a writer adapter built with sampling (``Mesh(latency=True)``) stamps one
  message in 1024 with its send time (WASI's realtime clock, the host's wall
  clock) in the header's stamp entries (docs/ring.md). That time is exact, so
  the tap uses it for that message when the entry still holds it;
- every other message was published after the tap's previous look at ``head``
  and before this one, so its time lies in ``(lo, hi]``, the host's wall-clock
  times of those two looks. The tap spreads the messages of a batch evenly
  between the known times around them (``lo``, the stamps, ``hi``).

The result never goes back: a stamp is held inside ``[previous time, hi]``
(an entry is written by a guest, so it is trusted no further), and a wall
clock that stepped back is taken as not having moved. Every batch of a tap,
over all its tunnels, lies in ``(lo, hi]`` of the same two looks, so sorting
a round's messages by time interleaves several tunnels in time order.
No I/O here but ``stamps``, which reads the header through ``RingMemory``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from itertools import chain, pairwise, repeat

from ..ring import layout as L
from ..ring.memory import RingMemory


def stamps(ring: RingMemory, first: int, count: int) -> dict[int, int]:
    """Send times (ns) the writer stamped for messages ``first .. first+count-1``.

    An entry counts only if it names that very message and did not change
    while it was read (the writer stores the time, then the counter).
    """
    out: dict[int, int] = {}
    counter = (first + L.SAMPLE_MASK) & ~L.SAMPLE_MASK  # the first sampled counter
    while counter < first + count:
        off = L.OFF_STAMPS + ((counter >> L.SAMPLE_SHIFT) % L.SAMPLE_ENTRIES) * L.SAMPLE_ENTRY
        seen = ring.u64(off)
        ns = ring.u64(off + 8)
        if seen == counter and ring.u64(off) == counter and ns:
            out[counter] = ns
        counter += L.SAMPLE_MASK + 1
    return out


def _anchors(first: int, count: int, lo: int, hi: int,
             stamped: dict[int, int] | None) -> list[tuple[int, int]]:
    """(counter, time) of the known points: ``lo`` before ``first``, the
    stamps held in order, and ``hi`` at the last message."""
    hi, marks = max(lo, hi), stamped or {}
    anchors = [(first - 1, lo)]
    for counter in sorted(c for c in marks if first <= c < first + count):
        anchors.append((counter, min(max(marks[counter], anchors[-1][1]), hi)))
    if anchors[-1][0] != first + count - 1:
        anchors.append((first + count - 1, hi))
    return anchors


def message_times(first: int, count: int, lo: int, hi: int,
                  stamped: dict[int, int] | None = None) -> list[int]:
    """A time for each of ``count`` messages from counter ``first``, published in ``(lo, hi]``.

    Non-decreasing, each in ``[lo, max(lo, hi)]``: stamps where there are
    some, the messages between evenly spread between their neighbours' times
    in whole steps of ``span // messages`` ns, the last gap taking the
    remainder (under a ns per message), so that C, not a Python loop, makes
    them: a lossless tap times every message it copies.
    """
    spans = pairwise(_anchors(first, count, lo, hi, stamped))
    return list(chain.from_iterable(_spread(t0, t1, c1 - c0) for (c0, t0), (c1, t1) in spans))


def _spread(t0: int, t1: int, steps: int) -> Iterable[int]:
    step = (t1 - t0) // steps
    between = range(t0 + step, t0 + step * (steps - 1) + 1, step) if step else \
        repeat(t0, steps - 1)
    return chain(between, (t1,))


def times_at(first: int, count: int, lo: int, hi: int, stamped: dict[int, int] | None,
             counters: Iterable[int]) -> list[int]:
    """``message_times`` of only the given counters (ascending, in the batch):
    a sampled tap times the messages it keeps, not every one it passes."""
    anchors = _anchors(first, count, lo, hi, stamped)
    keys = [c for c, _t in anchors]
    out: list[int] = []
    for counter in counters:
        at = bisect_left(keys, counter)  # >= 1: keys[0] is before the batch
        (c0, t0), (c1, t1) = anchors[at - 1], anchors[at]
        out.append(t1 if counter == c1 else t0 + (t1 - t0) // (c1 - c0) * (counter - c0))
    return out


def times_every(first: int, count: int, lo: int, hi: int, stamped: dict[int, int] | None,
                counters: range) -> list[int]:
    """``times_at`` of an arithmetic run of counters (a sampled tap's copies),
    one ``range`` of times per stretch between anchors rather than a bisect
    and a division per counter: a look's Python stays about constant."""
    out: list[int] = []
    for (c0, t0), (c1, t1) in pairwise(_anchors(first, count, lo, hi, stamped)):
        inside = counters[bisect_left(counters, c0 + 1): bisect_left(counters, c1 + 1)]
        if not inside:
            continue
        per = (t1 - t0) // (c1 - c0)
        ends_at_c1 = inside[-1] == c1
        body = inside[:-1] if ends_at_c1 else inside
        if per and body:
            out += range(t0 + per * (body[0] - c0), t0 + per * (body[-1] - c0) + 1,
                         per * counters.step)
        else:
            out += repeat(t0 + per * (body[0] - c0) if body else t0, len(body))
        if ends_at_c1:
            out.append(t1)
    return out


Stretch = tuple[int, int, int, int, int]  # index, copies, first time, step, last time


def stretches_every(first: int, count: int, lo: int, hi: int, stamped: dict[int, int] | None,
                    counters: range) -> list[Stretch]:
    """``times_every`` as arithmetic runs: for each stretch between anchors that
    holds some of ``counters``, the index of its first, how many, the first's
    time, the step between theirs and the last one's time (the grab module's
    ``build`` times a run so, ``tapgrab.py``)."""
    if not stamped and counters:  # one stretch, from lo before first to hi at the last
        c0, c1, t0, hi = first - 1, first + count - 1, lo, max(lo, hi)
        per = (hi - t0) // (c1 - c0)
        last = hi if counters[-1] == c1 else t0 + per * (counters[-1] - c0)
        return [(0, len(counters), t0 + per * (counters[0] - c0), per * counters.step, last)]
    out: list[Stretch] = []
    for (c0, t0), (c1, t1) in pairwise(_anchors(first, count, lo, hi, stamped)):
        at = bisect_left(counters, c0 + 1)
        inside = counters[at: bisect_left(counters, c1 + 1)]
        if not inside:
            continue
        per = (t1 - t0) // (c1 - c0)
        last = t1 if inside[-1] == c1 else t0 + per * (inside[-1] - c0)
        out.append((at, len(inside), t0 + per * (inside[0] - c0), per * counters.step, last))
    return out
