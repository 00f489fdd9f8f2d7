"""asyncio forms of the host endpoints, with a Wasm peer."""

from __future__ import annotations

import asyncio

import pytest

from conftest import call, check_messages, guest, message
from nanonet import Mesh, State

pytestmark = pytest.mark.timeout(60)
N, BATCH = 20_000, 1


def test_asend_many_to_wasm_checker(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=64, max_payload=40)
    checker = mesh.service("c", guest("receiver"), reads=["t"])
    writer = mesh.writer("t")
    mesh.start()

    async def main() -> None:
        for start in range(0, N, 1000):
            assert await writer.asend_many(message(i) for i in range(start, start + 1000)) == 1000
        await writer.asend(message(N))
        writer.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert mesh.wait(30)
    assert (checker.state, checker.exit_code) == (State.STOPPED, N + 1)


def test_arecv_many_and_async_iteration_from_wasm_producer(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=64, max_payload=40)
    producer = mesh.service("p", guest("sender", "export", side="write"), writes=["t"])
    call(producer, "configure", N, 0, BATCH, -1)
    reader = mesh.reader("t")
    mesh.start()

    async def main() -> int:
        got = check_messages([await reader.arecv()], 0)
        got = check_messages(await reader.arecv_many(100), got)
        async for msg in reader:
            got = check_messages([msg], got)
        return got

    assert asyncio.run(asyncio.wait_for(main(), 30)) == N
    assert mesh.wait(30) and producer.exit_code == 0


def test_async_reader_does_not_block_the_event_loop(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=8, max_payload=40)
    writer, reader = mesh.writer("t"), mesh.reader("t")

    async def main() -> list[bytes]:
        pending = asyncio.ensure_future(reader.arecv_many())
        await asyncio.sleep(0)  # let the receive start and find the ring empty
        assert not pending.done()
        await writer.asend_many([message(0), message(1)])  # the loop is still free
        return await pending

    got = asyncio.run(asyncio.wait_for(main(), 30))
    assert check_messages(got, 0) >= 1
