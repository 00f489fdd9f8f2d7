"""Broken tunnels and dead letters are shown where a mesh is watched: the
snapshot, `nanonet top` and the dashboard (in Debian's headless Chromium)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.snapshot import take
from nanonet.observe.top import render
from test_broken import FILTER
from test_dead_letter import PICKY, _policy
from test_observe_dashboard import CHROMIUM, FLAGS

pytestmark = pytest.mark.timeout(120)


def _mesh(mesh: Mesh) -> None:
    """'u' broken (its writer trapped for good), one dead letter moved from 'in'."""
    mesh.tunnel("t", slots=8, max_payload=16)
    mesh.tunnel("u", slots=8, max_payload=16)
    mesh.service("filter", FILTER.replace("TRAP_AT", "1"), reads=["t"], writes=["u"])
    mesh.tunnel("in", slots=8, max_payload=8)
    mesh.tunnel("out", slots=8, max_payload=8)
    mesh.tunnel("dlq", slots=8, max_payload=8)
    mesh.service("picky", PICKY, reads=["in"], writes=["out"], restart=_policy("dlq"))
    t, w = mesh.writer("t"), mesh.writer("in")
    mesh.start()
    t.send(b"x", timeout=20)
    w.send(struct.pack("<I", 0xFFFFFFFF), timeout=20)
    wait_until(lambda: mesh.statistics()["u"].broken != 0, "'u' is broken")
    wait_until(lambda: mesh.statistics()["in"].dead_letters == 1, "the poison is moved aside")


def test_top_shows_a_broken_tunnel_and_dead_letters() -> None:
    with Mesh() as mesh:
        _mesh(mesh)
        console = Console(record=True, width=200)
        console.print(render(take(mesh).to_json()))
        rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines()
                if line.count("│") > 3}
        assert "broken" in rows["u"] and "broken" not in rows["out"]
        assert rows["in"].split("│")[-3].strip() == "1"  # the dead-letter column


@pytest.fixture
def watched() -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup installs it)")
    with Mesh() as mesh:
        _mesh(mesh)
        with Observer(mesh) as obs:
            yield obs.serve(port=0).dashboard_url


def test_the_dashboard_shows_a_broken_tunnel_and_dead_letters(watched: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page()
            page.goto(watched, timeout=30_000)
            page.wait_for_selector("#t-u-state", timeout=30_000)
            assert page.inner_text("#t-u-state") == "broken"
            assert page.inner_text("#t-out-state") == "open"
            assert page.inner_text("#t-in-dead") == "1"
            assert page.inner_text("#s-picky-dead") == "in #0 → dlq"
        finally:
            browser.close()
