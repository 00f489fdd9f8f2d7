"""A tab bridges over WebTransport where it can, and falls back to WebSocket.

In-process: a real mesh and ``WebHost`` on 127.0.0.1 with its WebTransport
server (aioquic, HTTP/3 on UDP, a fresh self-signed P-256 certificate whose
hash the page pins), and real headless Chromium running the producer guest
in a tab over a 64-slot ring. Over WebTransport the host reads every
sequence number once, in order, even with the stream cut mid-way (the tab
dials again and resumes). With the WebTransport port closed before the tab
opens (refused at once), or blocked (a UDP socket that answers nothing: the
tab's 2 s wait runs out), the tab falls back to WebSocket, the page says why
and so does the host's log, and the stream still arrives whole. With
``transport = "webtransport"`` and the port closed it does not fall back: it
dials again. link.js cuts a frame stream split anywhere into whole frames.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser_tab import TAB_PRODUCER, need_chromium, read_cutting, tab_host, tab_token
from conftest import wait_until
from nanonet.bench.chromium import open_tab
from nanonet.bridge.webhost import WebHost

pytest.importorskip("aioquic")
COUNT = 3000


@pytest.fixture
def web(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[WebHost]:
    """A started mesh and web host; ``request.param`` is its transport."""
    with tab_host(tmp_path, TAB_PRODUCER, {"producer": [COUNT, 64]}, {"out": "producer"},
                  transport=request.param) as host:
        yield host


def _stream(web: WebHost, cut_at: list[int]) -> tuple[list[int], dict[str, Any], str]:
    """Run the tab; the host's sequence numbers, the page's tunnel state and table."""
    need_chromium()
    token = tab_token(web, ("producer",))
    with open_tab(f"http://127.0.0.1:{web.port}/#token={token}", 20_000) as page:
        seqs = read_cutting(web, COUNT, cut_at, 30)
        page.wait_for_function("window.nanonet.tunnels.out.bridge === 'ended'",
                               timeout=10_000)
        page.wait_for_timeout(300)  # one more refresh of the table
        out: dict[str, Any] = page.evaluate("window.nanonet.tunnels.out")
        table: str = page.text_content("#tunnels") or ""
    return seqs, out, table


@pytest.mark.parametrize("web", ["auto"], indirect=True)
def test_the_tab_streams_over_webtransport_and_resumes_a_cut_stream(web: WebHost) -> None:
    assert web.wt is not None and web.wt.port != 0
    seqs, out, table = _stream(web, [COUNT // 3])
    assert seqs == list(range(COUNT))  # none lost, none twice, in order
    assert out["transport"] == "webtransport" and out["fallback"] == ""
    assert out["reconnects"] == 1 and out["tail"] == COUNT
    wait_until(lambda: "out" in web.ended, "the host's bridge of out ended (after its linger)")
    assert web.via["out"] == "webtransport"
    assert "via webtransport" in table


def _black_hole(port: int) -> socket.socket:
    """A UDP socket on ``port`` that takes every datagram and answers none (a
    firewall that drops): bound as soon as the WebTransport server let go."""
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(100):
        try:
            hole.bind(("127.0.0.1", port))
            return hole
        except OSError:
            time.sleep(0.01)
    raise AssertionError(f"udp port {port} stayed taken")


@pytest.mark.parametrize("web", ["auto"], indirect=True)
@pytest.mark.parametrize(("how", "why"), [("closed", "WebTransport failed: "),
                                          ("blocked", "no answer in 2000 ms")])
def test_a_closed_or_blocked_webtransport_port_falls_back_to_websocket(
        web: WebHost, how: str, why: str, caplog: pytest.LogCaptureFixture) -> None:
    web.loop.call_soon_threadsafe(web.wt.close)  # the UDP port closes: nothing answers
    hole = _black_hole(web.wt.port) if how == "blocked" else None
    try:
        with caplog.at_level(logging.WARNING, logger="nanonet.bridge.webhost"):
            seqs, out, table = _stream(web, [])
    finally:
        if hole is not None:
            hole.close()
    assert seqs == list(range(COUNT))
    assert out["transport"] == "websocket"
    assert out["fallback"].startswith("WebTransport failed") and why in out["fallback"], out
    assert "via websocket (WebTransport failed" in table
    wait_until(lambda: "out" in web.ended, "the host's bridge of out ended (after its linger)")
    assert web.via["out"] == "websocket"
    logged = [r.getMessage() for r in caplog.records]
    assert any("fell back to WebSocket: WebTransport failed" in m and why in m
               for m in logged), logged


@pytest.mark.parametrize("web", ["webtransport"], indirect=True)
def test_transport_webtransport_never_falls_back(web: WebHost) -> None:
    web.loop.call_soon_threadsafe(web.wt.close)
    need_chromium()
    token = tab_token(web, ("producer",))
    with open_tab(f"http://127.0.0.1:{web.port}/#token={token}", 20_000) as page:
        page.wait_for_function("(() => { const t = window.nanonet.tunnels.out; return t && "
                               "t.bridge === 'reconnecting' && t.reconnects >= 1 && "
                               "t.head > 0 })()", timeout=15_000)
        out: dict[str, Any] = page.evaluate("window.nanonet.tunnels.out")
    assert out["why"].startswith("WebTransport failed"), out
    assert out["transport"] == "" and out["head"] > 0 and out["tail"] == 0  # nothing left the tab
    assert "out" not in web.via  # no WebSocket bridge was ever opened


FRAMES_CHECK = """async (hex) => {
  const { Frames } = await import("/tab/link.js");
  const F = await import("/tab/frames.js");
  const bytes = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
  const out = {};
  for (const size of [1, 3, 7, 100, bytes.length]) {
    const frames = new Frames(), got = [];
    for (let at = 0; at < bytes.length; at += size) {
      const whole = frames.push(bytes.subarray(at, at + size));
      if (whole.length) got.push(whole);
    }
    const joined = got.map((w) => Array.from(w, (b) => b.toString(16).padStart(2, "0")).join(""));
    out[size] = { same: joined.join("") === hex, left: frames.buf.length,
                  frames: got.reduce((n, w) => n + F.decodeAll(w).length, 0) };
  }
  return out;
}"""


@pytest.mark.parametrize("web", ["auto"], indirect=True)
def test_a_stream_cut_anywhere_comes_out_as_whole_frames(web: WebHost) -> None:
    """link.js's Frames: a WebTransport stream's chunks back into whole frames."""
    from array import array

    from nanonet.bridge import frames as F

    stream = (F.welcome(1, 64, 7, 0) + F.ack(3, 61) + F.ping(9)
              + F.data(3, array("I", [5, 0, 300]), b"hello" + bytes(300)) + F.ack(6, 58))
    need_chromium()
    with open_tab(f"http://127.0.0.1:{web.port}/", 20_000) as page:  # no token: refused
        got = page.evaluate(FRAMES_CHECK, stream.hex())
    assert got == {str(n): {"same": True, "left": 0, "frames": 5}
                   for n in (1, 3, 7, 100, len(stream))}
