"""The dashboard's WebSocket in headless Chromium (Debian's, through Playwright), from pages
that must not read it: one served by another origin (another 127.0.0.1 port), and one of
the server's own origin that has no token. Both get nothing; the real dashboard opened
at the URL with the token works (tests/test_observe_dashboard.py)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

# what a hostile page does: open the WebSocket, try a read, and record all it gets
PROBE = """
(target) => {
  window.seen = { opened: false, messages: [], closed: false, fetched: null };
  const ws = new WebSocket(`ws://${target}/ws`);
  ws.onopen = () => { window.seen.opened = true; };
  ws.onmessage = ev => { window.seen.messages.push(ev.data); };
  ws.onclose = () => { window.seen.closed = true; };
  fetch(`http://${target}/api/snapshot`).then(r => r.text()).then(
    t => { window.seen.fetched = t; }, () => { window.seen.fetched = "refused"; });
}
"""
DONE = "window.seen.messages.length > 0 || (window.seen.closed && window.seen.fetched !== null)"


class _Foreign(BaseHTTPRequestHandler):
    """Serves a blank page: the origin the probe runs from."""

    def do_GET(self) -> None:
        body = b"<!doctype html><title>elsewhere</title><p>another site"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def foreign_origin() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Foreign)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(10)


@pytest.fixture
def served() -> Iterator[ControlServer]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with Mesh() as mesh:
        mesh.tunnel("payroll", slots=64, max_payload=32)
        with Observer(mesh) as obs:
            yield obs.serve(port=0)


def _probe(url: str, target: str) -> dict[str, Any]:
    """Open ``url`` in Chromium, run the probe there against ``target``; what it saw."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(url, timeout=30_000)
            page.evaluate(PROBE, target)
            page.wait_for_function(DONE, timeout=30_000)
            seen: dict[str, Any] = page.evaluate("window.seen")
            seen["status"] = page.inner_text("#status") if page.query_selector("#status") else ""
        finally:
            browser.close()
    return seen


def test_a_page_of_another_origin_reads_nothing(served: ControlServer,
                                                foreign_origin: str) -> None:
    seen = _probe(foreign_origin + "/", f"127.0.0.1:{served.port}")
    assert seen["messages"] == [] and not seen["opened"] and seen["closed"]
    assert seen["fetched"] == "refused"


def test_a_page_of_the_own_origin_without_the_token_reads_nothing(
        served: ControlServer) -> None:
    seen = _probe(served.url + "/", f"127.0.0.1:{served.port}")
    assert seen["messages"] == [] and not seen["opened"] and seen["closed"]
    assert "payroll" in seen["fetched"]  # the same origin may read a snapshot, as before
    assert "no token" in seen["status"]  # the dashboard says what to open instead
