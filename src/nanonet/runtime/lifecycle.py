"""A service's lifecycle: one Enum and one (state, event) -> state table.

A pair missing from the table is a bug in the caller; it moves the service to
FAILED rather than into a state nobody designed.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"  # the entry returned, or stop() ended it
    TRAPPED = "trapped"
    FAILED = "failed"


class Event(Enum):
    START = "start"
    RETURN = "return"
    TRAP = "trap"
    STOP = "stop"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CREATED, Event.START): State.RUNNING,
    (State.CREATED, Event.STOP): State.STOPPED,
    (State.RUNNING, Event.RETURN): State.STOPPED,
    (State.RUNNING, Event.TRAP): State.TRAPPED,
    (State.RUNNING, Event.STOP): State.STOPPED,
    (State.STOPPED, Event.STOP): State.STOPPED,
    (State.TRAPPED, Event.STOP): State.TRAPPED,
}


def next_state(state: State, event: Event) -> State:
    """The state after ``event``; FAILED for a pair the table does not allow."""
    return TRANSITIONS.get((state, event), State.FAILED)
