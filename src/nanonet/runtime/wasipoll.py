"""WASI ``poll_oneoff`` as nanonet answers it: every sleep ends at a deadline or a stop.

wasmtime's own ``poll_oneoff`` sleeps inside the host call, where neither an
epoch deadline nor ``Mesh.stop`` can reach it: a guest granted only the clock
could sleep for an hour and outlive its ``deadline_ms`` and its mesh. A
service with WASI gets this one in its place. It reads the subscriptions,
answers at once whatever is ready, and otherwise waits for the earliest
clock on the service's stop event, never past the moment the service's
deadline fires. A stop or a deadline traps the service with its cause, just
as the epoch callback would.

This module is the decision (which events are ready, when to wake); the raw
host function around it is ``hostpoll.py``.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

SUB_SIZE, EVENT_SIZE = 48, 32
SUB_ALIGN, EVENT_ALIGN = 8, 8

# WASI preview-1 constants
CLOCK_REALTIME, CLOCK_MONOTONIC = 0, 1
EVENT_CLOCK, EVENT_FD_READ, EVENT_FD_WRITE = 0, 1, 2
ABSTIME = 1  # subclockflags: the timeout is an absolute time
ERRNO_SUCCESS, ERRNO_BADF, ERRNO_FAULT, ERRNO_INVAL, ERRNO_NOTSUP = 0, 8, 21, 28, 58

STDIN, STDOUT, STDERR = 0, 1, 2
_SUB = struct.Struct("<QB7xIxxxxQQH6x")   # userdata, tag, clock id or fd, timeout, precision, flags
_EVENT = struct.Struct("<QHB5xQH6x")      # userdata, error, type, nbytes, flags
assert _SUB.size == SUB_SIZE and _EVENT.size == EVENT_SIZE


@dataclass(frozen=True)
class Subscription:
    """One subscription as the guest wrote it."""

    userdata: int
    tag: int
    target: int  # the clock id for a clock subscription, else the fd
    timeout: int
    flags: int


def parse(raw: bytes, count: int) -> list[Subscription]:
    """``count`` subscriptions from their wire form."""
    out = []
    for i in range(count):
        userdata, tag, target, timeout, _precision, flags = _SUB.unpack_from(raw, i * SUB_SIZE)
        out.append(Subscription(userdata, tag, target, timeout, flags))
    return out


def event(userdata: int, kind: int, error: int = ERRNO_SUCCESS, nbytes: int = 0) -> bytes:
    """One event in its wire form."""
    return _EVENT.pack(userdata, error, kind, nbytes, 0)


@dataclass(frozen=True)
class Clocks:
    """The guest's clocks, read on the host: ``origin_ns`` is the host's
    ``time.monotonic_ns()`` at which the guest's monotonic clock read zero."""

    origin_ns: int

    def wake_ns(self, sub: Subscription, start_ns: int) -> int | None:
        """Host monotonic time (ns) at which a clock subscription fires; None
        for a clock nanonet does not sleep on (WASI's CPU-time clocks)."""
        absolute = bool(sub.flags & ABSTIME)
        if sub.target == CLOCK_MONOTONIC:
            return self.origin_ns + sub.timeout if absolute else start_ns + sub.timeout
        if sub.target == CLOCK_REALTIME:
            if absolute:
                return start_ns + max(0, sub.timeout - time.time_ns())
            return start_ns + sub.timeout
        return None


@dataclass(frozen=True)
class Plan:
    """What one call comes to: an errno for the whole call, events ready now,
    or nothing ready before ``wake_ns`` (host monotonic time)."""

    errno: int = ERRNO_SUCCESS
    events: tuple[bytes, ...] = ()
    wake_ns: int | None = None


def _fd_event(sub: Subscription) -> bytes | int:
    """The event for an fd subscription, or the errno that fails the call.

    A nanonet guest's standard streams never block (stdin is never granted,
    so it reads as an empty stream; stdout and stderr are written straight
    through), so they are always ready, as wasmtime answers them. Other fds
    (files under a granted directory) are not polled: ENOTSUP.
    """
    if sub.target > STDERR:
        return ERRNO_NOTSUP
    if (sub.tag == EVENT_FD_READ) != (sub.target == STDIN):
        return ERRNO_BADF  # reading stdout or stderr, or writing stdin
    return event(sub.userdata, sub.tag, nbytes=1)


def plan(subs: list[Subscription], clocks: Clocks, start_ns: int, now_ns: int) -> Plan:
    """Which events are ready at ``now_ns`` for a call that began at ``start_ns``."""
    if not subs:
        return Plan(ERRNO_INVAL)  # an empty poll would sleep for ever
    ready: list[bytes] = []
    wake: int | None = None
    for sub in subs:
        if sub.tag == EVENT_CLOCK:
            at = clocks.wake_ns(sub, start_ns)
            if at is None:
                return Plan(ERRNO_INVAL)
            if at <= now_ns:
                ready.append(event(sub.userdata, EVENT_CLOCK))
            else:
                wake = at if wake is None else min(wake, at)
        elif sub.tag in (EVENT_FD_READ, EVENT_FD_WRITE):
            answer = _fd_event(sub)
            if isinstance(answer, int):
                return Plan(answer)
            ready.append(answer)
        else:
            return Plan(ERRNO_INVAL)
    return Plan(events=tuple(ready)) if ready else Plan(wake_ns=wake)
