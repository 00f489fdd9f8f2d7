"""The host's hands on a port: post-and-wait, take, complete, requeue, in Wasm.

Python cannot compare-and-swap or wait on a shared memory, so each host
user of a port (a host client, the host server, the supervisor) holds one
tiny instance of this module in a store of its own and calls it through
``FastFunc``: a host call is one Wasm call (post, wake the server, spin,
park with the deadline, abandon on timeout); the payload bytes are copied
by ``PortMemory`` before and after it. Generated from ``portlayout``.
"""

from __future__ import annotations

import threading

import wasmtime

from ..capi.fastcall import FastFunc
from ..host.engine import Runtime
from . import portlayout as P
from .layout import Status
from .memory import PortMemory
from .port_template import CLIENT_SPIN, SERVER_PARK_NS, SERVER_SPIN, SLICE_NS
from .portlayout import Box

_WAT = """
(module
  (import "p" "port" (memory {PAGES} {PAGES} shared))
  (func $gone (result i32)
    (if (i32.atomic.load offset={O_CLOSED} (i32.const 0)) (then (return (i32.const {CLOSED}))))
    (if (i32.atomic.load offset={O_BROKEN} (i32.const 0)) (then (return (i32.const {BROKEN}))))
    (i32.const 0))
  (func $abandon (param $a i32) (param $id i64) (result i32)
    (if (i64.eq (i64.atomic.rmw.cmpxchg (local.get $a) (i64.or (local.get $id) (i64.const {POSTED}))
                  (i64.or (local.get $id) (i64.const {ABANDONED})))
                (i64.or (local.get $id) (i64.const {POSTED})))
      (then (return (i32.const 1))))
    (i64.eq (i64.atomic.rmw.cmpxchg (local.get $a) (i64.or (local.get $id) (i64.const {TAKEN}))
              (i64.or (local.get $id) (i64.const {ABANDONED})))
            (i64.or (local.get $id) (i64.const {TAKEN}))))
  ;; post call $id (its request is written) in mailbox $a and wait for the
  ;; reply: 0 replied, else a status (TIMEOUT, CLOSED, BROKEN, CORRUPT)
  ;; SYNC POINT with $precv in the server's adapter: as $pcall in ring/port_template.py
  (func (export "call") (param $a i32) (param $id i64) (param $ns i64) (result i32)
    (local $w i64) (local $spin i32) (local $r i32) (local $slice i64)
    (local.set $r (call $gone))
    (if (local.get $r) (then (return (local.get $r))))
    (local.set $id (i64.shl (local.get $id) (i64.const 32)))
    (i64.atomic.store (local.get $a) (i64.or (local.get $id) (i64.const {POSTED})))
    (i64.store offset={B_CALLS} (local.get $a)
      (i64.add (i64.load offset={B_CALLS} (local.get $a)) (i64.const 1)))
    (drop (i32.atomic.rmw.add offset={O_WAKE} (i32.const 0) (i32.const 1)))
    (if (i32.atomic.load offset={O_SWAIT} (i32.const 0))
      (then (drop (memory.atomic.notify offset={O_WAKE} (i32.const 0) (i32.const 1)))))
    (local.set $spin (i32.const {CSPIN}))
    (loop $poll
      (local.set $w (i64.atomic.load (local.get $a)))
      (if (i64.eq (local.get $w) (i64.or (local.get $id) (i64.const {REPLIED})))
        (then (return (i32.const 0))))
      (if (i64.ne (i64.shr_u (local.get $w) (i64.const 32)) (i64.shr_u (local.get $id)
        (i64.const 32)))
        (then (return (i32.const {CORRUPT}))))
      (if (i32.gt_u (i32.wrap_i64 (local.get $w)) (i32.const {TAKEN}))
        (then (return (i32.const {CORRUPT}))))  ;; REFUSED, or forged
      (if (local.get $spin) (then (local.set $spin (i32.sub (local.get $spin) (i32.const 1)))
                                  (br $poll)))
      (local.set $r (call $gone))
      (if (i32.and (i32.eqz (local.get $r)) (i64.eqz (local.get $ns)))
        (then (local.set $r (i32.const {TIMEOUT}))))
      (if (local.get $r) (then
        (if (call $abandon (local.get $a) (local.get $id)) (then
          (if (i32.eq (local.get $r) (i32.const {TIMEOUT})) (then
            (i64.store offset={B_TIMEOUTS} (local.get $a)
              (i64.add (i64.load offset={B_TIMEOUTS} (local.get $a)) (i64.const 1)))))
          (return (local.get $r))))
        (br $poll)))
      (local.set $slice (select (i64.const {SLICE}) (local.get $ns)
                                (i64.gt_u (local.get $ns) (i64.const {SLICE}))))
      (i32.atomic.store offset={B_WAIT} (local.get $a) (i32.const 1))
      (if (i64.eq (i64.atomic.load (local.get $a)) (local.get $w))
        (then (if (i32.eq (memory.atomic.wait32 (local.get $a) (i32.wrap_i64 (local.get $w))
                                                (local.get $slice)) (i32.const 2))
          (then (if (i64.ne (local.get $ns) (i64.const -1))
            (then (local.set $ns (i64.sub (local.get $ns) (local.get $slice)))))))))
      (i32.atomic.store offset={B_WAIT} (local.get $a) (i32.const 0))
      (br $poll))
    (unreachable))
  ;; the host server: take the next posted request (round robin from $from);
  ;; the mailbox's address, or -1 after a park of $ns with nothing posted
  (func $scan (param $from i32) (result i32) (local $i i32) (local $k i32) (local $a i32)
    (local $w i64)
    (local.set $i (local.get $from))
    (local.set $k (i32.const {N}))
    (loop $each
      (if (i32.ge_u (local.get $i) (i32.const {N})) (then (local.set $i (i32.const 0))))
      (local.set $a (i32.add (i32.const {HDR}) (i32.mul (local.get $i) (i32.const {BSZ}))))
      (local.set $w (i64.atomic.load (local.get $a)))
      (if (i32.eq (i32.wrap_i64 (local.get $w)) (i32.const {POSTED})) (then
        (if (i64.eq (i64.atomic.rmw.cmpxchg (local.get $a) (local.get $w)
                      (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {TAKEN})))
                    (local.get $w))
          (then (return (local.get $a))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br_if $each (local.get $k)))
    (i32.const -1))
  (func (export "take") (param $from i32) (param $ns i64) (result i32)
    (local $a i32) (local $spin i32) (local $seen i32)
    (local.set $spin (i32.const {SSPIN}))
    (loop $look
      (local.set $a (call $scan (local.get $from)))
      (if (i32.ge_s (local.get $a) (i32.const 0)) (then (return (local.get $a))))
      (if (call $gone) (then (return (i32.const -1))))
      (if (local.get $spin) (then (local.set $spin (i32.sub (local.get $spin) (i32.const 1)))
                                  (br $look))))
    (i32.atomic.store offset={O_SWAIT} (i32.const 0) (i32.const 1))
    (local.set $seen (i32.atomic.load offset={O_WAKE} (i32.const 0)))
    (local.set $a (call $scan (local.get $from)))
    (if (i32.lt_s (local.get $a) (i32.const 0)) (then
      (drop (memory.atomic.wait32 offset={O_WAKE} (i32.const 0) (local.get $seen) (local.get $ns)))
      (local.set $a (call $scan (local.get $from)))))
    (i32.atomic.store offset={O_SWAIT} (i32.const 0) (i32.const 0))
    (local.get $a))
  ;; the host server's reply is written: TAKEN -> REPLIED for call $id, 1 if delivered
  (func (export "complete") (param $a i32) (param $id i64) (result i32)
    (local.set $id (i64.shl (local.get $id) (i64.const 32)))
    (if (i64.ne (i64.atomic.rmw.cmpxchg (local.get $a) (i64.or (local.get $id) (i64.const {TAKEN}))
                  (i64.or (local.get $id) (i64.const {REPLIED})))
                (i64.or (local.get $id) (i64.const {TAKEN})))
      (then (return (i32.const 0))))
    (if (i32.atomic.load offset={B_WAIT} (local.get $a))
      (then (drop (memory.atomic.notify (local.get $a) (i32.const 1)))))
    (i32.const 1))
  ;; the host server refuses call $id (a length out of range): TAKEN -> REFUSED
  (func (export "refuse") (param $a i32) (param $id i64)
    (local.set $id (i64.shl (local.get $id) (i64.const 32)))
    (drop (i64.atomic.rmw.cmpxchg (local.get $a) (i64.or (local.get $id) (i64.const {TAKEN}))
            (i64.or (local.get $id) (i64.const {REFUSED}))))
    (drop (memory.atomic.notify (local.get $a) (i32.const 1))))
  ;; after a server trap: every TAKEN request is POSTED again; how many were
  (func (export "requeue") (result i32) (local $i i32) (local $a i32) (local $w i64) (local $n i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (i32.const {N})))
      (local.set $a (i32.add (i32.const {HDR}) (i32.mul (local.get $i) (i32.const {BSZ}))))
      (local.set $w (i64.atomic.load (local.get $a)))
      (if (i32.eq (i32.wrap_i64 (local.get $w)) (i32.const {TAKEN})) (then
        (if (i64.eq (i64.atomic.rmw.cmpxchg (local.get $a) (local.get $w)
                      (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {POSTED})))
                    (local.get $w))
          (then (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i64.store offset={O_REQUEUED} (i32.const 0)
      (i64.add (i64.load offset={O_REQUEUED} (i32.const 0)) (i64.extend_i32_u (local.get $n))))
    (drop (i32.atomic.rmw.add offset={O_WAKE} (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify offset={O_WAKE} (i32.const 0) (i32.const -1)))
    (local.get $n))
  ;; closed or broken was stored: wake the server and every client
  (func (export "wake_all") (local $i i32)
    (drop (i32.atomic.rmw.add offset={O_WAKE} (i32.const 0) (i32.const 1)))
    (drop (memory.atomic.notify offset={O_WAKE} (i32.const 0) (i32.const -1)))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (i32.const {N})))
      (drop (memory.atomic.notify (i32.add (i32.const {HDR}) (i32.mul (local.get $i)
        (i32.const {BSZ})))
                                  (i32.const -1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))
)
"""


def portctl_wat(port: PortMemory) -> str:
    """The control module's text for ``port``'s geometry."""
    g = port.geometry
    return _WAT.format(
        PAGES=g.pages, N=g.mailboxes, HDR=P.HEADER_SIZE, BSZ=g.box_size, HI=-(1 << 32),
        O_CLOSED=P.OFF_CLOSED, O_BROKEN=P.OFF_BROKEN, O_WAKE=P.OFF_WAKE,
        O_SWAIT=P.OFF_SERVER_WAITING, O_REQUEUED=P.OFF_REQUEUED,
        B_CALLS=P.BOX_CALLS, B_TIMEOUTS=P.BOX_TIMEOUTS, B_WAIT=P.BOX_CLIENT_WAITING,
        POSTED=Box.POSTED, TAKEN=Box.TAKEN, REPLIED=Box.REPLIED, ABANDONED=Box.ABANDONED,
        REFUSED=Box.REFUSED, CLOSED=Status.CLOSED, BROKEN=Status.BROKEN,
        CORRUPT=Status.CORRUPT, TIMEOUT=Status.TIMEOUT, CSPIN=CLIENT_SPIN, SSPIN=SERVER_SPIN,
        SLICE=SLICE_NS)


class PortControl:
    """One instance of the control module, in a store of its own, for one
    user (a host client, the host server, the supervisor). A store is not
    thread-safe: calls are serialised by a lock; each blocking user has its
    own ``PortControl``, so a parked client never holds up another."""

    def __init__(self, rt: Runtime, port: PortMemory) -> None:
        self.port = port
        self._store = rt.new_store()
        inst = wasmtime.Instance(self._store, rt.module(portctl_wat(port)), [port.shared])
        self._funcs: dict[str, FastFunc] = {}
        for name, func in inst.exports(self._store).items():
            assert isinstance(func, wasmtime.Func)
            self._funcs[name] = FastFunc(self._store, func)
        self._lock = threading.Lock()
        self._closed = False

    def _call(self, name: str, *args: int) -> int:
        with self._lock:
            if self._closed:
                return Status.CLOSED
            return self._funcs[name](*args) or 0

    def call(self, box: int, call_id: int, timeout_ns: int) -> int:
        """Post call ``call_id`` in mailbox address ``box`` and wait (-1: for good)."""
        return self._call("call", box, call_id, timeout_ns)

    def take(self, start: int, timeout_ns: int = SERVER_PARK_NS) -> int:
        return self._call("take", start, timeout_ns)

    def complete(self, box: int, call_id: int) -> bool:
        return bool(self._call("complete", box, call_id))

    def refuse(self, box: int, call_id: int) -> None:
        self._call("refuse", box, call_id)

    def requeue(self) -> int:
        return self._call("requeue")

    def wake_all(self) -> None:
        self._call("wake_all")

    def release(self) -> None:
        """Close the store (waits for a call in progress)."""
        with self._lock:
            self._closed = True
            self._store.close()
