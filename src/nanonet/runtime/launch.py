"""Starting many service threads at once: what ``Mesh.start`` and
``Mesh.start_all`` share.

``threading.Thread.start`` returns only once the new thread runs: it waits
for the thread to take the GIL and say so, then for the GIL back. Starting
a thousand idle services one after another waited for those wake-ups a
thousand times in a row (about 160 us a service on a quiet machine, 400 to
800 us under load, where creating one costs about 115 us). Here the caller
and a few launcher threads each start a share of the services, so those
waits overlap; then each service's own START is awaited (the lock its
thread releases first of all), every one of them, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .service import Service

LAUNCHERS = 4  # starting threads at most, the caller's own included (8 did no better)
PER_LAUNCHER = 32  # services a launcher must have to be worth a thread of its own


def launchers(count: int) -> int:
    """How many threads (the caller's included) start ``count`` services."""
    return max(1, min(LAUNCHERS, count // PER_LAUNCHER))


def launch(services: Sequence[Service]) -> None:
    """Start every service's thread and return once each has applied START
    (RUNNING, or already past it). What a start raises (a thread the system
    refused) is raised here, after every other service was started and
    awaited; a service whose start raised is not awaited."""
    ways = launchers(len(services))
    failed: dict[int, BaseException] = {}

    def share(first: int) -> None:
        for i in range(first, len(services), ways):
            try:
                services[i].start(wait=False)
            except BaseException as exc:  # raised below, once the others run
                failed[i] = exc

    starters = []
    for k in range(1, ways):
        starter = threading.Thread(target=share, args=(k,), name="nanonet-launch", daemon=True)
        try:
            starter.start()
            starters.append(starter)
        except RuntimeError:  # no thread to be had for it: the caller takes its share
            share(k)
    share(0)
    for starter in starters:
        starter.join()
    for i, svc in enumerate(services):
        if i not in failed:
            svc.wait_started()
    if failed:
        raise failed[min(failed)]
