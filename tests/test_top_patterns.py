"""``nanonet top`` shows the messaging patterns of a real running mesh, behind a real
control server: a port's calls, timeouts and late replies and its host calls' p50,
a pub-sub tunnel's subscribers (lag, missed), a fan-in tunnel's writers (what each
sent), the service that waits on many ends (bell parks) and the one upgraded (how
many times, the last result); both in the keyed app and in the plain view, and
as Prometheus metrics."""

from __future__ import annotations

import asyncio
import http.client
import io
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from nanonet.observe import Observer
from nanonet.observe.client import Endpoint
from nanonet.observe.server import ControlServer
from nanonet.observe.top import render
from pattern_scene import CALLS, LAG, SENT_A, SENT_B, pattern_mesh

textual = pytest.importorskip("textual")
from textual.widgets import DataTable, Static  # noqa: E402

from nanonet.observe.toptui import TopApp  # noqa: E402

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[ControlServer]:
    with pattern_mesh() as mesh, Observer(mesh, name="patterns", interval=0.1) as obs:
        yield obs.serve(port=0)


async def _until(pilot: object, ok: Callable[[], bool], what: str) -> None:
    for _ in range(600):  # bounded: 600 pauses of 50 ms
        if ok():
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    raise AssertionError(f"the view never showed {what}")


def _cells(app: TopApp, table: str) -> list[list[str]]:
    t = app.query_one(table, DataTable)
    return [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]


def _text(app: TopApp, widget: str) -> str:
    return str(app.query_one(widget, Static).render())


def _select(app: TopApp, name: str) -> None:
    app.query_one("#tunnels", DataTable).move_cursor(row=app.tunnel_order.index(name))


def test_the_keyed_view_shows_ports_subscribers_writers_bells_and_upgrades(
        server: ControlServer) -> None:
    async def drive() -> None:
        ep = Endpoint(server.url, server.token)
        app = TopApp(ep.snapshot, ep.url, period=0.1)
        async with app.run_test(size=(80, 40)) as pilot:
            await _until(pilot, lambda: bool(_cells(app, "#ports")), "the ports")
            [row] = _cells(app, "#ports")
            assert row[:2] == ["rpc", "<host>"] and row[3] == f"{CALLS + 1:,}"
            assert row[4] == "0" and row[6:] == ["1", "1", "0"]  # in flight; tmo, late, requ
            assert row[5].endswith("s") and row[5] != "-"  # the host calls' p50
            patterns = _text(app, "#patterns")
            assert "merge waits on many ends" in patterns
            assert "relay upgraded 1×; last: kept:" in patterns
            _select(app, "news")
            await _until(pilot, lambda: "sub 1" in _text(app, "#details"), "the subscribers")
            details = _text(app, "#details")
            assert f"(block): lag {LAG}," in details and "missed 0" in details
            lossy = next(line for line in details.splitlines() if "(lossy)" in line)
            assert not lossy.endswith("missed 0")
            _select(app, "in")
            await _until(pilot, lambda: "writer  <host>: sent" in _text(app, "#details"),
                         "the writers")
            details = _text(app, "#details")
            assert f"sent {SENT_A}, received {SENT_A}" in details
            assert f"sent {SENT_B}, received {SENT_B}" in details
            assert "reader  merge (" in details
            await pilot.press("q")

    asyncio.run(drive())


def test_the_plain_view_shows_the_same(server: ControlServer) -> None:
    snap = Endpoint(server.url, server.token).snapshot()
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(render(snap, "test"))
    text = out.getvalue()
    assert "ports" in text and "rpc" in text
    assert f"(block): lag {LAG}," in text and "(lossy)" in text
    assert f"<host>: sent {SENT_A}, received {SENT_A}" in text
    assert "merge waits on many ends" in text and "relay upgraded 1×" in text
    [port] = snap["ports"]
    assert port["timed_calls"] == CALLS and port["call_p50_ns"] <= port["call_p99_ns"]


def test_metrics_carry_the_port_latency_upgrades_and_bell_parks(server: ControlServer) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(text) for s in f.samples}
    p50 = samples[("nanonet_port_call_p50_seconds", (("port", "rpc"),))]
    p99 = samples[("nanonet_port_call_p99_seconds", (("port", "rpc"),))]
    assert 0 < p50 <= p99
    assert samples[("nanonet_service_upgrades_total", (("service", "relay"),))] == 1
    assert samples[("nanonet_service_upgrades_total", (("service", "merge"),))] == 0
    assert ("nanonet_service_bell_parks_total", (("service", "merge"),)) in samples
    assert ("nanonet_service_bell_parks_total", (("service", "relay"),)) not in samples
