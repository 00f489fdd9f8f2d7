"""W1 and W2 over NATS (nats-py) through a real nats-server on 127.0.0.1.

As nats-py's docs show: W1 is request/reply (``nc.request`` against a
subscriber that ``msg.respond``s), W2 is publish/subscribe with a callback.
Core NATS drops messages for a slow consumer, so W2 adds flow control, as
the tunnels have their bounded rings: every ``WINDOW`` messages the
publisher sends a request on the same subject (same order) and waits for the
subscriber's answer. A payload shorter than 8 bytes is control: ``ack``,
``end`` (answered with the counts). The server and the far process run
only for one run and are always reaped.
"""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import nats

from ..errors import BenchError
from . import natsserver
from .pace import Checker, Pacer, message, seq_of
from .procs import server

SUBJECT = "nanonet.bench"
WINDOW = 4096
TIMEOUT = 30.0
FAR_TIMEOUT = 300.0  # a far end outlives no run
_COUNTS = struct.Struct("<qq")
Outcome = tuple[dict[str, float], list[int]]


async def _serve(workload: str, size: int, url: str) -> None:
    nc = await nats.connect(url)
    done = asyncio.Event()
    check = Checker(size)

    async def on_msg(msg: Any) -> None:
        if workload == "w1" or len(msg.data) < 8:
            if msg.data in (b"", b"end"):
                done.set()
            await msg.respond(msg.data if workload == "w1" else
                              _COUNTS.pack(check.received, check.errors))
        else:
            check.check(msg.data)

    await nc.subscribe(SUBJECT, cb=on_msg)
    await nc.flush()  # the subscription is known to the server before "ready"
    print("ready", flush=True)
    await asyncio.wait_for(done.wait(), timeout=FAR_TIMEOUT)
    await nc.drain()


def serve(workload: str, size: int, url: str) -> int:
    asyncio.run(_serve(workload, size, url))
    return 0


async def _w1(url: str, count: int, size: int, warmup: int, interval_ns: int) -> Outcome:
    nc = await nats.connect(url)
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    t0 = time.perf_counter()
    for i in range(-warmup, count):
        start = pacer.begin(i)
        reply = await nc.request(SUBJECT, message(i, size), timeout=TIMEOUT)
        if i >= 0:
            samples.append(time.perf_counter_ns() - start)
        if seq_of(reply.data) != i:
            raise BenchError(f"the responder returned the wrong message at round {i}")
    seconds = time.perf_counter() - t0
    await nc.request(SUBJECT, b"", timeout=TIMEOUT)
    await nc.drain()
    return {"count": count, "seconds": seconds}, samples


async def _w2(url: str, count: int, size: int) -> Outcome:
    nc = await nats.connect(url)
    pad = bytes(size - 8)
    t0 = time.perf_counter()
    for seq in range(count):
        await nc.publish(SUBJECT, seq.to_bytes(8, "little", signed=True) + pad)
        if seq % WINDOW == WINDOW - 1:
            await nc.request(SUBJECT, b"ack", timeout=TIMEOUT)
    reply = await nc.request(SUBJECT, b"end", timeout=TIMEOUT)
    seconds = time.perf_counter() - t0
    received, errors = _COUNTS.unpack(reply.data)
    await nc.drain()
    return {"count": count, "received": received, "errors": errors, "seconds": seconds}, []


def w1(count: int, size: int, warmup: int, interval_ns: int) -> Outcome:
    with natsserver.running() as url, server("nats", "w1", str(size), url):
        return asyncio.run(_w1(url, count, size, warmup, interval_ns))


def w2(count: int, size: int) -> Outcome:
    with natsserver.running() as url, server("nats", "w2", str(size), url):
        return asyncio.run(_w2(url, count, size))
