"""A port's server on the host that is not a guest: it hands each call on.

A port served elsewhere (on another node: ``crossport.CallForwarder``; in a
browser tab: ``webport.TabPortProxy``) is still served on the host by
something that takes each call from the port's memory, sends it where the
server is, and completes the caller's mailbox with the answer. That part is
the same wherever the server is, and lives here:

- a thread of its own takes the calls (its own control store: a Wasm store
  is one thread's) and hands each one on (``forward``, the subclass's);
  while the port is broken (no server for now) a take returns at once, so
  the thread sleeps a take's slice between two instead of spinning;
- the answer is completed on the loop's thread, with a second control store,
  so a reply never waits for the next take (``finish``);
- a call whose caller gave up (its deadline passed, so the mailbox's word is
  no longer ``(id, TAKEN)``) is dropped and counted late, exactly as beside a
  guest server; a request longer than the port's ``max_payload`` is refused.
"""

from __future__ import annotations

import threading
from typing import Literal, Self

from ..host.engine import Runtime
from ..ring import portlayout as P
from ..ring.port import Port
from ..ring.portctl import PortControl
from ..ring.portlayout import Box, word

TAKE_NS = 5_000_000  # one wait for a call (then the stop flag is read, the subclass looks round)
Outcome = Literal["completed", "late", "failed"]


class PortStandIn:
    """Serve ``port`` on the host for a server that runs elsewhere."""

    def __init__(self, rt: Runtime, port: Port, owner: str, thread_name: str) -> None:
        port.serve(owner)
        self.port = port
        self.taker = PortControl(rt, port.memory)
        self.completer = PortControl(rt, port.memory)  # used on the loop's thread only
        port.server_control = self.taker
        self.forwarded = self.completed = self.late = self.failed = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.thread.join(timeout)

    def release(self) -> None:
        self.completer.release()

    # -- the taker's thread --------------------------------------------------------

    def _open(self) -> bool:
        return not (self._stop.is_set() or self.port.memory.u32(P.OFF_CLOSED))

    def _run(self) -> None:
        g, start = self.port.geometry, 0
        while self._open():
            addr = self.taker.take(start, TAKE_NS)
            self.between_takes()
            if addr < 0:
                if self.port.memory.u32(P.OFF_BROKEN):  # take returns at once: no spin
                    self._stop.wait(TAKE_NS / 1e9)
                continue
            start = (addr - P.HEADER_SIZE) // g.box_size + 1
            self.forward(addr)

    def between_takes(self) -> None:
        """Called after every take, a call or not (the thread's turn to look round)."""

    def forward(self, addr: int) -> None:
        """Hand on the call just taken in the mailbox at ``addr``."""
        raise NotImplementedError

    def request(self, addr: int) -> tuple[int, bytes] | None:
        """The taken call's id and request; None if its length is past the
        port's ``max_payload`` (the call is then refused: the caller sees it)."""
        m = self.port.memory
        call_id = m.u64(addr + P.BOX_WORD) >> 32
        n = m.u32(addr + P.BOX_REQ_LEN)
        if n > self.port.geometry.max_payload:
            self.taker.refuse(addr, call_id)
            return None
        return call_id, m.read_bytes(addr + P.BOX_REQUEST, n)

    # -- the loop's side -------------------------------------------------------------

    def given_up(self, addr: int, call_id: int) -> bool:
        """Did the caller of ``call_id`` abandon its mailbox (its deadline passed)?"""
        return self.port.memory.u64(addr + P.BOX_WORD) != word(call_id, Box.TAKEN)

    def finish(self, addr: int, call_id: int, ok: bool, body: bytes) -> Outcome:
        """Complete the call with ``body`` (``ok``: the server answered), refuse
        it (not ``ok``, or a reply past ``max_payload``), or drop it (late)."""
        g, m = self.port.geometry, self.port.memory
        if self.given_up(addr, call_id):
            self.late += 1
            return "late"
        if not ok or len(body) > g.max_payload:
            self.failed += 1
            self.completer.refuse(addr, call_id)
            return "failed"
        m.write_bytes(addr + g.reply_offset, body)
        m.put_u32(addr + P.BOX_REP_LEN, len(body))
        if self.completer.complete(addr, call_id):
            self.completed += 1
            return "completed"
        self.late += 1
        return "late"
