"""Whether another task of an asyncio loop waits to run: an asyncio end's early turn.

An asyncio host end gives the loop a turn every ``ASYNC_TURN`` messages
(``end.py``); between two turns a task whose timer expired, or that another
made ready, waits for the rest of the stretch, and for the stretch after it
when the end's own wake-up comes first in the loop's queue (a 1 ms ticker
ran over half a millisecond late on every tick of a stream). Looking whether
a callback waits, or the earliest timer is due, costs a clock read, so an end
looks after every batch it moves and takes its turn at once when one does.
A timer's callback and then its task's wake-up each queue behind the end's
own wake-up, so a turn given for a timer that fell due lasts ``TIMER_TURNS``
more loop turns, moving nothing: the task runs at the end of the batch its
timer fell due in (not two batches later). The look reads the standard
loop's queue and heap (``_ready``, ``_scheduled``: private fields of
``asyncio.BaseEventLoop``); a loop without them (uvloop) keeps the turns by count.

``after_others`` is how an asyncio end wakes a parked peer: a notify wakes a
service thread that may run on the loop's own core, and there it spins for its
budget (up to a quarter of a millisecond) before the loop's thread gets the core
back, so the wake waits until the callbacks and tasks already due have run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

POLITE_TURNS = 3  # loop turns a wake of a peer may wait behind other callbacks
TIMER_TURNS = 2  # more turns for a timer that fell due: one for its callback, one for its task


def others_waiting(loop: asyncio.AbstractEventLoop) -> bool:
    """True if a callback of ``loop`` is ready, or a live timer due, while the
    calling task runs (False if the loop cannot tell)."""
    return bool(getattr(loop, "_ready", None)) or timer_due(loop)


def timer_due(loop: asyncio.AbstractEventLoop) -> bool:
    """True if a live timer of ``loop`` is due (False if the loop cannot tell)."""
    scheduled = getattr(loop, "_scheduled", None)
    if not scheduled:
        return False
    first = scheduled[0]  # a heap: the earliest timer first
    return not first.cancelled() and first.when() <= loop.time()


def after_others(loop: asyncio.AbstractEventLoop, fn: Callable[[], None],
                 turns: int = POLITE_TURNS) -> None:
    """Call ``fn`` on ``loop`` once no other callback waits to run (nor a
    timer is due), at the latest ``turns`` loop turns from now."""
    def run(left: int) -> None:
        if left and others_waiting(loop):
            loop.call_soon(run, left - 1)
        else:
            fn()
    loop.call_soon(run, turns)
