"""The bell: one word a service waiting on many tunnel ends parks on.

``memory.atomic.wait32`` waits on one address, and each tunnel is a memory
of its own, so a service that waits on several ends at once (``wait_any``,
docs/abi.md) needs a word every peer can reach. A mesh has one bell memory
(one page, made on first use) with one 64-byte line per waiting service:

    line offset + 0   seq    u32  bumped (atomic add) by whoever rings it
    line offset + 8   parks  u64  times its service parked on it (its own writes)

Line 0 is never handed out. A waiter stores the waiting flag of every end it
waits on (in each ring, the same flag a single-end park uses), reads its
``seq``, re-checks its ends, then waits on ``seq``. A peer that publishes
reads that flag anyway; an adapter built knowing the waiter's line (a
constant baked in at generation, never read from shared memory) then also
rings the bell: a flowing tunnel, or one nobody waits on, costs nothing more.
The host rings it through a tiny Wasm module of its own (``Bell.ring``),
from ``RingControl`` when a host end wakes a peer, and on close, break and
the wake of a hot upgrade.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import wasmtime

from ..capi.fastcall import FastFunc
from ..errors import LoadError
from .layout import PAGE

BELL_PAGES = 1
BELL_LINE = 64
BELL_LINES = BELL_PAGES * PAGE // BELL_LINE - 1  # line 0 stays unused
OFF_BELL_SEQ = 0
OFF_BELL_PARKS = 8
BELL_MODULE = "bell"  # the adapter's import: (import "bell" "memory" (memory 1 1 shared))


@dataclass(frozen=True)
class BellPlan:
    """What a service's adapter knows of bells, baked in as constants.

    ``own``: its own line's offset if it waits on many ends (it then exports
    ``wait_any``); ``peers``: for each of its ends, in order, the line of
    the service at the other end if that one waits on many (rung after a
    publish or commit that finds its waiting flag set, and on close);
    ``fanin``: the groups of its read ends that are one fan-in tunnel each
    (``ring/fanin.py``); a fan-in reader always has a line of its own."""

    own: int | None = None
    peers: tuple[int | None, ...] = ()
    # fan-in tunnels it reads: (first end index, sub-rings), read as one handle
    fanin: tuple[tuple[int, int], ...] = ()

    @property
    def used(self) -> bool:
        return self.own is not None or any(p is not None for p in self.peers)


_BELL_WAT = f"""
(module
  (import "b" "bell" (memory {BELL_PAGES} {BELL_PAGES} shared))
  ;; SYNC POINT with wait_any's park in the adapter: the host ends published
  ;; their counter and read the waiting flag behind a fence before this
  (func (export "ring") (param $line i32)
    (drop (i32.atomic.rmw.add offset={OFF_BELL_SEQ} (local.get $line) (i32.const 1)))
    (drop (memory.atomic.notify offset={OFF_BELL_SEQ} (local.get $line) (i32.const 1))))
  (func (export "parks") (param $line i32) (result i64)
    (i64.atomic.load offset={OFF_BELL_PARKS} (local.get $line))))
"""


class Bell:
    """A mesh's bell memory, its lines, and the host's hands on it."""

    def __init__(self, engine: wasmtime.Engine, store: wasmtime.Store) -> None:
        ty = wasmtime.MemoryType(wasmtime.Limits(BELL_PAGES, BELL_PAGES), shared=True)
        self.shared = wasmtime.SharedMemory(engine, ty)
        self._store = store
        inst = wasmtime.Instance(store, wasmtime.Module(engine, _BELL_WAT), [self.shared])
        funcs = inst.exports(store)
        ring, parks = funcs["ring"], funcs["parks"]
        assert isinstance(ring, wasmtime.Func) and isinstance(parks, wasmtime.Func)
        self._ring, self._parks = FastFunc(store, ring), FastFunc(store, parks)
        self._lock = threading.Lock()  # one store, one thread at a time
        self.lines: dict[str, int] = {}  # service name -> its line's offset
        self._closed = False

    def line(self, owner: str) -> int:
        """The offset of ``owner``'s line, handed out on first ask."""
        if owner not in self.lines:
            if len(self.lines) >= BELL_LINES:
                raise LoadError(f"service {owner!r}: a mesh has bell lines for "
                                f"{BELL_LINES} services waiting on many ends; wait on fewer "
                                "(or split the mesh)")
            self.lines[owner] = (len(self.lines) + 1) * BELL_LINE
        return self.lines[owner]

    def ring(self, line: int) -> None:
        """Bump ``line``'s sequence word and wake the service parked on it."""
        with self._lock:
            if not self._closed:
                self._ring(line)

    def parks(self, line: int) -> int:
        """How many times the service of ``line`` parked on it."""
        with self._lock:
            return 0 if self._closed else int(self._parks(line) or 0)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._store.close()
