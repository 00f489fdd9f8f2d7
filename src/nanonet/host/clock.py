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
