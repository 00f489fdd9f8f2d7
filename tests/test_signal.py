"""Signal: a flag waited on like threading.Event, whose Event is made lazily.

The race it must survive is a set that lands while the first wait is making
the Event: the waiter sees either the flag or the Event set, never neither.
"""

from __future__ import annotations

import threading

from nanonet.host.clock import SYSTEM, Signal


def test_a_set_before_the_first_wait_is_seen_at_once() -> None:
    signal = Signal()
    signal.set()
    assert signal.is_set() and signal.wait(SYSTEM, 30.0)


def test_a_wait_times_out_unset_and_a_clear_undoes_a_set() -> None:
    signal = Signal()
    assert not signal.wait(SYSTEM, 0.01)
    signal.set()
    signal.clear()
    assert not signal.is_set() and not signal.wait(SYSTEM, 0.01)


def test_sets_racing_first_waits_are_never_missed() -> None:
    for _ in range(300):
        signal, woke = Signal(), list[bool]()
        waiter = threading.Thread(target=_wait_into, args=(signal, woke))
        waiter.start()
        signal.set()
        waiter.join(30.0)
        assert woke == [True]


def _wait_into(signal: Signal, woke: list[bool]) -> None:
    woke.append(signal.wait(SYSTEM, 30.0))
