"""When a tap's thread looks at its rings again: yield, nap, or pause.

A lossless tap holds the writer, so every moment it is not looking while
messages wait is a moment the writer waits on a full ring; a sampled tap
holds nobody, so its looks only cost the cores the tunnel's services run on.
``Pace`` keeps the tap thread's state between looks: after a batch that took
a quarter of its ring, a lossless tap yields its core between looks instead
of napping (the writer it held is refilling the ring, and a nap oversleeps);
after a smaller batch it takes a short nap, to let a bigger one gather; once
idle, its naps grow to ``IDLE_SLEEP``. A sampled tap pauses ``SKIP_NAP``
after a look, found something or not, longer when the look's CPU time is over
``SKIP_SHARE`` of that: each look takes a core from a service that spins on
it, and the tunnel loses about the share of a core its looks take.
"""

from __future__ import annotations

import os
import threading
import time

IDLE_SPINS = 2  # empty polls before sleeping: spinning would take a core from the mesh
IDLE_SLEEP = 0.001
# the first nap after a batch: a writer fills a 4096-slot ring in well under IDLE_SLEEP,
# and then waits on a lossless tap that sleeps
FIRST_NAP = 0.0001
# a batch under this share of its ring is followed by a nap: tiny batches would
# make the tap poll without pause while messages flow, a core's worth of Python
BUSY_FILL = 0.25
# empty looks a lossless tap keeps its naps short for: right after a batch the
# writer is still waking from its park on the tap, and a nap that grew to
# IDLE_SLEEP meanwhile would leave it waiting on a full ring for most of it
FLOW_LOOKS = 16
# empty looks a lossless tap yields its core for, instead of napping, after a
# batch of at least BUSY_FILL of its ring: the writer it held is waking and
# refilling the ring, and even the shortest nap oversleeps (timer slack, a
# loaded machine: a 100 us nap measured ~270 us), which left the writer parked
# on a full ring for most of every round; a yield hands the core to the writer
# or reader meanwhile (about 2 us a look, so at most a few hundred us of looks)
FLOW_YIELDS = 200
SKIP_NAP = 0.001  # a sampled tap's pause between looks: it holds nobody, it only samples
# the most of a core a sampled tap's looks take: its pause after a look is at
# least the look's CPU time over this, so on a loaded machine, where a look
# costs several times what it does on an idle one, it looks less often instead
# of taking a larger share of the cores the tunnel's services run on
SKIP_SHARE = 0.02
SKIP_NAP_MAX = 0.02  # and it still looks 50 times a second


def skip_pause(spent: float) -> float:
    """A sampled tap's pause after a look that took ``spent`` seconds of CPU:
    SKIP_NAP, or long enough that its looks take SKIP_SHARE of a core, at most
    SKIP_NAP_MAX."""
    return min(SKIP_NAP_MAX, max(SKIP_NAP, spent / SKIP_SHARE))


class Pace:
    """The waits of one tap thread between its looks."""

    def __init__(self, holds: bool, stop: threading.Event) -> None:
        self.holds, self._stop = holds, stop
        self.idle, self.nap, self.flowing = 0, FIRST_NAP, False

    def batch(self, fill: float, spent: float) -> None:
        """After a look that found messages: the largest share ``fill`` of a
        ring they took, the look's CPU time ``spent`` (seconds)."""
        self.idle, self.nap = 0, FIRST_NAP
        self.flowing = self.holds and fill >= BUSY_FILL
        if self._stop.is_set():
            return
        if not self.holds:  # nobody waits for it: sample every SKIP_NAP, within SKIP_SHARE
            self._stop.wait(skip_pause(spent))
        elif not self.flowing:
            time.sleep(FIRST_NAP)  # the writer has room: let a bigger batch gather

    def empty(self, spent: float = 0.0) -> None:
        """After a look that found nothing (its CPU time ``spent``, seconds)."""
        if not self.holds:  # nobody waits for it, and looking again at once finds the
            self._stop.wait(skip_pause(spent))  # same: a reader that keeps up
            return
        self.idle += 1
        if self.flowing and self.idle <= FLOW_YIELDS:
            os.sched_yield()  # the held writer is refilling the ring: look again soon
        elif self.idle > IDLE_SPINS:  # short naps while messages flow, longer once idle
            time.sleep(self.nap)
            if self.idle > FLOW_LOOKS:
                self.nap = min(IDLE_SLEEP, self.nap * 2)
