"""The bridge rows' links, both ends: NATS subjects, a QUIC stream, a WebSocket.

Each row bridges named tunnels between a near process and a far one. The
near end sends ``t`` (a stream) or ``req`` (round trip) and receives
``rep``; the far end the other way round. Over NATS each side makes its
links itself (the subjects name the direction); over QUIC and WebSocket
the near end dials the far end's listener, one stream (or one WebSocket)
per tunnel whichever way its messages go, and the listener hands each to
``on_link``, as ``bridge/direct.py`` does for nodes. The pumps are the
bridge's own (``SendPump``/``ReceivePump``), with the bridge's framing,
sessions, credit and acknowledgements.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..bridge.nats import NatsLink, NatsOptions, connect
from ..bridge.pump import ReceivePump, SendPump
from ..mesh import Mesh
from ..ring.adapter import Direction
from ..ring.peek import PeekingReader

KINDS = ("nats", "quic", "websocket")
MESH = "bridgebench"
TOKEN = b"bench"
SENT_BY_FAR = frozenset({"rep"})  # every other tunnel goes from the near end to the far end
STREAM_SLOTS = {64: 32768, 4096: 1024}  # a 2-4 MiB window, as a cross-machine tunnel's
RTT_SLOTS = 64
LINGER = 0.2  # seconds a receiver waits after the stream ended (the default 3 s adds nothing)
OnLink = Callable[[str, Any], None]


class Links:
    """One side's links by tunnel name, and what to close when the row is over."""

    def __init__(self) -> None:
        self.by_name: dict[str, Any] = {}
        self._closers: list[Callable[[], Any]] = []

    def __getitem__(self, name: str) -> Any:
        return self.by_name[name]

    async def close(self) -> None:
        for closer in reversed(self._closers):
            done = closer()
            if asyncio.iscoroutine(done):
                await done


def _nats_link(nc: Any, name: str, sends: bool) -> Any:
    make = NatsLink.sender if sends else NatsLink.receiver
    return make(nc, MESH, name)


async def dial(kind: str, names: list[str], url: str, host: str, port: int) -> Links:
    """The near end's links to the far end (its listener at ``host:port``)."""
    out = Links()
    if kind == "nats":
        nc = await connect(NatsOptions(url))
        out._closers.append(nc.close)
        for name in names:
            out.by_name[name] = await _nats_link(nc, name, name not in SENT_BY_FAR)
    elif kind == "quic":
        from ..bridge.quic import QuicDialer
        dialer = await QuicDialer(host, port, None).start()
        out._closers.append(dialer.close)
        out.by_name = {name: dialer.open(name) for name in names}
    else:
        from ..bridge.ws import dial_ws
        for name in names:
            link, reader = await dial_ws(host, port, name)
            out.by_name[name] = link
            out._closers += [reader.cancel, link.close]
    return out


async def serve(kind: str, names: list[str], url: str, host: str, port: int,
                on_link: OnLink) -> Links:
    """The far end: its NATS links at once, or a listener handing each link to ``on_link``."""
    out = Links()
    if kind == "nats":
        nc = await connect(NatsOptions(url))
        out._closers.append(nc.close)
        for name in names:
            on_link(name, await _nats_link(nc, name, name in SENT_BY_FAR))
    elif kind == "quic":
        from ..bridge.quic import QuicListener, make_certificate
        folder = tempfile.TemporaryDirectory(prefix="nanonet-bench-")
        cert, key = make_certificate(Path(folder.name), host)
        listener = await QuicListener(host, port, cert, key, on_link).start()
        out._closers += [folder.cleanup, listener.close]
    else:
        from ..bridge.ws import WsListener
        out._closers.append((await WsListener(host, port, on_link).start()).close)
    return out


class Ends:
    """One mesh's bridged tunnels: a ``SendPump`` for each it sends, a
    ``ReceivePump`` for each it receives, as tasks on the running loop."""

    def __init__(self, mesh: Mesh, kind: str, sends: set[str],
                 wrap: Callable[[Any], Any] | None = None) -> None:
        self.mesh, self.kind, self.sends, self.wrap = mesh, kind, sends, wrap
        self.pumps: dict[str, SendPump | ReceivePump] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, link: Any) -> None:
        """Pump tunnel ``name`` over ``link``: out of the ring or into it."""
        pump: SendPump | ReceivePump
        if self.wrap is not None:  # bridge_hops: a link that stamps what it carries
            link = self.wrap(link)
        if name in self.sends:
            t = self.mesh.tunnels[name]
            t.take(Direction.READ, "<bridge>")
            pump = SendPump(PeekingReader(t.ring, t.control), link, name, TOKEN)
        else:
            pump = ReceivePump(self.mesh.writer(name, "<bridge>"), link, name, TOKEN,
                               linger=LINGER, close_on_error=self.kind != "nats")
        self.pumps[name] = pump
        self.tasks[name] = asyncio.get_running_loop().create_task(pump.run())

    async def opened(self, names: list[str], timeout: float = 30.0) -> None:
        """Until every pump's session is open (the hello answered): a row's
        clock starts after the handshake, as the raw peers' after connecting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not all(n in self.pumps and self.pumps[n].session.state == "open" for n in names):
            for task in self.tasks.values():
                if task.done():
                    task.result()  # a pump that failed says why
            if loop.time() > deadline:
                raise TimeoutError(f"the {self.kind} bridge of {names} did not open in "
                                   f"{timeout:.0f} s")
            await asyncio.sleep(0.001)

    async def finished(self, timeout: float = 60.0) -> None:
        """Until every pump has ended (its stream closed and acknowledged)."""
        if self.tasks:
            await asyncio.wait_for(asyncio.gather(*self.tasks.values()), timeout)

    async def cancel(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
