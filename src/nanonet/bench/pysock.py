"""W1 and W2 over Python sockets between two processes (loopback TCP, Unix).

The client runs in the measuring child; the server is a second process it
starts (``python -m nanonet.bench.child serve ...``), which prints its
address, serves one connection and exits by itself. A stream server checks
every sequence number and answers with what it counted once the client shuts
down its side, so the client's clock stops when the last message is checked.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import BenchError
from .pace import Pacer

SOCKET_TIMEOUT = 10.0
BATCH = 64  # stream messages per sendall, as the Wasm producer's batch
_REPLY = struct.Struct("<qq")  # received, errors
Outcome = tuple[dict[str, float], list[int]]


def _listen(kind: str, where: str) -> socket.socket:
    if kind == "tcp":
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))  # loopback only
    else:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(where)
    srv.listen(1)
    srv.settimeout(SOCKET_TIMEOUT)
    return srv


def _address(srv: socket.socket, kind: str) -> str:
    return str(srv.getsockname()[1]) if kind == "tcp" else str(srv.getsockname())


def _recv_exact(conn: socket.socket, view: memoryview) -> bool:
    """Fill ``view``; False on a clean end of stream before the first byte."""
    got = 0
    while got < len(view):
        n = conn.recv_into(view[got:])
        if n == 0:
            if got == 0:
                return False
            raise ConnectionError("stream ended inside a message")
        got += n
    return True


def _echo(conn: socket.socket, size: int) -> None:
    buf = bytearray(size)
    view = memoryview(buf)
    while _recv_exact(conn, view):
        conn.sendall(buf)


def _sink(conn: socket.socket, size: int) -> None:
    """Count and check messages until the client shuts down; reply with counts."""
    buf = bytearray(size * BATCH * 4)
    view = memoryview(buf)
    have = expect = errors = 0
    unpack = struct.Struct("<q").unpack_from
    while n := conn.recv_into(view[have:]):
        have += n
        whole = have - have % size
        for off in range(0, whole, size):
            errors += unpack(buf, off)[0] != expect
            expect += 1
        buf[: have - whole] = buf[whole:have]
        have -= whole
    conn.sendall(_REPLY.pack(expect, errors))


def serve(workload: str, kind: str, size: int, where: str) -> int:
    """The server process: print the address, serve one client, exit."""
    with _listen(kind, where) as srv:
        print(_address(srv, kind), flush=True)
        conn, _ = srv.accept()
    with conn:
        conn.settimeout(SOCKET_TIMEOUT)
        (_echo if workload == "w1" else _sink)(conn, size)
    return 0


@contextmanager
def _server(workload: str, kind: str, size: int) -> Iterator[socket.socket]:
    """Start the server process, connect to it, and always reap it."""
    with tempfile.TemporaryDirectory(prefix="nanonet-bench-") as tmp:
        where = os.path.join(tmp, "sock")
        cmd = [sys.executable, "-m", "nanonet.bench.child", "serve", workload, kind,
               str(size), where]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            addr = proc.stdout.readline().strip()
            if not addr:
                raise BenchError("the socket server did not start")
            yield _connect(kind, addr)
            proc.wait(timeout=SOCKET_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=SOCKET_TIMEOUT)


def _connect(kind: str, addr: str) -> socket.socket:
    if kind == "tcp":
        sock = socket.create_connection(("127.0.0.1", int(addr)), timeout=SOCKET_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(SOCKET_TIMEOUT)
        sock.connect(addr)
    return sock


def w1(kind: str, rounds: int, size: int, warmup: int, interval_ns: int = 0) -> Outcome:
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    with _server("w1", kind, size) as sock, sock:
        back = memoryview(bytearray(size))
        t0 = time.perf_counter()
        for i in range(-warmup, rounds):
            msg = struct.pack("<q", i) + bytes(size - 8)
            start = pacer.begin(i)
            sock.sendall(msg)
            _recv_exact(sock, back)
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
            if back[:8] != msg[:8]:
                raise BenchError(f"echo returned the wrong message at round {i}")
        seconds = time.perf_counter() - t0
        sock.shutdown(socket.SHUT_WR)
    return {"count": rounds, "seconds": seconds}, samples


def w2(kind: str, count: int, size: int) -> Outcome:
    pad = bytes(size - 8)
    with _server("w2", kind, size) as sock, sock:
        t0 = time.perf_counter()
        for first in range(0, count, BATCH):
            last = min(first + BATCH, count)
            sock.sendall(b"".join(struct.pack("<q", s) + pad for s in range(first, last)))
        sock.shutdown(socket.SHUT_WR)
        reply = memoryview(bytearray(_REPLY.size))
        if not _recv_exact(sock, reply):
            raise BenchError("the stream server closed without its counts")
        seconds = time.perf_counter() - t0
        received, errors = _REPLY.unpack(reply)
    return {"count": count, "received": received, "errors": errors, "seconds": seconds}, []
