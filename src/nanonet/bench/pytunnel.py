"""W1 and W2 from Python to Python through tunnels: ``nanonet-py``.

Two Python threads, each holding host endpoints of the same tunnels: no Wasm
service on either side. This is what a Python program gets from a tunnel
between two of its own threads. The GIL serialises the two threads (only
the parks in Wasm release it), so this row measures Python and its GIL as
much as the ring. W2 sends batches of 64 (``send_many``), as ``nanonet-host``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..errors import BenchError
from ..mesh import Mesh
from .pace import Checker, Pacer, message, seq_of

JOIN_TIMEOUT = 60.0
RECV_TIMEOUT = 10.0
BATCH = 64
Outcome = tuple[dict[str, float], list[int]]


class _Thread(threading.Thread):
    """A thread whose exception is handed to whoever joins it."""

    def __init__(self, body: Callable[[], None]) -> None:
        super().__init__(name="nanonet-py-far", daemon=True)
        self.body = body
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.body()
        except BaseException as err:  # handed over in finish()
            self.error = err

    def finish(self) -> None:
        self.join(JOIN_TIMEOUT)
        if self.is_alive():
            raise BenchError("the far thread did not finish in time")
        if self.error is not None:
            raise BenchError(f"the far thread failed: {self.error!r}") from self.error


def w1(count: int, size: int, warmup: int, interval_ns: int) -> Outcome:
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    with Mesh() as mesh:
        for name in ("ping", "pong"):
            mesh.tunnel(name, slots=64, max_payload=max(size, 64))
        out, back = mesh.writer("ping"), mesh.reader("pong")
        far_in, far_out = mesh.reader("ping"), mesh.writer("pong")

        def echo() -> None:
            for msg in far_in:
                far_out.send(msg, timeout=RECV_TIMEOUT)

        far = _Thread(echo)
        far.start()
        t0 = time.perf_counter()
        for i in range(-warmup, count):
            start = pacer.begin(i)
            out.send(message(i, size), timeout=RECV_TIMEOUT)
            got = back.recv(timeout=RECV_TIMEOUT)
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
            if seq_of(got) != i:
                raise BenchError(f"echo returned the wrong message at round {i}")
        seconds = time.perf_counter() - t0
        out.close()
        far.finish()
    return {"count": count, "seconds": seconds}, samples


def w2(count: int, size: int) -> Outcome:
    check = Checker(size)
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=4096 if size <= 256 else 512, max_payload=max(size, 64))
        out, into = mesh.writer("stream"), mesh.reader("stream")

        def sink() -> None:
            for msg in into:
                check.check(msg)

        far = _Thread(sink)
        pad = bytes(size - 8)
        far.start()
        t0 = time.perf_counter()
        for first in range(0, count, BATCH):
            batch = [s.to_bytes(8, "little", signed=True) + pad
                     for s in range(first, min(first + BATCH, count))]
            out.send_many(batch, timeout=RECV_TIMEOUT)
        out.close()
        far.finish()
        seconds = time.perf_counter() - t0
    return check.summary(count, seconds), []
