"""What both host ends share: the wait budgets, the asyncio turns, close,
statistics and the errors a cursor's check becomes.

The ends themselves are ``writer.TunnelWriter`` and ``reader.TunnelReader``
(``endpoint`` names both).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Self

from ..errors import TunnelClosed, TunnelCorrupt
from .control import RingControl
from .memory import RingMemory
from .packed import Packed
from .stats import TunnelStats, snapshot
from .turns import TIMER_TURNS, after_others, others_waiting, timer_due
from .waitpolicy import DEFAULT_WAIT, WaitPolicy, host_polls, host_spin_ns

# How long a blocked host end polls before it parks in Wasm. A park and its
# wake-up cost ~50 us here: a reader polls about that long (a reply in a
# request/response exchange arrives sooner), a writer waiting for room less
# (the reader is the bottleneck; it wakes the writer when the ring drains).
READER_SPIN_NS = 100_000
WRITER_SPIN_NS = 10_000
PARK_NS = 20_000_000
POLLS = 64  # polls of the peer's counter between two sched_yield calls (GIL let go)
ASYNC_TURN = 256  # messages an asyncio end moves before it gives the loop a turn...
ASYNC_TURN_BYTES = 64 * 1024  # ...or fewer, if its slots hold more than this many bytes
ASYNC_POLLS = 64  # loop turns an asyncio end polls on before it parks in a thread (a hop
# to a worker thread and back costs more than a drained ring takes to refill)
Batch = Sequence[bytes] | Packed
NEVER = 1 << 62  # a spinning end's park time (ns) and poll count: never reached


def until_closed(recv_many: Callable[[int], list[bytes]]) -> Iterator[bytes]:
    """Every message until the tunnel is closed and drained, taken in batches:
    what iterating over a host reader or a subscriber gives."""
    while True:
        try:
            yield from recv_many(4096)
        except TunnelClosed:
            return


def deadline_of(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


class End:
    def __init__(self, ring: RingMemory, control: RingControl,
                 wait: WaitPolicy = DEFAULT_WAIT) -> None:
        self.ring = ring
        self.control = control
        self.geometry = ring.geometry
        self.wait = wait  # the tunnel's wait policy (ring/waitpolicy.py)
        self._turn = 0  # messages an asyncio form moved since it last gave the loop a turn
        self._later: asyncio.AbstractEventLoop | None = None  # set while an asyncio form moves
        self._wake_due = False  # a wake of the parked peer waits for the loop (``_put_off``)

    def _park_after(self, spin_ns: int) -> int:
        """When (perf_counter_ns) a blocked call stops polling and parks: after
        ``spin_ns`` (adaptive), at once (park), never (spin)."""
        ns = host_spin_ns(self.wait, spin_ns)
        if ns is None:
            return NEVER
        return time.perf_counter_ns() + ns if ns else -1

    def _async_polls(self) -> int:
        """Loop turns an asyncio form polls on before it parks in a thread."""
        polls = host_polls(self.wait, ASYNC_POLLS)
        return NEVER if polls is None else polls

    def statistics(self) -> TunnelStats:
        return snapshot(self.ring)

    def close(self) -> None:
        """Close the tunnel for both ends; the reader still drains what was sent."""
        self.control.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _corrupt(what: str) -> TunnelCorrupt:
        """The error for a check the cursor failed (it stored the quarantine)."""
        return TunnelCorrupt(f"tunnel ring quarantined: {what}")

    def _count_stretch(self, off: int, at: str, pos: int) -> None:
        """Count a full (or empty) ring once per stretch of re-reads that find
        it so, in the header counter an adapter keeps for its side: a stretch
        ends when this end's counter moves (``at`` names where it was)."""
        if getattr(self, at) != pos:
            setattr(self, at, pos)
            self.ring.put_u64(off, self.ring.u64(off) + 1)

    def _per_turn(self) -> int:
        """Messages between two turns: ``ASYNC_TURN``, or fewer for large slots,
        so that a turn never waits for more than ``ASYNC_TURN_BYTES`` of copying."""
        return max(1, min(ASYNC_TURN, ASYNC_TURN_BYTES // max(1, self.geometry.max_payload)))

    async def _give_turn(self, moved: int) -> None:
        """Count ``moved`` messages; once ``_per_turn()`` have gone by, or as
        soon as another task waits to run (``turns.py``), let the event loop
        run its other tasks (a stream that never waits would otherwise never
        give it back). A turn given for a timer that fell due lasts
        ``TIMER_TURNS`` more loop turns: the timer runs its callback on one and
        wakes its task on the next, and a batch moved between them made every
        tick of a 1 ms ticker two batches later than it had to be (other
        turns stay one long: two streams on one loop would take extra turns
        from each other)."""
        self._turn += moved
        loop = asyncio.get_running_loop()
        if self._turn >= self._per_turn() or others_waiting(loop):
            more = TIMER_TURNS if timer_due(loop) else 0
            await self._turn_now()
            for _ in range(more):
                await asyncio.sleep(0)

    def _put_off(self, wake: Callable[[], None]) -> bool:
        """While an asyncio form moves messages, put a wake of the parked peer
        off until the loop has run what was due (``turns.after_others``): True
        if put off (or one is already pending), False to wake now. Every batch
        moved meanwhile is covered by that one notify, and a notify in the middle
        of a stretch made the loop wait for the woken peer's spin (a 1 ms ticker
        lost a tenth of its ticks beside a stream)."""
        loop = self._later
        if loop is None:
            return False
        if not self._wake_due:
            self._wake_due = True
            after_others(loop, lambda: self._due_wake(wake))
        return True

    def _due_wake(self, wake: Callable[[], None]) -> None:
        """The wake put off. A tunnel closed meanwhile woke every waiter itself."""
        self._wake_due = False
        with contextlib.suppress(TunnelClosed):
            wake()

    async def _turn_now(self) -> None:
        self._turn = 0
        await asyncio.sleep(0)

    def _check_health(self) -> None:
        if self.ring.quarantine:
            raise TunnelCorrupt(f"tunnel ring quarantined (reason {self.ring.quarantine})")
