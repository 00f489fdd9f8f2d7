"""How many restarts a service has left, and how long to wait before the next.

Like an OTP supervisor's intensity and period: at most ``max_restarts``
restarts within any ``window_s`` seconds of the injected clock; older ones are
forgotten. The back-off grows within a burst of restarts and starts afresh
once the service has run ``healthy_s`` seconds without trapping. Plain
arithmetic on the clock's readings: no thread, no Wasm.
"""

from __future__ import annotations

from ..host.clock import Clock
from ..policy.policy import RestartPolicy


class RestartBudget:
    """The restart decisions of one service."""

    def __init__(self, policy: RestartPolicy, clock: Clock) -> None:
        self.policy = policy
        self.clock = clock
        self._recent: list[float] = []  # when each restart within the window began
        self._burst = 0  # restarts since it last ran healthy: the back-off's exponent
        self._since = clock.monotonic()
        self.why = ""  # why the last after_trap said no

    def running(self) -> None:
        """The service (re)started running now."""
        self._since = self.clock.monotonic()

    def after_trap(self) -> float | None:
        """The back-off (seconds) before the restart this trap earns, or None if
        the window is full (``why`` says so). A restart granted is counted."""
        p, now = self.policy, self.clock.monotonic()
        if now - self._since >= p.healthy_s:
            self._burst = 0
        self._recent = [t for t in self._recent if t > now - p.window_s]
        if len(self._recent) >= p.max_restarts:
            self.why = (f"out of restarts: {len(self._recent)} within {p.window_s:g} s "
                        f"(max_restarts = {p.max_restarts})")
            return None
        self._recent.append(now)
        delay = p.delay(self._burst)
        self._burst += 1
        return delay
