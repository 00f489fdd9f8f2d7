"""The host's hands on a ring: park and wake, in Wasm.

The wasmtime C API cannot notify or wait on a shared memory. So the host
keeps, per ring, one tiny module instance in a store of its own, and calls
it through ``FastFunc`` to park (``memory.atomic.wait32``) and to wake a
parked peer (``memory.atomic.notify``). The host ends publish their counters
from Python (``RingMemory.publish_head`` / ``publish_tail``: a store, a full
fence, a load of the peer's waiting flag) and call ``wake_*`` here only when
that flag is set, so a flowing tunnel costs no Wasm call at all.
``publish_*`` stays for the dead-letter path, which runs once per poison
message. Everything here is generated from ``layout``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import wasmtime

from ..capi.fastcall import FastFunc
from ..errors import TunnelBroken, TunnelClosed
from ..host.engine import Runtime
from . import layout as L
from .adapter import PARK_TIMEOUT_NS
from .memory import RingMemory
from .protocol import counters_ok, length_ok, used


@dataclass(frozen=True)
class BreakInfo:
    """Who broke a tunnel and why: what a host end's TunnelBroken says."""

    side: str  # "writer" or "reader": the end whose service is gone
    service: str
    reason: int  # a layout.Broken code
    cause: str
    error: BaseException | None = None  # the trap (or failure) to chain

    def describe(self, tunnel: str) -> str:
        how = "trapped" if self.reason == L.Broken.TRAPPED else "failed"
        return (f"tunnel {tunnel!r} is broken: its {self.side} {self.service!r} {how} "
                f"({self.cause}) and will not restart")


@dataclass(frozen=True)
class DeadLetter:
    """One message moved aside at the reader's committed tail."""

    tunnel: str
    sequence: int  # the ring counter of the message
    data: bytes

_CONTROL_WAT = """
(module
  (import "t" "ring" (memory {P} {P} shared))
  ;; store a counter (SC), then wake the other side only if it announced a park
  ;; SYNC POINT with $wait in the adapter (and $park below): the counter is stored
  ;; before the waiting flag is read; a parker stores the flag, then re-reads the counter
  (func $publish (param $off i32) (param $v i64) (param $flag i32) (param $wake i32)
    (i64.atomic.store (local.get $off) (local.get $v))
    (if (i32.atomic.load (local.get $flag))
      (then (drop (memory.atomic.notify (local.get $wake) (i32.const 1))))))
  (func (export "publish_head") (param i64)
    (call $publish (i32.const {O_HEAD}) (local.get 0) (i32.const {O_RWAIT}) (i32.const {O_HEAD})))
  (func (export "publish_tail") (param i64)
    (call $publish (i32.const {O_TAIL}) (local.get 0) (i32.const {O_WWAIT}) (i32.const {O_TAIL})))
  ;; wake the reader parked on head (or the writer parked on tail): a host end
  ;; published from Python and found the peer's waiting flag set
  (func (export "wake_head") (drop (memory.atomic.notify (i32.const {O_HEAD}) (i32.const 1))))
  (func (export "wake_tail") (drop (memory.atomic.notify (i32.const {O_TAIL}) (i32.const 1))))
  ;; announce, re-check, wait: 1 if the counter moved, 0 on timeout
  ;; SYNC POINT with $publish in the adapter (and above): the flag is stored before
  ;; the counter is re-read; a publisher stores the counter, then reads the flag
  (func $park (param $flag i32) (param $addr i32) (param $seen i64) (param $ns i64)
    (param $parks i32) (result i32) (local $r i32)
    (i32.atomic.store (local.get $flag) (i32.const 1))
    (if (i64.ne (i64.atomic.load (local.get $addr)) (local.get $seen))
      (then (i32.atomic.store (local.get $flag) (i32.const 0)) (return (i32.const 1))))
    (if (i32.atomic.load offset={O_CLOSED} (i32.const 0))
      (then (i32.atomic.store (local.get $flag) (i32.const 0)) (return (i32.const 1))))
    ;; counted like an adapter's park (only this side writes its counter)
    (i64.store (local.get $parks) (i64.add (i64.load (local.get $parks)) (i64.const 1)))
    (local.set $r (memory.atomic.wait32 (local.get $addr) (i32.wrap_i64 (local.get $seen))
                                        (local.get $ns)))
    (i32.atomic.store (local.get $flag) (i32.const 0))
    (i32.ne (local.get $r) (i32.const 2)))
  (func (export "park_reader") (param i64 i64) (result i32)
    (call $park (i32.const {O_RWAIT}) (i32.const {O_HEAD}) (local.get 0) (local.get 1)
                (i32.const {O_RPARK})))
  ;; a writer held back by the host's tap parks on the tap's cursor
  (func (export "park_writer_on_tap") (param i64 i64) (result i32)
    (call $park (i32.const {O_WWAIT}) (i32.const {O_TAPTAIL}) (local.get 0) (local.get 1)
                (i32.const {O_WPARK})))
  (func (export "park_writer") (param i64 i64) (result i32)
    (call $park (i32.const {O_WWAIT}) (i32.const {O_TAIL}) (local.get 0) (local.get 1)
                (i32.const {O_WPARK})))
  ;; wake a writer parked on a full ring because of the tap (it parks on tap_tail)
  (func (export "notify_tail")
    (if (i32.atomic.load (i32.const {O_WWAIT}))
      (then (drop (memory.atomic.notify (i32.const {O_TAPTAIL}) (i32.const 1))))))
  ;; wake every end parked on this ring (a hot upgrade asked it to yield)
  (func (export "wake")
    (drop (memory.atomic.notify (i32.const {O_HEAD}) (i32.const -1)))
    (drop (memory.atomic.notify (i32.const {O_TAIL}) (i32.const -1)))
    (drop (memory.atomic.notify (i32.const {O_TAPTAIL}) (i32.const -1))))
  ;; SYNC POINT with $refresh's closed branch in the adapter and TunnelReader
  ;; in ring/endpoint.py: closed is stored after the last publish of head
  (func (export "close")
    (i32.atomic.store offset={O_CLOSED} (i32.const 0) (i32.const 1))
    (drop (memory.atomic.notify (i32.const {O_HEAD}) (i32.const -1)))
    (drop (memory.atomic.notify (i32.const {O_TAIL}) (i32.const -1)))
    ;; a writer held back by the host's tap parks on the tap's cursor
    (drop (memory.atomic.notify (i32.const {O_TAPTAIL}) (i32.const -1))))
)
"""


def control_wat(pages: int) -> str:
    values = dict(P=pages, O_HEAD=L.OFF_HEAD, O_TAIL=L.OFF_TAIL, O_RWAIT=L.OFF_READER_WAITING,
                  O_WWAIT=L.OFF_WRITER_WAITING, O_CLOSED=L.OFF_CLOSED, O_TAPTAIL=L.OFF_TAP_TAIL,
                  O_RPARK=L.OFF_READER_PARKS, O_WPARK=L.OFF_WRITER_PARKS)
    return _CONTROL_WAT.format(**values)


def _instance(rt: Runtime, ring: RingMemory) -> tuple[wasmtime.Store, dict[str, FastFunc]]:
    """A fresh store with the control module instantiated on ``ring``."""
    store = rt.new_store()  # the host's calls never time out
    module = rt.module(control_wat(ring.geometry.pages))
    inst = wasmtime.Instance(store, module, [ring.shared])
    funcs = {}
    for name, func in inst.exports(store).items():
        assert isinstance(func, wasmtime.Func)
        funcs[name] = FastFunc(store, func)
    return store, funcs


class RingControl:
    """Publish/park/close for one ring.

    The writer's calls (publish head, park writer) and the reader's (publish
    tail, park reader) run in two stores of their own: when the host holds
    both ends, a parked writer must not keep the reader from publishing the
    tail that would wake it. Closing and waking may come from any thread,
    even while an owner is parked, so they run in a third store. Each store
    is made on first use: a tunnel between two services never needs the
    first two.
    """

    def __init__(self, rt: Runtime, ring: RingMemory) -> None:
        self.ring = ring
        self._rt = rt
        self._stores: dict[str, dict[str, FastFunc]] = {}
        self._held: list[wasmtime.Store] = []  # closed by release()
        self._released = False
        self._locks = {side: threading.Lock() for side in ("writer", "reader", "any")}
        self.broken_by: BreakInfo | None = None
        # "reader"/"writer" -> ring that end's bell: its service waits on many
        # ends (ring/bell.py), so a wake of it must reach its bell line too
        self.bells: dict[str, Callable[[], None]] = {}

    def _ring_bells(self, *sides: str) -> None:
        for side in sides or tuple(self.bells):
            bell = self.bells.get(side)
            if bell is not None:
                bell()

    def _call(self, side: str, name: str, *args: int) -> int | None:
        with self._locks[side]:
            funcs = self._stores.get(side)
            if funcs is None:
                if self._released:  # its stores are gone: no call reaches Wasm
                    if name == "close":
                        return None  # a released ring is closed already
                    raise TunnelClosed("tunnel is closed: its mesh was closed")
                funcs = self._made(side)
            return funcs[name](*args)

    def _made(self, side: str) -> dict[str, FastFunc]:
        """Make ``side``'s store (its lock held)."""
        store, funcs = _instance(self._rt, self.ring)
        self._held.append(store)
        self._stores[side] = funcs
        return funcs

    def prepare(self, side: str) -> None:
        """Make ``side``'s store now: a host end's, when the end is made, so
        that its first wake of a parked peer does not pay for it in the middle
        of a stream (about a millisecond, on an asyncio loop's thread too)."""
        with self._locks[side]:
            if side not in self._stores and not self._released:
                self._made(side)

    def release(self) -> None:
        """Close the control stores (each waits for a call in progress on its
        side); from then on only ``close`` is accepted, and does nothing."""
        for side, lock in self._locks.items():
            with lock:
                self._released = True
                self._stores.pop(side, None)
        for store in self._held:  # no call can reach them any more
            store.close()
        self._held.clear()

    def publish_head(self, head: int) -> None:
        self._call("writer", "publish_head", head)

    def publish_tail(self, tail: int) -> None:
        self._call("reader", "publish_tail", tail)

    def wake_reader(self) -> None:
        """Wake the reader parked on head: the writer published from Python
        and, behind a fence, found reader_waiting set."""
        self._call("writer", "wake_head")
        self._ring_bells("reader")

    def wake_writer(self) -> None:
        """Wake the writer parked on tail: the reader published its tail from
        Python and, behind a fence, found writer_waiting set."""
        self._call("reader", "wake_tail")
        self._ring_bells("writer")

    def park_reader(self, seen_head: int, timeout_ns: int = PARK_TIMEOUT_NS) -> bool:
        """Sleep until head moves from ``seen_head`` (True) or the timeout (False)."""
        return bool(self._call("reader", "park_reader", seen_head, timeout_ns))

    def park_writer(self, seen_tail: int, timeout_ns: int = PARK_TIMEOUT_NS,
                    on_tap: bool = False) -> bool:
        """Sleep until the tail (or, when the tap holds the writer, the tap's
        cursor) moves from ``seen_tail`` (True) or the timeout (False)."""
        name = "park_writer_on_tap" if on_tap else "park_writer"
        return bool(self._call("writer", name, seen_tail, timeout_ns))

    def notify_tail(self) -> None:
        """Wake the writer if it parked: the host's tap freed slots."""
        self._call("any", "notify_tail")

    def ask_yield(self, side: str, on: bool = True) -> None:
        """Set (or clear) the yield flag of the ``side`` end ("reader" or
        "writer"): a hot upgrade asks that end's service to return at its next
        commit point (docs/ring.md, reader_yield and writer_yield)."""
        self.ring.put_u32(L.OFF_READER_YIELD if side == "reader" else L.OFF_WRITER_YIELD,
                          int(on))

    def wake(self) -> None:
        """Wake whatever is parked on the ring, so that it sees a yield flag."""
        self._call("any", "wake")
        self._ring_bells()

    def close(self) -> None:
        """Set the closed flag and wake every waiter on both sides.

        Most rings have nobody parked when they close (a mesh's stop closes
        thousands at once), and waking needs a Wasm call in a store of its
        own, so the flag is set from Python and Wasm is called only if a
        side announced a park.
        """
        # SYNC POINT with the park handshakes (adapter $wait, $park above): a
        # parker stores its waiting flag, then re-reads closed; the closer
        # stores closed, fences, then reads the flags. One of them sees the
        # other, so a parker either sees closed or is woken here.
        if self.ring.set_closed_and_fence():
            self._call("any", "close")
            self._ring_bells()

    def break_(self, info: BreakInfo) -> None:
        """Break the tunnel: the service at one end is gone for good.

        The flag is set once (a second break keeps the first reason); every
        parked end is woken as by a close, and sees BROKEN on its slow path
        (a reader once it has drained what was published)."""
        if self.broken_by is None or not self.ring.broken:  # none yet, or healed since
            self.broken_by = info
        reason = self.ring.broken or info.reason  # the first break's reason stays
        # SYNC POINT with the park handshakes, as close(): broken, closed, fence, flags
        if self.ring.set_broken_and_fence(reason):
            self._call("any", "close")
            self._ring_bells()

    def heal(self) -> None:
        """Undo a break whose cause came back: a browser tab that left and
        rejoined within its lease (bridge/weblease.py). Only for a tunnel whose
        ring only the host's bridge writes; its reader reads on from where it
        stopped. ``broken_by`` stays until another break replaces it, so an end
        that saw the break just before the heal still says why.
        """
        # SYNC POINT with TunnelReader._ready_count: closed is cleared before
        # broken, so a reader that saw closed and then broken 0 re-reads closed
        # and finds the ring open (a close with no break keeps closed set)
        self.ring.put_u32(L.OFF_CLOSED, 0)
        self.ring.put_u32(L.OFF_BROKEN, 0)

    def broken_error(self) -> TunnelBroken:
        """The host end's exception for this broken ring, its cause chained."""
        info = self.broken_by
        if info is None:  # broken by a host this process does not know of
            return TunnelBroken(f"tunnel {self.ring.name!r} is broken (reason "
                                f"{self.ring.broken}): the service at its other end is gone")
        err = TunnelBroken(info.describe(self.ring.name))
        err.__cause__ = info.error
        return err

    def dead_letter(self) -> DeadLetter | None:
        """Move the message at the committed tail aside (``protocol.dead_letter``).

        Only the reader's side moves tail: call this only while the reader's
        service is not running (its supervisor, between a trap and the
        reload). The tail is published as a commit publishes it, waking a
        parked writer. None if no message waits there (or the ring's counters
        or the slot's length would not pass the reader's own checks)."""
        ring, g = self.ring, self.ring.geometry
        tail, head = ring.u64(L.OFF_TAIL), ring.u64(L.OFF_HEAD)
        if used(head, tail) == 0 or not counters_ok(head, tail, g):
            return None
        (length,) = ring.slot_lengths(tail, 1)
        if not length_ok(length, g):
            return None
        (data,) = ring.read_payloads(tail, [length])
        ring.put_u64(L.OFF_BYTES_OUT, ring.u64(L.OFF_BYTES_OUT) + length)
        ring.put_u64(L.OFF_DEAD_LETTERS, ring.u64(L.OFF_DEAD_LETTERS) + 1)
        self.publish_tail((tail + 1) & ((1 << 64) - 1))
        return DeadLetter(ring.name, tail, data)

