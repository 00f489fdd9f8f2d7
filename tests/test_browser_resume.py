"""The tab's bridge resumes: a cut WebSocket loses nothing and repeats nothing.

In-process: a real mesh and ``WebHost`` on 127.0.0.1, real Chromium running
the producer guest in a tab over a 64-slot ring. While the stream flows the
host cuts the tunnel's WebSocket (``WebHost.drop``, a TCP abort); the tab
says hello on a new one, the host's WELCOME names its ring's head, and the
tab goes on from there, resending what was not acknowledged. The host's
reader gets every sequence number exactly once, in order. (WebSocket here;
tests/test_browser_webtransport.py cuts a WebTransport stream.) The tab's ring
header is byte for byte the one ``ring/memory.py`` writes.
"""

from __future__ import annotations

from pathlib import Path

from browser_tab import TAB_PRODUCER, need_chromium, read_cutting, tab_host, tab_token
from nanonet.bench.chromium import open_tab
from nanonet.ring import layout as L
from nanonet.ring.memory import RingMemory

COUNT = 30_000


def test_a_cut_link_resumes_without_loss_or_repeat(tmp_path: Path) -> None:
    need_chromium()
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [COUNT, 64]}, {"out": "producer"},
                  transport="websocket") as web:  # a TCP abort
        mesh_geometry, engine = web.mesh.tunnels["out"].ring.geometry, web.mesh.rt.engine
        token = tab_token(web, ("producer",))
        with open_tab(f"http://127.0.0.1:{web.port}/#token={token}", 20_000) as page:
            seqs = read_cutting(web, COUNT, [COUNT // 10, COUNT // 2], 40)
            page.wait_for_function("window.nanonet.tunnels.out.bridge === 'ended'",
                                   timeout=10_000)
            page.wait_for_timeout(300)
            out = page.evaluate("window.nanonet.tunnels.out")
            header = bytes.fromhex(page.evaluate("window.nanonet.header('out')"))
    assert seqs == list(range(COUNT))  # none lost, none twice, in order
    host = RingMemory(engine, mesh_geometry, "out").read_bytes(0, 64)
    closed = L.OFF_CLOSED
    assert header[:closed] + header[closed + 4:] == host[:closed] + host[closed + 4:]
    assert header[closed:closed + 4] == b"\x01\0\0\0"  # the guest closed it
    assert out["reconnects"] == 2 and out["tail"] == COUNT
