"""The HTTP ingress over real sockets on 127.0.0.1, in front of real Wasm port servers.

The example's WAT service answers many keep-alive clients at once; a probe
guest (tests/guests/http_probe.wat) traps, stays silent, answers garbage or
echoes the request form, for 503, 504, 502 and the form itself; raw bytes
check 400, 413, 431, 501 and that the server survives every one of them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from conftest import GUESTS
from nanonet.errors import InvalidValue
from nanonet.mesh import Mesh
from nanonet.observe.metrics import exposition, registry
from nanonet.observe.snapshot import take
from nanonet.observe.top import render
from nanonet.observe.tophttp import http_tables
from nanonet.toolchain.build import build
from nanonet.web.forms import FIELD_HEAD, REQUEST_HEAD
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress, HttpLimits
from nanonet.web.stats import RouteStats

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.wat"
REQUESTS = max(8, int(1000 * float(os.environ.get("NANONET_STRESS_SCALE", "1"))))


def _serving(guest: Path, routes: list[HttpRoute], limits: HttpLimits | None = None,
             max_payload: int = 4096, host_clients: int = 4) -> Iterator[HttpIngress]:
    with Mesh() as mesh:
        mesh.port("api", max_payload=max_payload, clients=0, host_clients=host_clients)
        code = guest.read_bytes() if guest.suffix == ".wasm" else guest.read_text()
        mesh.service("guest", code, serves=["api"])
        mesh.start()
        with HttpIngress(mesh, routes, limits=limits or HttpLimits()) as ingress:
            yield ingress


@pytest.fixture
def hello() -> Iterator[HttpIngress]:
    yield from _serving(EXAMPLE, [HttpRoute("/*", "api")], host_clients=4)


@pytest.fixture
def probe() -> Iterator[HttpIngress]:
    yield from _serving(GUESTS / "http_probe.wat",
                        [HttpRoute("/s*", "api", timeout_ms=200), HttpRoute("/*", "api")],
                        HttpLimits(max_header_bytes=1024, max_body_bytes=8192), max_payload=1024)


_OPEN: list[http.client.HTTPConnection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _conn(ingress: HttpIngress) -> http.client.HTTPConnection:
    assert ingress.address is not None
    _OPEN.append(http.client.HTTPConnection(*ingress.address, timeout=30))
    return _OPEN[-1]


def _get(c: http.client.HTTPConnection, path: str, method: str = "GET", body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    c.request(method, path, body=body or None, headers=headers or {})
    r = c.getresponse()
    return r.status, r.read()


def _raw(ingress: HttpIngress, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes; what came back."""
    assert ingress.address is not None
    with socket.create_connection(ingress.address, timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)  # a cut-off head ends here
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    return got


def test_the_wat_example_answers_every_request_of_8_keepalive_clients(hello: HttpIngress) -> None:
    per, bodies, errors = REQUESTS // 8, [], []

    def client(k: int) -> None:
        try:
            c = _conn(hello)  # one connection for all its requests: keep-alive
            for i in range(per):
                status, body = _get(c, f"/api/c{k}/{i}")
                assert status == 200
                bodies.append((k, i, body))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(bodies) == per * 8
    counts = []
    for k, i, body in bodies:
        head, _, n = body.decode().rstrip("\n").rpartition(" #")
        assert head == f"hello from wat: /api/c{k}/{i}"
        counts.append(int(n))
    assert sorted(counts) == list(range(1, per * 8 + 1))  # each answered once, none lost
    route = next(r for r in hello.stats.as_list() if r["route"] == "/*")
    assert route["codes"] == {"200": per * 8}


def test_an_unknown_path_is_the_guests_404_and_the_connection_stays(hello: HttpIngress) -> None:
    c = _conn(hello)
    assert _get(c, "/nothing") == (404, b"not found: /nothing\n")
    assert _get(c, "/api/x")[0] == 200


def test_the_guest_sees_the_request_form_as_documented(probe: HttpIngress) -> None:
    c = _conn(probe)
    status, form = _get(c, "/echo/a%20b?x=1&y", "POST", b"payload\x00\xff",
                        {"X-Thing": "v1", "Content-Type": "application/x"})
    assert status == 200
    version, m, p, q, count, b = REQUEST_HEAD.unpack_from(form)
    at = REQUEST_HEAD.size
    assert (version, form[at:at + m], form[at + m:at + m + p], form[at + m + p:at + m + p + q]) \
        == (1, b"POST", b"/echo/a%20b", b"x=1&y")
    at += m + p + q
    headers = []
    for _ in range(count):
        n, v = FIELD_HEAD.unpack_from(form, at)
        at += FIELD_HEAD.size
        headers.append((form[at:at + n], form[at + n:at + n + v]))
        at += n + v
    assert (b"x-thing", b"v1") in headers and (b"content-type", b"application/x") in headers
    assert form[at:] == b"payload\x00\xff" and b == len(form[at:])


def test_a_server_that_never_answers_is_504_within_the_routes_deadline(probe: HttpIngress) -> None:
    c = _conn(probe)
    status, body = _get(c, "/silent")
    assert status == 504
    assert b"did not answer within the route's timeout_ms (200 ms)" in body
    assert _get(c, "/echo")[0] == 200  # the same connection and mailboxes go on


def test_a_reply_not_in_the_reply_form_is_502(probe: HttpIngress) -> None:
    status, body = _get(_conn(probe), "/bad")
    assert status == 502
    assert b"the service's reply is malformed: the reply has 3 bytes" in body


def test_a_trapped_server_without_restart_is_503_from_then_on(probe: HttpIngress) -> None:
    c = _conn(probe)
    assert _get(c, "/echo")[0] == 200
    status, body = _get(c, "/trap")
    assert status == 503 and b"port 'api' has no live server" in body
    status, body = _get(c, "/echo")
    assert status == 503 and b"is broken" in body


@pytest.mark.parametrize(("data", "status", "words"), [
    (b"GET /x\r\n\r\n", 400, b"not METHOD TARGET HTTP/1.1"),
    (b"GET http://a/ HTTP/1.1\r\n\r\n", 400, b"origin form"),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, b"is not NAME: VALUE"),
    (b"GET / HTTP/1.1\r\nA: 1\r\n folded\r\n\r\n", 400, b"obsolete line folding"),
    (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
     b"two different Content-Length"),
    (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, b"not a decimal length"),
    (b"GET / HTTP/2.0\r\n\r\n", 505, b"only HTTP/1.0 and HTTP/1.1"),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501, b"chunked"),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 2000 + b"\r\n\r\n", 431, b"max_header_bytes (1024"),
    (b"POST / HTTP/1.1\r\nContent-Length: 9000\r\n\r\n", 413, b"max_body_bytes (8192)"),
    (b"GET / HTTP/1.1\r\nHost: x", 400, b"cut off"),
])
def test_a_bad_request_is_answered_and_closed(probe: HttpIngress, data: bytes, status: int,
                                              words: bytes) -> None:
    got = _raw(probe, data)
    assert got.startswith(f"HTTP/1.1 {status} ".encode()), got[:80]
    assert words in got and b"connection: close" in got
    assert _get(_conn(probe), "/echo")[0] == 200  # the server goes on


def test_a_request_over_the_ports_max_payload_is_413_naming_the_fix(probe: HttpIngress) -> None:
    c = _conn(probe)
    status, body = _get(c, "/echo", "POST", b"x" * 2000)
    assert status == 413
    assert b"over port 'api''s max_payload (1024); send less, or raise [ports.api] " \
        b"max_payload" in body
    assert _get(c, "/echo")[0] == 200  # the body was read: the connection goes on


def test_head_and_http_1_0_and_expect_continue(probe: HttpIngress) -> None:
    got = _raw(probe, b"HEAD /echo HTTP/1.0\r\n\r\n")
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head and body == b""
    got = _raw(probe, b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
               b"Connection: close\r\n\r\nhi")
    assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ") and got.endswith(b"hi")


def test_a_method_the_route_does_not_list_is_405() -> None:
    for ingress in _serving(EXAMPLE, [HttpRoute("/api/*", "api", methods=("GET",))]):
        c = _conn(ingress)
        c.request("DELETE", "/api/x")
        r = c.getresponse()
        assert (r.status, r.getheader("allow")) == (405, "GET") and r.read().startswith(b"405")
        assert _get(c, "/other")[0] == 404  # no route: the ingress's own 404
        unrouted = next(r for r in ingress.stats.as_list() if r["route"] == "(no route)")
        assert unrouted["codes"] == {"404": 1}


def test_routes_are_in_the_snapshot_and_in_metrics(hello: HttpIngress) -> None:
    c = _conn(hello)
    for path in ("/api/a", "/api/b", "/nothing"):
        _get(c, path)
    [route, unrouted] = take(hello.mesh).http
    assert (route["route"], route["port"], route["requests"]) == ("/*", "api", 3)
    assert route["codes"] == {"200": 2, "404": 1} and sum(route["buckets"]) == 3
    assert route["p50_s"] in route["bounds_s"] and unrouted["requests"] == 0
    text = exposition(registry(lambda: take(hello.mesh)), None)[0].decode()
    assert 'nanonet_http_requests_total{code="200",port="api",route="/*"} 2.0' in text
    assert 'nanonet_http_requests_total{code="404",port="api",route="/*"} 1.0' in text
    assert 'nanonet_http_request_seconds_count{route="/*"} 3.0' in text
    assert 'nanonet_http_request_seconds_bucket{le="+Inf",route="/*"} 3.0' in text
    console = Console(width=120, record=True)
    console.print(render(take(hello.mesh).to_json()))
    drawn = console.export_text()
    assert re.search(r"│ /\* +│ api +│ +3 │ 200×2, 404×1 +│ +[\d.]+ [µm]?s │", drawn), drawn
    assert "(no route)" not in drawn  # it saw nothing


def test_the_c_and_python_examples_of_the_doc_serve_a_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """docs/http.md's C guest, built with nanonet.h's helpers, behind its Python snippet."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "http.md").read_text()
    c_code = text.split("## In C\n\n```c\n")[1].split("```")[0]
    (tmp_path / "doc.c").write_text(c_code)
    wasm = build(tmp_path / "doc.c")
    for ingress in _serving(wasm, [HttpRoute("/*", "api")]):
        c = _conn(ingress)
        assert _get(c, "/api/doc?x") == (200, b"you asked for /api/doc")
    snippet = text.split("## From Python\n")[1].split("```python\n")[1].split("```")[0]
    monkeypatch.chdir(EXAMPLE.parents[2])  # the snippet names the example from the root
    exec(compile(snippet, "docs/http.md", "exec"), {})
    assert capsys.readouterr().out.startswith("('127.0.0.1', ")


def test_a_server_that_ended_is_503() -> None:
    for ingress in _serving(GUESTS / "http_gone.wat", [HttpRoute("/*", "api")]):
        assert ingress.mesh.services["guest"].join(30)
        status, body = _get(_conn(ingress), "/x")
        assert status == 503 and b"its server 'guest' is gone (it trapped" in body


def test_a_connection_over_the_limit_is_503_and_the_others_go_on() -> None:
    limits = HttpLimits(max_connections=2)
    for ingress in _serving(EXAMPLE, [HttpRoute("/*", "api")], limits):
        first, second = _conn(ingress), _conn(ingress)
        assert _get(first, "/api/1")[0] == 200 and _get(second, "/api/2")[0] == 200
        got = _raw(ingress, b"GET /api/3 HTTP/1.1\r\n\r\n")
        assert got.startswith(b"HTTP/1.1 503 ") and b"2 connections are open" in got
        assert _get(first, "/api/4")[0] == 200


def test_an_error_answer_honours_the_clients_connection_close(probe: HttpIngress) -> None:
    got = _raw(probe, b"GET /bad HTTP/1.1\r\nConnection: close\r\n\r\n"
               b"GET /echo HTTP/1.1\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 502 ") and got.count(b"HTTP/1.1 ") == 1
    assert b"connection: close" in got


def test_a_route_to_a_port_the_mesh_lacks_is_refused() -> None:
    with Mesh() as mesh, pytest.raises(InvalidValue, match="names port 'nope', which this "
                                       "mesh does not have"):
        HttpIngress(mesh, [HttpRoute("/*", "nope")])


def test_host_clients_bounds_the_calls_in_flight() -> None:
    """One mailbox, held by a request the server never answers: the next request waits
    for it, and its (shorter) deadline passes first."""
    routes = [HttpRoute("/slowly", "api", timeout_ms=100), HttpRoute("/*", "api",
                                                                     timeout_ms=800)]
    for ingress in _serving(GUESTS / "http_probe.wat", routes, host_clients=1):
        first: list[tuple[int, bytes]] = []
        conn = _conn(ingress)
        holder = threading.Thread(target=lambda c=conn, out=first: out.append(_get(c,
                                                                                "/silent")))
        holder.start()
        port = ingress.mesh.ports["api"]
        for _ in range(3000):  # until the server took the first request (bounded)
            if port.statistics().taken:
                break
            time.sleep(0.001)
        status, body = _get(_conn(ingress), "/slowly")
        assert status == 504 and b"no host mailbox of port 'api' came free within 100 ms: " \
            b"all 1 are busy; raise its host_clients" in body
        holder.join(30)
        assert first[0][0] == 504 and b"did not answer" in first[0][1]


def test_a_route_slower_than_the_last_bucket_stays_valid_json() -> None:
    """A browser's JSON.parse refuses Python's ``Infinity``: past the last bucket is null."""
    slow = RouteStats("/slow", "api")
    slow.record(200, 20.0)
    row = slow.as_dict()
    assert (row["p50_s"], row["p99_s"], row["requests"]) == (None, None, 1)
    json.dumps(row, allow_nan=False)  # raises on an infinity
    console = Console(width=120, record=True)
    for table in http_tables({"http": [row]}):
        console.print(table)
    assert "> 10 s" in console.export_text()
