"""asyncio host ends give the event loop a turn while data flows.

A stream whose ring never fills (or never empties) never has to wait, so an
asyncio end that only yields when it waits would keep the loop to itself:
every other task would stall for as long as the stream lasts. Each end gives
the loop a turn every ``ASYNC_TURN`` messages it moves. A ticker task that
is always ready (it only ever awaits ``sleep(0)``) runs at every turn the
loop gets, so counting its runs between batches checks the turns without
any clock.
"""

from __future__ import annotations

import asyncio

import pytest

from nanonet import Mesh, Packed
from nanonet.ring.endpoint import ASYNC_TURN, ASYNC_TURN_BYTES

pytestmark = pytest.mark.timeout(60)
BATCHES = 200


def _stalled_windows(marks: list[int], window: int) -> list[int]:
    """Indexes of the windows of ``window`` batches in which the ticker never ran."""
    return [i for i in range(len(marks) - window) if marks[i + window] == marks[i]]


@pytest.mark.parametrize(("payload", "batch"), [(64, 64), (4096, 16)], ids=["64B", "4KiB"])
def test_an_async_stream_lets_an_always_ready_task_run_every_few_batches(
        payload: int, batch: int) -> None:
    """Small messages: a turn every ``ASYNC_TURN``; large ones: every
    ``ASYNC_TURN_BYTES`` worth of slots, so a turn never waits for much copying."""
    per_turn = min(ASYNC_TURN, ASYNC_TURN_BYTES // payload)
    window = per_turn // batch  # batches between two turns of one end, at most
    sent_marks: list[int] = []
    got_marks: list[int] = []

    async def main() -> int:
        ticks = 0
        with Mesh() as mesh:
            mesh.tunnel("t", slots=4096, max_payload=payload)  # room for the whole stream
            writer, reader = mesh.writer("t"), mesh.reader("t")

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            async def produce() -> None:
                for b in range(BATCHES):
                    await writer.asend_many(Packed.fixed(bytes(batch * 8), 8) if b % 2
                                            else [b"%8d" % i for i in range(batch)])
                    sent_marks.append(ticks)
                writer.close()

            async def consume() -> int:
                got = 0
                while got < BATCHES * batch:
                    got += len(await reader.arecv_many(batch))
                    got_marks.append(ticks)
                return got

            ticking = asyncio.create_task(ticker())
            _, got = await asyncio.gather(produce(), consume())
            ticking.cancel()
            return got

    assert asyncio.run(asyncio.wait_for(main(), 30)) == BATCHES * batch
    assert len(sent_marks) == BATCHES and len(got_marks) >= BATCHES
    assert _stalled_windows(sent_marks, window) == [], "the writer kept the loop to itself"
    assert _stalled_windows(got_marks, window) == [], "the reader kept the loop to itself"
