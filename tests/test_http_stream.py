"""Stream routes over real sockets on 127.0.0.1, in front of the C example built with zig cc.

Bodies far over a port call (5 MiB through 64 KiB calls) cross in parts both
ways, with Content-Length and chunked framing; a client that hangs up
mid-upload or mid-download leaves the port's only host mailbox free and
clean for the next request; non-stream routes and the body limit still
answer 413.
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import GUESTS
from nanonet.mesh import Mesh
from nanonet.observe.metrics import exposition, registry
from nanonet.observe.snapshot import take
from nanonet.toolchain.build import build
from nanonet.web.forms import (
    MORE_BODY,
    BadReply,
    Reply,
    Request,
    decode_reply,
    encode_reply,
    encode_request,
)
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress, HttpLimits

EXAMPLE_C = Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.c"
EXAMPLE_WAT = EXAMPLE_C.with_name("hello.wat")
MIB = 1 << 20
BIG = 5 * MIB


@pytest.fixture(scope="module")
def wasm() -> bytes:
    return build(EXAMPLE_C).read_bytes()


def _serving(wasm: bytes, max_payload: int = 65536) -> Iterator[HttpIngress]:
    """The C example on port capi with ONE host mailbox: a mailbox left busy or
    mid-stream would fail the next request."""
    routes = [HttpRoute("/c/upload", "capi", stream=True, timeout_ms=5000),
              HttpRoute("/c/download", "capi", stream=True, timeout_ms=5000),
              HttpRoute("/c/*", "capi")]
    with Mesh() as mesh:
        mesh.port("capi", max_payload=max_payload, clients=0, host_clients=1)
        mesh.service("guest", wasm, serves=["capi"])
        mesh.start()
        with HttpIngress(mesh, routes, limits=HttpLimits(max_body_bytes=8 * MIB)) as ingress:
            yield ingress


@pytest.fixture
def capi(wasm: bytes) -> Iterator[HttpIngress]:
    yield from _serving(wasm)


def _conn(ingress: HttpIngress) -> http.client.HTTPConnection:
    assert ingress.address is not None
    return http.client.HTTPConnection(*ingress.address, timeout=30)


def fnv1a(data: bytes) -> str:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


def _upload(ingress: HttpIngress, body: bytes, chunked: bool = False) -> tuple[int, bytes]:
    c = _conn(ingress)
    try:
        if chunked:
            parts = (body[i:i + 100_000] for i in range(0, len(body), 100_000))
            c.request("POST", "/c/upload", body=parts, encode_chunked=True)
        else:
            c.request("POST", "/c/upload", body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def _body(n: int) -> bytes:
    return random.Random(n).randbytes(n)


def test_a_5_mib_upload_with_content_length_reaches_the_guest_whole(
        capi: HttpIngress) -> None:
    body = _body(BIG)
    status, answer = _upload(capi, body)
    assert (status, answer) == (200, f"bytes={BIG} fnv1a={fnv1a(body)}\n".encode())
    stats = next(s for s in capi.stats.as_list() if s["route"] == "/c/upload")
    first = 65536 - len(b"POST/c/upload") - 12  # roughly what the request form carried
    assert BIG - first - 2000 <= stats["streamed_bytes"] <= BIG
    [row] = [r for r in take(capi.mesh).http if r["route"] == "/c/upload"]
    assert row["streamed_bytes"] == stats["streamed_bytes"]
    text = exposition(registry(lambda: take(capi.mesh)), None)[0].decode()
    found = re.search(r'^nanonet_http_streamed_bytes_total\{port="capi",route="/c/upload"\} '
                      r'(\S+)$', text, re.M)
    assert found is not None and float(found[1]) == row["streamed_bytes"]


def test_a_5_mib_chunked_upload_reaches_the_guest_whole(capi: HttpIngress) -> None:
    body = _body(BIG + 7)
    status, answer = _upload(capi, body, chunked=True)
    assert (status, answer) == (200, f"bytes={BIG + 7} fnv1a={fnv1a(body)}\n".encode())


def test_a_5_mib_download_arrives_byte_for_byte_chunked(capi: HttpIngress) -> None:
    c = _conn(capi)
    c.request("GET", f"/c/download?n={BIG}")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("transfer-encoding") == "chunked"
    got = r.read()
    assert got == bytes(i % 251 for i in range(BIG))
    c.request("GET", "/c/download?n=3")  # the same keep-alive connection goes on
    assert c.getresponse().read() == b"\x00\x01\x02"
    c.close()


def test_an_http_1_0_download_is_close_delimited(capi: HttpIngress) -> None:
    assert capi.address is not None
    with socket.create_connection(capi.address, timeout=30) as s:
        s.sendall(b"GET /c/download?n=100000 HTTP/1.0\r\n\r\n")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head
    assert body == bytes(i % 251 for i in range(100_000))


def test_a_client_that_hangs_up_mid_upload_frees_the_mailbox(capi: HttpIngress) -> None:
    assert capi.address is not None
    with socket.create_connection(capi.address, timeout=30) as s:
        s.sendall(b"POST /c/upload HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % BIG)
        s.sendall(b"x" * MIB)
    body = _body(1000)  # the only mailbox, reset: the next upload counts from zero
    assert _upload(capi, body) == (200, f"bytes=1000 fnv1a={fnv1a(body)}\n".encode())


def test_a_client_that_hangs_up_mid_download_frees_the_mailbox(capi: HttpIngress) -> None:
    assert capi.address is not None
    with socket.create_connection(capi.address, timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /c/download?n=1000000000 HTTP/1.1\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    c = _conn(capi)
    c.request("GET", "/c/download?n=70000")
    assert c.getresponse().read() == bytes(i % 251 for i in range(70_000))
    c.close()


def test_a_non_stream_route_still_refuses_a_body_over_max_payload(capi: HttpIngress) -> None:
    c = _conn(capi)
    c.request("POST", "/c/hello", body=b"x" * 65_530)  # read, then over the form
    r = c.getresponse()
    assert r.status == 413 and b"max_payload (65536)" in r.read()
    c.close()


def test_a_body_over_any_port_call_is_refused_unread_off_stream_routes(
        capi: HttpIngress) -> None:
    c = _conn(capi)  # the head alone: nothing of the body is read into memory
    c.putrequest("POST", "/c/hello")
    c.putheader("Content-Length", str(BIG))
    c.endheaders()
    r = c.getresponse()
    assert r.status == 413 and r.getheader("connection") == "close"
    assert b"set stream = true on the route" in r.read()
    c.close()


def test_max_body_bytes_still_bounds_a_stream_route(capi: HttpIngress) -> None:
    c = _conn(capi)  # the head alone: the answer comes before any of the body is read
    c.putrequest("POST", "/c/upload")
    c.putheader("Content-Length", str(8 * MIB + 1))
    c.endheaders()
    r = c.getresponse()
    assert r.status == 413 and b"max_body_bytes (8388608)" in r.read()
    c.close()
    status, answer = _upload(capi, b"x" * (8 * MIB + 1), chunked=True)
    assert status == 413 and b"max_body_bytes (8388608)" in answer
    assert _upload(capi, b"ok") == (200, f"bytes=2 fnv1a={fnv1a(b'ok')}\n".encode())


def test_small_parts_carry_the_same_upload(wasm: bytes) -> None:
    """A 4 KiB port: a 1 MiB body takes ~260 calls on one mailbox, in order."""
    body = _body(MIB)
    for ingress in _serving(wasm, max_payload=4096):
        assert _upload(ingress, body, chunked=True) == (
            200, f"bytes={MIB} fnv1a={fnv1a(body)}\n".encode())


def test_the_forms_flag_more_parts() -> None:
    form = encode_request(Request(b"POST", b"/u", b"", [], b"ab"), more=True)
    assert form[0] == 1 | MORE_BODY and form.endswith(b"ab")
    flagged = encode_reply(Reply(200, [], b"first", more=True))
    assert decode_reply(flagged, stream=True) == Reply(200, [], b"first", True)
    with pytest.raises(BadReply, match="not a final status"):
        decode_reply(flagged)  # a route that does not stream: 502


def test_the_wat_example_counts_a_streamed_upload_per_mailbox() -> None:
    """Two uploads at once on two mailboxes of the hand-written WAT service."""
    routes = [HttpRoute("/api/*", "api", stream=True)]
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=2)
        mesh.service("guest", EXAMPLE_WAT.read_text(), serves=["api"])
        mesh.start()
        with HttpIngress(mesh, routes, limits=HttpLimits(max_body_bytes=8 * MIB)) as ingress:
            sizes = [MIB, 300_001]
            answers: list[tuple[int, bytes]] = []
            threads = [threading.Thread(target=lambda n=n: answers.append(
                _post(ingress, "/api/up", b"y" * n))) for n in sizes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert sorted(answers) == sorted(
                (200, f"hello from wat: {n} bytes streamed\n".encode()) for n in sizes)
            c = _conn(ingress)  # a bodyless request on the stream route: one whole form
            c.request("GET", "/api/x")
            assert c.getresponse().read() == b"hello from wat: /api/x #1\n"
            c.close()


def _post(ingress: HttpIngress, path: str, body: bytes) -> tuple[int, bytes]:
    c = _conn(ingress)
    try:
        c.request("POST", path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_a_guest_that_answers_early_ends_the_upload_and_the_connection(
        capi: HttpIngress) -> None:
    """?max= makes the C example answer 413 mid-body: the rest is never read."""
    assert capi.address is not None
    with socket.create_connection(capi.address, timeout=30) as s:
        s.sendall(b"POST /c/upload?max=100000 HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % BIG)
        s.sendall(b"z" * 300_000)  # a few parts; the client then waits for its answer
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ") and b"connection: close" in head
    assert body.startswith(b"over max=100000 after ")
    assert _upload(capi, b"next") == (200, f"bytes=4 fnv1a={fnv1a(b'next')}\n".encode())


def _raw(ingress: HttpIngress, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes; what came back."""
    assert ingress.address is not None
    with socket.create_connection(ingress.address, timeout=30) as s:
        s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    return got


def test_a_deadline_is_504_before_the_head_and_a_cut_after_it() -> None:
    """A guest that stalls mid-stream, on the port's only mailbox: each stall ends
    at the route's per-call deadline, and the mailbox serves the next request."""
    routes = [HttpRoute("/*", "api", stream=True, timeout_ms=300)]
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=1)
        mesh.service("guest", (GUESTS / "http_stream_stall.wat").read_text(), serves=["api"])
        mesh.start()
        with HttpIngress(mesh, routes, limits=HttpLimits(max_body_bytes=MIB)) as ingress:
            up = _raw(ingress, b"POST /up HTTP/1.1\r\nContent-Length: 20000\r\n\r\n"
                      + b"u" * 20_000)
            assert up.startswith(b"HTTP/1.1 504 ") and b"connection: close" in up
            down = _raw(ingress, b"GET /down HTTP/1.1\r\n\r\n")
            head, _, body = down.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding: chunked" in head
            assert body == b"1\r\nx\r\n"  # the first part, then the cut: no last chunk
            c = _conn(ingress)
            c.request("GET", "/ok")
            assert c.getresponse().read() == b"ok"
            c.close()


def test_a_method_a_stream_route_does_not_list_is_405(wasm: bytes) -> None:
    routes = [HttpRoute("/c/download", "capi", methods=("GET",), stream=True)]
    with Mesh() as mesh:
        mesh.port("capi", max_payload=4096, clients=0, host_clients=1)
        mesh.service("guest", wasm, serves=["capi"])
        mesh.start()
        with HttpIngress(mesh, routes) as ingress:
            c = _conn(ingress)
            c.request("DELETE", "/c/download")
            r = c.getresponse()
            assert (r.status, r.getheader("allow"), r.getheader("connection")) == (
                405, "GET", None)
            r.read()
            c.request("GET", "/c/download?n=5")  # the same connection goes on
            assert c.getresponse().read() == b"\x00\x01\x02\x03\x04"
            c.close()
