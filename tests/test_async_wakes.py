"""An asyncio host end wakes a parked peer once per loop turn, after what was due.

A writer that notified a parked Wasm reader on every batch made the loop wait
for the woken reader's spin whenever the two shared a core (a quarter of a
millisecond a batch, a 1 ms ticker beside the stream lost ticks). An asyncio
form puts the wake off (``End._put_off``) until the loop has run the callbacks
already due (``turns.after_others``): one notify covers every batch published
meanwhile, and none is lost.
"""

from __future__ import annotations

import asyncio

import pytest

from nanonet import Mesh, Packed
from nanonet.bench.wasm_runs import _exports, guest
from nanonet.ring.endpoint import ASYNC_TURN, ASYNC_TURN_BYTES
from nanonet.ring.turns import POLITE_TURNS, after_others
from nanonet.runtime.service import Service

pytestmark = pytest.mark.timeout(60)
SIZE, BATCH, COUNT = 64, 64, 64_000
DELIVERY_S = 10.0  # bound on waiting for the checker, not a figure


def _records(first: int, count: int = BATCH) -> Packed:
    data = b"".join((first + i).to_bytes(8, "little") + bytes(SIZE - 8) for i in range(count))
    return Packed.fixed(data, SIZE)


def _checker(mesh: Mesh, wait: str = "adaptive") -> Service:
    mesh.tunnel("stream", slots=4096, max_payload=SIZE, wait=wait)
    check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
    _exports(check)["configure"](check.store, SIZE)
    return check


def test_a_wake_put_off_runs_after_the_callbacks_already_due() -> None:
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(order.append, "a")
        after_others(loop, lambda: order.append("wake"))
        loop.call_soon(order.append, "b")
        await asyncio.sleep(0)
        loop.call_soon(order.append, "c")
        for _ in range(POLITE_TURNS + 2):
            await asyncio.sleep(0)

    asyncio.run(main())
    assert order.index("wake") > order.index("b"), order


def test_a_wake_put_off_waits_at_most_a_few_turns_behind_a_busy_loop() -> None:
    """A task that is always ready never leaves the loop idle: the wake runs anyway."""
    turns: list[int] = []

    async def main() -> None:
        loop, ran = asyncio.get_running_loop(), 0

        async def busy() -> None:
            nonlocal ran
            while True:
                ran += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(busy())
        await asyncio.sleep(0)
        start = ran
        after_others(loop, lambda: turns.append(ran - start))
        while not turns and ran - start < 100:
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(main())
    assert turns and turns[0] <= POLITE_TURNS + 1, turns


def test_an_asyncio_writer_wakes_a_parked_reader_at_most_once_a_loop_turn() -> None:
    """Every message arrives in order (the checker checks each sequence number),
    and the notifies never outnumber the writer's turns: a reader that parks at
    once (policy ``park``) is asleep after nearly every batch it drains, and
    before, every ``asend_many`` of them notified it."""
    with Mesh() as mesh:
        check = _checker(mesh, wait="park")
        writer = mesh.writer("stream")
        mesh.start()

        async def main() -> None:
            for first in range(0, COUNT, BATCH):
                await writer.asend_many(_records(first))
            for _ in range(POLITE_TURNS + 2):  # the last wake put off
                await asyncio.sleep(0)

        asyncio.run(main())
        writer.close()
        assert mesh.wait(DELIVERY_S) and not mesh.traps
        assert check.exit_code == 0
        assert _exports(check)["received"](check.store) == COUNT
        wakes = mesh.statistics()["stream"].writer_wakes
    turns = COUNT // min(ASYNC_TURN, ASYNC_TURN_BYTES // SIZE)  # nothing else asks for one
    assert wakes <= turns + 1, f"{wakes} notifies in {turns} turns of the writer"


def test_a_single_asend_still_wakes_the_parked_reader() -> None:
    """One batch to a reader that has parked: the wake put off reaches it."""
    with Mesh() as mesh:
        check = _checker(mesh)
        writer = mesh.writer("stream")
        mesh.start()
        received = _exports(check)["received"]

        async def main() -> tuple[int, int]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DELIVERY_S
            while mesh.statistics()["stream"].reader_parks == 0 and loop.time() < deadline:
                await asyncio.sleep(0.001)
            parks = mesh.statistics()["stream"].reader_parks
            await writer.asend_many(_records(0, 3))
            while received(check.store) < 3 and loop.time() < deadline:
                await asyncio.sleep(0.001)
            return parks, mesh.statistics()["stream"].writer_wakes

        parks, wakes = asyncio.run(main())
        assert parks >= 1, "the checker never parked"
        assert received(check.store) == 3
        assert wakes >= 1, "the parked reader was never notified"
        writer.close()
        assert mesh.wait(DELIVERY_S) and check.exit_code == 0
