"""Pub-sub and fan-in across nodes linked point to point (``--listen``/``--peer``):
each pattern link is a bridged stream of its own, over real QUIC on
127.0.0.1 or over the WebSocket fallback (the listener's QUIC side closed).

- a pub-sub tunnel, one subscriber beside the writer and one on node b: both
  checkers see every sequence number, in order;
- the same copy's stream reset mid-stream: the writer's node dials again
  and the new session resumes, nothing lost or repeated;
- a lossy far subscriber that reads nothing until the writer is done:
  the writer is never held back, and its node counts what the copy missed;
- two subscribers of that tunnel on node b: one shared copy crosses, and
  node b's fan-out service gives each of them every sequence number once,
  in order;
- a fan-in whose writer ``b`` runs on node b: each writer's messages arrive
  whole and in order beside the other's.

Each node's part is its own Mesh in this process, with its ``DirectBridges``;
each node listens, and names the other as its peer. And the shared copy once
as two processes, ``nanonet run --peer`` and ``nanonet node --listen``."""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nanonet.bridge.direct import DirectBridges
from nanonet.bridge.natsd import free_port
from nanonet.bridge.node import part
from nanonet.bridge.placement import lines
from nanonet.bridge.quic import QuicLink
from nanonet.manifest.manifest import load_manifest
from nanonet.mesh import Mesh
from test_bridge_direct_ports import _close_quic
from test_bridge_nodes import _nanonet
from test_bridge_patterns import COUNT, FANIN, PUBSUB, SHARED, WAIT, _ended, _write

pytest.importorskip("aioquic")
pytestmark = pytest.mark.timeout(180)
Node = tuple[Mesh, DirectBridges]


@contextmanager
def _pair(path: Path, first: str | None, quic: bool = True) -> Iterator[dict[str | None, Node]]:
    """The main node and node b, each listening and peered with the other;
    ``first`` (the reading node) starts first, its QUIC side closed if not ``quic``."""
    m = load_manifest(path)
    where = {None: ("127.0.0.1", free_port()), "b": ("127.0.0.1", free_port())}
    made: dict[str | None, Node] = {}
    try:
        for node in (first, "b" if first is None else None):
            p = part(m, node)
            other = "b" if node is None else None
            mesh = p.manifest.build_mesh()
            bridges = DirectBridges(p, mesh, where[node], {other or "main": where[other]},
                                    b"k", {})
            made[node] = (mesh, bridges)
            bridges.start()
            if not quic and node == first:  # UDP answers nothing: the dial takes WebSocket
                bridges._run(_close_quic(bridges))
        yield made
    finally:
        for mesh, bridges in reversed(made.values()):  # the dialing node first
            bridges.stop()
            mesh.stop()
            mesh.close()


def _row(bridges: DirectBridges, link: str) -> dict[str, object]:
    return next(k for k in bridges.link_stats() if k["tunnel"] == link)


def test_pubsub_reaches_a_far_subscriber_point_to_point(tmp_path: Path) -> None:
    path = _write(tmp_path, PUBSUB)
    assert "  stream>far (pub-sub copy, block): producer on main -> far on b" in lines(
        load_manifest(path).table)
    with _pair(path, "b") as made:
        (main, main_bridges), (b, b_bridges) = made[None], made["b"]
        b.start()
        main.start()
        _ended(main, "producer", "near")
        _ended(b, "far")  # the checker saw every sequence number, in order
        assert main.services["near"].call("received") == COUNT
        assert b.services["far"].call("received") == COUNT
        assert b.statistics()["stream"].received == COUNT
        sent, got = _row(main_bridges, "stream>far"), _row(b_bridges, "stream>far")
        assert main_bridges.transports["stream>far"] == "quic"
    assert (sent["side"], sent["transport"]) == ("send", "quic")
    assert (got["side"], got["transport"]) == ("receive", "quic")
    assert (sent["far_node"], sent["far_service"]) == ("b", "far")
    assert (got["far_node"], got["far_service"]) == ("main", "producer")


async def _reset(bridges: DirectBridges, link: str) -> None:
    """Reset the QUIC stream under ``link``'s pump, both ways."""
    stream = bridges.pumps[link].link
    assert isinstance(stream, QuicLink), stream
    await stream.close()


def test_a_pubsub_copy_resumes_after_its_stream_is_reset(tmp_path: Path) -> None:
    """Node b's services wait while the copy fills b's ring and the credit,
    then b resets the link's stream; once b reads, every message is there once."""
    path = _write(tmp_path, PUBSUB)
    with _pair(path, "b") as made:
        (main, main_bridges), (b, b_bridges) = made[None], made["b"]
        main.start()
        for _ in range(400):  # bounded: until frames have crossed
            if "stream>far" in b_bridges.pumps and \
                    int(str(_row(b_bridges, "stream>far")["bytes_received"])) > 4096:
                break
            threading.Event().wait(0.025)
        b_bridges._run(_reset(b_bridges, "stream>far"))
        b.start()
        _ended(main, "producer", "near")
        _ended(b, "far")  # every sequence number once, in order
        got = b.services["far"].call("received")
        sent = _row(main_bridges, "stream>far")
    assert got == COUNT
    assert int(str(sent["reconnects"])) >= 1, sent


@pytest.mark.parametrize("quic", [True, False], ids=["quic", "websocket"])
def test_a_far_fan_in_writer_keeps_its_order_point_to_point(tmp_path: Path,
                                                            quic: bool) -> None:
    path = _write(tmp_path, FANIN)
    with _pair(path, None, quic) as made:
        (main, main_bridges), (b, b_bridges) = made[None], made["b"]
        main.services["a"].call("configure", 0, COUNT, 16)
        b.services["b"].call("configure", 1, COUNT, 16)
        out = main.reader("out")
        b.start()
        main.start()
        tags = [struct.unpack_from("<II", msg) for msg in out]
        _ended(main, "a", "r")
        _ended(b, "b")
        transport = b_bridges.transports["in<b"]
        got = _row(main_bridges, "in<b")
    for writer in (0, 1):
        assert [s for t, s in tags if t == writer] == list(range(COUNT)), f"writer {writer}"
    assert len(tags) == 2 * COUNT
    assert transport.startswith("quic" if quic else "websocket"), transport
    assert (got["side"], got["far_node"], got["far_service"]) == ("receive", "b", "b")


def test_two_far_subscribers_share_one_copy_point_to_point(tmp_path: Path) -> None:
    path = _write(tmp_path, SHARED)
    with _pair(path, "b") as made:
        (main, main_bridges), (b, b_bridges) = made[None], made["b"]
        b.start()
        main.start()
        _ended(main, "producer", "near")
        _ended(b, "far", "far2", "stream>@b")  # each checker saw 0, 1, 2, ... once
        got = [b.services["far"].call("received"), b.services["far2"].call("received")]
        sends = [k["tunnel"] for k in main_bridges.link_stats() if k["side"] == "send"]
        receives = [k["tunnel"] for k in b_bridges.link_stats() if k["side"] == "receive"]
        transport = main_bridges.transports["stream>@b"]
    assert got == [COUNT, COUNT]
    assert sends == ["stream>@b"] == receives and transport == "quic"


def test_a_lossy_far_copy_point_to_point_is_counted_on_the_writers_node(
        tmp_path: Path) -> None:
    manifest = PUBSUB.replace('subscribers = ["near", "far"]',
                              'subscribers = ["near", "far"]\npolicy = { far = "lossy" }')
    path = _write(tmp_path, manifest.replace('source = "checker.wat"\nnode = "b"',
                                             'source = "lossy_checker.wat"\nnode = "b"'))
    with _pair(path, "b") as made:
        (main, main_bridges), (b, _) = made[None], made["b"]
        main.start()
        _ended(main, "producer", "near")  # with node b not reading at all
        near = main.services["near"].call("received")
        b.start()
        _ended(b, "far")
        got = b.services["far"].call("received")
    patterns = main_bridges.patterns
    assert patterns is not None
    assert near == COUNT and 0 < got < COUNT
    assert patterns.missed == {"stream>far": COUNT - got}


def test_nanonet_run_sends_one_shared_copy_to_nanonet_node_over_quic(tmp_path: Path) -> None:
    """Two processes: ``nanonet node --name b --listen`` runs both far
    subscribers, ``nanonet run --peer b=...`` the writer; one link crosses."""
    path = _write(tmp_path, SHARED)
    (tmp_path / "token").write_text("t")
    listen = f"127.0.0.1:{free_port()}"
    b = _nanonet("node", "--name", "b", "--listen", listen, str(path), token=tmp_path / "token")
    try:
        main = _nanonet("run", "--peer", f"b={listen}", str(path), token=tmp_path / "token")
        out_main, err_main = main.communicate(timeout=150)
    finally:
        out_b, err_b = b.communicate(timeout=100)
    assert main.returncode == 0 and b.returncode == 0, out_main + err_main + out_b + err_b
    for name in ("far", "far2", "stream>@b"):
        assert re.search(rf"{re.escape(name)}\s+stopped\s+0\s", out_b), out_b
    assert re.search(r"near\s+stopped\s+0\s", out_main), out_main
    assert "node main: tunnel stream>@b was bridged over quic" in err_main, err_main
    assert re.findall(r"node main: link (\S+) \(send", err_main) == ["stream>@b"], err_main
    assert re.findall(r"node b: link (\S+) \(receive", err_b) == ["stream>@b"], err_b


def test_a_shared_copys_subscribers_see_the_far_writer_break_point_to_point(
        tmp_path: Path) -> None:
    """As over NATS: every message, then BROKEN (-7), for each subscriber."""
    path = _write(tmp_path, SHARED)
    producer = (tmp_path / "producer.wat").read_text()
    (tmp_path / "producer.wat").write_text(
        producer.replace("(drop (call $close (local.get $h)))", "unreachable"))
    with _pair(path, "b") as made:
        (main, _), (b, _) = made[None], made["b"]
        b.start()
        main.start()
        for mesh in (main, b):
            assert mesh.wait(WAIT), "a service still runs: the break did not reach it"
        got = {s: (b.services[s].exit_code, b.services[s].call("received"))
               for s in ("far", "far2")}
    assert got == {"far": (-7, COUNT), "far2": (-7, COUNT)}
