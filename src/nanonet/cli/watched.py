"""``nanonet run --top``: the mesh runs on a worker thread, the view draws here.

Only this (the main) thread writes to the terminal while the view is up: the
worker hands its lines to ``Pending``, and the view prints them above itself
at each redraw. ``Pending`` is bounded, so a host that receives faster than a
terminal shows is held to the terminal's pace, as a plain run is. Ctrl-C and
SIGTERM land here (signals reach only the main thread) and become a ``Stop``
the worker sees within one wait; the worker stops the mesh and says why.
"""

from __future__ import annotations

import threading
from collections import deque

from ..mesh import Mesh
from ..observe.hook import Attached
from .manifest_run import (
    CLOSED_OUTPUT,
    CTRL_C,
    SIGTERM,
    Bridged,
    HostReads,
    RunOptions,
    Stop,
    run_mesh,
)
from .stopping import Terminated

MAX_PENDING = 4096  # lines waiting for the next redraw; the host waits beyond that
WAIT = 0.05  # seconds a full Pending waits before it looks whether it was closed


class Pending:
    """Lines from the worker, taken by the drawing thread; printed directly once closed."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self._lines: deque[str] = deque()
        self._ready = threading.Condition()
        self._limit = limit
        self._open = True

    def put(self, line: str) -> None:
        with self._ready:
            while self._open and len(self._lines) >= self._limit:
                self._ready.wait(WAIT)
            if self._open:
                self._lines.append(line)
                return
        print(line, flush=True)

    def take(self) -> list[str]:
        with self._ready:
            lines = list(self._lines)
            self._lines.clear()
            self._ready.notify_all()
        return lines

    def close(self) -> list[str]:
        """No more drawing: what is left, and later lines go straight to stdout."""
        with self._ready:
            self._open = False
        return self.take()


def run_watched(mesh: Mesh, host: HostReads, opts: RunOptions, seen: Attached,
                pending: Pending, bridges: Bridged | None = None) -> str:
    """Run the mesh on a worker thread while the live view draws it here."""
    stop, outcome = Stop(), list[str]()

    def work() -> None:
        try:
            outcome.append(run_mesh(mesh, host, opts, stop, bridges))
        except BaseException as err:  # a bug: the summary says so, the mesh still stops
            outcome.append(f"nanonet failed: {type(err).__name__}: {err}")
            mesh.stop()

    worker = threading.Thread(target=work, name="nanonet:run", daemon=True)
    worker.start()
    try:
        stop.why = _draw(seen, worker, pending)
    except BaseException:
        stop.why = "nanonet failed: the view failed"
        worker.join()
        raise
    if stop.why == CLOSED_OUTPUT:
        host.silent = True
    worker.join()
    return outcome[0]


def _draw(seen: Attached, worker: threading.Thread, pending: Pending) -> str | None:
    """The view until the worker ends (None) or a stop the user asked (why)."""
    why = None
    try:
        seen.top(until=lambda: not worker.is_alive(), lines=pending.take)
    except Terminated:
        why = SIGTERM
    except KeyboardInterrupt:
        why = CTRL_C
    except (BrokenPipeError, SystemExit):  # rich's console meets a closed pipe with exit(1)
        why = CLOSED_OUTPUT
    left = pending.close()
    if left and why != CLOSED_OUTPUT:
        try:
            print("\n".join(left), flush=True)
        except BrokenPipeError:
            why = CLOSED_OUTPUT
    return why
