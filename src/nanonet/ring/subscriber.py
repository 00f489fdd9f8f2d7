"""The host's subscriber end of a pub-sub tunnel (``Mesh.subscribe``).

It reads the same slots every other subscriber reads, through its own line
(``sublines``): a batch of lengths read once and checked, the payloads
copied out, then its tail published. A blocking subscriber then (behind a
fence) looks whether the writer parked and wakes it; a lossy one instead
checks, after the copy and a fence, that the writer has not come round to
the slots it copied (the head it shows must be within the lossy window of
each), drops and counts the ones it has, and catches up when it fell more
than the window behind. Parking announces itself by adding to
``reader_waiting`` (the count of parked subscribers), in a tiny Wasm module
of its own (the C API cannot wait or notify), like ``control.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import TypeVar

import wasmtime

from ..capi.fastcall import FastFunc
from ..errors import TunnelClosed, TunnelCorrupt, TunnelTimeout
from ..host.engine import Runtime
from . import layout as L
from .control import RingControl
from .end import PARK_NS, POLLS, READER_SPIN_NS, deadline_of, expired, until_closed
from .layout import Quarantine
from .memory import RingMemory, fence
from .packed import Packed
from .protocol import Field
from .pubsub_model import behind, catch_up, stale
from .stats import TunnelStats, snapshot
from .sublines import SubscriberLines

Got = TypeVar("Got", list[bytes], Packed)

_SUB_WAT = """
(module
  (import "t" "ring" (memory {P} {P} shared))
  ;; SYNC POINT with $publish in the writer adapter: the count of parked
  ;; subscribers is raised before head is re-read; the writer stores head, then
  ;; reads the count, and wakes every parked subscriber if it is not 0
  (func (export "park") (param $seen i64) (param $ns i64) (result i32) (local $r i32)
    (drop (i32.atomic.rmw.add (i32.const {O_RWAIT}) (i32.const 1)))
    (if (i32.or (i64.ne (i64.atomic.load (i32.const {O_HEAD})) (local.get $seen))
                (i32.atomic.load (i32.const {O_CLOSED})))
      (then (drop (i32.atomic.rmw.sub (i32.const {O_RWAIT}) (i32.const 1)))
            (return (i32.const 1))))
    (i64.store (i32.const {O_PARKS}) (i64.add (i64.load (i32.const {O_PARKS})) (i64.const 1)))
    (local.set $r (memory.atomic.wait32 (i32.const {O_HEAD}) (i32.wrap_i64 (local.get $seen))
                                        (local.get $ns)))
    (drop (i32.atomic.rmw.sub (i32.const {O_RWAIT}) (i32.const 1)))
    (i32.ne (local.get $r) (i32.const 2)))
  ;; a writer parks on the tail of the slowest blocking subscriber: this one's
  (func (export "wake_writer")
    (drop (memory.atomic.notify (i32.const {O_TAIL}) (i32.const -1))))
  (func (export "leave")
    (i32.atomic.store (i32.const {O_MODE}) (i32.const 0))
    (drop (memory.atomic.notify (i32.const {O_TAIL}) (i32.const -1))))
)
"""


def _funcs(rt: Runtime, ring: RingMemory, line: int) -> tuple[wasmtime.Store, dict[str, FastFunc]]:
    g, at = ring.geometry, ring.geometry.sub_line(line)
    text = _SUB_WAT.format(P=g.pages, O_RWAIT=L.OFF_READER_WAITING, O_HEAD=L.OFF_HEAD,
                           O_CLOSED=L.OFF_CLOSED, O_PARKS=at + L.SUB_PARKS,
                           O_TAIL=at + L.SUB_TAIL, O_MODE=at + L.SUB_MODE)
    store = rt.new_store()
    inst = wasmtime.Instance(store, rt.module(text), [ring.shared])
    funcs = {}
    for name, func in inst.exports(store).items():
        assert isinstance(func, wasmtime.Func)
        funcs[name] = FastFunc(store, func)
    return store, funcs


class TunnelSubscriber:
    """One subscriber of a pub-sub tunnel, held by Python (one thread at a time)."""

    def __init__(self, rt: Runtime, lines: SubscriberLines, control: RingControl, line: int,
                 lossy: bool) -> None:
        self.ring, self.control, self.lines = lines.ring, control, lines
        self.geometry = self.ring.geometry
        self.line, self.lossy = line, lossy
        self._at = self.geometry.sub_line(line)
        self._store, self._wasm = _funcs(rt, self.ring, line)
        self._pos = self.ring.u64(self._at + L.SUB_TAIL)
        self._left = False

    # -- what the host can read -------------------------------------------
    @property
    def missed(self) -> int:
        """Messages this subscriber lost to the writer lapping it (lossy only)."""
        return self.ring.u64(self._at + L.SUB_MISSED)

    @property
    def received(self) -> int:
        return self._pos

    def statistics(self) -> TunnelStats:
        return snapshot(self.ring)

    # -- receiving ----------------------------------------------------------
    def _corrupt(self, why: int, what: str) -> TunnelCorrupt:
        self.ring.store(Field.QUARANTINE, why)
        return TunnelCorrupt(f"tunnel ring quarantined: {what}")

    def _available(self) -> int:
        """Messages waiting at this cursor (after catching up, if lossy)."""
        ring = self.ring
        if ring.quarantine:
            raise TunnelCorrupt(f"tunnel ring quarantined (reason {ring.quarantine})")
        head = ring.head()
        d = behind(head, self._pos)
        if d < 0 or (d > self.geometry.slot_count and not self.lossy):
            raise self._corrupt(Quarantine.BAD_COUNTERS, f"head={head} tail={self._pos}")
        if self.lossy:
            self._pos, skipped = catch_up(head, self._pos, self.geometry)
            if skipped:
                self._add(L.SUB_MISSED, skipped)
            d = behind(head, self._pos)
        return d

    def _add(self, off: int, n: int) -> None:
        self.ring.put_u64(self._at + off, self.ring.u64(self._at + off) + n)

    def _take(self, count: int) -> list[bytes]:
        first, lengths = self._pos, self._lengths(count)
        out = self.ring.read_payloads(first, lengths)
        lost = self._lapped(first, count)
        self._commit(first + count, sum(lengths[lost:]))
        return out[lost:]

    def _take_packed(self, count: int) -> Packed:
        """``_take`` as one buffer and its offsets: no object per message."""
        first, lengths = self._pos, self._lengths(count)
        data = self.ring.read_packed(first, lengths)
        lost = self._lapped(first, count)
        self._commit(first + count, sum(lengths[lost:]))
        bounds = list(accumulate(lengths, initial=0))
        return Packed(memoryview(data), bounds, max(lengths)).part(lost, count)

    def _lengths(self, count: int) -> list[int]:
        lengths = self.ring.slot_lengths(self._pos, count)
        if max(lengths) > self.geometry.max_payload:
            raise self._corrupt(Quarantine.BAD_LENGTH, f"slot length {max(lengths)}")
        return lengths

    def _lapped(self, first: int, count: int) -> int:
        """How many of the ``count`` slots just copied from ``first`` the writer
        had already reused (a lossy line only; they are dropped and counted)."""
        if not self.lossy:
            return 0
        # SYNC POINT with $publish in the writer adapter: the copies, a fence,
        # then head: a slot the writer reused shows in the head it published first
        fence()
        lost = stale(self.ring.head(), first, count, self.geometry)
        if lost:
            self._add(L.SUB_MISSED, lost)
        return lost

    def _commit(self, pos: int, nbytes: int) -> None:
        self._pos = pos
        self._add(L.SUB_BYTES_OUT, nbytes)
        # SYNC POINT with $wait in the writer adapter: tail is stored, then (behind
        # a fence) writer_waiting is loaded; the writer stores it, then re-reads tails
        self.ring.put_u64(self._at + L.SUB_TAIL, pos)
        if self.lossy:
            return
        fence()
        if self.ring.u32(L.OFF_WRITER_WAITING):
            self._add(L.SUB_WAKES, 1)
            self._wasm["wake_writer"]()

    def try_recv_many(self, limit: int = 1 << 30) -> list[bytes]:
        """Up to ``limit`` waiting messages (maybe none); raises TunnelClosed once
        the tunnel is closed and drained (TunnelBroken if its writer is gone)."""
        n = self._ready(limit)
        return self._take(n) if n else []

    def try_recv_packed(self, limit: int = 1 << 30) -> Packed:
        """``try_recv_many`` as one buffer and its offsets (``Packed``)."""
        n = self._ready(limit)
        return self._take_packed(n) if n else Packed.fixed(b"", 1)

    def _ready(self, limit: int) -> int:
        """How many messages (at most ``limit``) wait; 0 for none yet; raises
        TunnelClosed once the tunnel is closed and drained (TunnelBroken if its
        writer is gone)."""
        if self._left:
            raise TunnelClosed("this subscriber has left the tunnel (closed it)")
        if not self.ring.u32(L.OFF_MAGIC):  # its mesh released the ring (memory.close)
            raise TunnelClosed("tunnel is closed: its mesh was closed")
        n = min(self._available(), limit)
        if n:
            return n
        if self.ring.closed:  # closed is stored after the last publish: look once more
            n = min(self._available(), limit)
            if n:
                return n
            if self.ring.broken:
                raise self.control.broken_error()
            raise TunnelClosed("tunnel is closed and drained")
        self._add(L.SUB_EMPTY, 1)
        return 0

    def try_recv(self) -> bytes | None:
        got = self.try_recv_many(1)
        return got[0] if got else None

    def recv_many(self, limit: int = 1 << 30, timeout: float | None = None) -> list[bytes]:
        """At least one message (waiting for it: polls, then parks), at most ``limit``."""
        return self._waited(lambda: self.try_recv_many(limit), timeout)

    def recv_packed(self, limit: int = 1 << 30, timeout: float | None = None) -> Packed:
        """``recv_many`` as one buffer and its offsets (``Packed``)."""
        return self._waited(lambda: self.try_recv_packed(limit), timeout)

    def _waited(self, attempt: Callable[[], Got], timeout: float | None) -> Got:
        deadline = deadline_of(timeout)
        park_after = time.perf_counter_ns() + READER_SPIN_NS
        while not (got := attempt()):
            if expired(deadline):
                raise TunnelTimeout("no message before the timeout; pass a longer timeout, "
                                    "or None to wait until one comes")
            self._wait(park_after)
        return got

    def _wait(self, park_after: int) -> None:
        seen = self.ring.head()
        if time.perf_counter_ns() > park_after:
            self._wasm["park"](seen, PARK_NS)
            return
        for _ in range(POLLS):
            if self.ring.head() != seen:
                return
        os.sched_yield()

    def recv(self, timeout: float | None = None) -> bytes:
        return self.recv_many(1, timeout)[0]

    def __iter__(self) -> Iterator[bytes]:
        """Every message until the tunnel is closed and drained."""
        return until_closed(self.recv_many)

    def lag(self) -> int:
        """Messages published that this subscriber has not consumed yet."""
        return max(0, behind(self.ring.head(), self._pos))

    def close(self) -> None:
        """Leave the tunnel: the line is freed, the writer stops waiting for it."""
        if self._left:
            return
        self._left = True
        self.lines.holders.pop(self.line, None)
        self._wasm["leave"]()
        self._store.close()

    def __enter__(self) -> TunnelSubscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
