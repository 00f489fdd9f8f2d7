"""Request/reply across nodes linked point to point (``--listen``/``--peer``):
a port served on the main node, called from node b by a Wasm service and
four host clients at once, over real QUIC on 127.0.0.1 and over the
WebSocket fallback (the main node's QUIC listener closed). Every reply
matches its call; a node with another token is refused; the port links'
streams show as link rows. Each node's part is its own Mesh in this
process, with its ``DirectBridges``; and once as two processes, the port
served by ``nanonet node`` and called from ``nanonet run``."""

from __future__ import annotations

import contextlib
import logging
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
from nanonet.errors import NanonetError
from nanonet.manifest.manifest import load_manifest
from nanonet.mesh import Mesh
from test_bridge_nodes import _nanonet
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
    assert (sent["far_node"], sent["far_service"]) == ("main", "srv")  # the port's server
    assert (got["far_node"], got["far_service"]) == ("b", "far")  # its callers on b


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


SERVED_ON_B = """
[mesh]
name = "rpc2"

[ports.rpc]
server = "srv"
clients = ["near"]
max_payload = 64

[services.srv]
source = "rpc_echo.wat"
node = "b"

[services.near]
source = "rpc_caller.wat"
grants = { clock = true }
"""


def test_nanonet_run_calls_a_port_served_by_nanonet_node_over_quic(tmp_path: Path) -> None:
    """Two processes: ``nanonet node --name b --listen`` serves the port, the
    main node (``nanonet run --peer b=...``) calls it from a Wasm service that
    checks each reply carries its own round number back, then ends by itself."""
    path = _write(tmp_path, SERVED_ON_B)
    caller = (tmp_path / "rpc_caller.wat").read_text()
    (tmp_path / "rpc_caller.wat").write_text(  # 2,000 rounds after 100 warm-up calls
        caller.replace("(global $rounds (mut i32) (i32.const 10000))",
                       "(global $rounds (mut i32) (i32.const 2000))")
        .replace("(global $warmup (mut i32) (i32.const 1000))",
                 "(global $warmup (mut i32) (i32.const 100))"))
    (tmp_path / "token").write_text("t")
    listen = f"127.0.0.1:{free_port()}"
    b = _nanonet("node", "--name", "b", "--listen", listen, str(path), token=tmp_path / "token")
    try:
        main = _nanonet("run", "--peer", f"b={listen}", str(path), token=tmp_path / "token")
        out_main, err_main = main.communicate(timeout=150)
    finally:
        b.terminate()
        out_b, err_b = b.communicate(timeout=60)
    assert main.returncode == 0, out_main + err_main + out_b + err_b
    assert re.search(r"near\s+stopped\s+0\s", out_main), out_main  # every reply its own
    assert "node main: tunnel rpc@main was bridged over quic" in err_main, err_main
    assert re.search(r"node main: link rpc@main \(send, quic\): ended, rtt [\d.]+ ms, "
                     r"in flight 0, retransmits 0, reconnects 0", err_main), err_main
    assert re.search(r"node b: link rpc@main \(receive, quic\): ", err_b), err_b



@contextmanager
def _silent_listener() -> Iterator[tuple[str, int]]:
    """A real WebSocket listener that takes every stream and never says a
    word (no UDP listener: QUIC gets no answer, the dial takes WebSocket)."""
    import asyncio

    from websockets.asyncio.server import serve
    where, ready, loop = ("127.0.0.1", free_port()), threading.Event(), asyncio.new_event_loop()
    stop: asyncio.Future[None] = loop.create_future()

    async def mute(ws: object) -> None:
        from websockets.exceptions import ConnectionClosed
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:  # type: ignore[attr-defined]
                pass  # heard, never answered

    async def main() -> None:
        async with serve(mute, *where):
            ready.set()
            await stop
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(WAIT), "the silent listener never started"
    try:
        yield where
    finally:
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(WAIT)
        loop.close()


def test_a_peer_that_never_answers_hello_has_calls_refused_and_is_dialed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The call waiting for the stream is refused (not held to its deadline),
    the log says why, and the link is dialed again."""
    from nanonet.bridge import directport
    monkeypatch.setattr(directport, "HELLO_TIMEOUT", 0.5)
    caplog.set_level(logging.WARNING, "nanonet.bridge.directport")
    p = part(load_manifest(_write(tmp_path, PORT)), "b")
    with _silent_listener() as where:
        b = p.manifest.build_mesh()
        bridges = DirectBridges(p, b, None, {"main": where}, b"k", {})
        try:
            bridges.start()
            with pytest.raises(NanonetError, match="refused"):
                b.client("rpc").call(b"x", timeout=WAIT)
            fwd, why = bridges.forwarders["rpc@b"], "did not answer its HELLO within 0.5 s"
            for _ in range(400):  # the refusal comes first, then the log and the dial
                if fwd.figures.sessions >= 2 and why in caplog.text:
                    break
                threading.Event().wait(0.05)
            assert f"{why}: check that --peer names" in caplog.text
            assert fwd.figures.sessions >= 2, "the link was dialed again"
            assert fwd.figures.transport == "websocket"
        finally:
            bridges.stop()
            b.stop()
            b.close()
