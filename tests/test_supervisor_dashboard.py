"""A component service in the dashboard (headless Chromium): drawn with its kind and
state, like a module service, not as an end nobody holds."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet import Mesh
from nanonet.bench.component_cost import STREAMER
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def component_mesh() -> Iterator[ControlServer]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=64)
        mesh.reader("stream")
        mesh.component("streamer", STREAMER, imports={"send": "tunnel:stream"})
        mesh.start()
        with Observer(mesh) as obs:
            yield obs.serve(port=0)


def test_the_dashboard_draws_a_component_with_its_state(
        component_mesh: ControlServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 560})
            page.goto(component_mesh.dashboard_url, timeout=30_000)
            page.wait_for_selector("#node-streamer", timeout=30_000)
            node = page.text_content("#node-streamer") or ""
            # drawn as a service is (state, restarts, traps), tagged as a component
            assert "running · restarts 0 · traps 0" in node and "not held yet" not in node
            assert page.text_content("#node-streamer .kind") == "component"
            assert page.inner_text("#s-streamer-state") == "running"
        finally:
            browser.close()
