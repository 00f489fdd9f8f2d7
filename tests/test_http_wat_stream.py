"""The WAT example streams a response, and a malformed response part cuts the connection.

``hello.wat`` serves ``GET /api/download?n=N`` on a stream route in response
parts (byte i is i % 251, as ``hello.c``'s ``/c/download``), and answers
``/api/badpart``'s first next call with a part whose first byte is 2 (neither
"last" nor "more"). The port has ONE host mailbox: a request after the cut
connection is served only if the ingress ended the guest's side (the abort
call) and gave the mailbox back.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet.mesh import Mesh
from nanonet.observe.snapshot import take
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress

WAT = (Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.wat").read_text()
ROUTES = [HttpRoute("/api/download", "api", stream=True, timeout_ms=5000),
          HttpRoute("/api/badpart", "api", stream=True, timeout_ms=5000),
          HttpRoute("/api/*", "api", timeout_ms=5000)]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Mesh, HttpIngress]]:
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=1)
        mesh.service("hello_wat", WAT, serves=["api"])
        mesh.start()
        with HttpIngress(mesh, ROUTES) as ingress:
            yield mesh, ingress


def _request(ingress: HttpIngress, method: str, target: str,
             ) -> tuple[http.client.HTTPResponse, bytes]:
    assert ingress.address is not None
    conn = http.client.HTTPConnection(*ingress.address, timeout=30)
    conn.request(method, target)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def expected(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("n", [1, 4095, 4096, 100_000])
def test_the_wat_service_streams_a_download_in_parts(
        served: tuple[Mesh, HttpIngress], n: int) -> None:
    resp, body = _request(served[1], "GET", f"/api/download?n={n}")
    assert resp.status == 200 and resp.getheader("transfer-encoding") == "chunked"
    assert resp.getheader("content-type") == "application/octet-stream"
    assert body == expected(n)


def test_an_empty_download_is_one_unflagged_reply(served: tuple[Mesh, HttpIngress]) -> None:
    resp, body = _request(served[1], "GET", "/api/download")
    assert resp.status == 200 and resp.getheader("content-length") == "0" and body == b""


def test_a_head_of_a_download_ends_the_stream_and_the_mailbox_serves_on(
        served: tuple[Mesh, HttpIngress]) -> None:
    resp, body = _request(served[1], "HEAD", "/api/download?n=50000")
    assert resp.status == 200 and body == b""
    assert _request(served[1], "GET", "/api/download?n=9000")[1] == expected(9000)


def test_a_malformed_response_part_cuts_the_connection_and_the_next_request_works(
        served: tuple[Mesh, HttpIngress]) -> None:
    mesh, ingress = served
    assert ingress.address is not None
    with socket.create_connection(ingress.address, timeout=30) as sock:
        sock.sendall(b"GET /api/badpart HTTP/1.1\r\nhost: x\r\n\r\n")
        got = b""
        while chunk := sock.recv(65536):  # until the ingress closes it
            got += chunk
    head, _, rest = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head
    assert rest == b""  # no part and no last chunk: the client sees the body cut short
    assert _request(ingress, "GET", "/api/download?n=5000")[1] == expected(5000)
    assert _request(ingress, "GET", "/api/hello")[1].startswith(b"hello from wat: /api/hello")
    [route] = [r for r in take(mesh).http if r["route"] == "/api/badpart"]
    assert route["codes"] == {"200": 1}  # the head was written before the part failed
