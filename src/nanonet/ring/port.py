"""A request/reply port: its memory, who holds which mailbox, its lifecycle.

A port has one server and a fixed number of mailboxes: the first
``clients`` for Wasm services (each client service is given one when it
loads; its mailbox index is baked into its adapter), the rest a pool for
host clients (``PortClient``). The supervisor's side of the promise lives
here too: after the server traps, every request it had taken and not
answered is posted again (``requeue``: at least once); a server gone for
good breaks the port (callers get BROKEN); a client gone for good has its
mailbox marked DEAD, so the server skips it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ..errors import EndpointTaken, InvalidValue
from ..host.engine import Runtime
from . import portlayout as P
from .memory import PortMemory
from .port_template import PortEnd, PortShape
from .portctl import PortControl
from .portlayout import Box, PortGeometry

HOST = "<host>"


@dataclass(frozen=True)
class PortStats:
    """A snapshot of one port's counters (calls and timeouts are per mailbox, summed)."""

    name: str
    server: str | None
    mailboxes: int
    calls: int  # requests posted
    taken: int  # requests the server took (a requeued one counts again)
    replied: int  # replies delivered
    late: int  # replies dropped: their caller had given up
    timeouts: int  # calls abandoned at their deadline
    refused: int  # requests refused for a length out of range
    requeued: int  # taken requests posted again after a server trap
    in_flight: int  # mailboxes posted or taken right now


class Port:
    """One port of a mesh: its memory and the holders of its mailboxes."""

    def __init__(self, rt: Runtime, name: str, geometry: PortGeometry, clients: int) -> None:
        if not 0 <= clients <= geometry.mailboxes:
            raise InvalidValue(f"port {name!r}: {clients} client mailboxes do not fit in "
                               f"{geometry.mailboxes}")
        self.name = name
        self.geometry = geometry
        self.memory = PortMemory(rt.engine, geometry, name)
        self.server: str | None = None
        self.holders: list[str] = []  # mailbox i -> its client's name
        self.wasm_boxes = clients
        self._rt = rt
        self._lock = threading.Lock()
        self._control: PortControl | None = None
        self._host_taken = 0
        self.server_control: PortControl | None = None  # the host server's, if any

    @property
    def control(self) -> PortControl:
        """The supervisor's control instance (requeue, wake), made on first use."""
        with self._lock:
            if self._control is None:
                self._control = PortControl(self._rt, self.memory)
            return self._control

    def serve(self, owner: str) -> PortEnd:
        """The server's end; one server per port."""
        if self.server is not None:
            raise EndpointTaken(f"port {self.name!r} is already served by {self.server!r}; "
                                "a port has one server")
        self.server = owner
        return PortEnd(self.name, PortShape("server", -1, self.geometry))

    def client_end(self, owner: str) -> PortEnd:
        """A Wasm client's end: the next free service mailbox."""
        wasm = [h for h in self.holders if h != HOST]
        if owner in wasm:
            raise EndpointTaken(f"service {owner!r} already calls port {self.name!r}")
        if len(wasm) >= self.wasm_boxes:
            raise EndpointTaken(f"port {self.name!r} has {self.wasm_boxes} service mailbox(es), "
                                f"all taken ({', '.join(wasm)}); create it with a larger "
                                "clients=")
        self.holders.append(owner)
        return PortEnd(self.name, PortShape("client", len(wasm), self.geometry))

    def host_box(self) -> int:
        """The next free host mailbox (its index)."""
        with self._lock:
            box = self.wasm_boxes + self._host_taken
            if box >= self.geometry.mailboxes:
                pool = self.geometry.mailboxes - self.wasm_boxes
                raise EndpointTaken(f"port {self.name!r}: its {pool} host client mailbox(es) "
                                    "are all taken; create it with a larger host_clients=")
            self._host_taken += 1
            return box

    def release(self, owner: str) -> None:
        """Give back what ``owner`` holds (its load failed)."""
        if self.server == owner:
            self.server = None
        self.holders = [h for h in self.holders if h != owner]

    # -- the supervisor's side ---------------------------------------------
    def ask_yield(self, on: bool) -> None:
        """Set (or clear) ``server_yield``: a hot upgrade asks the serving service
        to stop at its next ``serve_recv``, with every request it took answered."""
        self.memory.put_u32(P.OFF_SERVER_YIELD, int(on))

    def requeue(self) -> int:
        """The server trapped: its taken requests are posted again (how many)."""
        return self.control.requeue()

    def break_(self) -> None:
        """The server is gone for good: every caller, waiting or not, gets BROKEN."""
        self.memory.put_u32(P.OFF_BROKEN, 1)
        self.control.wake_all()

    def mark_dead(self, box: int) -> None:
        """A client is gone for good: the server skips its mailbox from now on."""
        self.memory.put_u64(self.geometry.box(box) + P.BOX_WORD, Box.DEAD)

    def close(self) -> None:
        """The mesh stops: callers and the server see CLOSED."""
        self.memory.put_u32(P.OFF_CLOSED, 1)
        self.control.wake_all()

    def release_memory(self) -> None:
        for ctl in (self._control, self.server_control):
            if ctl is not None:
                ctl.release()
        self.memory.close()

    def statistics(self) -> PortStats:
        m, g = self.memory, self.geometry
        words = [m.u64(g.box(i)) & 0xFFFFFFFF for i in range(g.mailboxes)]
        return PortStats(
            self.name, self.server, g.mailboxes,
            calls=sum(m.u64(g.box(i) + P.BOX_CALLS) for i in range(g.mailboxes)),
            taken=m.u64(P.OFF_TAKEN), replied=m.u64(P.OFF_REPLIED), late=m.u64(P.OFF_LATE),
            timeouts=sum(m.u64(g.box(i) + P.BOX_TIMEOUTS) for i in range(g.mailboxes)),
            refused=m.u64(P.OFF_REFUSED), requeued=m.u64(P.OFF_REQUEUED),
            in_flight=sum(w in (Box.POSTED, Box.TAKEN) for w in words))
