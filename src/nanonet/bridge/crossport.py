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
import threading
from concurrent.futures import Future
from typing import Any

from ..errors import CallTimeout, NanonetError
from ..host.engine import Runtime
from ..ring import portlayout as P
from ..ring.port import Port
from ..ring.portclient import PortClient
from ..ring.portctl import PortControl
from ..ring.portlayout import Box, word
from .nats import subject_token, unsubscribe

log = logging.getLogger(__name__)
FAR_TIMEOUT = 30.0  # seconds the server's node gives one far call
TAKE_NS = 5_000_000  # one wait for a call (then replies are completed, the stop flag read)
OK, FAILED = b"\x00", b"\x01"


def call_subject(mesh: str, port: str) -> str:
    """The subject a port's far calls are requests on."""
    return f"nanonet.{subject_token(mesh)}.{subject_token(port)}.call"


class CallForwarder:
    """A caller's node: serve ``port`` by forwarding each call over NATS.

    A thread of its own takes the calls (its own control store: a Wasm store
    is one thread's); the requests run on ``loop``, which completes each
    call with a store of its own, so a reply never waits for the next take."""

    def __init__(self, rt: Runtime, port: Port, nc: Any, subject: str,
                 loop: asyncio.AbstractEventLoop, owner: str = "<bridge>") -> None:
        port.serve(owner)
        self.port, self.nc, self.subject, self.loop = port, nc, subject, loop
        self.taker = PortControl(rt, port.memory)
        self.completer = PortControl(rt, port.memory)  # used on the loop's thread only
        port.server_control = self.taker
        self.forwarded = self.completed = self.late = self.failed = 0
        self.pending: set[Future[None]] = set()
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"nanonet-call:{port.name}",
                                       daemon=True)

    def start(self) -> CallForwarder:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking calls; the ones on the wire end with their timeouts."""
        self._stop.set()
        self.thread.join(timeout)
        for fut in list(self.pending):
            fut.cancel()

    def release(self) -> None:
        self.completer.release()

    def _open(self) -> bool:
        m = self.port.memory
        return not (self._stop.is_set() or m.u32(P.OFF_CLOSED) or m.u32(P.OFF_BROKEN))

    def _run(self) -> None:
        g, start = self.port.geometry, 0
        while self._open():
            addr = self.taker.take(start, TAKE_NS)
            if addr < 0:
                continue
            start = (addr - P.HEADER_SIZE) // g.box_size + 1
            self._forward(addr)

    def _forward(self, addr: int) -> None:
        m = self.port.memory
        call_id = m.u64(addr + P.BOX_WORD) >> 32
        n = m.u32(addr + P.BOX_REQ_LEN)
        if n > self.port.geometry.max_payload:
            self.taker.refuse(addr, call_id)
            return
        request = m.read_bytes(addr + P.BOX_REQUEST, n)
        fut = asyncio.run_coroutine_threadsafe(self._call(addr, call_id, request), self.loop)
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
        self._complete(addr, call_id, reply)

    def _complete(self, addr: int, call_id: int, reply: bytes) -> None:
        g, m = self.port.geometry, self.port.memory
        body = reply[1:]
        if m.u64(addr + P.BOX_WORD) != word(call_id, Box.TAKEN):
            self.late += 1  # the caller gave up: its deadline passed
            return
        if reply[:1] != OK or len(body) > g.max_payload:
            self.failed += 1
            self.completer.refuse(addr, call_id)
            return
        m.write_bytes(addr + g.reply_offset, body)
        m.put_u32(addr + P.BOX_REP_LEN, len(body))
        if self.completer.complete(addr, call_id):
            self.completed += 1
        else:
            self.late += 1


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

    async def _answer(self, msg: Any) -> None:
        client = await self.free.get()
        try:
            reply = OK + await client.acall(msg.data, FAR_TIMEOUT)
            self.answered += 1
        except (CallTimeout, NanonetError) as err:
            self.failed += 1
            reply = FAILED + str(err).encode()
        finally:
            self.free.put_nowait(client)
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
