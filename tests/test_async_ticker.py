"""A 1 ms ticker on the loop of an asyncio host end keeps its ticks while a tunnel streams.

The loop's clock here is the stream itself: one microsecond per message the
writer has published (``head``), so "1 ms" is 1000 messages, whatever the
machine's speed or load, and nothing depends on a wall clock. A ticker
sleeping 1 ms at a time then wakes once per 1000 messages if the end gives
the loop a turn as soon as its timer is due (``ring/turns.py``) and keeps it
until the ticker's task has run (``TIMER_TURNS``); an end that only turned
every ``ASYNC_TURN`` messages made it wait up to that many more, one that
moved a batch between the timer's callback and its task's wake-up made
every tick two batches late (152 messages, 87 % of the ticks kept). The
Wasm checker reads the stream at full speed and checks every sequence
number. Two behaviours are asserted: the ticker keeps at least 90 % of the
ticks the stream's length gives it, and no tick waited past the end of the
batch its timer fell due in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from nanonet import Mesh, Packed
from nanonet.bench.wasm_runs import _exports, guest
from nanonet.ring.protocol import Field

pytestmark = pytest.mark.timeout(60)
SIZE, BATCH, COUNT = 64, 64, 200_000
TICK = 0.001  # seconds of the loop's clock: 1000 messages
PER_MESSAGE = 1e-6


class MessageClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock is the number of messages published."""

    def __init__(self, head: Callable[[], int]) -> None:
        super().__init__()
        self._head = head

    def time(self) -> float:
        return self._head() * PER_MESSAGE


def _records(first: int) -> Packed:
    data = b"".join((first + i).to_bytes(8, "little") + bytes(SIZE - 8) for i in range(BATCH))
    return Packed.fixed(data, SIZE)


def test_a_ticker_keeps_its_ticks_while_an_asyncio_end_streams() -> None:
    late: list[float] = []  # per tick: how far past its time it ran, in messages
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096, max_payload=SIZE)
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        _exports(check)["configure"](check.store, SIZE)
        writer, ring = mesh.writer("stream"), mesh.tunnels["stream"].ring

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while True:
                due = loop.time() + TICK
                await asyncio.sleep(TICK)
                late.append((loop.time() - due) / PER_MESSAGE)

        async def stream() -> None:
            ticking = asyncio.create_task(ticker())
            for first in range(0, COUNT, BATCH):
                await writer.asend_many(_records(first))
            ticking.cancel()  # its clock stops with the stream: its last sleep never ends
            with contextlib.suppress(asyncio.CancelledError):
                await ticking

        mesh.start()
        with asyncio.Runner(loop_factory=lambda: MessageClockLoop(
                lambda: ring.load(Field.HEAD))) as runner:
            runner.run(stream())
        writer.close()
        assert mesh.wait(30) and not mesh.traps
        assert _exports(check)["received"](check.store) == COUNT
    kept = len(late) / (COUNT * PER_MESSAGE / TICK)
    assert kept >= 0.9, f"the ticker kept {kept:.0%} of its ticks: the stream held the loop"
    # only the batch its timer fell due in (old: up to 536, then 152 on every tick)
    assert max(late) < BATCH, f"a tick ran {max(late):.0f} messages late"
