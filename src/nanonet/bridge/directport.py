"""A port whose callers run on another node than its server, point to point.

With ``--listen``/``--peer`` each port link (``p@node``, ``crossplan``) is a
stream of its own: the callers' node dials the server's node as a tunnel's
sender does (QUIC, else WebSocket: ``ws.dial``), on a stream named after
the link, which carries the bridge's frames (``frames``):

- HELLO from the callers' node (the token, the link's name, the port's
  ``max_payload``), answered with WELCOME, or with REFUSE and the stream's
  close (a wrong token, or no such port link served there);
- each call: one DATA frame of one message, the request, its ``first_seq``
  the call's number on this stream;
- each reply: one DATA frame of one message back, with the call's number,
  ``[status u8][body]`` as over NATS (``crossport``: 0 and the reply, 1 and
  why the server's node could not answer).

Here: the framing both sides share, and the callers' side
(``StreamCallForwarder``); the server's side is ``directanswer``. The
server's node answers through ``CALLS_IN_FLIGHT`` host mailboxes at once,
so replies come back in any order; the number pairs each with its call.
Why a stream per port and not a pair of bridged tunnels: a call is one
message each way and its caller resends nothing (its own deadline decides),
so the sessions, credit and resume a tunnel needs to be exactly-once would
only add round trips. Nothing is sent again: a call whose stream is lost is
refused at once (its caller sees the refusal) and the link is dialed again;
a call taken while no stream is open (before the first dial answered, during
a dial again) waits for the next one, within its caller's deadline. A peer
that takes the stream but answers HELLO with nothing within
``HELLO_TIMEOUT`` has those calls refused, and is dialed again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from array import array
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BridgeProtocolError, BridgeRefused
from ..host.engine import Runtime
from ..ring import portlayout as P
from ..ring.port import Port
from . import frames as F
from .crossport import FAILED, FAR_TIMEOUT
from .linkstats import LinkStats
from .portstandin import PortStandIn

log = logging.getLogger(__name__)
REDIAL = 0.5  # seconds between two dials of a lost peer
HELLO_TIMEOUT = 5.0  # seconds a dialed stream has to answer HELLO (WELCOME or REFUSE)
POLL = 0.2  # seconds a reader waits on its inbox before it looks at the link again


def link_closed(link: Any) -> bool:
    """Has a QUIC stream been reset (or its connection closed), or a WebSocket closed?"""
    if getattr(link, "proto", None) is not None:
        return bool(link.closed)
    state = getattr(getattr(link, "ws", None), "state", None)
    return state is not None and state.name in ("CLOSING", "CLOSED")


async def release_dial(owner: Any) -> None:
    """Close a dial's QUIC connection, or cancel its WebSocket reader."""
    if isinstance(owner, asyncio.Task):
        owner.cancel()
        await asyncio.gather(owner, return_exceptions=True)
    elif owner is not None:
        await owner.close()


def message_frame(number: int, body: bytes) -> bytes:
    """A DATA frame of one message: a call or a reply, numbered."""
    return F.data(number, array("I", [len(body)]), body)


async def frames_of(link: Any, decoder: F.FrameDecoder) -> AsyncIterator[F.Frame]:
    """Every frame that arrives on ``link`` until it closes."""
    while not link_closed(link):
        await link.inbox.wait(POLL)
        while not link.inbox.empty():
            for frame in decoder.feed(link.inbox.take()):
                yield frame


def messages(frame: F.Frame, limit: int) -> list[tuple[int, bytes]]:
    """A DATA frame's numbered messages (anything else breaks the protocol)."""
    if frame.kind is not F.Kind.DATA:
        raise BridgeProtocolError(f"bridge peer broke the protocol: a {frame.kind.name} frame "
                                  "on a port's stream")
    b = F.parse_data(frame, limit)
    return [(b.first_seq + i, bytes(b.payload[b.bounds[i]:b.bounds[i + 1]]))
            for i in range(len(b.lengths))]


def reply_limit(max_payload: int) -> int:
    """The longest reply message: a status byte, then a reply or a reason."""
    return max(max_payload, F.MAX_REASON) + 1


@dataclass
class Figures:
    """What one port stream counted (``LinkStats`` as the snapshot lists them)."""

    state: str = "dialing"
    transport: str = "quic"
    sessions: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    rtt_s: float | None = None  # the last call's round trip (the callers' side)


def after(state: str) -> str:
    """A stream's state once it is over: ``ended`` when the bridge stops (its
    task cancelled), ``refused``, else ``waiting`` for the next one."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return "ended"
    return state if state == "refused" else "waiting"


def frame_size(frame: F.Frame) -> int:
    """The bytes a decoded frame took on the wire."""
    return F.HEADER.size + F.BODIES[frame.kind].size + len(frame.rest)


class Outgoing:
    """Frames for one link, sent in turn by one task: a stream carries whole
    frames one after another, whichever call or reply is ready first."""

    def __init__(self, link: Any, figures: Figures) -> None:
        self.link, self.figures = link, figures
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._run())

    def put(self, frame: bytes) -> None:
        self.figures.bytes_sent += len(frame)
        self.queue.put_nowait(frame)

    async def _run(self) -> None:
        while True:
            await self.link.send(await self.queue.get())

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class StreamCallForwarder(PortStandIn):
    """The callers' node: serve ``port`` by sending each call on the port
    link's stream to the server's node, and completing it with its reply."""

    def __init__(self, rt: Runtime, port: Port, link: str, token: bytes,
                 loop: asyncio.AbstractEventLoop, owner: str = "<bridge>") -> None:
        super().__init__(rt, port, owner, f"nanonet-call:{port.name}")
        self.link_name, self.token, self.loop = link, token, loop
        self.figures = Figures()
        self.out: Outgoing | None = None  # while welcomed
        self.waiting: dict[int, tuple[int, int, float, asyncio.TimerHandle]] = {}
        self.held: dict[int, bytes] = {}  # calls taken while no stream was open
        self.refused: str | None = None  # why the server's node refused this link
        self.numbers = 0

    def _open(self) -> bool:
        return super()._open() and not self.port.memory.u32(P.OFF_BROKEN)

    def forward(self, addr: int) -> None:
        taken = self.request(addr)
        if taken is not None:
            self.loop.call_soon_threadsafe(self._send, addr, *taken)
            self.forwarded += 1

    def _send(self, addr: int, call_id: int, request: bytes) -> None:
        """On the loop: the call onto the stream; held while there is none (until
        the link is dialed again, ``FAR_TIMEOUT`` or its caller's deadline);
        refused if the server's node refused the link."""
        if self.refused is not None:
            self.finish(addr, call_id, False, f"no link to the server's node: "
                        f"{self.refused}".encode())
            return
        n, self.numbers = self.numbers, self.numbers + 1
        timer = self.loop.call_later(FAR_TIMEOUT, self._answered, n, FAILED + b"no reply")
        self.waiting[n] = (addr, call_id, time.perf_counter(), timer)
        if self.out is None:
            self.held[n] = request
        else:
            self.out.put(message_frame(n, request))

    def _answered(self, number: int, reply: bytes) -> None:
        got = self.waiting.pop(number, None)
        self.held.pop(number, None)
        if got is None:
            return  # given up already (FAR_TIMEOUT), or a number never sent
        addr, call_id, t0, timer = got
        timer.cancel()
        self.figures.rtt_s = time.perf_counter() - t0
        self.finish(addr, call_id, reply[:1] == b"\x00", reply[1:])

    def _lost(self) -> None:
        """The stream is gone: every call sent on it is refused now (those held
        wait for the next one)."""
        for number in [n for n in self.waiting if n not in self.held]:
            self._answered(number, FAILED + b"the link to the server's node was lost")

    async def run(self, host: str, port: int, said: Callable[[str], None] | None = None,
                  cafile: Path | None = None) -> None:
        """Dial the server's node, serve calls over the stream; dial again when
        it is lost. ``said`` hears each dial's transport (and why it fell back)."""
        from .ws import dial
        while True:
            try:
                got = await dial(host, port, port, self.link_name, cafile)
            except OSError as err:
                log.info("port link %r: cannot reach %s:%d (%s); trying again",
                         self.link_name, host, port, err)
                await asyncio.sleep(REDIAL)
                continue
            if said is not None:
                said(got.transport + (f" ({got.reason})" if got.reason else ""))
            try:
                await self._session(got.link, got.transport)
            except BridgeProtocolError as err:
                log.warning("port link %r: %s; dialing again", self.link_name, err)
            finally:
                self._lost()
                await release_dial(got.owner)
            await asyncio.sleep(REDIAL)

    async def _session(self, link: Any, transport: str) -> None:
        fig, decoder = self.figures, F.FrameDecoder()
        fig.sessions += 1
        fig.state, fig.transport = "hello", transport
        hello = F.hello(F.VERSION, F.VERSION, self.port.geometry.max_payload, 0,
                        self.link_name.encode(), self.token)
        await link.send(hello)
        fig.bytes_sent += len(hello)
        try:
            async with asyncio.timeout(HELLO_TIMEOUT) as hello_wait:
                async for frame in frames_of(link, decoder):
                    fig.bytes_received += frame_size(frame)
                    self._on(frame, link)
                    if self.out is not None:
                        hello_wait.reschedule(None)  # welcomed: the calls' deadlines rule
        except TimeoutError:
            if not hello_wait.expired():
                raise
            self._unanswered()
        finally:
            fig.state = after(fig.state)
            if self.out is not None:
                await self.out.close()
                self.out = None

    def _unanswered(self) -> None:
        """The peer took the stream but never answered HELLO: refuse the
        calls waiting for it (they would wait out their deadlines), then dial
        again (BridgeProtocolError: ``run`` logs it)."""
        why = (f"the server's node took the port link {self.link_name!r} but did not answer "
               f"its HELLO within {HELLO_TIMEOUT:g} s: check that --peer names a nanonet "
               "node's --listen address")
        for number in list(self.held):
            self._answered(number, FAILED + why.encode())
        raise BridgeProtocolError(why)

    def _on(self, frame: F.Frame, link: Any) -> None:
        if frame.kind is F.Kind.WELCOME:
            self.figures.state, self.out = "open", Outgoing(link, self.figures)
            for number, request in self.held.items():
                self.out.put(message_frame(number, request))
            self.held.clear()
        elif frame.kind is F.Kind.REFUSE:
            _, why = F.parse_refuse(frame)
            self.figures.state, self.refused = "refused", why
            for number in list(self.waiting):
                self._answered(number, FAILED + f"refused: {why}".encode())
            raise BridgeRefused(f"the far side refused the port link {self.link_name!r}: "
                                f"{why}")
        else:
            for number, reply in messages(frame, reply_limit(self.port.geometry.max_payload)):
                self._answered(number, reply)

    def stats(self) -> LinkStats:
        fig = self.figures
        return LinkStats(self.link_name, "send", fig.transport, fig.state, fig.rtt_s,
                         len(self.waiting), 0, max(0, fig.sessions - 1), 0, fig.bytes_sent,
                         fig.bytes_received)
