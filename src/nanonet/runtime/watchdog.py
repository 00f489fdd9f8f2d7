"""A service's epoch callback: stop requests, deadlines and fuel refills.

Wasmtime calls it on the service's own thread whenever the engine's epoch
passes the store's deadline (one tick ahead). It answers "go on for one more
tick" unless the host asked the service to stop, or the service has run for
its deadline without touching any of its tunnels (no counter it owns moved,
and it never waited), in which case it traps the store with that cause. With
a fuel budget it also refills the store's fuel: a budget per tick.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

from ..capi.epoch import CALLBACK_T, UPDATE_DEADLINE_CONTINUE, error_address, get_fuel, set_fuel
from ..host.clock import SYSTEM, Clock, Signal
from ..ring import layout as L
from ..ring.adapter import Direction, EndSpec
from ..ring.memory import PortMemory, RingMemory

# a port end's marks: its memory and the counters its work (and a server's
# parks) move; a client's wait in a call counts as no progress: its deadline
# bounds how long a call may wait
PortMarks = tuple[PortMemory, tuple[int, ...]]

UNLIMITED_FUEL = (1 << 63) - 1

# what a service's end moves when it works or waits
_WRITER_MARKS = (L.OFF_HEAD, L.OFF_FULL, L.OFF_WRITER_PARKS)
_READER_MARKS = (L.OFF_TAIL, L.OFF_EMPTY, L.OFF_READER_PARKS)


class Watchdog:
    """The decisions behind one store's epoch callback.

    Host calls that wait (``hostpoll.py``) ask it the same two questions the
    callback asks: has the host asked for a stop (``wait_stop`` sleeps on
    that), and when does the deadline fire (``deadline_at``).
    """

    STOPPED = "stopped by the host"
    CUT = "cut at its caller's deadline"

    def __init__(self, ends: Sequence[EndSpec], rings: Sequence[RingMemory],
                 deadline_ms: int | None, fuel_per_tick: int | None,
                 clock: Clock = SYSTEM, ports: Sequence[PortMarks] = ()) -> None:
        self._marks = tuple((ring, _WRITER_MARKS if end.direction is Direction.WRITE
                        else _READER_MARKS) for end, ring in zip(ends, rings, strict=True))
        self._ports = tuple(ports)
        self._deadline = None if deadline_ms is None else deadline_ms / 1000.0
        self._fuel = fuel_per_tick
        self.clock = clock
        self._stop = Signal()
        # one call cut at its caller's deadline (a component's); cleared by its owner
        self.cut_requested = False
        self.cause: str | None = None
        self.fuel_used = 0  # counted at each tick; only with a fuel budget
        self._last: tuple[int, ...] = ()  # read by rearm(), when the service starts
        self._since = clock.monotonic()
        self.callback = CALLBACK_T(self._on_epoch)  # kept alive with the watchdog

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @stop_requested.setter
    def stop_requested(self, value: bool) -> None:
        """Setting it wakes a host call waiting in ``wait_stop`` at once."""
        if value:
            self._stop.set()
        else:
            self._stop.clear()

    def wait_stop(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` or until a stop is asked; True if it was."""
        return self._stop.wait(self.clock, seconds)

    def now(self) -> float:
        """The clock that ``deadline_at`` is measured on."""
        return self.clock.monotonic()

    def deadline_at(self) -> float | None:
        """The ``clock.monotonic()`` at which the deadline fires if no counter
        of the service moves from now on; None without a deadline."""
        if self._deadline is None:
            return None
        self._expired()  # takes in any progress since the last look
        return self._since + self._deadline

    def deadline_cause(self) -> str:
        return f"deadline exceeded: ran {self._deadline_ms()} ms without touching a tunnel"

    def _progress(self) -> tuple[int, ...]:
        rings = tuple(ring.u64(off) for ring, offs in self._marks for off in offs)
        return rings + tuple(port.u64(off) for port, offs in self._ports for off in offs)

    def parked(self) -> bool:
        """True if the service is asleep on one of its tunnels right now."""
        return any(ring.u32(L.OFF_WRITER_WAITING if offs is _WRITER_MARKS
                            else L.OFF_READER_WAITING) for ring, offs in self._marks)

    def rearm(self) -> None:
        """Start the deadline afresh (at start and after a restart). Without a
        deadline no mark is ever compared, so none is read (a service's start
        then reads nothing of its rings)."""
        if self._deadline is not None:
            self._last = self._progress()
        self._since = self.clock.monotonic()
        self.cause = None

    def _expired(self) -> bool:
        if self._deadline is None:
            return False
        now, seen = self.clock.monotonic(), self._progress()
        if seen != self._last:
            self._last, self._since = seen, now
            return False
        return now - self._since >= self._deadline

    def _trap(self, cause: str) -> int:
        self.cause = cause
        return error_address(f"nanonet: {cause}")

    def _on_epoch(self, ctx: object, _data: object, delta: ctypes._Pointer[ctypes.c_uint64],
                  kind: ctypes._Pointer[ctypes.c_uint8]) -> int:
        if self.stop_requested:
            return self._trap(self.STOPPED)
        if self.cut_requested:
            return self._trap(self.CUT)
        if self._expired():
            return self._trap(self.deadline_cause())
        if self._fuel is not None:
            self._count_fuel(ctx)
            set_fuel(ctx, self._fuel)
        delta[0] = 1
        kind[0] = UPDATE_DEADLINE_CONTINUE
        return 0

    def _count_fuel(self, ctx: object) -> None:
        """Add what was burnt since the last refill: read on the service's own
        thread, the only place a store's fuel may be read while it runs."""
        left = get_fuel(ctx)
        if left is not None:
            self.fuel_used += max(0, (self._fuel or 0) - left)

    def _deadline_ms(self) -> int:
        return int((self._deadline or 0) * 1000)
