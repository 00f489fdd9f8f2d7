"""Leases of browser tabs that left: a tab that comes back in time resumes.

When a tab's control channel closes, the tabs' tunnels it was writing break
(the host's readers get ``TunnelBroken`` after every message that arrived),
but the break is held open for a lease (``[web] lease``, ``WebHost.lease``):
a tab that joins again with a token for the same node within it heals them
(``RingControl.heal``), and its bridges go on from what the host has (the
host's WELCOME names its ring's head; a tab whose guests started again from
the beginning lets what lies below it go unsent). Once the lease runs out
the break is final, and the node is turned away from then on.

A tab whose services read a tunnel from the host gets no lease: the host
does not keep what it already sent, so its guests could not start again
from the beginning. All of it runs on the web host's loop; ``wait_healed``
may be called from any thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ..mesh import Mesh
from ..ring import layout as L
from ..ring.control import BreakInfo

log = logging.getLogger(__name__)
LEASE = 10.0  # seconds a tab that left has to come back, by default


@dataclass
class Lease:
    """One node that left: the tunnels it broke, until it rejoins or time runs out."""

    node: str
    tunnels: tuple[str, ...]
    timer: asyncio.TimerHandle | None = None
    settled: threading.Event = field(default_factory=threading.Event)
    healed: bool = False


@dataclass
class TabLeases:
    """The leases of the tabs that left a web host's mesh."""

    mesh: Mesh
    writers_of: dict[str, str]  # tunnel -> the browser service that writes it
    seconds: float = LEASE
    open: dict[str, Lease] = field(default_factory=dict)  # node -> its running lease
    gone: set[str] = field(default_factory=set)  # nodes whose lease ran out
    last: dict[str, Lease] = field(default_factory=dict)  # tunnel -> its latest lease

    def _break(self, tunnel: str, node: str, cause: str) -> None:
        self.mesh.tunnels[tunnel].control.break_(BreakInfo(
            "writer", self.writers_of[tunnel], L.Broken.FAILED,
            f"browser node {node!r} left (the tab closed){cause}"))

    def start(self, node: str, tunnels: tuple[str, ...], loop: asyncio.AbstractEventLoop) -> None:
        """``node`` left while writing ``tunnels``: break them, and hold the break open."""
        lease = Lease(node, tunnels)
        self.open[node] = lease  # before the break: a reader that sees it finds the lease
        for tunnel in tunnels:
            self.last[tunnel] = lease
        for tunnel in tunnels:
            self._break(tunnel, node, f"; it may rejoin within its lease of {self.seconds:g} s")
        lease.timer = loop.call_later(self.seconds, self._expire, lease)
        log.info("web: tab node %r has %g s to rejoin", node, self.seconds)

    def _expire(self, lease: Lease) -> None:
        """The lease ran out: the break is final, and says so."""
        if self.open.get(lease.node) is not lease:
            return
        for tunnel in lease.tunnels:  # the cause first: a reader told it's final reads it
            control = self.mesh.tunnels[tunnel].control
            control.broken_by = BreakInfo(
                "writer", self.writers_of[tunnel], L.Broken.FAILED,
                f"browser node {lease.node!r} left (the tab closed) and did not rejoin "
                f"within its lease of {self.seconds:g} s")
        self.gone.add(lease.node)
        del self.open[lease.node]
        lease.settled.set()
        log.info("web: tab node %r did not rejoin within %g s: its tunnels stay broken",
                 lease.node, self.seconds)

    def refusal(self, node: str) -> str | None:
        """Why a tab of ``node`` may not join (its lease ran out), or None."""
        if node not in self.gone:
            return None
        return (f"browser node {node!r} left and did not rejoin within its lease of "
                f"{self.seconds:g} s: its tunnels are broken for good; start a new run")

    def rejoin(self, node: str) -> tuple[str, ...]:
        """A tab of ``node`` joined: heal what its lease holds; the tunnels healed."""
        lease = self.open.pop(node, None)
        if lease is None:
            return ()
        if lease.timer is not None:
            lease.timer.cancel()
        for tunnel in lease.tunnels:
            self.mesh.tunnels[tunnel].control.heal()
        lease.healed = True
        lease.settled.set()
        log.info("web: tab node %r rejoined within its lease", node)
        return lease.tunnels

    def holds(self, tunnel: str) -> bool:
        """Is ``tunnel`` broken by a lease that may still heal?"""
        lease = self.last.get(tunnel)
        return lease is not None and self.open.get(lease.node) is lease

    def heals(self, tunnel: str) -> bool:
        """May ``tunnel``'s break still heal, or has it healed (and not broken
        since)? A reader that saw the break just before the heal asks this."""
        lease = self.last.get(tunnel)
        return self.holds(tunnel) or (lease is not None and lease.healed
                                      and not self.mesh.tunnels[tunnel].ring.broken)

    def left_by(self, tunnel: str) -> bool:
        """Was ``tunnel`` ever broken by its tab leaving?"""
        return tunnel in self.last

    def wait_healed(self, tunnel: str, timeout: float | None = None) -> bool:
        """Wait until ``tunnel``'s tab rejoined (True: read on) or its lease
        ran out (False); False at once if no lease holds it, and after
        ``timeout`` seconds if neither came."""
        lease = self.last.get(tunnel)
        if lease is None:
            return False
        return lease.settled.wait(timeout) and lease.healed

    def state(self, now: float) -> list[dict[str, Any]]:
        """The leases running, each node's tunnels and the seconds it has left
        (``now``: the loop's clock); read from any thread."""
        out = []
        for lease in list(self.open.values()):
            left = None if lease.timer is None else max(0.0, lease.timer.when() - now)
            out.append({"node": lease.node, "tunnels": list(lease.tunnels), "left_s": left})
        return out

    def stop(self) -> None:
        """The host stops: no lease will heal now; wake whoever waits on one."""
        for lease in self.open.values():
            if lease.timer is not None:
                lease.timer.cancel()
            lease.settled.set()
        self.open.clear()
