"""The dashboard in headless Chromium (Debian's, driven by Playwright): opened at the URL
the server prints (the token in the fragment) it shows the mesh and its counters move;
with a token that is not the server's it says so; when the observer closes it says the
mesh ended, keeps the last counters and stops moving."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import call, feed_checker
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.server import ControlServer

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CHECKER = Path(__file__).resolve().parent.parent / "src" / "nanonet" / "guests" / "checker.wat"



@pytest.fixture
def fed_mesh() -> Iterator[Observer]:
    """The checker fed by the host, observed as "fed"; the observer is closed at the end
    (a test may close it first)."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    stop = threading.Event()
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=1024, max_payload=64)
        check = mesh.service("checker", CHECKER, reads=["stream"])
        call(check, "configure", 64)
        mesh.start()
        feeder = threading.Thread(target=feed_checker, args=(mesh, stop), daemon=True)
        feeder.start()
        with Observer(mesh, name="fed") as obs:
            yield obs
        stop.set()
        feeder.join(20)


@pytest.fixture
def live_mesh(fed_mesh: Observer) -> ControlServer:
    return fed_mesh.serve(port=0)


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
                f"Number(document.querySelector('#t-stream-received')?.textContent ?? 0) > {first}",
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


def test_dashboard_says_when_the_mesh_ended(fed_mesh: Observer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    server = fed_mesh.serve(port=0)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(server.dashboard_url, timeout=30_000)
            page.wait_for_function(
                "Number(document.querySelector('#t-stream-received')?.textContent ?? 0) > 0",
                timeout=30_000)
            assert page.evaluate("document.getAnimations().length") > 0  # live: it moves
            assert "nanonet mesh fed" in page.inner_text("#title")
            for part in ("fill", "parks", "lag"):  # the legend explains each
                assert page.inner_text(f"#legend-{part}").startswith(part)
            # sizes in binary units, as nanonet top shows them
            assert re.fullmatch(r"[\d.]+ (B|KiB|MiB|GiB)", page.inner_text("#s-checker-memory"))
            assert re.fullmatch(r"[\d.]+ (B|KiB|MiB|GiB)/s", page.inner_text("#t-stream-bytes"))
            fed_mesh.close()  # the mesh's observation ends: the last snapshot says so
            page.wait_for_function("document.querySelector('#status').className === 'ended'",
                                   timeout=30_000)
            assert "ended" in page.inner_text("#status")
            assert page.evaluate("document.getAnimations().length") == 0
            assert page.inner_text("#t-stream-rate") == "0"  # nothing flows any more
            last = int(page.inner_text("#t-stream-received"))
            assert last > 0  # the last counters stay on the page
            page.wait_for_timeout(1500)  # longer than the page's retry delay (1 s)
            assert page.query_selector("#status").get_attribute("class") == "ended"
        finally:
            browser.close()
