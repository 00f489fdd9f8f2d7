"""Where a bridged round trip's time goes: ``python -m nanonet.bench.bridge_hops``.

Arguments: ``[KIND [N [asyncio]]]``, KIND ``nats`` (default), ``quic`` or
``websocket``, N rounds (1000).

The ``bridge_rtt`` row's round trip (``bridge_bench``: a client thread, two
bridged tunnels, an echo thread in a far process) cut into six hops, on
loopback: each DATA frame is stamped when its pump hands it to the link
and when its transport puts it in the far link's inbox (``Stamped``), and
the echo thread writes its own stamp into the message. All stamps are
``perf_counter_ns``, the system's monotonic clock, one for both processes.
With ``asyncio`` the client and the echo are tasks on their pumps' loops
(``asend``/``arecv``) instead of threads. Printed: each hop's median, the
round trip's, and raw nats-py request/reply's measured in the same run,
for scale.
"""

from __future__ import annotations

import asyncio
import bisect
import struct
import sys
import time
from typing import Any

from ..bridge.inbox import Inbox
from ..bridge.natsd import NatsServer
from ..errors import TunnelClosed
from ..mesh import Mesh
from ..ring.endpoint import TunnelReader, TunnelWriter
from . import bridge_raw
from .bridge_check import FarEnds, Figures, port_of, result_of
from .bridge_links import RTT_SLOTS, Ends, dial
from .netpair import loopback

SIZE = 64
STAMPS = struct.Struct("<qqq")  # sequence, the client's send, the echo's
HOPS = ("near ring -> its pump sends", "transport, out", "far inbox -> echo thread",
        "echo thread -> its pump sends", "transport, back", "near inbox -> client")


class _StampedInbox(Inbox):
    def __init__(self, most: int, stamps: list[int]) -> None:
        super().__init__(most)
        self.stamps = stamps

    def put(self, data: bytes) -> bool:
        if len(data) >= SIZE:  # a DATA frame (acknowledgements are shorter)
            self.stamps.append(time.perf_counter_ns())
        return super().put(data)


class Stamped:
    """A link whose DATA frames are stamped as they are sent and as they arrive."""

    def __init__(self, link: Any, sent: list[int], arrived: list[int]) -> None:
        link.inbox = _StampedInbox(link.inbox.most, arrived)  # before anything arrives
        self.link, self.inbox, self.sent = link, link.inbox, sent

    async def send(self, data: bytes) -> None:
        if len(data) >= SIZE:
            self.sent.append(time.perf_counter_ns())
        await self.link.send(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.link, name)


def stamping(stamps: dict[str, list[int]]) -> Any:
    """``Ends.start``'s link wrapper: the sends and arrivals of every link, stamped."""
    return lambda link: Stamped(link, stamps.setdefault("sent", []),
                                stamps.setdefault("arrived", []))


def _stamp(msg: bytes) -> bytes:
    out = bytearray(msg)
    struct.pack_into("<q", out, 16, time.perf_counter_ns())
    return bytes(out)


def echo_stamped(r: TunnelReader, w: TunnelWriter) -> Figures:
    """The far echo, writing when it got each message into the message."""
    echoed = 0
    try:
        for msg in r:
            w.send(_stamp(msg), timeout=60)
            echoed += 1
    finally:
        w.close()
    return {"echoed": echoed}


async def echo_stamped_async(r: TunnelReader, w: TunnelWriter) -> None:
    """``echo_stamped`` as an asyncio task (``arecv``/``asend``)."""
    try:
        while True:
            try:
                msg = await r.arecv()
            except TunnelClosed:
                return
            await w.asend(_stamp(msg))
    finally:
        w.close()


Rounds = list[tuple[int, int, int]]  # the client's send, the echo's stamp, the client's receive


def _client(w: TunnelWriter, r: TunnelReader, rounds: int) -> Rounds:
    out = []
    for i in range(-bridge_raw.WARMUP, rounds):
        t0 = time.perf_counter_ns()
        w.send(STAMPS.pack(i, t0, 0) + bytes(SIZE - STAMPS.size), timeout=10)
        back = r.recv(timeout=10)
        if i >= 0:
            out.append((t0, STAMPS.unpack_from(back)[2], time.perf_counter_ns()))
    w.close()
    return out


async def _client_async(w: TunnelWriter, r: TunnelReader, rounds: int) -> Rounds:
    """``_client`` as an asyncio task on the pumps' loop."""
    out = []
    for i in range(-bridge_raw.WARMUP, rounds):
        t0 = time.perf_counter_ns()
        await w.asend(STAMPS.pack(i, t0, 0) + bytes(SIZE - STAMPS.size))
        back = await r.arecv()
        if i >= 0:
            out.append((t0, STAMPS.unpack_from(back)[2], time.perf_counter_ns()))
    w.close()
    return out


def _after(stamps: list[int], t: int) -> int:
    i = bisect.bisect_left(stamps, t)
    return stamps[i] if i < len(stamps) else t


def hops(rounds: list[tuple[int, int, int]], near: dict[str, list[int]],
         far: dict[str, list[int]]) -> dict[str, list[int]]:
    """Each round cut at the first stamp of each step after the step before."""
    out: dict[str, list[int]] = {h: [] for h in HOPS}
    for t0, echo, t9 in rounds:
        s1 = _after(near["sent"], t0)
        a1 = _after(far["arrived"], s1)
        s2 = _after(far["sent"], echo)
        a2 = _after(near["arrived"], s2)
        for hop, ns in zip(HOPS, (s1 - t0, a1 - s1, echo - a1, s2 - echo, a2 - s2, t9 - a2),
                           strict=True):
            out[hop].append(ns)
    return out


async def _bridged(far_ends: FarEnds, kind: str, n: int,
                   tasks: bool) -> tuple[dict[str, list[int]], list[int]]:
    place, url = far_ends.place, far_ends.url
    near: dict[str, list[int]] = {"sent": [], "arrived": []}
    with far_ends.job(kind, "hops-async" if tasks else "hops", SIZE) as far, Mesh() as mesh:
        for name in ("req", "rep"):
            mesh.tunnel(name, slots=RTT_SLOTS, max_payload=SIZE)
        links = await dial(kind, ["req", "rep"], url, place.far_addr, port_of(far))
        ends = Ends(mesh, kind, {"req"}, stamping(near))
        for name in ("req", "rep"):
            ends.start(name, links[name])
        await ends.opened(["req", "rep"])
        w, r = mesh.writer("req"), mesh.reader("rep")
        rounds = await (_client_async(w, r, n) if tasks else asyncio.to_thread(_client, w, r, n))
        await ends.finished()
        far_stamps = await asyncio.to_thread(result_of, far)
        await links.close()
    return hops(rounds, near, far_stamps), [t9 - t0 for t0, _, t9 in rounds]


async def _raw(far_ends: FarEnds, n: int) -> list[int]:
    with far_ends.job("nats-py", "echo", SIZE) as far:
        times, _ = await bridge_raw.nats_rtt(far_ends.url, n, SIZE)
        await asyncio.to_thread(result_of, far)
    return times


def _median_us(values: list[int]) -> float:
    return sorted(values)[len(values) // 2] / 1e3 if values else 0.0


def main(argv: list[str]) -> int:
    kind = argv[0] if argv else "nats"
    n = int(argv[1]) if len(argv) > 1 else 1000
    tasks = argv[2:3] == ["asyncio"]
    with NatsServer() as server, FarEnds(loopback("bridge_hops"), server.url) as far:
        cut, total = asyncio.run(_bridged(far, kind, n, tasks))
        raw = asyncio.run(_raw(far, n))
    for hop, ns in cut.items():
        print(f"{hop:30} {_median_us(ns):9.1f} us median")
    ends = "asyncio tasks" if tasks else "threads"
    print(f"{'round trip, ' + kind + ' bridge':30} {_median_us(total):9.1f} us median "
          f"({n} rounds of {SIZE} B; client and echo: {ends})")
    print(f"{'raw nats-py request/reply':30} {_median_us(raw):9.1f} us median")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
