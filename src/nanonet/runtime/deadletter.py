"""Poison messages: the ones a reader traps on again after every restart.

A reader receives two-phase: what it received stays uncommitted until its
next receive, so a reader that traps leaves the message it trapped on at the
committed tail, and its restart attaches there and gets it again. A
``Redeliveries`` keeps, per read end of one service, the tail at its last
trap and how many traps in a row found the tail there. Once a message's
redeliveries have trapped the reader ``dead_letter_after`` times, the
service's own thread (between the trap and the reload, while no instance
reads the ring) moves that one message aside through the ring's control
module: into the dead-letter tunnel, bytes unchanged, or dropped; either way
it is counted in the ring's ``dead_letters`` and reported with its sequence
number (the ring counter of the message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import NanonetError
from ..ring import layout as L
from ..ring.control import DeadLetter, RingControl
from ..ring.endpoint import TunnelWriter

KEEP_REPORTS = 64  # the most recent dead letters a service keeps in full


@dataclass(frozen=True)
class DeadLetterReport:
    """One message moved aside: where from, its sequence number, where to."""

    tunnel: str
    sequence: int
    size: int
    moved_to: str | None  # the dead-letter tunnel, or None: dropped
    traps: int  # how many times it trapped the reader


class Redeliveries:
    """The trap count at each read end's committed tail, and what was moved."""

    def __init__(self, after: int | None, controls: Sequence[RingControl],
                 sink: TunnelWriter | None, sink_name: str | None) -> None:
        self.after = after
        self.controls = tuple(controls)
        self.sink = sink
        self.sink_name = sink_name
        self._seen: dict[int, tuple[int, int]] = {}  # end index -> (tail, traps there)
        self.reports: list[DeadLetterReport] = []  # the last KEEP_REPORTS
        self.moved = 0
        self.dropped = 0

    def after_trap(self) -> list[DeadLetterReport]:
        """Count this trap at every read end's tail; move aside each message
        that trapped its reader ``after + 1`` times. Call only while the
        service's instance is not running."""
        if self.after is None:
            return []
        out = []
        for i, control in enumerate(self.controls):
            report = self._one(i, control)
            if report is not None:
                out.append(report)
        return out

    def _one(self, i: int, control: RingControl) -> DeadLetterReport | None:
        ring = control.ring
        tail, head = ring.u64(L.OFF_TAIL), ring.u64(L.OFF_HEAD)
        if tail == head:  # nothing uncommitted: this trap was not a message's
            self._seen.pop(i, None)
            return None
        last, traps = self._seen.get(i, (tail, 0))
        traps = traps + 1 if last == tail else 1
        self._seen[i] = (tail, traps)
        assert self.after is not None
        if traps <= self.after:
            return None
        self._seen.pop(i, None)
        letter = control.dead_letter()
        if letter is None:
            return None
        return self._report(letter, traps)

    def _report(self, letter: DeadLetter, traps: int) -> DeadLetterReport:
        moved = self._forward(letter.data)
        report = DeadLetterReport(letter.tunnel, letter.sequence, len(letter.data),
                                  self.sink_name if moved else None, traps)
        self.reports.append(report)
        del self.reports[:-KEEP_REPORTS]
        if moved:
            self.moved += 1
        else:
            self.dropped += 1
        return report

    def _forward(self, data: bytes) -> bool:
        """Into the dead-letter tunnel if one is named and has room now; a full
        or closed one drops it (the supervisor never waits on a reader)."""
        if self.sink is None:
            return False
        try:
            return self.sink.try_send(data)
        except NanonetError:
            return False
