"""The host's ends of a port: a client that owns one mailbox, and a server.

``PortClient.call`` copies the request into its mailbox, then makes one
Wasm call (``PortControl.call``: post, wake the server, spin, park with the
deadline, abandon on timeout) and copies the checked reply out. One client
object is one mailbox: its calls are serialised by a lock, so it may be
shared between threads; for calls in parallel, take one client per thread.
``acall`` runs the same call on a worker thread, so an event loop never
blocks on it. The host server (``PortServer``) takes requests round robin,
hands them to a Python handler and completes the reply the same way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from ..errors import CallTimeout, MessageTooBig, TunnelBroken, TunnelClosed, TunnelCorrupt
from ..host.engine import Runtime
from . import portlayout as P
from .layout import Status
from .memory import PortMemory
from .port import Port
from .portctl import PortControl
from .portlayout import Box, word


def _deadline_ns(timeout: float | None) -> int:
    return -1 if timeout is None else max(0, int(timeout * 1e9))


class PortClient:
    """A host client of one port, holding one host mailbox."""

    def __init__(self, rt: Runtime, port: Port) -> None:
        self.port = port
        self.box = port.host_box()
        self._addr = port.geometry.box(self.box)
        self._control = PortControl(rt, port.memory)
        self._lock = threading.Lock()
        self._id = port.memory.u64(self._addr + P.BOX_WORD) >> 32
        self.latencies_ns: list[int] = []  # the last calls' round trips, for stats
        self.calls = 0

    def call(self, request: bytes, timeout: float | None = 5.0) -> bytes:
        """Send ``request`` and wait for its reply; CallTimeout after ``timeout``
        seconds (None: no deadline). A reply that comes after the deadline is
        dropped, never handed to a later call."""
        data = bytes(request)
        g, m = self.port.geometry, self.port.memory
        if len(data) > g.max_payload:
            raise MessageTooBig(f"request of {len(data)} bytes to port {self.port.name!r}, "
                                f"whose max_payload is {g.max_payload}")
        with self._lock:
            self._id = (self._id + 1) & 0xFFFFFFFF
            t0 = time.perf_counter_ns()
            m.write_bytes(self._addr + P.BOX_REQUEST, data)
            m.put_u32(self._addr + P.BOX_REQ_LEN, len(data))
            status = self._control.call(self._addr, self._id, _deadline_ns(timeout))
            if status == 0:
                reply = self._reply()
                self._note(time.perf_counter_ns() - t0)
                return reply
        raise self._error(status, timeout)

    async def acall(self, request: bytes, timeout: float | None = 5.0) -> bytes:
        """``call`` on a worker thread: the event loop goes on meanwhile."""
        return await asyncio.to_thread(self.call, request, timeout)

    def _reply(self) -> bytes:
        g, m = self.port.geometry, self.port.memory
        n = m.u32(self._addr + P.BOX_REP_LEN)
        m.put_u64(self._addr + P.BOX_WORD, word(self._id, Box.IDLE))
        if n > g.max_payload:
            raise TunnelCorrupt(f"port {self.port.name!r}: a reply length of {n} bytes is over "
                                f"its max_payload {g.max_payload}: refused")
        return m.read_bytes(self._addr + g.reply_offset, n)

    def _note(self, ns: int) -> None:
        self.calls += 1
        if len(self.latencies_ns) >= 4096:
            del self.latencies_ns[:2048]
        self.latencies_ns.append(ns)

    def _error(self, status: int, timeout: float | None) -> Exception:
        name = self.port.name
        if status == Status.TIMEOUT:
            return CallTimeout(f"port {name!r} did not answer within {timeout} s (its server "
                               f"{self.port.server!r} is busy, parked on something else or "
                               "not running); the call was abandoned: a late reply is dropped")
        if status == Status.CLOSED:
            return TunnelClosed(f"port {name!r} is closed: its mesh stopped")
        if status == Status.BROKEN:
            return TunnelBroken(f"port {name!r} is broken: its server {self.port.server!r} is "
                                "gone (it trapped with no restart policy, or failed; or it "
                                "runs in a browser tab, and no tab serves it now)")
        return TunnelCorrupt(f"port {name!r}: the call failed a check (status {status}): "
                             "the mailbox was refused or forged")


Handler = Callable[[bytes], bytes]


class PortServer:
    """The host serving a port: each request goes to ``handler``, whose
    return value is the reply; it runs on a thread of its own until the
    port closes or breaks."""

    def __init__(self, rt: Runtime, port: Port, handler: Handler) -> None:
        self.port = port
        self.handler = handler
        self._control = PortControl(rt, port.memory)
        port.server_control = self._control
        self._thread = threading.Thread(target=self._run, name=f"nanonet-port:{port.name}",
                                        daemon=True)
        self.error: BaseException | None = None

    @property
    def started(self) -> bool:
        return self._thread.ident is not None

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        g, m = self.port.geometry, self.port.memory
        start = 0
        while not (m.u32(P.OFF_CLOSED) or m.u32(P.OFF_BROKEN)):
            addr = self._control.take(start)
            if addr < 0:
                continue
            start = (addr - P.HEADER_SIZE) // g.box_size + 1
            try:
                self._answer(addr)
            except BaseException as exc:  # the handler's fault: the port breaks
                self.error = exc
                self.port.break_()
                return

    def _answer(self, addr: int) -> None:
        g, m = self.port.geometry, self.port.memory
        call_id = m.u64(addr + P.BOX_WORD) >> 32
        n = m.u32(addr + P.BOX_REQ_LEN)
        _bump(m, P.OFF_TAKEN)
        if n > g.max_payload:
            _bump(m, P.OFF_REFUSED)
            self._control.refuse(addr, call_id)
            return
        reply = bytes(self.handler(m.read_bytes(addr + P.BOX_REQUEST, n)))
        if len(reply) > g.max_payload:
            raise MessageTooBig(f"port {self.port.name!r}: the handler's reply of {len(reply)} "
                                f"bytes is over max_payload {g.max_payload}")
        if m.u64(addr + P.BOX_WORD) != word(call_id, Box.TAKEN):
            _bump(m, P.OFF_LATE)
            return
        m.write_bytes(addr + g.reply_offset, reply)
        m.put_u32(addr + P.BOX_REP_LEN, len(reply))
        _bump(m, P.OFF_REPLIED if self._control.complete(addr, call_id) else P.OFF_LATE)


def _bump(m: PortMemory, offset: int) -> None:
    """One of the server's own counters (only the server writes it)."""
    m.put_u64(offset, m.u64(offset) + 1)
