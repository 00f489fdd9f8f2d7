"""The pattern rows over iceoryx2: 1 -> N publish-subscribe, request-response.

Publish-subscribe is built lossless as in ``iox``: no safe overflow, a
publisher that retries until delivered, and each subscriber created (and
polled once) before the publisher exists. The publisher then sends ``HELLO``
and waits until every subscriber has said on its stdout that it got it: all
are connected before the stream starts. Each subscriber is its own process,
checks every sequence number and prints its counts when ``END`` comes.

Request-response uses iceoryx2's own pattern: a server process that answers
each request with its sequence number, and a client that loans a request,
sends it and polls its pending response. Both sides poll, giving the core
away every ``YIELD_EVERY`` failed polls, as the other iceoryx2 rows do.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import iceoryx2 as iox2

from ..errors import BenchError
from .crowd import crowd
from .iox import BUFFER, DEADLINE_S, END, HELLO, YIELD_EVERY, payload_type
from .pace import Checker

Outcome = tuple[dict[str, float], list[int]]
T = TypeVar("T")


def _node() -> Any:
    iox2.set_log_level_from_env_or(iox2.LogLevel.Error)
    return iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)


def _poll(take: Callable[[], T | None]) -> T:
    """Poll ``take`` until it gives something, yielding now and then, up to a deadline."""
    deadline = time.monotonic() + DEADLINE_S
    polls = 0
    while (got := take()) is None:
        polls += 1
        if polls % YIELD_EVERY == 0:
            os.sched_yield()
            if time.monotonic() > deadline:
                raise BenchError("no iceoryx2 sample before the deadline")
    return got


def _stream(node: Any, tag: str, kind: type[Any], subscribers: int) -> Any:
    name = iox2.ServiceName.new(f"nanonet-bench/{tag}/fanout")
    return (node.service_builder(name).publish_subscribe(kind).enable_safe_overflow(False)
            .subscriber_max_buffer_size(BUFFER).max_subscribers(subscribers)
            .open_or_create())


def subscriber(size: int, tag: str, subscribers: int) -> int:
    """One far end of the fan-out: check the stream, print the counts."""
    kind = payload_type(size)
    service = _stream(_node(), tag, kind, subscribers)
    sub = service.subscriber_builder().buffer_size(BUFFER).create()
    sub.receive()  # connected before the publisher exists
    print("ready", flush=True)

    def seq() -> int:
        return int(_poll(sub.receive).payload().contents.seq)

    if (first := seq()) != HELLO:
        raise BenchError(f"the stream began with {first}, not its handshake")
    print("hello", flush=True)
    check = Checker(size)
    while (got := seq()) != END:
        check.errors += got != check.received
        check.received += 1
    print(check.received, check.errors, flush=True)
    return 0


def fanout(count: int, size: int, subscribers: int) -> Outcome:
    """One publisher, ``subscribers`` processes: every message to every one."""
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    kind = payload_type(size)
    node = _node()
    service = _stream(node, tag, kind, subscribers)  # created here: the far ends open it
    with crowd([("iox-sub", size, tag, subscribers)] * subscribers) as far:
        pub = service.publisher_builder().backpressure_strategy(
            iox2.BackpressureStrategy.RetryUntilDelivered).create()

        def send(seq: int) -> None:
            pub.loan_uninit().write_payload(kind(seq=seq)).send()

        send(HELLO)
        for one in far:
            if one.line() != "hello":
                raise BenchError("a subscriber did not get the handshake")
        t0 = time.perf_counter()
        for seq in range(count):
            send(seq)
        send(END)
        counts = [one.counts() for one in far]
        seconds = time.perf_counter() - t0
    return {"count": count * subscribers, "received": sum(c[0] for c in counts),
            "errors": sum(c[1] for c in counts), "seconds": seconds}, []


def _rr(node: Any, tag: str, size: int) -> Any:
    kind = payload_type(size)
    name = iox2.ServiceName.new(f"nanonet-bench/{tag}/rr")
    return node.service_builder(name).request_response(kind, kind).open_or_create()


def responder(size: int, tag: str) -> int:
    """The far end of request-response: answer every request with its number."""
    kind = payload_type(size)
    server = _rr(_node(), tag, size).server_builder().create()
    print("ready", flush=True)
    while True:
        request = _poll(server.receive)
        seq = int(request.payload().contents.seq)
        request.loan_uninit().write_payload(kind(seq=seq)).send()
        request.delete()
        if seq == END:
            return 0


def reqrep(count: int, size: int, warmup: int) -> Outcome:
    """One client, one server process: ``count`` timed round trips after ``warmup``."""
    tag = f"{os.getpid()}-{secrets.token_hex(4)}"
    kind = payload_type(size)
    samples: list[int] = []
    with crowd([("iox-rr", size, tag)]):
        client = _rr(_node(), tag, size).client_builder().create()

        def call(seq: int) -> int:
            pending = client.loan_uninit().write_payload(kind(seq=seq)).send()
            response = _poll(pending.receive)
            got = int(response.payload().contents.seq)
            response.delete()
            pending.delete()
            return got

        t0 = time.perf_counter()
        for i in range(-warmup, count):
            start = time.perf_counter_ns()
            if call(i) != i:
                raise BenchError(f"the server answered the wrong request at round {i}")
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
            elif i == -1:
                t0 = time.perf_counter()
        seconds = time.perf_counter() - t0
        call(END)
    return {"count": count, "seconds": seconds}, samples
