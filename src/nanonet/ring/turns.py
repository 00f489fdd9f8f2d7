"""Whether another task of an asyncio loop waits to run: an asyncio end's early turn.

An asyncio host end gives the loop a turn every ``ASYNC_TURN`` messages
(``end.py``); between two turns a task whose timer expired, or that another
made ready, waits for the rest of the stretch, and for the stretch after it
when the end's own wake-up comes first in the loop's queue (a 1 ms ticker
ran over half a millisecond late on every tick of a stream). Looking whether
a callback waits, or the earliest timer is due, costs a clock read, so an end
looks after every batch it moves and takes its turn at once when one does:
the task runs within three batches of its time (the timer's callback, then
the task's wake-up, each queue behind the end's own). The look reads the standard
loop's queue and heap (``_ready``, ``_scheduled``: private fields of
``asyncio.BaseEventLoop``); a loop without them (uvloop) keeps the turns by count.
"""

from __future__ import annotations

import asyncio


def others_waiting(loop: asyncio.AbstractEventLoop) -> bool:
    """True if a callback of ``loop`` is ready, or a live timer due, while the
    calling task runs (False if the loop cannot tell)."""
    if getattr(loop, "_ready", None):
        return True
    scheduled = getattr(loop, "_scheduled", None)
    if not scheduled:
        return False
    first = scheduled[0]  # a heap: the earliest timer first
    return not first.cancelled() and first.when() <= loop.time()
