"""W2 from a Python host end, as records in one buffer, sync and asyncio.

``Records`` is what a program streaming fixed-size records writes: one
preallocated buffer of a batch of records (an ``array``; a numpy array
would do the same), the sequence numbers stored into it with one strided
assignment, and the whole batch handed over as one ``Packed``: no object per
message. ``w2_async`` is the ``nanonet-host-async`` row: the same stream from
an asyncio task (``asend_many``), with a 1 ms ticker on the same loop
counting how many of its ticks it kept while the tunnel streamed.
"""

from __future__ import annotations

import asyncio
import time
from array import array

from ..mesh import Mesh
from ..ring.packed import Packed
from .wasm_runs import Outcome, _exports, _finish, _stream_tunnel, guest

BATCH = 64  # messages per call, as the other host rows and the Wasm producer
TICK_S = 0.001
CALIBRATE_S = 0.2
SEND_TIMEOUT = 30.0


class Records:
    """A batch of ``size``-byte records, each starting with its sequence number."""

    def __init__(self, size: int) -> None:
        self.size, self.words = size, size // 8
        self.buf = array("q", bytes(BATCH * size))

    def batch(self, first: int, count: int) -> Packed:
        """Records ``first`` .. ``first + count - 1``, in the one buffer."""
        end = count * self.words
        self.buf[0:end:self.words] = array("q", range(first, first + count))
        return Packed.fixed(memoryview(self.buf)[:end], self.size)


class Ticker:
    """A task that sleeps 1 ms at a time and counts its ticks.

    Even on an idle loop it keeps fewer than one tick per millisecond of the
    loop's clock (asyncio's timers round the wait up to whole milliseconds,
    and the loop takes its own time), so it first runs alone on the same
    loop for ``CALIBRATE_S``: ``share`` is its tick rate beside the stream
    over that idle rate, the share of the ticks it would have had that the
    stream let it keep."""

    def __init__(self) -> None:
        self.idle_rate = 0.0
        self.rate = 0.0

    @staticmethod
    async def _ticks(stop: asyncio.Event | None, seconds: float) -> float:
        """Tick until ``stop`` is set (or ``seconds`` passed): ticks per second."""
        loop = asyncio.get_running_loop()
        t0, n = loop.time(), 0
        while not (stop.is_set() if stop else loop.time() - t0 >= seconds):
            await asyncio.sleep(TICK_S)
            n += 1
        return n / max(loop.time() - t0, TICK_S)

    async def calibrate(self) -> None:
        self.idle_rate = await self._ticks(None, CALIBRATE_S)

    async def run(self, stop: asyncio.Event) -> None:
        self.rate = await self._ticks(stop, 0.0)

    def share(self) -> float:
        return self.rate / self.idle_rate if self.idle_rate else 0.0


def w2_host(count: int, size: int) -> Outcome:
    """Python host writer -> Wasm checker, 64 records per ``send_many(Packed)``."""
    with Mesh() as mesh:
        _stream_tunnel(mesh, size)
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        _exports(check)["configure"](check.store, size)
        out = mesh.writer("stream")
        records = Records(size)
        mesh.start()
        t0 = time.perf_counter()
        for first in range(0, count, BATCH):
            out.send_many(records.batch(first, min(BATCH, count - first)), timeout=SEND_TIMEOUT)
        out.close()
        seconds = _finish(mesh, t0, check)
        received = _exports(check)["received"](check.store)
    return {"count": count, "received": received, "seconds": seconds}, []


def w2_async(count: int, size: int) -> Outcome:
    """The same stream from an asyncio task (``asend_many``), a 1 ms ticker beside it."""
    with Mesh() as mesh:
        _stream_tunnel(mesh, size)
        check = mesh.service("checker", guest("checker.wat"), reads=["stream"])
        _exports(check)["configure"](check.store, size)
        out = mesh.writer("stream")
        records, ticker = Records(size), Ticker()
        t0 = 0.0

        async def stream() -> None:
            await ticker.calibrate()
            stop = asyncio.Event()
            ticking = asyncio.create_task(ticker.run(stop))
            nonlocal t0
            t0 = time.perf_counter()  # the stream's time, not the calibration's
            for first in range(0, count, BATCH):
                await out.asend_many(records.batch(first, min(BATCH, count - first)))
            stop.set()
            await ticking

        mesh.start()
        asyncio.run(asyncio.wait_for(stream(), SEND_TIMEOUT * 10))
        out.close()
        seconds = _finish(mesh, t0, check)
        received = _exports(check)["received"](check.store)
    return {"count": count, "received": received, "seconds": seconds,
            "ticks_kept": ticker.share()}, []
