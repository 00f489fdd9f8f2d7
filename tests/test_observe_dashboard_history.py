"""The dashboard's richer views in headless Chromium (Debian's, driven by Playwright):
a sparkline per tunnel and per service of its rate over the last minute, kept by the page;
a service's last traps (cause, function, offset, frames) shown on a click; components drawn
as services are, with their state, restarts and traps; each service's CPU time."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import call, feed_checker, guest
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CHECKER = Path(__file__).resolve().parent.parent / "src" / "nanonet" / "guests" / "checker.wat"
DOUBLE = """(component
  (core module $m (func (export "double") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2))))
  (core instance $i (instantiate $m))
  (func (export "double") (param "x" u32) (result u32) (canon lift (core func $i "double"))))"""



@pytest.fixture
def server() -> Iterator[ControlServer]:
    """The fed checker, a service that traps at its first message, and a component."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    stop = threading.Event()
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=1024, max_payload=64)
        mesh.tunnel("go", slots=4, max_payload=16)
        call(mesh.service("checker", CHECKER, reads=["stream"]), "configure", 64)
        boom = mesh.service("boom", guest("trapper"), reads=["go"])
        mesh.component("double", DOUBLE)
        mesh.start()
        mesh.writer("go").send(b"now", timeout=10)
        assert boom.join(20)
        feeder = threading.Thread(target=feed_checker, args=(mesh, stop), daemon=True)
        feeder.start()
        with Observer(mesh, name="history") as obs:
            yield obs.serve(port=0)
            stop.set()
        feeder.join(20)


def test_sparklines_trap_details_and_components(server: ControlServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 800})
            page.goto(server.dashboard_url, timeout=30_000)
            # the page keeps each tunnel's and service's rates: the line grows point by point
            page.wait_for_function(
                "Number(document.querySelector('#spark-t-stream')?.dataset.points) > 3",
                timeout=30_000)
            line = page.get_attribute("#spark-t-stream polyline", "points") or ""
            assert len(line.split()) > 3
            assert page.query_selector("#spark-s-checker polyline") is not None
            assert page.inner_text("#s-checker-cpu").endswith(" s")
            # a component is drawn as a service: its state, restarts and traps, and its kind
            node = page.locator("#node-double")
            assert "kind-component" in (node.get_attribute("class") or "")
            assert "restarts 0 · traps 0" in (node.text_content() or "")
            assert node.locator(".kind").text_content() == "component"
            # a click on the service shows its last traps: cause, function, offset, frames
            assert page.query_selector("#trap-boom-0") is None
            page.locator("#services tbody tr", has_text="boom").click()
            trap = page.locator("#trap-boom-0")
            assert trap.locator(".cause").inner_text() == "unreachable executed"
            assert trap.locator(".function").inner_text() == "boom"
            assert trap.locator(".offset").inner_text().startswith("0x")
            assert trap.locator("li").count() >= 1
            assert "boom" in trap.locator("li").first.inner_text()
            assert "the last 1 of 1" in page.inner_text("#trap-details h2")
            page.locator("#node-checker rect").click()  # one that never trapped says so
            assert page.inner_text("#trap-details h2") == "checker has not trapped"
        finally:
            browser.close()
