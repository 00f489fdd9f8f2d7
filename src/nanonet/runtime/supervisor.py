"""The supervisor: the clock, the lifecycle event bus and how each thread ended.

Every service thread (module or component) reports its transitions here as
``Transition`` events: who, from, to, on which event, why, and when. The
service's thread only puts the event on a queue (no lock held, no Python of
anyone else's runs on it, no Wasm); one dispatcher thread, owned by the bus,
hands each event to the subscribers in order. Traces, metrics, ``top`` and
the dashboard read these events instead of comparing polled states, so a
service that starts and ends between two polls still leaves its span.

A subscriber added late first receives the events it missed (the last
``KEEP`` of them), then the new ones, in order. The dispatcher lives only
while there is something to deliver or someone to deliver to: once the last
subscriber leaves and the queue is empty it ends, and the next event starts
another.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..host.clock import SYSTEM, Clock
from .lifecycle import Event, State

log = logging.getLogger(__name__)

KEEP = 4096  # events kept for subscribers that come late
FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Transition:
    """One lifecycle transition of one service."""

    service: str
    from_state: State
    to_state: State
    event: Event
    cause: str | None
    time: float  # the supervisor clock's monotonic seconds
    wall_ns: int  # time.time_ns() when it happened, for spans


@dataclass(frozen=True)
class Outcome:
    """How a service's thread ended: a result, a trap, a stop, a failure or
    an internal error (a Python exception in nanonet's own run loop)."""

    kind: str  # "result", "trap", "stopped", "failed" or "internal"
    detail: str
    exit_code: int | None = None


Subscriber = Callable[[Transition], None]


@dataclass(frozen=True)
class _Join:
    fn: Subscriber


@dataclass(frozen=True)
class _Leave:
    fn: Subscriber


_Item = Transition | _Join | _Leave | threading.Event


def _keep_last(items: list[Transition], item: Transition, keep: int) -> None:
    """Append, dropping the oldest beyond ``keep`` (in chunks: amortised O(1))."""
    items.append(item)
    if len(items) >= 2 * keep:
        del items[:-keep]


class EventBus:
    """Transitions from service threads to subscribers, through one queue."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._subscribers: list[Subscriber] = []
        self._history: list[Transition] = []  # the last KEEP (a list: no block while empty)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.errors: list[BaseException] = []  # what subscribers raised (kept, not re-raised)

    def publish(self, event: Transition) -> None:
        """Queue ``event``; never blocks and runs no subscriber. With nobody
        listening and nothing queued it only joins the history (no thread)."""
        with self._lock:
            if self._thread is None and not self._subscribers:
                _keep_last(self._history, event, KEEP)
                return
        self._queue.put(event)
        self._ensure_thread()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Deliver past and future events to ``fn``; returns the unsubscribe."""
        self._queue.put(_Join(fn))
        self._ensure_thread()
        return lambda: self._queue.put(_Leave(fn))

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Wait until every event queued so far was delivered; True if it was
        (not from a subscriber: it would wait for itself)."""
        with self._lock:
            if self._thread is None:
                return True  # no dispatcher: nothing is queued
        done = threading.Event()
        self._queue.put(done)
        self._ensure_thread()
        return done.wait(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="nanonet-events",
                                                daemon=True)
                self._thread.start()

    def _dispatch(self) -> None:
        while not self._idle():
            self._handle(self._queue.get())  # this thread is the only one taking

    def _idle(self) -> bool:
        """End here if nothing waits and nobody listens. Under the lock: every
        put is followed by ``_ensure_thread``, so an item put after this look
        gets a new dispatcher, and at most one dispatcher takes from the queue."""
        with self._lock:
            if self._subscribers or not self._queue.empty():
                return False
            self._thread = None
            return True

    def _handle(self, item: _Item) -> None:
        if isinstance(item, Transition):
            with self._lock:
                _keep_last(self._history, item, KEEP)
                listeners = list(self._subscribers)
            for fn in listeners:
                self._deliver(fn, item)
        elif isinstance(item, _Join):
            for past in self.history():
                self._deliver(item.fn, past)
            with self._lock:
                self._subscribers.append(item.fn)
        elif isinstance(item, _Leave):
            with self._lock:
                if item.fn in self._subscribers:
                    self._subscribers.remove(item.fn)
        else:
            item.set()

    def _deliver(self, fn: Subscriber, event: Transition) -> None:
        try:
            fn(event)
        except Exception as exc:  # a subscriber's fault must not stop the others
            self.errors.append(exc)

    def history(self) -> list[Transition]:
        """The events delivered so far (the last ``KEEP``)."""
        with self._lock:
            return self._history[-KEEP:]


class Supervisor:
    """What every service of a mesh shares: its clock and its event bus."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SYSTEM
        self.bus = EventBus()

    def emit(self, service: str, before: State, after: State, event: Event,
             cause: str | None = None) -> None:
        """Publish one transition (called on the service's own thread)."""
        if log.isEnabledFor(logging.INFO):
            why = f": {cause}" if cause else ""
            log.info("service %s: %s (%s -> %s)%s", service, event.value, before.value,
                     after.value, why)
        self.bus.publish(Transition(service, before, after, event, cause,
                                    self.clock.monotonic(), time.time_ns()))
