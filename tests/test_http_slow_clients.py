"""Slow and stalled clients on real sockets against the WAT example's port.

The port has ONE host mailbox, so a client that could hold it for ever would
lock every later request out (504). A client that never reads its streamed
download, or that dribbles its head a byte at a time, is cut once it has been
quiet for ``idle_s``, and the next request is served.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nanonet.mesh import Mesh
from nanonet.web.routes import HttpRoute
from nanonet.web.server import HttpIngress, HttpLimits

WAT = (Path(__file__).resolve().parents[1] / "examples" / "http" / "hello.wat").read_text()
ROUTES = [HttpRoute("/api/download", "api", stream=True, timeout_ms=20000),
          HttpRoute("/api/*", "api", timeout_ms=20000)]
IDLE_S = 1.0


@pytest.fixture(scope="module")
def ingress() -> Iterator[HttpIngress]:
    with Mesh() as mesh:
        mesh.port("api", max_payload=4096, clients=0, host_clients=1)
        mesh.service("hello_wat", WAT, serves=["api"])
        mesh.start()
        with HttpIngress(mesh, ROUTES, limits=HttpLimits(idle_s=IDLE_S)) as served:
            yield served


def _get(ingress: HttpIngress, target: str) -> tuple[int, bytes]:
    assert ingress.address is not None
    conn = http.client.HTTPConnection(*ingress.address, timeout=30)
    conn.request("GET", target)
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def _stalled(ingress: HttpIngress, target: str) -> socket.socket:
    """A connection that asks for ``target`` and then reads nothing."""
    assert ingress.address is not None
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(ingress.address)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def test_a_client_that_never_reads_its_download_frees_the_mailbox(
        ingress: HttpIngress) -> None:
    stalled = _stalled(ingress, "/api/download?n=200000000")
    try:
        status, body = _get(ingress, "/api/after-a-stall")
        assert status == 200, body
        assert body.startswith(b"hello from wat: /api/after-a-stall")
    finally:
        stalled.close()


def test_the_stalled_download_is_cut_without_its_last_chunk(ingress: HttpIngress) -> None:
    stalled = _stalled(ingress, "/api/download?n=200000000")
    stalled.settimeout(30)
    try:
        _get(ingress, "/api/x")  # served once the stalled one is cut
        seen = b""
        while chunk := stalled.recv(1 << 20):
            seen += chunk
        assert seen.startswith(b"HTTP/1.1 200")
        assert not seen.endswith(b"0\r\n\r\n")  # cut: the client can tell it is incomplete
    finally:
        stalled.close()


def test_a_head_sent_a_byte_at_a_time_is_cut_at_idle_s(ingress: HttpIngress) -> None:
    assert ingress.address is not None
    s = socket.create_connection(ingress.address, timeout=30)
    head = b"GET /api/slow HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200 + b"\r\n\r\n"
    try:
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            for i in range(len(head)):
                s.sendall(head[i:i + 1])
                time.sleep(IDLE_S / 10)
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":  # the server closed it: no answer to a partial head
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                finally:
                    s.setblocking(True)
        status, _ = _get(ingress, "/api/after-slowloris")
        assert status == 200
    finally:
        s.close()
