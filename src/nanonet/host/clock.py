"""The clock that restart back-offs, restart windows and deadlines read.

Time is an argument: the runtime never calls ``time.monotonic`` or sleeps on
its own where a policy decides, it asks a ``Clock``. ``SYSTEM`` is the real
one; a test passes a clock it advances by hand, so back-offs and windows are
checked without waiting out real time.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds, and a wait on an event that this clock's time bounds."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin; differences only."""
        ...

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait until ``event`` is set or ``seconds`` of this clock pass; True if set."""
        ...


class SystemClock:
    """The process's monotonic clock and real waits."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(seconds)


SYSTEM: Clock = SystemClock()


_SIGNAL_LOCK = threading.Lock()  # shared: a Signal makes its Event once at most


class Signal:
    """A flag another thread may wait on, as ``threading.Event``, whose Event
    (a Condition, a lock and a deque) is made only when someone first waits:
    every service holds two of these and almost none is ever waited on, and
    a thousand idle services should not carry two thousand Conditions.

    ``set`` stores the flag before it looks for the Event, and ``wait`` makes
    the Event before it looks at the flag, both under one lock, so a set that
    races a first wait is never missed.
    """

    __slots__ = ("_event", "_on")

    def __init__(self) -> None:
        self._on = False
        self._event: threading.Event | None = None

    def is_set(self) -> bool:
        return self._on

    def set(self) -> None:
        self._on = True
        with _SIGNAL_LOCK:
            event = self._event
        if event is not None:
            event.set()

    def clear(self) -> None:
        self._on = False
        with _SIGNAL_LOCK:
            event = self._event
        if event is not None:
            event.clear()

    def wait(self, clock: Clock, seconds: float) -> bool:
        """Until set or ``seconds`` of ``clock`` pass; True if set."""
        with _SIGNAL_LOCK:
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        if self._on:
            return True
        return clock.wait(event, seconds)
