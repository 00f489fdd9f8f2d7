"""The pattern rows over ZeroMQ: PUB/SUB fan-out, PUSH/PULL fan-in.

PUB/SUB: the publisher is an ``XPUB`` socket with ``XPUB_NODROP`` (a full
subscriber queue makes ``send`` wait instead of dropping, so the row is
lossless at the default high-water mark, as iceoryx2's RetryUntilDelivered)
and ``XPUB_VERBOSE`` (every subscription reaches it): it starts the stream
once it has read one subscription per subscriber, so no message goes to a
subscriber still joining. Each subscriber checks every sequence number; any
message lost anyway shows as ``lost`` in the figures. An empty message ends
a stream.

PUSH/PULL: writers tag each message with their number after the sequence
number; the reader checks each writer's sequence. Writers wait for one
``go`` so they start together, and stay connected until the reader has
read everything (a PUSH socket closed with messages queued behind a full
reader was seen to lose them here, linger or not). ``ipc://`` runs each far end in its own
process, ``inproc://`` in a thread of one process (one GIL).
"""

from __future__ import annotations

import functools
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import zmq

from ..errors import BenchError
from .crowd import crowd, go, wait_go
from .pace import Checker
from .zmqpeer import TIMEOUT_MS, _socket

Outcome = tuple[dict[str, float], list[int]]
_TAGGED = struct.Struct("<qq")  # sequence number, writer


def _publisher(ctx: zmq.Context[Any]) -> zmq.Socket[Any]:
    pub = _socket(ctx, zmq.XPUB)
    pub.setsockopt(zmq.XPUB_NODROP, 1)
    pub.setsockopt(zmq.XPUB_VERBOSE, 1)
    return pub


def _subscriber(ctx: zmq.Context[Any]) -> zmq.Socket[Any]:
    sub = _socket(ctx, zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    return sub


def _drain(sock: zmq.Socket[Any], check: Checker) -> None:
    while msg := sock.recv():
        check.check(msg)


def _publish(pub: zmq.Socket[Any], subscribers: int, count: int, size: int) -> float:
    """Wait for every subscription, stream ``count`` messages; the start time."""
    for _ in range(subscribers):
        if not pub.recv().startswith(b"\x01"):
            raise BenchError("the publisher read something other than a subscription")
    pad = bytes(size - 8)
    t0 = time.perf_counter()
    for seq in range(count):
        pub.send(seq.to_bytes(8, "little", signed=True) + pad)
    pub.send(b"")
    return t0


def _fanout_figures(count: int, subscribers: int, counts: list[tuple[int, int]],
                    seconds: float) -> dict[str, float]:
    received = sum(c[0] for c in counts)
    return {"count": count * subscribers, "received": received,
            "errors": sum(c[1] for c in counts), "seconds": seconds,
            "lost": count * subscribers - received}


def subscriber_ipc(size: int) -> int:
    """One far end of the ipc fan-out: bind, print the address, check the stream."""
    ctx = zmq.Context()
    with tempfile.TemporaryDirectory(prefix="nanonet-zmq-") as tmp:
        addr = f"ipc://{os.path.join(tmp, 'sub')}"
        sub = _subscriber(ctx)
        sub.bind(addr)
        print(addr, flush=True)
        check = Checker(size)
        _drain(sub, check)
        print(check.received, check.errors, flush=True)
        ctx.destroy(linger=0)
    return 0


def fanout_ipc(count: int, size: int, subscribers: int) -> Outcome:
    """The publisher here, each subscriber a process it connects to."""
    ctx = zmq.Context()
    try:
        with crowd([("zmq-sub", size)] * subscribers) as far:
            pub = _publisher(ctx)
            for one in far:
                pub.connect(one.ready)
            t0 = _publish(pub, subscribers, count, size)
            counts = [one.counts() for one in far]
            seconds = time.perf_counter() - t0
        return _fanout_figures(count, subscribers, counts, seconds), []
    finally:
        ctx.destroy(linger=0)


def _threads(bodies: Sequence[Callable[[], None]]) -> list[threading.Thread]:
    threads = [threading.Thread(target=b, name=f"zmq-far-{i}", daemon=True)
               for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    return threads


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(TIMEOUT_MS / 1000)
        if t.is_alive():
            raise BenchError(f"{t.name} did not finish")


def fanout_inproc(count: int, size: int, subscribers: int) -> Outcome:
    """Publisher and subscribers as threads sharing one context."""
    ctx = zmq.Context()
    pub = _publisher(ctx)
    pub.bind("inproc://nanonet-fanout")
    checks = [Checker(size) for _ in range(subscribers)]
    socks = [_subscriber(ctx) for _ in range(subscribers)]
    for sock in socks:
        sock.connect("inproc://nanonet-fanout")
    bodies = [functools.partial(_drain, s, c) for s, c in zip(socks, checks, strict=True)]
    threads = _threads(bodies)
    try:
        t0 = _publish(pub, subscribers, count, size)
        _join(threads)
        seconds = time.perf_counter() - t0
    finally:
        ctx.destroy(linger=0)
    counts = [(c.received, c.errors) for c in checks]
    return _fanout_figures(count, subscribers, counts, seconds), []


def _write(sock: zmq.Socket[Any], writer: int, count: int, size: int) -> None:
    pad = bytes(size - _TAGGED.size)
    for seq in range(count):
        sock.send(_TAGGED.pack(seq, writer) + pad)
    sock.send(b"")


def _read(sock: zmq.Socket[Any], writers: int, size: int) -> dict[str, float]:
    """Read until every writer has ended; check each writer's sequence."""
    expect = [0] * writers
    ended = errors = 0
    while ended < writers:
        msg = sock.recv()
        if not msg:
            ended += 1
            continue
        seq, writer = _TAGGED.unpack_from(msg)
        if len(msg) != size or not 0 <= writer < writers or seq != expect[writer]:
            errors += 1
        else:
            expect[writer] += 1
    return {"received": float(sum(expect)), "errors": float(errors)}


def writer_ipc(addr: str, writer: int, count: int, size: int) -> int:
    """One far end of the ipc fan-in: connect, wait for go, write ``count``."""
    ctx = zmq.Context()
    sock = _socket(ctx, zmq.PUSH)
    sock.connect(addr)
    print("ready", flush=True)
    wait_go()
    _write(sock, writer, count, size)
    wait_go("done")  # a writer that disconnects early was seen to lose its queued tail
    ctx.destroy(linger=0)
    return 0


def fanin_ipc(count: int, size: int, writers: int) -> Outcome:
    """The reader here, each writer a process: ``count`` messages each."""
    ctx = zmq.Context()
    try:
        with tempfile.TemporaryDirectory(prefix="nanonet-zmq-") as tmp:
            addr = f"ipc://{os.path.join(tmp, 'pull')}"
            pull = _socket(ctx, zmq.PULL)
            pull.bind(addr)
            with crowd([("zmq-push", addr, w, count, size) for w in range(writers)]) as far:
                t0 = time.perf_counter()
                go(far)
                figures = _read(pull, writers, size)
                seconds = time.perf_counter() - t0
                go(far, "done")
        return {"count": count * writers, "seconds": seconds, **figures}, []
    finally:
        ctx.destroy(linger=0)


def fanin_inproc(count: int, size: int, writers: int) -> Outcome:
    """Reader and writers as threads sharing one context, released together."""
    ctx = zmq.Context()
    pull = _socket(ctx, zmq.PULL)
    pull.bind("inproc://nanonet-fanin")
    start = threading.Event()
    socks = [_socket(ctx, zmq.PUSH) for _ in range(writers)]
    for sock in socks:
        sock.connect("inproc://nanonet-fanin")

    def body(sock: zmq.Socket[Any], w: int) -> None:
        start.wait(TIMEOUT_MS / 1000)
        _write(sock, w, count, size)

    threads = _threads([functools.partial(body, s, w) for w, s in enumerate(socks)])
    try:
        t0 = time.perf_counter()
        start.set()
        figures = _read(pull, writers, size)
        seconds = time.perf_counter() - t0
        _join(threads)
    finally:
        ctx.destroy(linger=0)
    return {"count": count * writers, "seconds": seconds, **figures}, []
