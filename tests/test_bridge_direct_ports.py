"""Request/reply across nodes linked point to point (``--listen``/``--peer``):
a port served on the main node, called from node b by a Wasm service and
four host clients at once, over real QUIC on 127.0.0.1 and over the
WebSocket fallback (the main node's QUIC listener closed). Every reply
matches its call; a node with another token is refused; the port links'
streams show as link rows. Each node's part is its own Mesh in this
process, with its ``DirectBridges``."""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nanonet.bridge.direct import DirectBridges
from nanonet.bridge.natsd import free_port
from nanonet.bridge.node import part
from nanonet.errors import NanonetError
from nanonet.manifest.manifest import load_manifest
from nanonet.mesh import Mesh
from test_bridge_patterns import PORT, SCALE, WAIT, _ended, _write

pytest.importorskip("aioquic")
pytestmark = pytest.mark.timeout(180)
CALLERS = 4


@contextmanager
def _linked(path: Path, quic: bool = True, tokens: tuple[bytes, bytes] = (b"k", b"k")
            ) -> Iterator[tuple[tuple[Mesh, DirectBridges], tuple[Mesh, DirectBridges]]]:
    """The main node (the server, listening) and node b (the callers, dialing it)."""
    m, where = load_manifest(path), ("127.0.0.1", free_port())
    made: list[tuple[Mesh, DirectBridges]] = []
    try:
        for node, listen, peers, token in ((None, where, {}, tokens[0]),
                                           ("b", None, {"main": where}, tokens[1])):
            p = part(m, node)
            mesh = p.manifest.build_mesh()
            made.append((mesh, DirectBridges(p, mesh, listen, peers, token, {})))
            if node is None:
                made[0][1].start()
                if not quic:  # UDP answers nothing: the dial falls back to WebSocket
                    made[0][1]._run(_close_quic(made[0][1]))
            else:
                made[1][1].start()
        yield made[0], made[1]
    finally:
        for mesh, bridges in made:
            bridges.stop()
            mesh.stop()
            mesh.close()


async def _close_quic(bridges: DirectBridges) -> None:
    from nanonet.bridge.quic import QuicListener
    for listener in bridges._listeners:
        if isinstance(listener, QuicListener):
            listener.close()


def _calls(b: Mesh, rounds: int) -> list[tuple[int, int, bytes]]:
    """``CALLERS`` host clients of b calling at once; the replies that were not their call."""
    bad: list[tuple[int, int, bytes]] = []

    def caller(i: int) -> None:
        client = b.client("rpc")
        for r in range(rounds):
            req = struct.pack("<II", i, r) + bytes(r % 40)
            if (got := client.call(req, timeout=WAIT)) != req:
                bad.append((i, r, got))

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    return bad


@pytest.mark.parametrize("quic", [True, False], ids=["quic", "websocket"])
def test_far_callers_each_get_their_own_replies_point_to_point(tmp_path: Path,
                                                               quic: bool) -> None:
    path = _write(tmp_path, PORT)
    rounds = max(50, int(300 * SCALE))
    with _linked(path, quic) as ((main, main_bridges), (b, b_bridges)):
        b.services["far"].call("configure", rounds, 64, 10)
        main.start()
        b.start()
        bad = _calls(b, rounds)
        _ended(b, "far")  # the guest checked every reply carried its own round number
        stats = main.port_statistics()["rpc"]
        fwd = b_bridges.forwarders["rpc@b"]
        sent = next(k for k in b_bridges.link_stats() if k["tunnel"] == "rpc@b")
        got = next(k for k in main_bridges.link_stats() if k["tunnel"] == "rpc@b")
    assert bad == []
    assert stats.replied >= (CALLERS + 1) * rounds, stats
    assert (fwd.completed, fwd.failed, fwd.late) == (stats.replied, 0, 0)  # all came back
    transport = "quic" if quic else "websocket"
    assert (sent["side"], sent["transport"], sent["state"]) == ("send", transport, "open")
    assert (got["side"], got["transport"], got["state"]) == ("receive", transport, "open")
    assert sent["bytes_sent"] == got["bytes_received"] > 0  # every frame of the stream
    assert sent["rtt_s"] is not None and sent["in_flight"] == 0


def test_a_port_link_with_another_token_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, PORT)
    with _linked(path, tokens=(b"right", b"wrong")) as (_, (b, b_bridges)):
        for _ in range(200):
            if b_bridges.failure() is not None:
                break
            threading.Event().wait(0.05)
        err = b_bridges.failure()
        with pytest.raises(NanonetError, match="refused"):
            b.client("rpc").call(b"x", timeout=WAIT)
    assert err is not None and "refused the port link 'rpc@b': wrong token" in str(err)
