"""Tunnels into a tab: a pipeline host -> tab -> tab -> host, in real Chromium.

In-process: a real mesh and ``WebHost`` on 127.0.0.1, and real headless
Chromium running two copies of the batch relay guest in one tab, over WebSocket
and over WebTransport (the tab says which carried it). The host
writes COUNT numbered 64-byte messages into tunnel ``in``; the host's
``SendPump`` carries them over the link the tab dialled (the WebSocket
``/nanonet-feed/in``, or a WebTransport stream) to the tab's receiver (``tab/receiver.js``), which
writes them into the tab's ring; the first relay forwards them over ``mid``,
a ring both tab services share (no bridge), to the second, which writes
``back``, bridged to the host as before. The host cuts ``in``'s link
once mid-stream (the tab dials again and the host resends from its ring)
and reads every message exactly once, in order, and the same ``.wasm``
relays run on the host give the same output. A tab that leaves breaks the
tunnel it was reading, and a later tab may not take it up.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from browser_tab import need_chromium, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.bridge.webhost import WebHost
from nanonet.errors import TunnelBroken, TunnelClosed
from nanonet.manifest.manifest import load_manifest
from nanonet.mesh import Mesh

RELAY = Path(__file__).resolve().parent / "guests" / "batch_relay.wat"
COUNT = int(100_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
WRITE_STEP = 4096


def manifest(node: str, size: int = 64, slots: int = 256) -> str:
    """The pipeline; ``node`` places both relays (``""``: on the host)."""
    where = f'node = "{node}"' if node else ""
    return f"""
[web]
browsers = ["tab"]

[tunnels.in]
writer = "host"
reader = "first"
slots = {slots}
max_payload = {size}

[tunnels.mid]
writer = "first"
reader = "second"
slots = 64
max_payload = {size}

[tunnels.back]
writer = "second"
reader = "host"
slots = {slots}
max_payload = {size}

[services.first]
source = "{RELAY}"
{where}

[services.second]
source = "{RELAY}"
{where}
"""


PATTERN = bytes(range(256)) * 17


def message(seq: int, size: int = 64) -> bytes:
    """Message ``seq``: its number, then bytes that depend on it."""
    at = seq * 7 & 0xFF
    return seq.to_bytes(8, "little") + PATTERN[at:at + size - 8]


def _write(mesh: Mesh, into: list[BaseException], count: int = COUNT, size: int = 64) -> None:
    try:
        w = mesh.writer("in")
        for at in range(0, count, WRITE_STEP):
            w.send_many([message(s, size) for s in range(at, min(count, at + WRITE_STEP))],
                        timeout=30)
        w.close()
    except BaseException as err:  # the reading thread reports it
        into.append(err)


def _read_all(mesh: Mesh, cut: list[WebHost]) -> list[bytes]:
    """Every message on ``back`` until it closes; cuts ``in``'s link once
    (if a ``WebHost`` is given) after a third of the stream."""
    reader, got = mesh.reader("back"), list[bytes]()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            got += reader.recv_many(4096, timeout=10)
        except TunnelClosed:
            return got
        if cut and len(got) >= COUNT // 3:
            assert cut.pop().drop("in")
    raise AssertionError(f"the stream did not end: {len(got)} of {COUNT} arrived")


def _pipe(mesh: Mesh, cut: list[WebHost]) -> list[bytes]:
    failed: list[BaseException] = []
    writer = threading.Thread(target=_write, args=(mesh, failed), daemon=True)
    writer.start()
    got = _read_all(mesh, cut)
    writer.join(30)
    assert not failed, failed
    return got


def _on_host(tmp_path: Path) -> list[bytes]:
    (tmp_path / "host.toml").write_text(manifest(""))
    mesh = load_manifest(tmp_path / "host.toml").build_mesh()
    try:
        mesh.start()
        return _pipe(mesh, [])
    finally:
        mesh.stop()
        mesh.close()


@contextmanager
def _tab_pipeline(tmp_path: Path, size: int = 64, slots: int = 256,
                  transport: str = "auto") -> Iterator[tuple[WebHost, str]]:
    """The pipeline with both relays in a tab: its started mesh's web host and
    a token for the tab; all stopped when the block ends."""
    with tab_host(tmp_path, manifest("tab", size, slots), {"first": [], "second": []},
                  {"back": "second"}, readers_of={"in": "first"}, transport=transport) as web:
        yield web, tab_token(web, ("first", "second"))


def _in_tab(tmp_path: Path, transport: str = "auto") -> tuple[list[bytes], dict[str, object]]:
    with _tab_pipeline(tmp_path, transport=transport) as (web, token):
        with open_tab(f"http://127.0.0.1:{web.port}/#token={token}", 20_000) as page:
            got = _pipe(web.mesh, [web])
            page.wait_for_function("window.nanonet.tunnels.in.bridge === 'ended'",
                                   timeout=10_000)
            page.wait_for_timeout(300)  # one more refresh of the tables
            seen: dict[str, object] = page.evaluate(
                "({ tunnels: window.nanonet.tunnels, services: window.nanonet.services })")
        deadline = time.monotonic() + 10  # the last CLOSE and ACK may trail the reader
        while not web.all_done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert web.all_done() and web.failure() is None
    return got, seen


@pytest.mark.parametrize("transport", ["websocket", "webtransport"])
def test_host_to_tab_to_host_delivers_every_message_once_in_order(tmp_path: Path,
                                                                  transport: str) -> None:
    need_chromium()
    got, seen = _in_tab(tmp_path, transport)
    seqs = [int.from_bytes(m[:8], "little") for m in got]
    assert seqs == list(range(COUNT))  # none lost, none twice, in order
    assert got == [message(s) for s in range(COUNT)]  # and whole
    assert got == _on_host(tmp_path)  # the same guests on the host: the same output
    tunnels = seen["tunnels"]
    assert isinstance(tunnels, dict)
    feed, mid = tunnels["in"], tunnels["mid"]
    assert feed["reconnects"] == 1 and feed["head"] == COUNT and feed["closed"]
    assert mid["head"] == mid["tail"] == COUNT and "bridge" not in mid  # a ring, no bridge
    assert tunnels["back"]["bridge"] == "ended"
    assert feed["transport"] == tunnels["back"]["transport"] == transport
    assert seen["services"] == {"first": {"state": "exited", "result": 0, "error": ""},
                                "second": {"state": "exited", "result": 0, "error": ""}}


def _write_until_broken(mesh: Mesh, into: list[BaseException]) -> None:
    w, seq = mesh.writer("in"), 0
    try:
        while True:
            w.send_many([message(s) for s in range(seq, seq + 256)], timeout=30)
            seq += 256
    except BaseException as err:  # TunnelBroken, once the tab left
        into.append(err)


def _dial(port: int, token: str) -> str:
    """Dial the feed of ``in`` as a tab would: the reason the host closed it with."""
    with connect(f"ws://127.0.0.1:{port}/nanonet-feed/in") as ws:
        ws.send(json.dumps({"token": token}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    return closed.value.rcvd.reason if closed.value.rcvd is not None else ""


def test_a_tab_that_leaves_breaks_the_tunnel_it_was_reading(tmp_path: Path) -> None:
    need_chromium()
    ended: list[BaseException] = []
    with _tab_pipeline(tmp_path) as (web, token):
        writer = threading.Thread(target=_write_until_broken, args=(web.mesh, ended),
                                  daemon=True)
        writer.start()
        with open_tab(f"http://127.0.0.1:{web.port}/#token={token}", 20_000) as page:
            reader, got = web.mesh.reader("back"), 0
            while got < 2000:
                got += len(reader.recv_many(4096, timeout=20))
            page.close()  # the tab leaves while the host is still writing
            writer.join(20)
        assert web.all_done()
        assert _dial(web.port, token) == "refused"  # a tab again: its guests would start afresh
    assert not writer.is_alive() and len(ended) == 1
    assert isinstance(ended[0], TunnelBroken), ended
    assert "its reader 'first' failed (browser node 'tab' left (the tab closed))" in str(ended[0])


def test_full_frames_of_4_kib_messages_go_both_ways(tmp_path: Path) -> None:
    """A 256-slot ring of 4 KiB messages: a batch of its whole credit is one
    frame at the 1 MiB limit, in each direction."""
    need_chromium()
    count, failed = 2000, list[BaseException]()
    with _tab_pipeline(tmp_path, 4096, 256) as (web, token):
        writer = threading.Thread(target=_write, args=(web.mesh, failed, count, 4096),
                                  daemon=True)
        with open_tab(f"http://127.0.0.1:{web.port}/#token={token}"):
            writer.start()
            got, reader = list[bytes](), web.mesh.reader("back")
            with pytest.raises(TunnelClosed):
                while True:
                    got += reader.recv_many(4096, timeout=20)
            writer.join(20)
    assert not failed, failed
    assert got == [message(s, 4096) for s in range(count)]
