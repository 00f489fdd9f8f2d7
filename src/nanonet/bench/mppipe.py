"""W1 and W2 over ``multiprocessing`` pipes: what a Python user reaches for first.

``Pipe()`` gives two connections; the far end runs in a ``Process`` (spawn
start method, so nothing of the measuring process is inherited). Messages go
one per ``send_bytes``, as the module's docs show; the end of a run is an
empty message, after which a stream sink answers with its counts.
"""

from __future__ import annotations

import multiprocessing as mp
import struct
import time
from collections.abc import Callable
from multiprocessing.connection import Connection

from ..errors import BenchError
from .pace import Checker, Pacer, message, seq_of

JOIN_TIMEOUT = 30.0
_COUNTS = struct.Struct("<qq")
Outcome = tuple[dict[str, float], list[int]]


def _echo(conn: Connection) -> None:
    while data := conn.recv_bytes():
        conn.send_bytes(data)


def _sink(conn: Connection, size: int) -> None:
    check = Checker(size)
    while data := conn.recv_bytes():
        check.check(data)
    conn.send_bytes(_COUNTS.pack(check.received, check.errors))


def _far(target: Callable[..., None], *args: object) -> tuple[Connection, mp.process.BaseProcess]:
    near, far = mp.get_context("spawn").Pipe()
    proc = mp.get_context("spawn").Process(target=target, args=(far, *args), daemon=True)
    proc.start()
    far.close()
    return near, proc


def _reap(proc: mp.process.BaseProcess) -> None:
    proc.join(JOIN_TIMEOUT)
    if proc.is_alive():
        proc.kill()
        proc.join(JOIN_TIMEOUT)


def w1(count: int, size: int, warmup: int, interval_ns: int) -> Outcome:
    conn, proc = _far(_echo)
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    try:
        t0 = time.perf_counter()
        for i in range(-warmup, count):
            start = pacer.begin(i)
            conn.send_bytes(message(i, size))
            back = conn.recv_bytes()
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
            if seq_of(back) != i:
                raise BenchError(f"echo returned the wrong message at round {i}")
        seconds = time.perf_counter() - t0
        conn.send_bytes(b"")
    finally:
        _reap(proc)
    return {"count": count, "seconds": seconds}, samples


def w2(count: int, size: int) -> Outcome:
    conn, proc = _far(_sink, size)
    pad = bytes(size - 8)
    pack = struct.Struct("<q").pack
    try:
        t0 = time.perf_counter()
        for seq in range(count):
            conn.send_bytes(pack(seq) + pad)
        conn.send_bytes(b"")
        received, errors = _COUNTS.unpack(conn.recv_bytes())
        seconds = time.perf_counter() - t0
    finally:
        _reap(proc)
    return {"count": count, "received": received, "errors": errors, "seconds": seconds}, []
