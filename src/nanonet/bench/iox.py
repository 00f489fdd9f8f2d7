"""W1 and W2 over iceoryx2 publish-subscribe between two processes.

As iceoryx2's Python examples do: a node, a publish-subscribe service whose
payload is a ``ctypes.Structure``, ``loan_uninit`` / ``write_payload`` /
``send`` on one side and ``receive`` on the other. Its defaults drop samples
when a subscriber falls behind (safe overflow), so the service is built
lossless: no safe overflow, and a publisher that retries until delivered.
A subscriber polls once before the other side publishes, so that it is
connected. Both sides poll (a latency-minded user's choice); W1 uses a
``ping`` and a ``pong`` service, W2 one stream service plus ``pong`` for the
sink's counts. A sequence number of ``END`` ends a run.

A subscriber connects to a publisher created after it only at its next
``receive``; until then a lossless publisher whose buffer fills drops the
sample ("no connected receiver"). So a stream first sends ``HELLO`` and waits
for its echo: the far side has then received, and is connected.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import time
from typing import Any

import iceoryx2 as iox2

from ..errors import BenchError
from .pace import Checker, Pacer
from .procs import server

BUFFER = 256  # samples a subscriber may hold before the publisher must retry
DEADLINE_S = 30.0
YIELD_EVERY = 64  # failed polls between two sched_yield calls
END = -(1 << 62)  # below any warm-up round's sequence number
HELLO = END + 1  # a stream's handshake: echoed before the first message
Outcome = tuple[dict[str, float], list[int]]


def payload_type(size: int) -> type[ctypes.Structure]:
    """A fixed-size payload: the sequence number, then padding up to ``size``."""
    fields = [("seq", ctypes.c_int64), ("pad", ctypes.c_uint8 * (size - 8))]
    return type(f"Bench{size}", (ctypes.Structure,), {"_fields_": fields})


class Ends:
    """One process's node, publisher and subscriber for one run."""

    def __init__(self, tag: str, size: int, publish: str, subscribe: str) -> None:
        iox2.set_log_level_from_env_or(iox2.LogLevel.Error)  # no notice per process
        self.node = iox2.NodeBuilder.new().create(iox2.ServiceType.Ipc)
        self.type = payload_type(size)
        pub = self._service(f"nanonet-bench/{tag}/{publish}")
        self.pub = pub.publisher_builder().backpressure_strategy(
            iox2.BackpressureStrategy.RetryUntilDelivered).create()
        self.sub = self._service(f"nanonet-bench/{tag}/{subscribe}").subscriber_builder() \
            .buffer_size(BUFFER).create()
        self.sub.receive()  # connected before the other side publishes

    def _service(self, name: str) -> Any:
        return (self.node.service_builder(iox2.ServiceName.new(name))
                .publish_subscribe(self.type).enable_safe_overflow(False)
                .subscriber_max_buffer_size(BUFFER).open_or_create())

    def send(self, seq: int) -> None:
        self.pub.loan_uninit().write_payload(self.type(seq=seq)).send()

    def recv(self) -> int:
        """The next sample's sequence number, polling until one comes."""
        deadline = time.monotonic() + DEADLINE_S
        polls = 0
        while (sample := self.sub.receive()) is None:
            polls += 1
            if polls % YIELD_EVERY == 0:  # give the core away now and then, as c-ring
                os.sched_yield()
                if time.monotonic() > deadline:
                    raise BenchError("no iceoryx2 sample before the deadline")
        return int(sample.payload().contents.seq)


def serve(workload: str, size: int, tag: str) -> int:
    """The far end: echo ``ping`` to ``pong``, or check the stream and report."""
    ends = Ends(tag, size, "pong", "ping" if workload == "w1" else "stream")
    print("ready", flush=True)
    check = Checker(size)
    if workload != "w1":
        if (first := ends.recv()) != HELLO:
            raise BenchError(f"the stream began with {first}, not its handshake")
        ends.send(HELLO)
    while (seq := ends.recv()) != END:
        if workload == "w1":
            ends.send(seq)
        else:
            check.errors += seq != check.received
            check.received += 1
    ends.send(check.received)
    ends.send(check.errors)
    return 0


def w1(count: int, size: int, warmup: int, interval_ns: int) -> Outcome:
    tag = f"{os.getpid()}-{secrets.token_hex(4)}-w1"  # never a stale service of a reused pid
    samples: list[int] = []
    pacer = Pacer(interval_ns)
    with server("iox", "w1", str(size), tag):
        ends = Ends(tag, size, "ping", "pong")
        t0 = time.perf_counter()
        for i in range(-warmup, count):
            start = pacer.begin(i)
            ends.send(i)
            if ends.recv() != i:
                raise BenchError(f"echo returned the wrong message at round {i}")
            if i >= 0:
                samples.append(time.perf_counter_ns() - start)
        seconds = time.perf_counter() - t0
        ends.send(END)
        ends.recv(), ends.recv()
    return {"count": count, "seconds": seconds}, samples


def w2(count: int, size: int) -> Outcome:
    tag = f"{os.getpid()}-{secrets.token_hex(4)}-w2-{size}"
    with server("iox", "w2", str(size), tag):
        ends = Ends(tag, size, "stream", "pong")
        ends.send(HELLO)
        if ends.recv() != HELLO:
            raise BenchError("the far end did not echo the stream's handshake")
        t0 = time.perf_counter()
        for seq in range(count):
            ends.send(seq)
        ends.send(END)
        received, errors = ends.recv(), ends.recv()
        seconds = time.perf_counter() - t0
    return {"count": count, "received": received, "errors": errors, "seconds": seconds}, []
