"""A far port call's round trip, over NATS and point to point.

``python -m nanonet.bench.cross_rtt [ROUNDS]`` prints the median round trip
of one 64-byte call, one at a time, host end to host end:

- ``nats request``: what ``bridge/crossport.py`` does (the caller's node
  serves the port and sends each call as one NATS request; the server's
  node answers it through a host mailbox);
- ``bridged tunnels``: the other design, two bridged tunnels (requests one
  way, replies the other) with the bridge's own framing, sessions and
  credit (``SendPump``/``ReceivePump``), one message each way per call;
- ``raw nats-py``: nats-py's own request/reply, for reference;
- ``stream (quic)`` and ``stream (websocket)``: what ``bridge/directport.py``
  does for nodes linked with ``--listen``/``--peer`` (one stream per port
  link, numbered calls and replies as DATA frames), over a real listener on
  127.0.0.1 (QUIC, or its WebSocket fallback alone).

The choice in docs/bridge.md ("Ports across nodes") rests on these figures.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent import futures
from pathlib import Path
from typing import Any

from ..bridge.crossport import CallAnswerer, CallForwarder
from ..bridge.directanswer import StreamAnswerer
from ..bridge.directport import StreamCallForwarder
from ..bridge.nats import NatsLink, NatsOptions, connect
from ..bridge.natsd import NatsServer, free_port
from ..bridge.node import cancel_the_rest
from ..bridge.pump import ReceivePump, SendPump
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader

MESSAGE = bytes(64)


def _median_us(rounds: int, once: Callable[[], object]) -> float:
    for _ in range(min(50, rounds)):
        once()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        once()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


class _Loop:
    """An asyncio loop on a thread of its own (the bridges' side)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def port_call(url: str, rounds: int) -> float:
    """The crossport path: caller's node -> NATS request -> server's node."""
    lp = _Loop()
    with Mesh() as caller, Mesh() as server:
        caller.port("rpc", max_payload=64, clients=0, host_clients=1)
        server.port("rpc", max_payload=64, clients=0, host_clients=1)
        server.serve("rpc", bytes)
        server.start()
        nc_c, nc_s = lp.run(connect(NatsOptions(url))), lp.run(connect(NatsOptions(url)))
        answerer = lp.run(CallAnswerer([server.client("rpc")]).start(nc_s, "bench.rpc"))
        fwd = CallForwarder(caller.rt, caller.ports["rpc"], nc_c, "bench.rpc", lp.loop).start()
        client = caller.client("rpc")
        try:
            return _median_us(rounds, lambda: client.call(MESSAGE, timeout=10))
        finally:
            fwd.stop()
            lp.run(answerer.stop())
            for nc in (nc_c, nc_s):
                lp.run(nc.close())
            fwd.release()
            server.stop()
            lp.stop()


def _bridge(lp: _Loop, nc_a: Any, nc_b: Any, a: Mesh, b: Mesh, name: str) -> list[Any]:
    """Tunnel ``name`` from mesh ``a`` to mesh ``b`` over one bridge: its pumps."""
    for m in (a, b):
        m.tunnel(name, slots=64, max_payload=64)
    t = a.tunnels[name]
    t.take(Direction.READ, "<bridge>")
    send = lp.run(NatsLink.sender(nc_a, "bench", name))
    recv = lp.run(NatsLink.receiver(nc_b, "bench", name))
    return [SendPump(PeekingReader(t.ring, t.control), send, name, b"k"),
            ReceivePump(b.writer(name, "<bridge>"), recv, name, b"k")]


def bridged_tunnels(url: str, rounds: int) -> float:
    """The other design: requests and replies as two bridged tunnels."""
    lp = _Loop()
    with Mesh() as a, Mesh() as b:
        nc_a, nc_b = lp.run(connect(NatsOptions(url))), lp.run(connect(NatsOptions(url)))
        pumps = _bridge(lp, nc_a, nc_b, a, b, "req") + _bridge(lp, nc_b, nc_a, b, a, "rep")
        tasks = [asyncio.run_coroutine_threadsafe(p.run(), lp.loop) for p in pumps]
        req_w, rep_r = a.writer("req"), a.reader("rep")
        req_r, rep_w = b.reader("req"), b.writer("rep")

        def echo_all() -> None:
            for m in req_r:
                rep_w.send(m)
        echo = threading.Thread(target=echo_all, daemon=True)
        echo.start()

        def once() -> bytes:
            req_w.send(MESSAGE)
            return rep_r.recv(timeout=10)
        try:
            return _median_us(rounds, once)
        finally:
            for task in tasks:
                task.cancel()
            futures.wait(tasks, timeout=5)
            for nc in (nc_a, nc_b):
                lp.run(nc.close())
            a.stop()
            b.stop()
            lp.stop()


def raw_nats(url: str, rounds: int) -> float:
    async def measure() -> float:
        nc_a, nc_b = await connect(NatsOptions(url)), await connect(NatsOptions(url))

        async def answer(msg: Any) -> None:
            await msg.respond(msg.data)
        await nc_b.subscribe("bench.raw", cb=answer)
        await nc_b.flush()
        times = []
        for i in range(rounds + 50):
            t0 = time.perf_counter_ns()
            await nc_a.request("bench.raw", MESSAGE, timeout=10)
            if i >= 50:
                times.append(time.perf_counter_ns() - t0)
        await nc_a.close()
        await nc_b.close()
        return statistics.median(times) / 1e3
    return asyncio.run(measure())


async def _listen(answerer: StreamAnswerer, port: int, folder: Path, quic: bool) -> Any:
    """A QUIC listener (or a WebSocket one alone) handing each stream to ``answerer``."""
    from ..bridge.quic import QuicListener, make_certificate
    from ..bridge.ws import WsListener

    def accept(name: str, link: Any) -> None:
        answerer.take(link)
    if quic:
        cert, key = make_certificate(folder)
        return await QuicListener("127.0.0.1", port, cert, key, accept).start()
    return await WsListener("127.0.0.1", port, accept).start()


def _opened(fwd: StreamCallForwarder) -> None:
    for _ in range(400):  # the WebSocket fallback first waits for QUIC (ws.QUIC_WAIT)
        if fwd.figures.state == "open":
            return
        time.sleep(0.05)
    raise TimeoutError(f"port link {fwd.link_name!r} did not open")


def port_stream(quic: bool, rounds: int) -> float:
    """The directport path: caller's node -> its stream -> server's node."""
    lp, port = _Loop(), free_port()
    with Mesh() as caller, Mesh() as server, tempfile.TemporaryDirectory() as folder:
        caller.port("rpc", max_payload=64, clients=0, host_clients=1)
        server.port("rpc", max_payload=64, clients=0, host_clients=1)
        server.serve("rpc", bytes)
        server.start()
        answerer = StreamAnswerer(CallAnswerer([server.client("rpc")]), "rpc@a", 64, b"k")
        listener = lp.run(_listen(answerer, port, Path(folder), quic))
        fwd = StreamCallForwarder(caller.rt, caller.ports["rpc"], "rpc@a", b"k", lp.loop).start()
        dial = asyncio.run_coroutine_threadsafe(fwd.run("127.0.0.1", port), lp.loop)
        client = caller.client("rpc")
        try:
            _opened(fwd)
            return _median_us(rounds, lambda: client.call(MESSAGE, timeout=10))
        finally:
            fwd.stop()
            dial.cancel()
            futures.wait([dial], timeout=5)
            lp.run(answerer.stop())
            listener.close()
            lp.run(cancel_the_rest())  # the listener's connections' tasks too
            fwd.release()
            server.stop()
            lp.stop()


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 2000
    with NatsServer() as srv:
        for name, fn in (("nats request", port_call), ("bridged tunnels", bridged_tunnels),
                         ("raw nats-py", raw_nats)):
            _say(name, fn(srv.url, rounds), rounds)
    for quic in (True, False):
        _say("stream (quic)" if quic else "stream (websocket)", port_stream(quic, rounds), rounds)
    return 0


def _say(name: str, us: float, rounds: int) -> None:
    print(f"{name:19} {us:9.1f} us median round trip ({rounds} calls of {len(MESSAGE)} B)")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
