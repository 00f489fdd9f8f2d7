"""The epoch ticker: the clock that deadlines and fuel budgets are counted in.

Meshes whose services have no limits never tick, so their services are never
interrupted. A mesh with a deadline or a fuel budget holds the ticker while
it runs; every ``TICK_SECONDS`` the ticker advances the engine's epoch, and
each running service's epoch callback (``watchdog.py``) decides whether it
goes on. The ticker is owned by the Runtime and stops when no mesh holds it.
"""

from __future__ import annotations

import threading

import wasmtime

TICK_SECONDS = 0.010


class Ticker:
    """Advances one engine's epoch while at least one holder wants it."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._holders = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self) -> None:
        with self._lock:
            self._holders += 1
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="nanonet:ticker",
                                                daemon=True)
                self._thread.start()

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stop.set()
        thread.join()

    def _run(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self._engine.increment_epoch()
