"""A service's lifecycle: one Enum and one (state, event) -> state table.

A pair missing from the table is a bug in the caller; it moves the service to
FAILED rather than into a state nobody designed. PARKED is RUNNING while the
service sleeps in a tunnel wait; the host observes it from the waiting flags
in the service's rings (PARK / WAKE).
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    CREATED = "created"
    RUNNING = "running"
    PARKED = "parked"  # running, asleep in memory.atomic.wait32 on one of its tunnels
    TRAPPED = "trapped"  # trapped; waits for a restart, or stays here without one
    RESTARTING = "restarting"  # waiting its back-off, then loading afresh
    STOPPED = "stopped"  # the entry returned, or stop() ended it
    FAILED = "failed"  # out of restarts (or an impossible transition)


class Event(Enum):
    START = "start"
    PARK = "park"
    WAKE = "wake"
    RETURN = "return"
    TRAP = "trap"
    RESTART = "restart"  # the back-off begins
    RESUME = "resume"  # reloaded: running again
    GIVE_UP = "give-up"  # restarts exhausted
    STOP = "stop"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CREATED, Event.START): State.RUNNING,
    (State.CREATED, Event.STOP): State.STOPPED,
    (State.RUNNING, Event.PARK): State.PARKED,
    (State.RUNNING, Event.WAKE): State.RUNNING,
    (State.RUNNING, Event.RETURN): State.STOPPED,
    (State.RUNNING, Event.TRAP): State.TRAPPED,
    (State.RUNNING, Event.STOP): State.STOPPED,
    (State.PARKED, Event.PARK): State.PARKED,
    (State.PARKED, Event.WAKE): State.RUNNING,
    (State.PARKED, Event.RETURN): State.STOPPED,
    (State.PARKED, Event.TRAP): State.TRAPPED,
    (State.PARKED, Event.STOP): State.STOPPED,
    (State.TRAPPED, Event.RESTART): State.RESTARTING,
    (State.TRAPPED, Event.GIVE_UP): State.FAILED,
    (State.TRAPPED, Event.STOP): State.TRAPPED,
    (State.RESTARTING, Event.RESUME): State.RUNNING,
    (State.RESTARTING, Event.STOP): State.STOPPED,
    (State.STOPPED, Event.STOP): State.STOPPED,
}


def next_state(state: State, event: Event) -> State:
    """The state after ``event``; FAILED for a pair the table does not allow."""
    return TRANSITIONS.get((state, event), State.FAILED)
