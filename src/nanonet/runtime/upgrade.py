"""A hot upgrade: one running service swapped for a new module at a commit point.

The host sets the yield flag of the service's ends (its read ends; a service
with none, its write ends: docs/ring.md), so that its next receive commits
what it had received and returns ``YIELD`` without taking anything new (a
send of a writer-only service returns it after publishing); and that of
the ports it serves, whose next ``serve_recv`` returns ``YIELD`` without
taking a request (what it took, it answered before asking again). A guest that
returns on it leaves every message committed; the service's own thread then
loads the new module in a new store on the same rings, and its ends attach
where the old ones stopped: nothing lost, nothing twice.

A guest that ignores ``YIELD`` is stopped by its epoch after ``GRACE_SECONDS``
(its last receive was not committed, so the new module gets it again: at
least once, and the outcome says so). A new module that cannot be loaded,
or traps within ``PROBATION_SECONDS`` of its start, is replaced by the old
one again, which attaches at the committed tail; the caller gets an
``UpgradeError`` with the reason. Only the service's thread swaps modules;
the caller's thread sets flags, wakes parked ends and waits.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import wasmtime

from ..errors import UpgradeError
from ..host.clock import Clock
from .lifecycle import State

if TYPE_CHECKING:
    from .service import Service
    from .watchdog import Watchdog

GRACE_SECONDS = 1.0  # how long a guest has to return on YIELD before its epoch stops it
PROBATION_SECONDS = 0.2  # a new module that traps this soon after its start is rolled back
WAKE_SECONDS = 0.01  # how often the caller wakes the service's parked ends while it waits
FORCED_SECONDS = 10.0  # how long an epoch stop may take before the upgrade gives up


@dataclass(frozen=True)
class UpgradeOutcome:
    """What an upgrade did: which service, whether the old instance stopped
    at a commit point or by its epoch, and so whether delivery stayed exactly
    once. A writer-only service stopped by its epoch (e.g. parked on a full
    ring) loses and repeats nothing either: a writer publishes whole messages."""

    service: str
    exactly_once: bool
    by_epoch: bool = False

    def describe(self) -> str:
        if not self.by_epoch:
            how = "at a commit point (exactly once)"
        elif self.exactly_once:
            how = ("by its epoch after the grace period (a writer-only service: its tunnels "
                   "lost and repeated nothing)")
        else:
            how = ("by its epoch after the grace period: the guest ignored YIELD (at least "
                   "once: its last receive comes again)")
        return f"service {self.service!r} upgraded; the old module stopped {how}"


class Request:
    """One upgrade in flight, shared by the caller's and the service's threads.

    ``swapped`` is set once the service's thread has loaded the new module
    (or failed to, and restored the old one); ``settled`` once the upgrade is
    final: kept after its probation, or rolled back (``error`` then says why).
    """

    def __init__(self, wasm: bytes, clock: Clock) -> None:
        self.wasm = wasm
        self.clock = clock
        self.forced = False  # the caller asked the epoch to stop the old instance
        self.by_epoch = False  # the old instance ended by that stop, not on YIELD
        self.swapped = threading.Event()
        self.settled = threading.Event()
        self.error: str | None = None
        self._lock = threading.Lock()
        self._until: float | None = None  # the probation's end, once the new module runs
        self._final = False
        self._swapping = False

    def force(self, watchdog: Watchdog, engine: wasmtime.Engine) -> None:
        """Past the grace period: have the epoch stop the old instance, unless
        its thread is swapping already (caller)."""
        with self._lock:
            if self._swapping or self.forced:
                return
            self.forced = True
            watchdog.stop_requested = True
        engine.increment_epoch()

    def begin_swap(self, watchdog: Watchdog) -> None:
        """The old instance ended: no epoch stop may reach the new one (service thread)."""
        with self._lock:
            self._swapping = True
            if self.forced:
                watchdog.stop_requested = False

    def started(self) -> None:
        """The new module runs: its probation begins (service thread)."""
        self._until = self.clock.monotonic() + PROBATION_SECONDS
        self.swapped.set()

    def failed_to_load(self, error: str) -> None:
        """The new module did not load; the old one runs again (service thread)."""
        with self._lock:
            self._final = True
        self.error = error
        self.swapped.set()
        self.settled.set()

    def claim_rollback(self) -> bool:
        """The new module trapped: True if still on probation (service thread),
        and then the caller can no longer keep it."""
        with self._lock:
            if self._final or self._until is None or self.clock.monotonic() > self._until:
                return False
            self._final = True
            return True

    def rolled_back(self, error: str) -> None:
        self.error = error
        self.settled.set()

    def keep(self) -> bool:
        """The probation is over (caller): True if the new module is kept,
        False if a rollback was claimed first (wait for ``settled``)."""
        with self._lock:
            if self._final:
                return False
            self._final = True
        self.settled.set()
        return True


def upgrade(svc: Service, wasm: bytes, engine: wasmtime.Engine) -> UpgradeOutcome:
    """Swap running ``svc`` for ``wasm`` (caller's thread): ask it to yield,
    wake its parked ends until it does, stop it by its epoch after the grace
    period, then wait out the new module's probation. Raises UpgradeError if
    the new module did not load or was rolled back."""
    if not svc.running or svc.state is not State.RUNNING:
        raise UpgradeError(f"service {svc.name!r} is {svc.state.value}, not running: only a "
                           "running service is upgraded; start the mesh first")
    req = Request(wasm, svc.clock)
    svc.upgrade_request = req
    try:
        svc.set_yield(True)
        _await_swap(svc, req, engine)
        if not req.settled.wait(PROBATION_SECONDS) and req.keep():
            exactly = not req.by_epoch or not (svc.reads_anything or svc.serves_anything)
            return UpgradeOutcome(svc.name, exactly, req.by_epoch)
        req.settled.wait(FORCED_SECONDS)  # a rollback was claimed: let it finish
        raise UpgradeError(f"service {svc.name!r}: upgrade rolled back: {req.error}")
    finally:
        svc.set_yield(False)
        svc.upgrade_request = None


def _await_swap(svc: Service, req: Request, engine: wasmtime.Engine) -> None:
    """Wake the service's ends until its thread swapped modules; past the
    grace period, have the epoch stop the old instance."""
    waited, limit = 0.0, GRACE_SECONDS + FORCED_SECONDS
    while not req.swapped.wait(WAKE_SECONDS):
        svc.wake_ends()
        waited += WAKE_SECONDS
        if not svc.running:
            raise UpgradeError(f"service {svc.name!r} ended ({svc.state.value}) before it "
                               "could be upgraded")
        if waited >= GRACE_SECONDS:
            req.force(svc.watchdog, engine)
        if waited >= limit:
            raise UpgradeError(f"service {svc.name!r} did not stop for its upgrade within "
                               f"{limit:g} s (a host call that does not return?)")
