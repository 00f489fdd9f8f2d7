"""A port whose callers run on another node than its server: NATS request/reply.

On each caller's node the bridge serves the port (``CallForwarder``): it
takes each call from its mailbox and sends it as one NATS request on the
port's subject, with a reply inbox of its own, and completes the call with
the reply. Calls are pipelined: the forwarder takes the next call while
earlier ones are on the wire, so every mailbox of the port may have a call
in flight. On the server's node the bridge is a caller (``CallAnswerer``):
it answers each request through one of ``CALLS_IN_FLIGHT`` host mailboxes.

The deadline stays the caller's: a caller waits on its own mailbox with its
own timeout (``NN_TIMEOUT``, ``CallTimeout``) and abandons the call when it
passes; a reply after that finds the call abandoned and is dropped, counted
as late, exactly as beside the server. A request carries the caller's node
nothing else: the server's node gives each call ``FAR_TIMEOUT`` seconds.

Why NATS request/reply and not two bridged tunnels (docs/bridge.md): a call
is one message each way, the caller already resends nothing (a lost call
times out and the caller decides), and a request needs no session, credit
or resume to be correct; its round trip is one NATS hop each way. A reply
starts with a status byte: ``0`` and the reply, or ``1`` and why the server's
node could not answer (the call is then refused, and the caller sees it).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Any

from ..errors import CallTimeout, NanonetError
from ..host.engine import Runtime
from ..ring import portlayout as P
from ..ring.port import Port
from ..ring.portclient import PortClient
from .nats import subject_token, unsubscribe
from .portstandin import PortStandIn

log = logging.getLogger(__name__)
FAR_TIMEOUT = 30.0  # seconds the server's node gives one far call
OK, FAILED = b"\x00", b"\x01"


def call_subject(mesh: str, port: str) -> str:
    """The subject a port's far calls are requests on."""
    return f"nanonet.{subject_token(mesh)}.{subject_token(port)}.call"


class CallForwarder(PortStandIn):
    """A caller's node: serve ``port`` by forwarding each call over NATS.

    The calls are taken on a thread of its own (``PortStandIn``); the
    requests run on ``loop``, which completes each call, so a reply never
    waits for the next take."""

    def __init__(self, rt: Runtime, port: Port, nc: Any, subject: str,
                 loop: asyncio.AbstractEventLoop, owner: str = "<bridge>") -> None:
        super().__init__(rt, port, owner, f"nanonet-call:{port.name}")
        self.nc, self.subject, self.loop = nc, subject, loop
        self.pending: set[Future[None]] = set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking calls; the ones on the wire end with their timeouts."""
        super().stop(timeout)
        for fut in list(self.pending):
            fut.cancel()

    def _open(self) -> bool:
        return super()._open() and not self.port.memory.u32(P.OFF_BROKEN)

    def forward(self, addr: int) -> None:
        taken = self.request(addr)
        if taken is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._call(addr, *taken), self.loop)
        self.pending.add(fut)
        fut.add_done_callback(self.pending.discard)
        self.forwarded += 1

    async def _call(self, addr: int, call_id: int, request: bytes) -> None:
        try:
            msg = await self.nc.request(self.subject, request, timeout=FAR_TIMEOUT)
            reply = bytes(msg.data)
        except Exception as err:  # nats-py's timeout or no responders: the call fails
            log.debug("port %r: a far call got no answer: %s", self.port.name, err)
            reply = FAILED + str(err).encode()
        self.finish(addr, call_id, reply[:1] == OK, reply[1:])


class CallAnswerer:
    """The server's node: each far call, through a host mailbox of the port."""

    def __init__(self, clients: list[PortClient]) -> None:
        self.free: asyncio.Queue[PortClient] = asyncio.Queue()
        for c in clients:
            self.free.put_nowait(c)
        self.answered = self.failed = 0
        self._sub: Any = None
        self._calls: set[asyncio.Task[None]] = set()  # answers in progress (stop cancels them)

    async def start(self, nc: Any, subject: str) -> CallAnswerer:
        self._sub = await nc.subscribe(subject, queue="nanonet", cb=self._arrived)  # once
        await nc.flush()
        return self

    async def _arrived(self, msg: Any) -> None:
        task = asyncio.ensure_future(self._answer(msg))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def reply_to(self, request: bytes) -> bytes:
        """The answer to one far call: ``OK`` and the server's reply, or
        ``FAILED`` and why (whatever carried the call carries it back)."""
        client = await self.free.get()
        try:
            reply = OK + await client.acall(request, FAR_TIMEOUT)
            self.answered += 1
        except (CallTimeout, NanonetError) as err:
            self.failed += 1
            reply = FAILED + str(err).encode()
        finally:
            self.free.put_nowait(client)
        return reply

    async def _answer(self, msg: Any) -> None:
        reply = await self.reply_to(msg.data)
        try:
            await msg.respond(reply)
        except Exception as err:  # nats-py's own errors: the caller times out
            log.debug("port reply dropped: %s", err)

    async def stop(self) -> None:
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        if self._sub is not None:
            await unsubscribe(self._sub)
            self._sub = None
