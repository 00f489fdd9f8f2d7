"""The dashboard's "http routes" table, in headless Chromium (Debian's, driven by
Playwright), shows the requests a real HTTP ingress answered: per route, the count,
the 2xx/4xx/5xx counts, p50/p99 and the port's live server (on a component
route, the component while it runs)."""

from __future__ import annotations

import http.client
import shutil
from pathlib import Path

import pytest

from conftest import GUESTS
from nanonet.mesh import Mesh
from nanonet.observe import Observer
from nanonet.toolchain.guestbuild import build_c
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress, HttpLimits
from nanonet.wit import PACKAGES

pytestmark = pytest.mark.timeout(120)
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
OK = 3


def _ask(ingress: HttpIngress) -> None:
    assert ingress.address is not None
    c = http.client.HTTPConnection(*ingress.address, timeout=30)
    try:
        for _ in range(OK):
            c.request("GET", "/echo")
            assert c.getresponse().read() is not None
        c.request("POST", "/echo", body=b"x" * 2000)  # over the port's max_payload: 413
        r = c.getresponse()
        r.read()
        assert r.status == 413
    finally:
        c.close()


def test_the_routes_table_counts_the_requests_made() -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with Mesh() as mesh:
        mesh.port("api", max_payload=1024, clients=0, host_clients=4)
        mesh.service("guest", (GUESTS / "http_probe.wat").read_text(), serves=["api"])
        mesh.start()
        with HttpIngress(mesh, [HttpRoute("/*", "api")], limits=HttpLimits()) as ingress, \
                Observer(mesh, name="routes", interval=0.1) as obs:
            _ask(ingress)
            server = obs.serve(port=0)
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                try:
                    page = browser.new_page()
                    page.goto(server.dashboard_url, timeout=30_000)
                    page.wait_for_selector("#r-0-requests", timeout=30_000)
                    text = page.inner_text
                    assert (text("#r-0-route"), text("#r-0-port")) == ("/*", "api")
                    assert text("#r-0-requests") == str(OK + 1)
                    assert (text("#r-0-2xx"), text("#r-0-4xx"), text("#r-0-5xx")) == (
                        str(OK), "1", "0")
                    assert text("#r-0-server") == "guest"
                    assert text("#r-0-p50") != "–" and text("#r-0-p99") != "–"
                finally:
                    browser.close()


def test_a_component_route_shows_its_component_as_the_server() -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    example = Path(__file__).resolve().parents[1] / "examples" / "http"
    wasm = build_c(example / "hello_component.c", PACKAGES["http"], "server").path
    with Mesh() as mesh:
        mesh.component("web", wasm)
        mesh.start()
        routes = [HttpRoute("/w/*", "web", component=True)]
        with HttpIngress(mesh, routes) as ingress, \
                Observer(mesh, name="routes", interval=0.1) as obs:
            assert ingress.address is not None
            c = http.client.HTTPConnection(*ingress.address, timeout=30)
            c.request("GET", "/w/hello")
            assert c.getresponse().read().startswith(b"hello from a component")
            c.close()
            server = obs.serve(port=0)
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                try:
                    page = browser.new_page()
                    page.goto(server.dashboard_url, timeout=30_000)
                    page.wait_for_selector("#r-0-requests", timeout=30_000)
                    text = page.inner_text
                    assert (text("#r-0-route"), text("#r-0-port")) == ("/w/*", "component web")
                    assert (text("#r-0-server"), text("#r-0-2xx")) == ("web", "1")
                finally:
                    browser.close()
