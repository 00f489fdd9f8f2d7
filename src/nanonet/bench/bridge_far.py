"""The far end of bridge rows: ``python -m nanonet.bench.bridge_far KIND URL HOST``.

KIND is a bridge (``nats``, ``quic``, ``websocket``: a mesh of its own and
the bridge's pumps) or a raw peer (``nats-py``, ``zmq``: ``bridge_raw``).
Each line on stdin is a job, ``ROLE SIZE``, run to its end before the next.
ROLE ``sink`` takes a stream and checks every sequence number; ``echo``
sends each message back; ``hops`` is an echo whose links and messages are
stamped (``bridge_hops``), ``hops-async`` the same as an asyncio task. URL
is the nats-server's (NATS kinds); HOST is where a listener binds (QUIC,
WebSocket, ZeroMQ), on a port that was free a moment before. A job prints
``ready PORT``, then its JSON figures (``bridge_check.SeqCheck``, the CPU
seconds spent and the UDP datagrams dropped since ready; an echo's count).
The process exits when stdin closes; a job gives up after ``TIMEOUT``
seconds of silence.
"""

from __future__ import annotations

import asyncio
import json
import sys

from ..bridge.natsd import free_port
from ..errors import TunnelClosed
from ..mesh import Mesh
from ..ring.endpoint import TunnelReader, TunnelWriter
from .bridge_check import Figures, SeqCheck, cpu_seconds, udp_drops
from .bridge_hops import echo_stamped, echo_stamped_async, stamping
from .bridge_links import RTT_SLOTS, STREAM_SLOTS, Ends, serve

TIMEOUT = 60.0


def _consume(r: TunnelReader, size: int) -> Figures:
    check = SeqCheck(size)
    while True:
        try:
            check.packed(r.recv_packed(timeout=TIMEOUT))
        except TunnelClosed:
            return check.summary()


def _echo_all(r: TunnelReader, w: TunnelWriter) -> Figures:
    echoed = 0
    try:
        for msg in r:
            w.send(msg, timeout=TIMEOUT)
            echoed += 1
    finally:
        w.close()
    return {"echoed": echoed}


_AT_READY = [0.0, 0]  # CPU seconds and UDP drops when ready: what came before is no row's


def _ready(port: int) -> None:
    _AT_READY[:] = [cpu_seconds(), udp_drops()]
    print(f"ready {port}", flush=True)


async def bridge_end(kind: str, role: str, size: int, url: str, host: str) -> Figures:
    """A mesh whose tunnels are bridged to the near end: a sink of ``t``,
    or an echo from ``req`` into ``rep``."""
    port = free_port(host)
    names = ["t"] if role == "sink" else ["req", "rep"]
    slots = STREAM_SLOTS.get(size, 1024) if role == "sink" else RTT_SLOTS
    with Mesh() as mesh:
        for name in names:
            mesh.tunnel(name, slots=slots, max_payload=size)
        stamps: dict[str, list[int]] = {"sent": [], "arrived": []}
        hops = role.startswith("hops")
        ends = Ends(mesh, kind, {"rep"}, stamping(stamps) if hops else None)
        links = await serve(kind, names, url, host, port, ends.start)
        _ready(port)
        if role == "sink":
            out = await asyncio.to_thread(_consume, mesh.reader("t"), size)
        elif role == "hops-async":  # the echo as a task on the pumps' loop
            await echo_stamped_async(mesh.reader("req"), mesh.writer("rep"))
        else:
            echo = echo_stamped if hops else _echo_all
            out = await asyncio.to_thread(echo, mesh.reader("req"), mesh.writer("rep"))
        out = stamps if hops else out
        await ends.finished()
        await links.close()
    return out


def job(kind: str, role: str, size: int, url: str, host: str) -> Figures:
    """One row's far end, from ``ready PORT`` to its figures."""
    out: Figures
    if kind in ("nats-py", "zmq"):
        from . import bridge_raw
        port = free_port(host)
        out = bridge_raw.far(kind, role, size, url, host, port, lambda: _ready(port))
    else:
        out = asyncio.run(bridge_end(kind, role, size, url, host))
    if role == "sink":
        out["cpu_s"] = cpu_seconds() - _AT_READY[0]
        out["udp_drops"] = udp_drops() - _AT_READY[1]
    return out


def main(argv: list[str]) -> int:
    kind, url, host = argv
    for line in sys.stdin:  # one job a line, until the near end closes stdin
        role, size = line.split()
        print(json.dumps(job(kind, role, int(size), url, host)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
