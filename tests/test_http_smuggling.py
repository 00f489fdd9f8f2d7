"""Request smuggling and malformed framing against a stream route, on real sockets.

A request whose body's end two parsers could read differently (Content-Length
beside Transfer-Encoding, a repeated or unknown coding, a chunk size that is
not plain hex, chunk data without its CRLF) is refused with a 400 or 501 that
names the fix, and the connection is closed: the bytes after it are never
taken for a request of their own. Well-framed chunked bodies with extensions
and trailers keep the connection and the next pipelined request is served.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet.mesh import Mesh
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress

WAT = (Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.wat").read_text()
ROUTES = [HttpRoute("/api/up", "api", stream=True, timeout_ms=10000),
          HttpRoute("/api/*", "api", timeout_ms=10000)]
SMUGGLED = b"GET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def ingress() -> Iterator[HttpIngress]:
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=2)
        mesh.service("hello_wat", WAT, serves=["api"])
        mesh.start()
        with HttpIngress(mesh, ROUTES) as served:
            yield served


def _raw(ingress: HttpIngress, data: bytes) -> bytes:
    """Everything the server sends back until it closes (or 10 s of quiet)."""
    assert ingress.address is not None
    with socket.create_connection(ingress.address, timeout=10) as s:
        s.sendall(data)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except TimeoutError:
            pass
        return got


def _post(path: str, headers: bytes, body: bytes) -> bytes:
    return b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize(("path", "headers", "body", "status", "words"), [
    ("/api/up", b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", 400,
     b"send one of them"),
    ("/api/x", b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n", 501,
     b"send the body with a Content-Length"),
    ("/api/up", b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
     b"0\r\n\r\n", 501, b"sent 2 times"),
    ("/api/up", b"Transfer-Encoding: chunked, identity\r\n", b"0\r\n\r\n", 501,
     b"only chunked is accepted; send"),
    ("/api/up", b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n", 400,
     b"is not a hex length"),
    ("/api/up", b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n", 400,
     b"is not a hex length"),
    ("/api/up", b"Transfer-Encoding: chunked\r\n", b"1" * 20 + b"\r\nhello\r\n0\r\n\r\n", 400,
     b"at most 15 hex digits"),
    ("/api/up", b"Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n", 400,
     b"SIZE CRLF, SIZE bytes, CRLF"),
    ("/api/x", b"Content-Length: 5, 5\r\n", b"hello", 400, b"digits only"),
    ("/api/x", b"Content-Length: +5\r\n", b"hello", 400, b"digits only"),
    ("/api/x", b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!", 400, b"send one"),
])
def test_ambiguous_framing_is_refused_and_nothing_after_it_is_served(
        ingress: HttpIngress, path: str, headers: bytes, body: bytes, status: int,
        words: bytes) -> None:
    got = _raw(ingress, _post(path, headers, body) + SMUGGLED)
    assert got.startswith(f"HTTP/1.1 {status} ".encode()), got[:120]
    assert words in got and b"connection: close" in got
    assert got.count(b"HTTP/1.1 ") == 1 and b"smuggled" not in got


def test_chunk_extensions_and_trailers_keep_the_framing(ingress: HttpIngress) -> None:
    got = _raw(ingress, _post("/api/up", b"Transfer-Encoding: chunked\r\n",
                              b"5;name=value\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n")
               + SMUGGLED.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    first, _, rest = got.partition(b"HTTP/1.1 200 OK")[2].partition(b"HTTP/1.1 ")
    assert b"hello from wat: /api/up" in first  # the body fit the request form
    assert rest.startswith(b"200 ") and b"/api/smuggled" in rest  # framed: served as its own
