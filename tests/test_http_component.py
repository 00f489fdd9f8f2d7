"""A component guest serving HTTP routes: the ``nanonet:http`` records, over real sockets.

The example's C component (``examples/http/hello_component.c``, world
``nanonet:http/server``, built with zig cc and wit-component) answers each
request from the ``request`` record it is handed; a core-module port server
(``hello.wat``) serves beside it, to show the rest of the mesh unaffected
when the component traps or runs past its deadline.
"""

from __future__ import annotations

import http.client
import io
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from nanonet.bench.http_component import rows
from nanonet.cli import main
from nanonet.component.pair import callee
from nanonet.component.service import ComponentService
from nanonet.errors import InvalidValue
from nanonet.mesh import Mesh
from nanonet.observe.snapshot import take
from nanonet.observe.tophttp import http_tables
from nanonet.toolchain.guestbuild import build_c
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress, HttpLimits
from nanonet.wit import PACKAGES

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "http"
ROUTES = [HttpRoute("/w/*", "web", timeout_ms=10_000, component=True),
          HttpRoute("/w/spin", "web", timeout_ms=200, component=True),
          HttpRoute("/api/*", "api")]


@pytest.fixture(scope="module")
def component() -> Path:
    return build_c(EXAMPLE / "hello_component.c", PACKAGES["http"], "server").path


@pytest.fixture(scope="module")
def served(component: Path) -> Iterator[tuple[HttpIngress, ComponentService]]:
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=2)
        mesh.service("hello_wat", (EXAMPLE / "hello.wat").read_text(), serves=["api"])
        comp = mesh.component("web", component)
        mesh.start()
        with HttpIngress(mesh, ROUTES, limits=HttpLimits(max_body_bytes=1 << 20)) as ingress:
            yield ingress, comp


def _get(ingress: HttpIngress, method: str, target: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    assert ingress.address is not None
    conn = http.client.HTTPConnection(*ingress.address, timeout=30)
    try:
        conn.request(method, target, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_a_get_reaches_the_component_with_its_path_and_query(
        served: tuple[HttpIngress, ComponentService]) -> None:
    status, headers, body = _get(served[0], "GET", "/w/hello?name=you&n=2",
                                 headers={"User-Agent": "tester/1"})
    assert status == 200 and headers["content-type"] == "text/plain"
    assert body == b"hello from a component: GET /w/hello query=name=you&n=2 ua=tester/1"


def test_a_binary_body_and_headers_cross_both_ways(
        served: tuple[HttpIngress, ComponentService]) -> None:
    data = random.Random(7).randbytes(40_000) + bytes(range(256))
    status, headers, body = _get(served[0], "POST", "/w/echo", data,
                                 {"X-Trace": "abc 123", "x-empty": "", "other": "no"})
    assert status == 200 and body == data
    assert headers["content-type"] == "application/octet-stream"
    assert headers["echo-x-trace"] == "abc 123" and headers["echo-x-empty"] == ""
    assert "echo-other" not in headers and headers["content-length"] == str(len(data))


def test_a_trap_is_500_and_the_next_request_gets_a_fresh_instance(
        served: tuple[HttpIngress, ComponentService]) -> None:
    ingress, comp = served
    before = comp.restarts
    status, _, body = _get(ingress, "GET", "/w/trap")
    assert status == 500 and b"component 'web' trapped: wasm trap: wasm `unreachable`" in body
    assert _get(ingress, "GET", "/w/hello")[0] == 200
    assert _get(ingress, "GET", "/api/hello")[2].startswith(b"hello from wat: /api/hello")
    assert comp.restarts == before + 1


def test_a_call_past_its_deadline_is_504_and_cut_short(
        served: tuple[HttpIngress, ComponentService]) -> None:
    ingress, comp = served
    before = comp.restarts
    # spins for 10^12 rounds, far past the route's 200 ms: only the cut ends it
    status, _, body = _get(ingress, "GET", "/w/spin?n=1000000")
    assert status == 504 and b"within the route's timeout_ms (200 ms)" in body
    assert _get(ingress, "GET", "/w/hello?after=spin")[0] == 200
    assert _get(ingress, "GET", "/api/x")[0] == 200
    assert comp.restarts == before + 1


def test_a_body_over_any_call_is_413_unread(
        served: tuple[HttpIngress, ComponentService]) -> None:
    status, headers, body = _get(served[0], "POST", "/w/echo", b"x" * 70_000)
    assert status == 413 and headers["connection"] == "close"
    assert b"send less: a component takes whole requests" in body


def test_a_header_value_that_is_not_utf8_is_400(
        served: tuple[HttpIngress, ComponentService]) -> None:
    status, _, body = _get(served[0], "GET", "/w/hello", headers={"x-bad": "caf\xe9"})
    assert status == 400 and b"not UTF-8" in body


def test_a_route_to_a_component_that_cannot_serve_it_is_refused(component: Path) -> None:
    with Mesh() as mesh:
        with pytest.raises(InvalidValue, match="does not have"):
            HttpIngress(mesh, [HttpRoute("/w/*", "nope", component=True)])
        mesh.component("calc", callee())
        with pytest.raises(InvalidValue, match="does not export nanonet:http/handler"):
            HttpIngress(mesh, [HttpRoute("/w/*", "calc", component=True)])
        mesh.component("web", component)
        with pytest.raises(InvalidValue, match="takes whole requests"):
            HttpIngress(mesh, [HttpRoute("/w/*", "web", stream=True, component=True)])


def test_a_component_that_is_not_running_is_503(component: Path) -> None:
    with Mesh() as mesh:
        mesh.component("web", component)  # the mesh is not started
        route = HttpRoute("/w/*", "web", component=True, timeout_ms=100)
        with HttpIngress(mesh, [route]) as ingress:
            status, _, body = _get(ingress, "GET", "/w/hello")
    assert status == 503 and b"not started" in body


def test_a_request_before_the_mesh_starts_waits_for_the_component(component: Path) -> None:
    with Mesh() as mesh:
        mesh.component("web", component)
        route = HttpRoute("/w/*", "web", component=True, timeout_ms=30_000)
        with HttpIngress(mesh, [route]) as ingress:
            got: list[int] = []
            asker = threading.Thread(target=lambda: got.append(_get(ingress, "GET",
                                                                    "/w/hello")[0]))
            asker.start()
            mesh.start()
            asker.join(60)
    assert got == [200]


def test_the_snapshot_and_top_name_the_routes_component(
        served: tuple[HttpIngress, ComponentService]) -> None:
    ingress, _ = served
    assert _get(ingress, "GET", "/w/hello")[0] == 200
    rows = {r["route"]: r for r in take(ingress.mesh).http}
    assert rows["/w/*"]["component"] and rows["/w/*"]["port"] == "web"
    assert rows["/w/*"]["codes"].get("200", 0) >= 1
    assert not rows["/api/*"]["component"]
    out = io.StringIO()
    for table in http_tables(take(ingress.mesh).to_json()):
        Console(file=out, width=120, color_system=None).print(table)
    assert "component web" in out.getvalue()


def test_nanonet_wit_prints_the_http_package(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wit", "http"]) == 0
    text = capsys.readouterr().out
    assert "package nanonet:http@0.1.0;" in text
    assert "handle: func(req: request) -> response;" in text
    assert main(["wit", "http", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(PACKAGES["http"])


def test_the_bench_drives_both_routes_with_the_same_clients(component: Path) -> None:
    got = rows(2, 5)
    assert {name: row["requests"] for name, row in got.items()} == {
        "http_nanonet_component": 10, "http_nanonet_wat": 10}
    assert all(row["requests_per_s"] > 0 and row["p50_ms"] > 0 for row in got.values())
