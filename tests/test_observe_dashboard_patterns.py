"""The dashboard shows the messaging patterns of a real running mesh, in headless
Chromium (Debian's, driven by Playwright): a port's calls, timeouts, late replies and
host call latency (and its calls move when the host calls again), each pub-sub
subscriber's lag and missed count, each fan-in writer's sent count, the service that
waits on many ends (its bell parks) and the one upgraded (count, last result)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer
from pattern_scene import CALLS, LAG, SENT_A, SENT_B, pattern_mesh

pytestmark = pytest.mark.timeout(120)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def scene() -> Iterator[tuple[Mesh, ControlServer]]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with pattern_mesh() as mesh, Observer(mesh, name="patterns", interval=0.1) as obs:
        yield mesh, obs.serve(port=0)


def test_dashboard_shows_ports_subscribers_writers_bells_and_upgrades(
        scene: tuple[Mesh, ControlServer]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    mesh, server = scene
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(server.dashboard_url, timeout=30_000)
            page.wait_for_selector("#p-rpc-calls", timeout=30_000)
            text = page.inner_text
            assert text("#p-rpc-calls") == str(CALLS + 1)
            assert (text("#p-rpc-timeouts"), text("#p-rpc-late")) == ("1", "1")
            assert (text("#p-rpc-flight"), text("#p-rpc-requeued")) == ("0", "0")
            assert re.fullmatch(r"[\d.]+ (ns|µs|ms)", text("#p-rpc-p50"))
            assert page.is_visible("#ports") and page.is_visible("#legend-ports")
            # the blocking subscriber (line 0) and the lapped lossy one (line 1)
            assert (text("#sub-news-0-policy"), text("#sub-news-0-lag")) == ("block", str(LAG))
            assert text("#sub-news-0-missed") == "0"
            assert text("#sub-news-1-policy") == "lossy" and int(text("#sub-news-1-missed")) > 0
            assert text("#sub-news-0-owner") == "<host>"
            assert (text("#w-in-0-sent"), text("#w-in-1-sent")) == (str(SENT_A), str(SENT_B))
            assert text("#w-in-0-state") == "open"
            assert int(text("#s-merge-bells")) >= 0
            assert text("#s-relay-upgrades") == "1"
            assert text("#s-relay-last-upgrade").startswith("kept: service 'relay' upgraded")
            assert page.query_selector("#s-publisher-bells") is None  # waits on one end
            mesh.client("rpc").call(b"one more", timeout=10)  # the page follows the mesh
            page.wait_for_function(
                f"document.querySelector('#p-rpc-calls').textContent === '{CALLS + 2}'",
                timeout=30_000)
        finally:
            browser.close()


def test_a_mesh_without_patterns_shows_none_of_their_tables() -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with Mesh() as mesh, Observer(mesh, name="plain", interval=0.1) as obs:
        mesh.tunnel("t", slots=8, max_payload=8)
        server = obs.serve(port=0)
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = browser.new_page()
                page.goto(server.dashboard_url, timeout=30_000)
                page.wait_for_selector("#edge-t", timeout=30_000)
                for table in ("ports", "subscribers", "writers", "waiters"):
                    assert not page.is_visible(f"#{table}")
                    assert not page.is_visible(f"#{table}-title")
            finally:
                browser.close()
