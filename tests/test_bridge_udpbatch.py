"""The QUIC bridge's UDP transport: a wakeup reads every queued datagram (up
to ``READ_MOST``), in order, and sends go out or queue, never lost to a full
socket buffer on our side."""

from __future__ import annotations

import asyncio
import math
import socket
from typing import Any

from nanonet.bridge.udpbatch import READ_MOST, Batched, listen_socket


class Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: list[bytes] = []
        self.lost = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set_result(exc)


class Counting(Batched):
    """Counts the wakeups that read the socket."""
    reads = 0

    def _read(self) -> None:
        self.reads += 1
        super()._read()


async def _burst(n: int) -> tuple[Counting, Recorder]:
    proto = Recorder()
    transport = Counting(await listen_socket("127.0.0.1", 0), proto)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        for i in range(n):  # all queued before the loop runs once
            out.sendto(i.to_bytes(4, "big"), transport.get_extra_info("sockname"))
    for _ in range(200):
        if len(proto.got) == n:
            break
        await asyncio.sleep(0.005)
    return transport, proto


def test_a_burst_is_read_in_a_few_wakeups_in_order() -> None:
    async def go() -> None:
        n = 3 * READ_MOST - 10
        transport, proto = await _burst(n)
        assert proto.got == [i.to_bytes(4, "big") for i in range(n)]
        assert math.ceil(n / READ_MOST) <= transport.reads <= math.ceil(n / READ_MOST) + 1
        transport.close()
        assert await asyncio.wait_for(proto.lost, 2) is None
    asyncio.run(go())


def test_sends_reach_the_peer_and_stop_once_closed() -> None:
    async def go() -> None:
        near, far = Recorder(), Recorder()
        a = Batched(await listen_socket("127.0.0.1", 0), near)
        b = Batched(await listen_socket("127.0.0.1", 0), far)
        for i in range(50):  # 50 fit the far socket's default buffer before it is read
            a.sendto(bytes([i]) * 1000, b.get_extra_info("sockname"))
        for _ in range(200):
            if len(far.got) == 50:
                break
            await asyncio.sleep(0.005)
        assert far.got == [bytes([i]) * 1000 for i in range(50)]
        a.close()
        assert a.is_closing()
        a.sendto(b"late", b.get_extra_info("sockname"))  # a closed transport sends nothing
        await asyncio.sleep(0.02)
        assert len(far.got) == 50
        b.close()
    asyncio.run(go())
