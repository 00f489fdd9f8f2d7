"""A service's lifecycle: one Enum and one (state, event) -> state table.

Module services and component services share it. Only the service's own
thread applies a transition (``Service._event``), so no other thread can
race a service's exit. A pair missing from the table is a bug in nanonet:
``next_state`` raises ``LifecycleError``, and the service's thread records it
as an internal error and ends FAILED.

Being asleep in a tunnel wait is not a state: it is read from the waiting
flags of the service's rings when someone looks (``Service.parked``), and
shown as ``PARKED`` (``observed``) while the stored state is RUNNING.
"""

from __future__ import annotations

from enum import Enum

from ..errors import LifecycleError


class State(Enum):
    CREATED = "created"
    RUNNING = "running"
    PARKED = "parked"  # observed only: RUNNING, asleep on one of its tunnels
    TRAPPED = "trapped"  # trapped; waits for a restart, or stays here without one
    RESTARTING = "restarting"  # waiting its back-off, then loading afresh
    STOPPED = "stopped"  # the entry returned, or stop() ended it
    FAILED = "failed"  # out of restarts, or it could not be loaded again


class Event(Enum):
    START = "start"
    RETURN = "return"
    TRAP = "trap"
    RESTART = "restart"  # the back-off begins
    RESUME = "resume"  # reloaded: running again
    GIVE_UP = "give-up"  # restarts exhausted
    FAIL = "fail"  # could not (re)load, or nanonet itself failed
    STOP = "stop"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CREATED, Event.START): State.RUNNING,
    (State.CREATED, Event.STOP): State.STOPPED,
    (State.CREATED, Event.FAIL): State.FAILED,
    (State.RUNNING, Event.RETURN): State.STOPPED,
    (State.RUNNING, Event.TRAP): State.TRAPPED,
    (State.RUNNING, Event.STOP): State.STOPPED,
    (State.RUNNING, Event.FAIL): State.FAILED,
    (State.TRAPPED, Event.RESTART): State.RESTARTING,
    (State.TRAPPED, Event.GIVE_UP): State.FAILED,
    (State.TRAPPED, Event.STOP): State.TRAPPED,
    (State.TRAPPED, Event.FAIL): State.FAILED,
    (State.RESTARTING, Event.RESUME): State.RUNNING,
    (State.RESTARTING, Event.STOP): State.STOPPED,
    (State.RESTARTING, Event.FAIL): State.FAILED,
    (State.STOPPED, Event.STOP): State.STOPPED,
}

ENDED = frozenset({State.STOPPED, State.FAILED})


def next_state(state: State, event: Event) -> State:
    """The state after ``event``; a pair the table lacks raises LifecycleError."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise LifecycleError(f"no transition from {state.value} on {event.value}: nanonet "
                             "drove a service's lifecycle where its table does not go") from None


def observed(state: State, parked: bool) -> State:
    """What an observer shows: PARKED for a RUNNING service asleep on a tunnel."""
    return State.PARKED if parked and state is State.RUNNING else state
