"""``nanonet top`` with keys, driven by textual's own pilot against a real mesh behind a
real control server: the sort keys reorder the tunnels, the arrows move the selection and
its details name the tunnel's writer and reader, ``t`` taps the selected tunnel into a
pcapng file and stops, ``q`` quits; the services show their threads' CPU time."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import call, feed_checker
from nanonet import Mesh
from nanonet.observe import Observer
from nanonet.observe.client import Endpoint
from nanonet.observe.server import ControlServer

textual = pytest.importorskip("textual")
from textual.widgets import DataTable, Static  # noqa: E402

from nanonet.observe.toptui import TopApp  # noqa: E402

CHECKER = Path(__file__).resolve().parent.parent / "src" / "nanonet" / "guests" / "checker.wat"
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"



@pytest.fixture
def server() -> Iterator[ControlServer]:
    """A checker reads "stream", fed all along; "idle" is a tunnel nobody holds yet."""
    stop = threading.Event()
    with Mesh() as mesh:
        mesh.tunnel("idle", slots=64, max_payload=64)
        mesh.tunnel("stream", slots=1024, max_payload=64)
        call(mesh.service("busy", CHECKER, reads=["stream"]), "configure", 64)
        mesh.start()
        feeder = threading.Thread(target=feed_checker, args=(mesh, stop), daemon=True)
        feeder.start()
        with Observer(mesh, name="keys", interval=0.1) as obs:
            yield obs.serve(port=0)
            stop.set()
        feeder.join(20)


def _app(server: ControlServer, tap_dir: Path) -> TopApp:
    ep = Endpoint(server.url, server.token)
    return TopApp(ep.snapshot, ep.url, period=0.1, tap_dir=tap_dir, url=ep.url, token=ep.token)


async def _until(pilot: object, ok: Callable[[], bool], what: str) -> None:
    """Let the app poll until ``ok()`` (bounded: 600 pauses of 50 ms)."""
    for _ in range(600):
        if ok():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError(f"the view never showed {what}")


def _rows(app: TopApp, table: str) -> list[str]:
    t = app.query_one(table, DataTable)
    return [str(t.get_row_at(i)[0]).removesuffix(" ●") for i in range(t.row_count)]


def test_keys_sort_select_and_quit(server: ControlServer, tmp_path: Path) -> None:
    async def drive() -> None:
        app = _app(server, tmp_path)
        async with app.run_test(size=(80, 30)) as pilot:
            await _until(pilot, lambda: _rows(app, "#tunnels") == ["idle", "stream"], "by name")
            await pilot.press("r")  # by rate: the fed tunnel first
            await _until(pilot, lambda: _rows(app, "#tunnels") == ["stream", "idle"], "by rate")
            assert app.selected == "idle"  # the selection stays on its tunnel
            await pilot.press("up")
            assert app.selected == "stream"
            details = str(app.query_one("#details", Static).render())
            assert "writer  <host>" in details and "reader  busy (" in details
            await pilot.press("n")
            await _until(pilot, lambda: _rows(app, "#tunnels") == ["idle", "stream"], "by name")
            assert app.selected == "stream"
            await pilot.press("enter")  # hides the details
            assert not app.query_one("#details", Static).display
            await pilot.press("enter")
            assert app.query_one("#details", Static).display
            # both services' threads have run: their CPU time is shown, in seconds
            await _until(pilot, lambda: all(str(app.query_one("#services", DataTable)
                                                .get_row_at(i)[3]).endswith("s")
                                            for i in range(1)), "CPU time")
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(drive())


def test_t_taps_the_selected_tunnel_into_a_file(server: ControlServer, tmp_path: Path) -> None:
    async def drive() -> None:
        app = _app(server, tmp_path)
        async with app.run_test(size=(80, 30)) as pilot:
            await _until(pilot, lambda: _rows(app, "#tunnels") == ["idle", "stream"], "tunnels")
            await pilot.press("down")
            assert app.selected == "stream"
            await pilot.press("t")
            tap = app.taps["stream"]
            await _until(pilot, lambda: tap.written > 4096, "the tap's bytes")
            assert "tapping stream" in str(app.query_one("#status", Static).render())
            await pilot.press("t")  # stops it
            assert not tap.running and tap.error is None
            await pilot.press("q")

    asyncio.run(drive())
    (capture,) = tmp_path.glob("stream-*.pcapng")
    data = capture.read_bytes()
    assert data[:4] == PCAPNG_MAGIC and len(data) > 4096


def test_once_draws_one_frame_without_keys(server: ControlServer) -> None:
    """``top --once`` (for scripts): one rich frame, uptime and CPU time in it, then exit."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src"),
           "COLUMNS": "140"}
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "top", "--connect", server.url,
                          "--once"], env=env, capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert "nanonet top" in out.stdout and " up " in out.stdout
    assert "cpu" in out.stdout and "stream" in out.stdout
