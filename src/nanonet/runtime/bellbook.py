"""Who waits on many ends, and which adapters must ring whose bell.

A service that waits on many ends (``wait_any``) gets a line in the mesh's
bell (``ring/bell.py``). Each adapter at the other end of one of its tunnels
is built knowing that line (a constant in its code), so a publish or commit
that finds the waiting flag set, and a close, ring it. A peer loaded before
the waiter is loaded again with the line baked in (it has not run yet); the
host's ends ring it through the tunnel's ``RingControl``. A restart or an
upgrade keeps the service's spec, so its bells stay as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import wasmtime

from ..errors import LoadError
from ..host.engine import Runtime
from ..ring.adapter import Direction, EndSpec
from ..ring.bell import Bell, BellPlan
from ..ring.control import RingControl
from .linking import imports_wait_any
from .service import Service
from .startfn import prepare

# a service's name -> the owner of the other end of each of its ends, in order
OthersOf = Callable[[str], Sequence[str | None]]


_WAITS: dict[bytes, bool] = {}  # by source: a thousand services of one module look once
_WAITS_KEPT = 1024


def waits_on_many(rt: Runtime, wasm: bytes) -> bool:
    """Whether the module imports ``nanonet.wait_any`` (False if it does not
    even compile: loading it then says why). The compiled module is the one
    the service's load then finds in the runtime's cache."""
    known = _WAITS.get(wasm)
    if known is not None:
        return known
    try:
        waits = imports_wait_any(rt.module(prepare(wasm).wasm))
    except (LoadError, wasmtime.WasmtimeError):
        return False
    if len(_WAITS) >= _WAITS_KEPT:
        _WAITS.clear()
    _WAITS[wasm] = waits
    return waits


class BellBook:
    """The mesh's bell, made on first need, and the line of every waiter."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt
        self.bell: Bell | None = None
        self.waiters: dict[str, int] = {}  # service -> its bell line

    @property
    def shared(self) -> wasmtime.SharedMemory | None:
        return None if self.bell is None else self.bell.shared

    def plan(self, name: str, waits: bool, others: Sequence[str | None],
             fanin: tuple[tuple[int, int], ...] = ()) -> BellPlan | None:
        """The bells of a service whose ends' other ends ``others`` hold, and
        which reads ``fanin`` (fan-in groups); None when no bell is involved
        (its adapter is then the plain one)."""
        if not (waits or fanin or self.waiters):  # no bell in this mesh: nothing to plan
            return None
        if (waits or fanin) and name not in self.waiters:
            if self.bell is None:
                self.bell = Bell(self._rt.engine, self._rt.new_store())
            self.waiters[name] = self.bell.line(name)
        peers = tuple(self.waiters.get(o or "") for o in others)
        plan = BellPlan(self.waiters.get(name), peers, fanin)
        return plan if plan.used else None

    def refuse_started_peers(self, name: str, others: Sequence[str | None],
                             services: Mapping[str, Service]) -> None:
        """A waiter's peers must not run yet: their adapters are built again."""
        for other in others:
            peer = services.get(other or "")
            if peer is not None and peer.started:
                raise LoadError(f"service {name!r} waits on many ends (wait_any or a fan-in "
                                f"tunnel), but {peer.name!r} at the other end of one of its "
                                "tunnels already runs: add the waiting service before "
                                "mesh.start()")

    def loaded(self, name: str, ends: Sequence[EndSpec], controls: Sequence[RingControl],
               others_of: OthersOf, services: Mapping[str, Service]) -> None:
        """``name`` has loaded and holds its ends: if it waits, rebuild its peers'
        adapters that do not ring it yet, and let the host's ends ring it."""
        line = self.waiters.get(name)
        if line is None or self.bell is None:
            return
        ring = functools.partial(self.bell.ring, line)
        for end, control, other in zip(ends, controls, others_of(name), strict=True):
            control.bells["reader" if end.direction is Direction.READ else "writer"] = ring
            peer = services.get(other or "")
            if peer is None:
                continue
            fans = peer.spec.bells.fanin if peer.spec.bells is not None else ()
            plan = self.plan(peer.name, False, others_of(peer.name), fans)
            if plan != peer.spec.bells:
                peer.relink_bells(plan or BellPlan(), self.bell.shared)

    def parks(self, name: str) -> int | None:
        """How many times waiter ``name`` parked on its bell (None: it waits on one end)."""
        line = self.waiters.get(name)
        return None if line is None or self.bell is None else self.bell.parks(line)

    def close(self) -> None:
        if self.bell is not None:
            self.bell.close()
