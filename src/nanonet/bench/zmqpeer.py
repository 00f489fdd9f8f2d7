"""W1 and W2 over ZeroMQ (pyzmq): ``ipc://`` between processes, ``inproc://`` between threads.

As pyzmq's own examples do: W1 is REQ/REP (the far end echoes every request),
W2 is the PUSH/PULL pipeline, one message per ``send``. Both patterns are
lossless (a full PUSH queue blocks the sender). An empty message ends a run;
the sink then reports its counts (a line on stdout from a process, a field
from a thread). Every socket has send and receive timeouts, so no run hangs.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq

from ..errors import BenchError
from .pace import Checker, Pacer, message, seq_of
from .procs import server

TIMEOUT_MS = 10_000
Outcome = tuple[dict[str, float], list[int]]


def _socket(ctx: zmq.Context[Any], kind: int) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = ctx.socket(kind)
    for opt in (zmq.RCVTIMEO, zmq.SNDTIMEO):
        sock.setsockopt(opt, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 0)
    return sock


def _echo(sock: zmq.Socket[Any]) -> None:
    while True:
        msg = sock.recv()
        sock.send(msg)
        if not msg:
            return


def _sink(sock: zmq.Socket[Any], check: Checker) -> None:
    while msg := sock.recv():
        check.check(msg)


def serve(workload: str, size: int) -> int:
    """The far end of ``zmq-ipc``: bind, print the address, serve one run."""
    ctx = zmq.Context()
    with tempfile.TemporaryDirectory(prefix="nanonet-zmq-") as tmp:
        addr = f"ipc://{os.path.join(tmp, 'sock')}"
        sock = _socket(ctx, zmq.REP if workload == "w1" else zmq.PULL)
        sock.bind(addr)
        print(addr, flush=True)
        check = Checker(size)
        _echo(sock) if workload == "w1" else _sink(sock, check)
        print(check.received, check.errors, flush=True)
        ctx.destroy(linger=0)
    return 0


def _pingpong(sock: zmq.Socket[Any], count: int, size: int, warmup: int,
              interval_ns: int) -> Outcome:
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    t0 = time.perf_counter()
    for i in range(-warmup, count):
        start = pacer.begin(i)
        sock.send(message(i, size))
        back = sock.recv()
        if i >= 0:
            samples.append(time.perf_counter_ns() - start)
        if seq_of(back) != i:
            raise BenchError(f"echo returned the wrong message at round {i}")
    seconds = time.perf_counter() - t0
    sock.send(b"")
    sock.recv()
    return {"count": count, "seconds": seconds}, samples


def _stream(sock: zmq.Socket[Any], count: int, size: int,
            counts: Callable[[], tuple[int, int]]) -> Outcome:
    pad = bytes(size - 8)
    t0 = time.perf_counter()
    for seq in range(count):
        sock.send(seq.to_bytes(8, "little", signed=True) + pad)
    sock.send(b"")
    received, errors = counts()
    seconds = time.perf_counter() - t0
    return {"count": count, "received": received, "errors": errors, "seconds": seconds}, []


def ipc(workload: str, count: int, size: int, warmup: int = 0, interval_ns: int = 0) -> Outcome:
    """Client in this process, far end in another (``serve``)."""
    ctx = zmq.Context()
    try:
        with server("zmq", workload, str(size)) as far:
            sock = _socket(ctx, zmq.REQ if workload == "w1" else zmq.PUSH)
            sock.connect(far.ready)
            if workload == "w1":
                out = _pingpong(sock, count, size, warmup, interval_ns)
                far.counts()
                return out
            return _stream(sock, count, size, far.counts)
    finally:
        ctx.destroy(linger=0)


def inproc(workload: str, count: int, size: int, warmup: int = 0,
           interval_ns: int = 0) -> Outcome:
    """Client and far end as two threads sharing one context."""
    ctx = zmq.Context()
    far = _socket(ctx, zmq.REP if workload == "w1" else zmq.PULL)
    far.bind("inproc://nanonet-bench")
    check = Checker(size)
    body = (lambda: _echo(far)) if workload == "w1" else (lambda: _sink(far, check))
    thread = threading.Thread(target=body, name="zmq-far", daemon=True)
    thread.start()

    def counts() -> tuple[int, int]:
        thread.join(TIMEOUT_MS / 1000)
        return check.received, check.errors

    try:
        sock = _socket(ctx, zmq.REQ if workload == "w1" else zmq.PUSH)
        sock.connect("inproc://nanonet-bench")
        if workload == "w1":
            return _pingpong(sock, count, size, warmup, interval_ns)
        return _stream(sock, count, size, counts)
    finally:
        thread.join(TIMEOUT_MS / 1000)
        ctx.destroy(linger=0)
