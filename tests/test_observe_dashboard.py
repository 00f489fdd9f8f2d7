"""The dashboard in headless Chromium (Debian's, driven by Playwright): opened at the URL
the server prints (the token in the fragment) it shows the mesh and its counters move;
with a token that is not the server's it says so."""

from __future__ import annotations

import shutil
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import call
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CHECKER = Path(__file__).resolve().parent.parent / "src" / "nanonet" / "guests" / "checker.wat"


def _feed(mesh: Mesh, stop: threading.Event) -> None:
    """Host -> Wasm checker, 64 messages a batch, until stopped (at most 20k batches)."""
    out = mesh.writer("stream")
    for first in range(0, 64 * 20_000, 64):
        if stop.wait(0.005):
            break
        out.send_many([struct.pack("<q", s) + bytes(56) for s in range(first, first + 64)],
                      timeout=10)
    out.close()


@pytest.fixture
def live_mesh() -> Iterator[ControlServer]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    stop = threading.Event()
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=1024, max_payload=64)
        check = mesh.service("checker", CHECKER, reads=["stream"])
        call(check, "configure", 64)
        mesh.start()
        feeder = threading.Thread(target=_feed, args=(mesh, stop), daemon=True)
        feeder.start()
        with Observer(mesh) as obs:
            yield obs.serve(port=0)
        stop.set()
        feeder.join(20)


def test_dashboard_shows_the_mesh_and_its_counters_move(live_mesh: ControlServer,
                                                        tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 560})
            page.goto(live_mesh.dashboard_url, timeout=30_000)
            page.wait_for_selector("#node-checker", timeout=30_000)
            assert live_mesh.token not in page.url  # out of the address bar once read
            page.wait_for_selector("#edge-stream", timeout=30_000)
            first = int(page.inner_text("#t-stream-received"))
            page.wait_for_function(
                f"Number(document.querySelector('#t-stream-received').textContent) > {first}",
                timeout=30_000)
            assert "live" in page.inner_text("#status")
            page.screenshot(path=str(tmp_path / "dashboard.png"))
        finally:
            browser.close()
    assert (tmp_path / "dashboard.png").stat().st_size > 1000


def test_dashboard_with_a_wrong_token_says_it_was_refused(live_mesh: ControlServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(live_mesh.url + "/#token=not-this-servers-token", timeout=30_000)
            page.wait_for_function(
                "document.querySelector('#status').className === 'refused'", timeout=30_000)
            assert "refused" in page.inner_text("#status")
            assert page.query_selector("#node-checker") is None
        finally:
            browser.close()
