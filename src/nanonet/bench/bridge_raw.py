"""The raw peers of the bridge rows, both ends: nats-py and ZeroMQ over TCP.

As their docs show: nats-py publishes one NATS message per message to a
subscriber (callback) on another connection, and does request/reply
(``nc.request`` against a subscriber that ``msg.respond``s); ZeroMQ streams
with PUSH/PULL and does REQ/REP, over ``tcp://``. Core NATS has no flow
control, so a slow subscriber may lose messages: the sink counts what came
(``lost``) rather than waiting for all. A message shorter than 8 bytes ends
a run. The far ends run in a process of their own (``bridge_far``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .bridge_check import Figures, SeqCheck
from .pace import message, seq_of


async def _connect(url: str) -> Any:
    """nats-py, imported here: the bench's other rows (and the CLI) run without the net extra."""
    import nats

    return await nats.connect(url)


STREAM, RTT = "bridgebench.raw.stream", "bridgebench.raw.rtt"
END = b"end"
TIMEOUT = 60.0
TIMEOUT_MS = int(TIMEOUT * 1000)
WARMUP = 20


# -- far ends ---------------------------------------------------------------

async def _nats_far(role: str, size: int, url: str, ready: Callable[[], None]) -> Figures:
    nc = await _connect(url)
    check, done, echoed = SeqCheck(size), asyncio.Event(), [0]

    async def on_stream(msg: Any) -> None:
        if len(msg.data) < 8:
            done.set()
        else:
            check.one(msg.data)

    async def on_rtt(msg: Any) -> None:
        await msg.respond(msg.data)
        echoed[0] += 1
        if len(msg.data) < 8 and msg.data == END:
            done.set()

    if role == "sink":
        await nc.subscribe(STREAM, cb=on_stream, pending_msgs_limit=-1, pending_bytes_limit=-1)
    else:
        await nc.subscribe(RTT, cb=on_rtt)
    await nc.flush()  # the subscription is known to the server before "ready"
    ready()
    await asyncio.wait_for(done.wait(), TIMEOUT * 5)
    await nc.close()
    return check.summary() if role == "sink" else {"echoed": echoed[0]}


def _zmq_far(role: str, size: int, host: str, port: int, ready: Callable[[], None]) -> Figures:
    import zmq

    from .zmqpeer import _socket
    ctx = zmq.Context()
    try:
        sock = _socket(ctx, zmq.PULL if role == "sink" else zmq.REP)
        sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
        sock.bind(f"tcp://{host}:{port}")
        ready()
        if role == "sink":
            check = SeqCheck(size)
            while len(msg := sock.recv()) >= 8:
                check.one(msg)
            return check.summary()
        echoed = 0
        while True:
            msg = sock.recv()
            sock.send(msg)
            echoed += 1
            if len(msg) < 8:
                return {"echoed": echoed}
    finally:
        ctx.destroy(linger=0)


def far(kind: str, role: str, size: int, url: str, host: str, port: int,
        ready: Callable[[], None]) -> Figures:
    if kind == "nats-py":
        return asyncio.run(_nats_far(role, size, url, ready))
    return _zmq_far(role, size, host, port, ready)


# -- near ends ----------------------------------------------------------------

async def nats_stream(url: str, n: int, size: int) -> float:
    """Publish ``n`` messages, then the end; the time of the first send."""
    nc = await _connect(url)
    pad = bytes(size - 8)
    t0 = time.perf_counter()
    for i in range(n):
        await nc.publish(STREAM, i.to_bytes(8, "little", signed=True) + pad)
    await nc.publish(STREAM, END)
    await nc.flush()
    await nc.close()
    return t0


async def nats_rtt(url: str, rounds: int, size: int) -> tuple[list[int], int]:
    """``rounds`` requests one at a time: each round trip in ns, and wrong answers."""
    nc = await _connect(url)
    await _answered(nc)
    times, errors = [], 0
    for i in range(-WARMUP, rounds):
        t0 = time.perf_counter_ns()
        reply = await nc.request(RTT, message(i, size), timeout=TIMEOUT)
        if i >= 0:
            times.append(time.perf_counter_ns() - t0)
            errors += seq_of(reply.data) != i
    await nc.request(RTT, END, timeout=TIMEOUT)
    await nc.close()
    return times, errors


async def _answered(nc: Any) -> None:
    """Until the responder answers (the server may route to it a moment after its flush)."""
    for _ in range(50):
        try:
            await nc.request(RTT, message(-1, 8), timeout=1)
            return
        except Exception:  # nats-py's NoRespondersError or its timeout: ask again
            await asyncio.sleep(0.02)


def zmq_stream(host: str, port: int, n: int, size: int) -> float:
    import zmq

    from .zmqpeer import _socket
    ctx = zmq.Context()
    try:
        sock = _socket(ctx, zmq.PUSH)
        sock.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
        sock.connect(f"tcp://{host}:{port}")
        pad = bytes(size - 8)
        t0 = time.perf_counter()
        for i in range(n):
            sock.send(i.to_bytes(8, "little", signed=True) + pad)
        sock.send(END)
        return t0
    finally:
        ctx.destroy(linger=TIMEOUT_MS)  # what is queued still goes out


def zmq_rtt(host: str, port: int, rounds: int, size: int) -> tuple[list[int], int]:
    import zmq

    from .zmqpeer import _socket
    ctx = zmq.Context()
    try:
        sock = _socket(ctx, zmq.REQ)
        sock.connect(f"tcp://{host}:{port}")
        times, errors = [], 0
        for i in range(-WARMUP, rounds):
            t0 = time.perf_counter_ns()
            sock.send(message(i, size))
            back = sock.recv()
            if i >= 0:
                times.append(time.perf_counter_ns() - t0)
                errors += seq_of(back) != i
        sock.send(END)
        sock.recv()
        return times, errors
    finally:
        ctx.destroy(linger=0)
