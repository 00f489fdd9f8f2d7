"""The tunnel adapter: all ring logic, in Wasm, generated from ``layout``.

A service's adapter is one small core module instantiated in the service's
own store. Memory 0 is the guest's linear memory; memories 1..K are the
shared ring memories of the service's K tunnel ends. Wasm names memories by a
static index, so the code of each tunnel end is generated from one template
with its memory index and geometry baked in as constants, and the exported
guest ABI dispatches on the handle with a ``br_table``. Every offset comes
from ``layout``; nothing here is written by hand twice.

Memory-ordering notes: Wasm atomics are sequentially consistent. The writer
fills a slot with plain stores, then publishes ``head`` with an atomic store
(release); the reader acquires ``head`` with an atomic load before reading the
slot. The waiter handshake is Dekker-style: a parker stores its waiting flag,
then re-reads the counter; a publisher stores the counter, then reads the
flag. With SC atomics at least one of them sees the other, so a wake-up is
never lost; waits also carry a finite timeout and re-check ``closed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import wasmtime

from ..errors import InternalError
from . import fanin, hotpath, waitany
from . import layout as L
from .bell import BELL_MODULE, BELL_PAGES, OFF_BELL_PARKS, OFF_BELL_SEQ, BellPlan
from .layout import Geometry, Quarantine, Status
from .port_template import PortShape, port_imports, port_parts
from .protocol import FIELD_NAMES
from .pubsub_wat import Sub, reader_helpers, reader_templates, reader_values, writer_helpers
from .pubsub_wat import writer_values as pubsub_writer_values
from .template import Helper, fill, name_is
from .waitpolicy import DEFAULT_WAIT, PARK_ONCE, WaitPolicy, wait_template

if TYPE_CHECKING:
    from ..host.engine import Runtime


class Direction(Enum):
    """Which end of a tunnel a service holds."""

    WRITE = "write"
    READ = "read"


@dataclass(frozen=True)
class EndSpec:
    """One tunnel end as the adapter sees it: name, direction, geometry.

    ``alias``, when set, is the name the guest asks ``tunnel()`` for in place
    of the tunnel's (``names=`` in ``Mesh.service``): one binary serves under
    several names. It is baked into the adapter's lookup, so it is part of
    the shape.
    """

    name: str
    direction: Direction
    geometry: Geometry
    alias: str = ""
    sub: Sub | None = None  # a read end of a pub-sub ring: its line and policy
    wait: WaitPolicy = DEFAULT_WAIT  # how it waits when blocked (ring/waitpolicy.py)


# Spin budgets, in polls of the other side's counter. A reader waiting on an
# empty ring is on the latency path (ping-pong, request/response): it spins up
# to about the cost of a futex wake-up (~50 us here) so that two services
# answering each other never both fall asleep, and adapts down when parks
# time out (an idle tunnel) or wake to a full ring: the writer then filled
# every slot while the reader spun or slept, as on a core they share, where
# a longer spin only keeps the writer off the core. A writer waiting
# on a full ring is on the throughput path: the reader is the bottleneck,
# spinning would steal its CPU when services outnumber cores, so the writer
# parks soon and the reader wakes it only once the ring is half empty (see
# $commit).
SPIN_INIT = 2048
SPIN_MIN = 64
SPIN_MAX = 1 << 16
WRITER_SPIN = 128
INLINE_COPY = 256  # messages up to this size are copied inline (hotpath.py), not by memory.copy
# A park's timeout. Every wake-up is re-checked (closed included), and close
# notifies every waiter, so the timeout only bounds how long a park that no
# notify reaches can last: the epoch (a forced stop, a deadline) reaches a
# parked service only when its park ends. A reader waiting on an empty ring
# doubles its timeout after each park that timed out, up to READER_PARK_MAX_NS,
# so an idle service wakes once every few seconds, not twenty times a second;
# any wake-up with news starts the next wait afresh. Its wake-ups never
# depend on the timeout: a writer notifies it on every publish once it has
# announced its park. A writer's timeout stays PARK_TIMEOUT_NS: a reader
# wakes a parked writer only once the ring is half empty (see $commit), so a
# writer behind a reader that stopped short of that relies on the timeout.
PARK_TIMEOUT_NS = 50_000_000
READER_PARK_MAX_NS = 3_200_000_000  # 50 ms doubled six times

# name, params (after the handle), result; the guest ABI of docs/abi.md
ABI = {
    "send": ("(param i32 i32)", "write"),
    "try_send": ("(param i32 i32)", "write"),
    "send_batch": ("(param i32 i32)", "write"),
    "try_send_batch": ("(param i32 i32)", "write"),
    "recv": ("(param i32 i32)", "read"),
    "try_recv": ("(param i32 i32)", "read"),
    "recv_batch": ("(param i32 i32 i32)", "read"),
    "try_recv_batch": ("(param i32 i32 i32)", "read"),
    "commit": ("", "read"),
    "close": ("", "any"),
    "recv_raw": ("(param i32)", "read"),
    "try_recv_raw": ("(param i32)", "read"),
    "missed": ("", "read"),  # exported only by adapters holding a subscriber end
}
ABI_PARAM_COUNT = {"send": 2, "try_send": 2, "send_batch": 2, "try_send_batch": 2,
                   "recv": 2, "try_recv": 2, "recv_batch": 3, "try_recv_batch": 3,
                   "commit": 0, "close": 0, "recv_raw": 1, "try_recv_raw": 1, "missed": 0}


def abi_type(name: str) -> str:
    """The WAT function type of one ABI export: handle first, i32 result."""
    return f"(param i32) {ABI[name][0]} (result i32)"


def _consts(m: int, g: Geometry) -> dict[str, object]:
    return dict(
        m=m, N=g.slot_count, HALF=g.slot_count // 2, MASK=g.mask, SZ=g.slot_size,
        PMAX=g.max_payload,
        HDR=L.HEADER_SIZE, SH=L.SLOT_HEADER, MAGIC=L.MAGIC, VERSION=L.VERSION,
        O_MAGIC=L.OFF_MAGIC, O_VERSION=L.OFF_VERSION, O_COUNT=L.OFF_SLOT_COUNT,
        O_SIZE=L.OFF_SLOT_SIZE, O_CLOSED=L.OFF_CLOSED, O_Q=L.OFF_QUARANTINE,
        O_HSIZE=L.OFF_HEADER_SIZE, O_HEAD=L.OFF_HEAD, O_TAIL=L.OFF_TAIL,
        O_BIN=L.OFF_BYTES_IN, O_BOUT=L.OFF_BYTES_OUT, O_FULL=L.OFF_FULL,
        O_EMPTY=L.OFF_EMPTY, O_WPARK=L.OFF_WRITER_PARKS, O_RPARK=L.OFF_READER_PARKS,
        O_WWAKE=L.OFF_WRITER_WAKES, O_RWAKE=L.OFF_READER_WAKES,
        O_RWAIT=L.OFF_READER_WAITING, O_WWAIT=L.OFF_WRITER_WAITING,
        CLOSED=Status.CLOSED, AGAIN=Status.AGAIN, TOO_BIG=Status.TOO_BIG,
        CORRUPT=Status.CORRUPT, TRUNC=Status.TRUNCATED, BROKEN=Status.BROKEN,
        O_BROKEN=L.OFF_BROKEN, O_RYIELD=L.OFF_READER_YIELD, O_WYIELD=L.OFF_WRITER_YIELD,
        YIELD=Status.YIELD,
        Q_HDR=Quarantine.BAD_HEADER, Q_CNT=Quarantine.BAD_COUNTERS,
        Q_LEN=Quarantine.BAD_LENGTH,
        TIMEOUT=PARK_TIMEOUT_NS, INLINE=INLINE_COPY, LAG=min(32, g.slot_count // 4),
    )


# Shared by both directions: state globals, attach (validate the header once,
# then load the counters), quarantine, and the parking loop.
_COMMON_HEAD = """
  (global $pos{m} (mut i64) (i64.const 0))   ;; my counter (head or tail), private copy
  (global $peer{m} (mut i64) (i64.const 0))  ;; cached copy of the other side's counter
  (global $ok{m} (mut i32) (i32.const 0))    ;; 0 unattached, 1 attached, 2 quarantined
  (global $spin{m} (mut i32) (i32.const {SPIN_INIT}))
  (global $waitat{m} (mut i32) (i32.const {OTHER}))  ;; the counter a park waits on
  (global $done{m} (mut i64) (i64.const 0))    ;; reader: the tail last committed
  (global $unbytes{m} (mut i64) (i64.const 0)) ;; reader: bytes received, not committed

  (func $quarantine{m} (param $why i32) (result i32)
    (i32.atomic.store {m} offset={O_Q} (i32.const 0) (local.get $why))
    (global.set $ok{m} (i32.const 2))
    ;; wake both sides so that nobody sleeps on a ring that will not move
    (drop (memory.atomic.notify {m} offset={O_HEAD} (i32.const 0) (i32.const -1)))
    (drop (memory.atomic.notify {m} offset={O_TAIL} (i32.const 0) (i32.const -1)))
    (i32.const {CORRUPT}))

  ;; validate magic, version and geometry against what this adapter was built for
  (func $attach{m} (result i32) (local $v i64) (local $t i64){@sub_locals}
    (if (i32.eq (global.get $ok{m}) (i32.const 2)) (then (return (i32.const {CORRUPT}))))
    (if (i32.or (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_MAGIC} (i32.const 0)) (i32.const {MAGIC}))
          (i32.ne (i32.atomic.load {m} offset={O_VERSION} (i32.const 0)) (i32.const {VERSION})))
        (i32.or (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_COUNT} (i32.const 0)) (i32.const {N}))
          (i32.ne (i32.atomic.load {m} offset={O_SIZE} (i32.const 0)) (i32.const {SZ})))
          (i32.ne (i32.atomic.load {m} offset={O_HSIZE} (i32.const 0)) (i32.const {HDR}))))
      (then (return (call $quarantine{m} (i32.const {Q_HDR})))))
{@sub_header}    (if (i32.atomic.load {m} offset={O_Q} (i32.const 0))
      (then (global.set $ok{m} (i32.const 2)) (return (i32.const {CORRUPT}))))
    (global.set $pos{m} (i64.atomic.load {m} offset={OWN} (i32.const 0)))   ;; acquire
    (global.set $done{m} (global.get $pos{m}))
    (local.set $v (i64.atomic.load {m} offset={OTHER} (i32.const 0)))  ;; acquire
    ;; a writer attaching while a lossless tap lags holds back for it at once
{@tap_hold}    (global.set $peer{m} (local.get $v))
    {@check_counters}
    (global.set $ok{m} (i32.const 1))
    (i32.const 0))

  ;; the slow path: re-read the other side's counter, check it, check the flags.
  ;; returns 1 if I can proceed, 0 if not yet, or a negative status
  (func $refresh{m} (result i32) (local $v i64) (local $t i64){@sub_locals}
    (if (i32.atomic.load {m} offset={O_Q} (i32.const 0))
      (then (global.set $ok{m} (i32.const 2)) (return (i32.const {CORRUPT}))))
    (local.set $v (i64.atomic.load {m} offset={OTHER} (i32.const 0)))  ;; acquire
{@tap_hold}    (global.set $peer{m} (local.get $v))
    {@check_counters}
    (if (call $ready{m}) (then (return (i32.const 1))))
    ;; closed is set after the last publish: re-read the counter once it is seen
    ;; SYNC POINT with $close in the other side's adapter, RingControl.close in
    ;; ring/control.py: closed load here, then the counter re-read below
    (if (i32.atomic.load {m} offset={O_CLOSED} (i32.const 0))
      (then
        (global.set $peer{m} (i64.atomic.load {m} offset={OTHER} (i32.const 0)))
        {@check_counters}
        (if (call $ready{m}) (then (return (i32.const 1))))
        (return (call $ended{m}))))
{@yield_idle}    (i32.const 0))

  ;; what a closed ring says: BROKEN if the host broke it (the service at the
  ;; other end is gone for good; broken is stored before closed), else CLOSED.
  ;; Only ever called once closed was seen: never on the per-message path
  (func $ended{m} (result i32)
    (select (i32.const {BROKEN}) (i32.const {CLOSED})
            (i32.atomic.load {m} offset={O_BROKEN} (i32.const 0))))

"""

# the wait of policy "adaptive" (the default; ring/waitpolicy.py has the others, and
# PARK_ONCE, the turn of the park loop this one shares with "park")
_ADAPTIVE_WAIT = """  ;; spin, then announce and park with a finite timeout; adapt the spin budget,
  ;; and back the timeout off while parks time out (one wait = one idle spell)
  (func $wait{m} (result i32) (local $r i32) (local $i i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const {TIMEOUT}))
    (local.set $i (global.get $spin{m}))
    (loop $spin
      (local.set $r (call $refresh{m}))
      (if (local.get $r) (then (return (local.get $r))))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $spin (local.get $i)))
    (loop $park
""" + PARK_ONCE + """      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const {PARK_MAX}) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const {PARK_MAX2}))))
          (global.set $spin{m} (select (i32.const {SPIN_MIN})
                (i32.shr_u (global.get $spin{m}) (i32.const 1))
                (i32.lt_u (global.get $spin{m}) (i32.const {SPIN_MIN2})))))
        (else
          ;; woken: the news came after the spin ran out. Some of it means a longer spin
          ;; would have caught it: double the spin. A whole ring of it (every slot full
          ;; for a reader) means the other side ran all that while, as on a core they
          ;; share, where spinning only keeps it off the core: halve the spin
          (local.set $r (call $refresh{m}))
          (global.set $spin{m} (select
            (select (i32.const {SPIN_MIN}) (i32.shr_u (global.get $spin{m}) (i32.const 1))
                    (i32.lt_u (global.get $spin{m}) (i32.const {SPIN_MIN2})))
            (select (i32.const {SPIN_MAX}) (i32.shl (global.get $spin{m}) (i32.const 1))
                    (i32.gt_u (global.get $spin{m}) (i32.const {SPIN_MAX2})))
            (i64.ge_u {@backlog} (i64.const {N}))))
          (if (local.get $r) (then (return (local.get $r))))))
      (br $park))
    (unreachable))
"""

_COMMON_TAIL = """
  ;; SYNC POINT with $refresh's closed branch in the other side's adapter: closed is
  ;; stored after this side's last publish, so a reader that sees it re-reads head
  (func $close{m} (result i32)
    (i32.atomic.store {m} offset={O_CLOSED} (i32.const 0) (i32.const 1))
    (drop (memory.atomic.notify {m} offset={O_HEAD} (i32.const 0) (i32.const -1)))
    (drop (memory.atomic.notify {m} offset={O_TAIL} (i32.const 0) (i32.const -1)))
{@ring_peer}    (i32.const 0))
"""

_WRITER = """
  (func $ready{m} (result i32)  ;; a free slot
    (i64.lt_u (i64.sub (global.get $pos{m}) (global.get $peer{m})) (i64.const {N})))

  ;; publish head (release), then wake the reader only if it announced a park
  ;; SYNC POINT with $wait in the reader adapter and park_reader in ring/control.py:
  ;; head is stored before reader_waiting is read; they store the flag, then re-read head
  (func $publish{m} (param $bytes i64)
    (i64.atomic.store {m} offset={O_HEAD} (i32.const 0) (global.get $pos{m}))
    {@bump O_BIN local $bytes}
    (if (i32.atomic.load {m} offset={O_RWAIT} (i32.const 0))
      (then
        (drop (memory.atomic.notify {m} offset={O_HEAD} (i32.const 0) (i32.const {WAKE_N})))
{@ring_peer}        {@bump O_WWAKE})))

  ;; copy one message into the next slot; the caller checked room and size
  (func $put{m} (param $ptr i32) (param $len i32) (local $slot i32)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $slot {@slot_addr})
    (i32.store {m} (local.get $slot) (local.get $len))
    (i32.store {m} offset={SLOT_FLAGS} (local.get $slot) {@slot_seq})
    {@copy_inline_in 0}
{@sample}    (global.set $pos{m} (i64.add (global.get $pos{m}) (i64.const 1))))

  (func $room{m} (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok{m}) (i32.const 1))
      (then (local.set $r (call $attach{m})) (if (local.get $r) (then (return (local.get $r))))))
    (if (call $ready{m}) (then
      (if (i32.atomic.load {m} offset={O_CLOSED} (i32.const 0))
        (then (return (call $ended{m}))))
      (return (i32.const 1))))
    (local.set $r (call $refresh{m}))
    (if (i32.eq (local.get $r) (i32.const 0)) (then
      {@bump O_FULL}
      (if (i32.eqz (local.get $block)) (then (return (i32.const {AGAIN}))))
      (local.set $r (call $wait{m}))))
    (if (i32.and (i32.eq (local.get $r) (i32.const 1))
                 (i32.atomic.load {m} offset={O_CLOSED} (i32.const 0)))
      (then (return (call $ended{m}))))
    (local.get $r))

  (func $close_end{m} (result i32) (call $close{m}))

  (func $send{m} (param $block i32) (param $ptr i32) (param $len i32) (result i32) (local $r i32)
    (if (i32.gt_u (local.get $len) (i32.const {PMAX})) (then (return (i32.const {TOO_BIG}))))
    (local.set $r (call $room{m} (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (call $put{m} (local.get $ptr) (local.get $len))
    (call $publish{m} (i64.extend_i32_u (local.get $len)))
    ;; a writer-only service asked to yield learns it once its message is out
    (select (i32.const {YIELD}) (i32.const 0)
            (i32.atomic.load {m} offset={O_WYIELD} (i32.const 0))))

"""
_WRITER += hotpath.SEND_BATCH

_READER = """
  (func $ready{m} (result i32)  ;; a message waiting
    (i64.ne (global.get $pos{m}) (global.get $peer{m})))

  ;; Reading is two-phase: a message received stays uncommitted (its slot is
  ;; not given back) until the next receive, an explicit commit, or a park.
  ;; A reader that traps before committing gets the message again after its
  ;; restart, since a new adapter attaches at the committed tail.
  ;; Commit publishes tail (release), then wakes the writer only if it parked,
  ;; and only once the ring is at most half full: a writer woken for every
  ;; freed slot would park again at once (hysteresis; its wait has a timeout).
  ;; SYNC POINT with $wait in the writer adapter and park_writer in ring/control.py:
  ;; tail is stored before writer_waiting is read; they store the flag, then re-read tail
  (func $commit{m}
    (if (i64.eq (global.get $pos{m}) (global.get $done{m})) (then (return)))
    (global.set $done{m} (global.get $pos{m}))
    (i64.atomic.store {m} offset={O_TAIL} (i32.const 0) (global.get $pos{m}))
    {@bump O_BOUT global $unbytes}
    (global.set $unbytes{m} (i64.const 0))
    (if (i32.and (i32.atomic.load {m} offset={O_WWAIT} (i32.const 0))
          (i64.le_u (i64.sub (global.get $peer{m}) (global.get $pos{m})) (i64.const {HALF})))
      (then
        (drop (memory.atomic.notify {m} offset={O_TAIL} (i32.const 0) (i32.const 1)))
{@ring_peer}        {@bump O_RWAKE})))

  (func $commit_op{m} (result i32)
    (if (i32.eq (global.get $ok{m}) (i32.const 1)) (then (call $commit{m})))
    (i32.const 0))

  (func $close_end{m} (result i32)
    (drop (call $commit_op{m}))
    {@end_close})

  (func $avail{m} (param $block i32) (result i32) (local $r i32)
    (if (i32.ne (global.get $ok{m}) (i32.const 1))
      (then (local.set $r (call $attach{m})) (if (local.get $r) (then (return (local.get $r))))))
    (call $commit{m})  ;; phase two for whatever the previous receive returned
    ;; a hot upgrade's commit point: committed, nothing new taken (one load of
    ;; the line the commit just wrote)
    (if (i32.atomic.load {m} offset={O_RYIELD} (i32.const 0))
      (then (return (i32.const {YIELD}))))
    (if (call $ready{m}) (then (return (i32.const 1))))
    (local.set $r (call $refresh{m}))
    (if (i32.eqz (local.get $r)) (then
      {@bump O_EMPTY}
      (if (i32.eqz (local.get $block)) (then (return (i32.const {AGAIN}))))
      (local.set $r (call $wait{m}))))
    (local.get $r))

  ;; the length of the next message, checked against the slot; or a status
  (func $peek{m} (result i32) (local $len i32)
    (local.set $len (i32.load {m} {@slot_addr}))
    {@check_length $len}
    (local.get $len))

  (func $take{m} (param $ptr i32) (param $len i32) (local $cd i32) (local $cs i32) (local $ct i32)
    {@copy_inline_out 0}
{@sample}    (global.set $pos{m} (i64.add (global.get $pos{m}) (i64.const 1))))

  (func $recv{X}{m} (param $block i32) (param $ptr i32) (param $cap i32) (result i32) (local $r i32)
    (local.set $r (call $avail{m} (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek{m}))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (if (i32.gt_u (local.get $r) (local.get $cap)) (then (return (i32.const {TRUNC}))))
    (call $take{m} (local.get $ptr) (local.get $r)){@lossy_recv}
    (global.set $unbytes{m} (i64.add (global.get $unbytes{m}) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; zero-copy receive, for a guest that maps the ring raw: the message stays
  ;; in its slot (received, not committed, so the writer cannot reuse the slot);
  ;; the u32 at $at gets its payload's offset in the ring memory, the result is
  ;; its length, checked against the slot as recv checks it
  (func $recv_raw{m} (param $block i32) (param $at i32) (result i32) (local $r i32)
{@lossy_raw}    (local.set $r (call $avail{m} (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))
    (local.set $r (call $peek{m}))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (local.get $at) {@payload_addr})
{@sample}    (global.set $pos{m} (i64.add (global.get $pos{m}) (i64.const 1)))
    (global.set $unbytes{m} (i64.add (global.get $unbytes{m}) (i64.extend_i32_u (local.get $r))))
    (local.get $r))

  ;; up to $max records [len u32][payload, padded to 4] into $cap bytes at $ptr
  (func $recv_batch{m} (param $block i32) (param $ptr i32) (param $cap i32) (param $max i32)
    (result i32) (local $r i32) (local $n i32) (local $len i32) (local $need i32) (local $bytes i64)
    (local $cd i32) (local $cs i32) (local $ct i32)
    (local.set $r (call $avail{m} (local.get $block)))
    (if (i32.ne (local.get $r) (i32.const 1)) (then
      (if (i32.eq (local.get $r) (i32.const {AGAIN})) (then (return (i32.const 0))))
      (return (local.get $r))))
    ;; a batch reader right behind the writer would fetch each slot line while
    ;; the writer still owns it: if few messages wait, let the writer get ahead
    (local.set $n (i32.const 64))
    (block $ahead (loop $lag
      (br_if $ahead (i64.ge_u (i64.sub (global.get $peer{m}) (global.get $pos{m}))
                              (i64.const {LAG})))
      (br_if $ahead (i32.eqz (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (local.set $r (call $refresh{m}))  ;; re-reads head, with every check
      (br_if $lag (i32.eq (local.get $r) (i32.const 1)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))))
{@recv_batch_loop}    (if (local.get $n) (then
      (global.set $unbytes{m} (i64.add (global.get $unbytes{m}) (local.get $bytes)))
      (return (local.get $n))))
    (local.get $r))
"""


# the writer also waits for the host's tap while one is attached losslessly:
# the peer it uses is whichever of tail and tap_tail is further behind
_TAP_HOLD = """    (global.set $waitat{m} (i32.const {OTHER}))
    ;; SYNC POINT with attach in observe/tapctl.py: tap_mode is read before tap_tail;
    ;; the tap stores tap_tail, then tap_mode, then reads head
    (if (i32.atomic.load {m} offset={O_TAPMODE} (i32.const 0)) (then
      (local.set $t (i64.atomic.load {m} offset={O_TAPTAIL} (i32.const 0)))  ;; acquire
      (if (i64.gt_u (i64.sub (global.get $pos{m}) (local.get $t))
                    (i64.sub (global.get $pos{m}) (local.get $v)))
        (then (local.set $v (local.get $t))
              (global.set $waitat{m} (i32.const {O_TAPTAIL}))))))  ;; park on the tap
"""

# a reader on an empty ring (spinning, or woken from a park by the host) that
# the host asks to yield returns YIELD instead of waiting on
_YIELD_IDLE = """    (if (i32.atomic.load {m} offset={O_RYIELD} (i32.const 0))
      (then (return (i32.const {YIELD}))))
"""

# one message in 2^SAMPLE_SHIFT: the writer stamps its send time, the reader
# turns a matching stamp into a latency; both with WASI's realtime clock
_SAMPLING = """
  (func $now (result i64)
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
    (i64.load {OWNMEM} (i32.const 0)))
"""
_STAMP = """
  (func $sample{m} (local $e i32)
    (local.set $e (i32.add (i32.const {O_STAMPS}) (i32.shl (i32.and
      (i32.wrap_i64 (i64.shr_u (global.get $pos{m}) (i64.const {SSHIFT}))) (i32.const {SLOTS1}))
      (i32.const 4))))
    (i64.store {m} offset=8 (local.get $e) (call $now))
    (i64.store {m} (local.get $e) (global.get $pos{m})))
"""
_MEASURE = """
  (func $sample{m} (local $e i32) (local $t i64)
    (local.set $e (i32.shl (i32.and (i32.wrap_i64
      (i64.shr_u (global.get $pos{m}) (i64.const {SSHIFT}))) (i32.const {SLOTS1})) (i32.const 4)))
    (if (i64.ne (i64.load {m} offset={O_STAMPS} (local.get $e)) (global.get $pos{m}))
      (then (return)))  ;; no stamp for this message (yet, or any more): no sample
    (local.set $t (i64.load {m} offset={O_STAMPS_8} (local.get $e)))
    (i64.store {m} offset={O_LAT_8} (local.get $e) (i64.sub (call $now) (local.get $t)))
    (i64.store {m} offset={O_LAT} (local.get $e) (global.get $pos{m})))
"""
_SAMPLE_CALL = """    (if (i32.eqz (i32.and (i32.wrap_i64 (global.get $pos{m}))
                          (i32.const {SMASK})))
      (then (call $sample{m})))
"""


def _end_values(m: int, end: EndSpec) -> dict[str, object]:
    """Every placeholder's value for tunnel end ``m``: layout constants and
    the direction's own counter, peer, flags and spin budget."""
    c = _consts(m, end.geometry)
    writer = end.direction is Direction.WRITE
    c.update(
        OWN=L.OFF_HEAD if writer else L.OFF_TAIL,
        OTHER=L.OFF_TAIL if writer else L.OFF_HEAD,
        O_MYWAIT=L.OFF_WRITER_WAITING if writer else L.OFF_READER_WAITING,
        O_MYPARK=L.OFF_WRITER_PARKS if writer else L.OFF_READER_PARKS,
    )
    lo, hi = (WRITER_SPIN, WRITER_SPIN) if writer else (SPIN_MIN, SPIN_MAX)
    park_max = PARK_TIMEOUT_NS if writer else READER_PARK_MAX_NS
    c.update(
        SPIN_INIT=WRITER_SPIN if writer else SPIN_INIT,
        SPIN_MIN=lo, SPIN_MAX=hi, SPIN_MIN2=lo * 2, SPIN_MAX2=hi // 2,
        PARK_MAX=park_max, PARK_MAX2=park_max // 2,
    )
    head, tail = (f"$pos{m}", f"$peer{m}") if writer else (f"$peer{m}", f"$pos{m}")
    c.update(HEADG=head, TAILG=tail)
    c.update(O_NLEN=L.OFF_NAME_LEN, O_NAME=L.OFF_NAME, MAX_NAME=L.MAX_NAME,
             O_TAPMODE=L.OFF_TAP_MODE, O_TAPTAIL=L.OFF_TAP_TAIL, O_STAMPS=L.OFF_STAMPS,
             O_STAMPS_8=L.OFF_STAMPS + 8, O_LAT=L.OFF_LATENCIES, O_LAT_8=L.OFF_LATENCIES + 8,
             SSHIFT=L.SAMPLE_SHIFT, SMASK=L.SAMPLE_MASK, SLOTS1=L.SAMPLE_ENTRIES - 1,
             SLOT_FLAGS=L.SLOT_OFF_FLAGS,
             DST=m if writer else 0, SRC=0 if writer else m,
             WAKE_N=1, X="")
    if end.geometry.subscribers:  # a pub-sub ring: its writer, or one subscriber's line
        c.update(pubsub_writer_values(end.geometry) if writer or end.sub is None
                 else reader_values(end.geometry, end.sub))
    return c


def _end_templates(end: EndSpec, sampling: bool) -> list[tuple[str, str]]:
    """The named templates one tunnel end's code is made of, in order."""
    writer = end.direction is Direction.WRITE
    common = _COMMON_HEAD + wait_template(end.wait, _ADAPTIVE_WAIT) + _COMMON_TAIL
    parts = [("common", common), ("name_is", _NAME_IS),
             ("writer", _WRITER) if writer else ("reader", _READER)]
    if sampling:
        parts.append(("stamp", _STAMP) if writer else ("measure", _MEASURE))
    if end.sub is not None:
        parts.extend(reader_templates(end.sub))
    return parts


# the named helpers a template calls as {@name args}; each returns template text
def _slot_bytes() -> str:
    """Byte offset of my counter's slot from the first slot: (pos & mask) * size."""
    return ("(i32.mul (i32.const {SZ}) "
            "(i32.and (i32.wrap_i64 (global.get $pos{m})) (i32.const {MASK})))")


def _slot_addr() -> str:
    """Address of my counter's slot: header_size + (pos & mask) * slot_size."""
    return f"(i32.add (i32.const {{HDR}}) {_slot_bytes()})"


def _payload_addr() -> str:
    """Address of the payload in my counter's slot, past its [length][flags]."""
    return f"(i32.add (i32.add (i32.const {{HDR}}) (i32.const {{SH}})) {_slot_bytes()})"


def _bump(field: str, kind: str = "", name: str = "") -> str:
    """Add 1 (or a local's, or a global's, value) to a u64 statistics counter.

    A plain load and store: only the counter's own side writes it."""
    by = {"": "(i64.const 1)", "local": f"(local.get {name})",
          "global": f"(global.get {name}{{m}})"}[kind]
    return (f"(i64.store {{m}} offset={{{field}}} (i32.const 0) "
            f"(i64.add (i64.load {{m}} offset={{{field}}} (i32.const 0)) {by}))")


def _backlog(writer: bool) -> str:
    """An i64 expression: what the end can do now, by its cached counters
    (a writer's free slots, a reader's waiting messages)."""
    ahead = "(i64.sub (global.get $pos{m}) (global.get $peer{m}))"
    return f"(i64.sub (i64.const {{N}}) {ahead})" if writer else \
        "(i64.sub (global.get $peer{m}) (global.get $pos{m}))"


def _check_counters() -> str:
    """The range check on every counter read from the ring: head - tail (u64)
    at most slot_count, else quarantine BAD_COUNTERS."""
    return ("(if (i64.gt_u (i64.sub (global.get {HEADG}) (global.get {TAILG})) (i64.const {N})) "
            "(then (return (call $quarantine{m} (i32.const {Q_CNT})))))")


def _check_length(local: str) -> str:
    """A slot length read from the ring at most the tunnel's max_payload, else BAD_LENGTH."""
    return (f"(if (i32.gt_u (local.get {local}) (i32.const {{PMAX}})) "
            "(then (return (call $quarantine{m} (i32.const {Q_LEN})))))")


def _copy_inline_in(limit: int, skip: str = "4") -> str:
    """``$len`` bytes at ``$ptr + skip`` (past a batch record's u32 length, or
    0 for a single message) into the payload of the slot at ``$slot``; at
    most ``limit`` (the end's max_payload, already checked)."""
    return hotpath.copy_inline("(i32.add (local.get $slot) (i32.const {SH}))",
                               f"(i32.add (local.get $ptr) (i32.const {skip}))",
                               limit, INLINE_COPY, "src")


def _copy_inline_out(limit: int, skip: str = "4") -> str:
    """The payload of my counter's slot into memory 0 at ``$ptr + skip``."""
    return hotpath.copy_inline(f"(i32.add (local.get $ptr) (i32.const {skip}))",
                               _payload_addr(), limit, INLINE_COPY, "dst")


_HELPERS: dict[str, Helper] = {
    "slot_addr": _slot_addr, "payload_addr": _payload_addr, "bump": _bump,
    "check_counters": _check_counters, "check_length": _check_length,
    "recv_batch_loop": lambda: hotpath.RECV_BATCH_LOOP}


_SINGLE = {"sub_header": "", "sub_locals": "", "slot_seq": "(i32.const 0)", "lossy_recv": "",
           "lossy_batch": "", "lossy_raw": "", "end_close": "(call $close{m})",
           "announce": "(i32.atomic.store {m} offset={O_MYWAIT} (i32.const 0) (i32.const 1))",
           "unannounce": "(i32.atomic.store {m} offset={O_MYWAIT} (i32.const 0) (i32.const 0))"}


def _helpers(end: EndSpec, sampling: bool, peer_bell: int | None = None) -> dict[str, Helper]:
    """The helpers plus the fragments that depend on the end's kind (a writer
    or a reader; of a single-reader ring, or of a pub-sub ring: ``pubsub_wat``)
    and on whether the service at its other end waits on many (``waitany``)."""
    writer = end.direction is Direction.WRITE
    frags = dict(_SINGLE, tap_hold=_TAP_HOLD if writer else "", backlog=_backlog(writer),
                 sample=_SAMPLE_CALL if sampling else "", yield_idle="" if writer else _YIELD_IDLE,
                 ring_peer="" if peer_bell is None else waitany.RING_PEER)
    if end.geometry.subscribers and writer:
        frags.update(writer_helpers(_TAP_HOLD))
    elif end.sub is not None:
        frags.update(reader_helpers(end.sub))
    limit = end.geometry.max_payload  # the copies unroll up to it (hotpath.py)
    out: dict[str, Helper] = {**_HELPERS,
                              "copy_inline_in": partial(_copy_inline_in, limit),
                              "copy_inline_out": partial(_copy_inline_out, limit)}
    out.update({k: (lambda text=v: text) for k, v in frags.items()})
    return out


def _offset_names(values: dict[str, object]) -> dict[str, str]:
    """Placeholder key -> header field name, for the ``;; head`` comments."""
    names = {k: FIELD_NAMES[v] for k, v in values.items()
             if k.startswith("O_") or k in ("OWN", "OTHER")
             if isinstance(v, int) and v in FIELD_NAMES}
    names.update(O_STAMPS_8="stamps ns", O_LAT_8="latencies ns", SLOT_FLAGS="slot flags")
    return names


def _end_parts(m: int, end: EndSpec, sampling: bool = False,
               bells: BellPlan | None = None) -> list[tuple[str, str]]:
    """Tunnel end ``m``'s code, as (template label, filled text) pieces."""
    values = _end_values(m, end)
    writer = end.direction is Direction.WRITE
    peer = bells.peers[m - 1] if bells is not None and len(bells.peers) >= m else None
    helpers = _helpers(end, sampling, peer)
    templates = _end_templates(end, sampling)
    if bells is not None and bells.used:
        values.update(B=_bell_index(bells), PEER_BELL=peer)
    if bells is not None and bells.own is not None:
        templates.append(("wait_any poll", waitany.POLL_WRITE if writer else waitany.POLL_READ))
    names = _offset_names(values)
    return [(f"{label} (tunnel end {m})", fill(f"{label} (tunnel end {m})", text, values,
                                                helpers, names))
            for label, text in templates]


def _bell_index(bells: BellPlan) -> int:
    """The bell's memory index: after the guest's memory and the rings."""
    return 1 + len(bells.peers)


def _wait_any_parts(ends: list[EndSpec], bells: BellPlan,
                    targets: list[str]) -> list[tuple[str, str]]:
    """The bell's ringer and, for a service that waits on many, ``wait_any``
    and its fan-in handles (``ends``: one per handle, ``targets`` their suffixes)."""
    values: dict[str, object] = {"B": _bell_index(bells)}
    parts = [("bell ring", fill("bell ring", waitany.BELL_RING, values))]
    if bells.own is None:
        return parts
    fan_values = dict(values, OWN_BELL=bells.own, CLOSED=Status.CLOSED, BROKEN=Status.BROKEN,
                      AGAIN=Status.AGAIN, TIMEOUT=PARK_TIMEOUT_NS, READER_MAX=READER_PARK_MAX_NS,
                      O_BSEQ=OFF_BELL_SEQ, O_BPARKS=OFF_BELL_PARKS)
    for g, (first, count) in enumerate(bells.fanin):
        label = f"fan-in {g}"
        parts.append((label, fill(label, fanin.fan_parts(g, first + 1, count), fan_values)))
    writes = sum(1 << i for i, e in enumerate(ends[:32]) if e.direction is Direction.WRITE)
    values.update(OWN_BELL=bells.own, ENDS=len(ends), SPIN_INIT=SPIN_INIT, SPIN_MIN=SPIN_MIN,
                  SPIN_MAX=SPIN_MAX, SPIN_MIN2=SPIN_MIN * 2, SPIN_MAX2=SPIN_MAX // 2,
                  TIMEOUT=PARK_TIMEOUT_NS, WRITER_MAX=PARK_TIMEOUT_NS,
                  READER_MAX=READER_PARK_MAX_NS, WMASK=writes - (1 << 32 if writes >> 31 else 0),
                  AGAIN=Status.AGAIN, BAD_HANDLE=Status.BAD_HANDLE)
    parts.append(("wait_any dispatch", waitany.handle_dispatch(targets)))
    parts.append(("wait_any", fill("wait_any", waitany.WAIT_ANY, values)))
    return parts


def _call_for(op: str, m: int | str) -> str:
    """The body of dispatch arm ``m`` for ABI function ``op``."""
    if op in ("close", "commit"):
        return f"(call ${op}_{'end' if op == 'close' else 'op'}{m})"
    if op == "missed":
        return f"(call $missed_op{m})"
    args = " ".join(f"(local.get {i + 1})" for i in range(ABI_PARAM_COUNT[op]))
    base = op.removeprefix("try_")
    block = "0" if op.startswith("try_") else "1"
    return f"(call ${base}{m} (i32.const {block}) {args})"


def _dispatch(op: str, ends: list[EndSpec], targets: list[str] | None = None) -> str:
    """Exported ABI function ``op``: a br_table over the handle (handle i
    calls the functions of suffix ``targets[i]``, by default its memory i + 1)."""
    want = ABI[op][1]
    labels = [f"$h{i}" for i in range(len(ends))]
    inner = f"(br_table {' '.join(labels)} $bad (local.get 0))"
    code = f"(block $bad {inner})" if not ends else ""
    if ends:
        code = f"(block $h0 {inner})"
        for i, end in enumerate(ends):
            ok = want == "any" or want == end.direction.value
            arm = f"(return {_call_for(op, targets[i] if targets else i + 1)})" if ok \
                else "(br $bad)"
            if ok and op == "missed" and end.sub is None:
                arm = "(return (i32.const 0))"  # a single reader misses nothing
            wrap = f"$h{i + 1}" if i + 1 < len(ends) else "$bad"
            code = f"(block {wrap} {code} {arm})"
    return (f'  (func (export "{op}") {abi_type(op)}\n    {code}\n'
            f"    (i32.const {Status.BAD_HANDLE}))\n")


def _lookup(ends: list[EndSpec], firsts: list[int] | None = None) -> str:
    """Exported ``tunnel(name_ptr, name_len) -> handle``.

    Names live in each ring's header, not in this code, so one adapter serves
    every service with the same shape of tunnel ends; an end with an alias
    answers to that name (compared with constants) instead of the ring's.
    A name that matches none is kept (where, how long: ``asked_ptr`` and
    ``asked_len``) so that the host can say which name the guest asked for.
    """
    def test(i: int, e: EndSpec) -> str:
        return _is_alias(e.alias) if e.alias else \
            f"(call $name_is{firsts[i] if firsts else i + 1} {_ARGS})"

    arms = "".join(f"    (if {test(i, e)} (then (return (i32.const {i}))))\n"
                   for i, e in enumerate(ends))
    return (ASKED + '  (func (export "tunnel") (param i32 i32) (result i32)\n' + arms
            + "    (global.set $asked_ptr (local.get 0)) (global.set $asked_len (local.get 1))\n"
            + f"    (i32.const {Status.BAD_HANDLE}))\n")


ASKED = ('  (global $asked_ptr (export "asked_ptr") (mut i32) (i32.const 0))\n'
         '  (global $asked_len (export "asked_len") (mut i32) (i32.const -1))\n')


_ARGS = "(local.get 0) (local.get 1)"


def _is_alias(alias: str) -> str:
    """An i32 expression: is the guest's name (ptr, len in locals 0, 1) ``alias``?"""
    raw = alias.encode()
    same = "(i32.const 1)"
    for k, b in enumerate(raw):
        same = f"(i32.and {same} (i32.eq (i32.load8_u offset={k} (local.get 0)) (i32.const {b})))"
    test = f"(i32.eq (local.get 1) (i32.const {len(raw)}))"
    # the bytes are read only once the length matched: a short name reads nothing past it
    return f"(if (result i32) {test} (then {same}) (else (i32.const 0)))"


_NAME_IS = """
  ;; does the guest's name at $ptr equal the name in this ring's header?
""" + name_is("$name_is")


def available_ops(ends: list[EndSpec]) -> list[str]:
    """The ABI functions an adapter exports: none for a direction not held.

    A service holding only read ends has no ``send`` to import at all.
    """
    held = {e.direction.value for e in ends} | {"any"}
    subs = any(e.sub is not None for e in ends)
    return [op for op in ABI if ABI[op][1] in held and (op != "missed" or subs)]


def _commit_all(ends: list[EndSpec]) -> str:
    """``commit_all()``: the host calls it when a service returns normally."""
    calls = "".join(f"    (drop (call $commit_op{i + 1}))\n" for i, e in enumerate(ends)
                    if e.direction is Direction.READ)
    return '  (func (export "commit_all")\n' + calls + "  )\n"


Shape = tuple[tuple[Direction, Geometry, str, Sub | None, WaitPolicy], ...]


def shape(ends: list[EndSpec]) -> Shape:
    """What the adapter's code depends on: direction, geometry and alias of
    each end (and, for a subscriber of a pub-sub ring, its line and policy),
    and its wait policy."""
    return tuple((e.direction, e.geometry, e.alias, e.sub, e.wait) for e in ends)


def adapter_wat(ends: list[EndSpec], sampling: bool = False,
                ports: tuple[PortShape, ...] = (), bells: BellPlan | None = None) -> str:
    """The WAT text of the adapter for a service holding ``ends``.

    Only the shape of the ends (direction, geometry, alias) shapes the code:
    names are read from the rings, so services of the same shape share one module.
    """
    return "".join(text for _label, text in _adapter_parts(shape(ends), sampling, ports, bells))


def compile_adapter(rt: Runtime, ends: list[EndSpec], sampling: bool = False,
                    ports: tuple[PortShape, ...] = (),
                    bells: BellPlan | None = None) -> wasmtime.Module:
    """The compiled adapter; a failure is nanonet's own ``InternalError``.

    The generated text is nanonet's, never the user's: an error in it names
    the template and the line of the template it came from, not a line of
    text nobody wrote by hand.
    """
    parts = _adapter_parts(shape(ends), sampling, ports, bells)
    try:
        return rt.module("".join(text for _label, text in parts))
    except wasmtime.WasmtimeError as err:
        raise InternalError(f"the generated adapter for {_describe(ends, sampling)} does not "
                            f"compile: {_locate(parts, str(err))}; this is a fault in nanonet "
                            "(ring/adapter.py), not in the service") from err


def _describe(ends: list[EndSpec], sampling: bool) -> str:
    kinds = ", ".join(f"{e.direction.value} {e.geometry.slot_count}x{e.geometry.slot_size}"
                      for e in ends) or "no tunnel ends"
    return f"[{kinds}]" + (" with sampling" if sampling else "")


def _locate(parts: list[tuple[str, str]], message: str) -> str:
    """The template and template line an assembler error points at."""
    first = message.strip().splitlines()[0] if message.strip() else "unknown error"
    where = re.search(r"<anon>:(\d+):\d+", message)
    if where is None:
        return first
    line = int(where.group(1))
    for label, text in parts:
        count = text.count("\n")
        if line <= count:
            return f"{first} in template {label!r} at its line {line}"
        line -= count
    return first


@lru_cache(maxsize=256)
def _adapter_parts(shapes: Shape, sampling: bool, ports: tuple[PortShape, ...] = (),
                   bells: BellPlan | None = None) -> list[tuple[str, str]]:
    """The adapter's text as (template label, text) pieces, in order."""
    ends = [EndSpec("", *s) for s in shapes]
    if bells is not None and not bells.used:
        bells = None  # no bell anywhere: the adapter of old, byte for byte
    if bells is not None:
        bells = BellPlan(bells.own, (*bells.peers, *[None] * (len(ends) - len(bells.peers))),
                         bells.fanin)
    first_port = len(ends) + 1 + (bells is not None)  # memories: guest, rings, bell, ports
    parts = [("module header", "(module\n" + '  (import "guest" "memory" (memory 0))\n')]
    for i, end in enumerate(ends):
        p = end.geometry.pages
        parts.append(("ring imports", f'  (import "t{i}" "ring" (memory {p} {p} shared))\n'))
    if bells is not None:  # after the rings: their indices stay put
        parts.append(("bell import", f'  (import "{BELL_MODULE}" "memory" '
                                     f"(memory {BELL_PAGES} {BELL_PAGES} shared))\n"))
    if ports:  # port memories follow the rings and the bell (ring/port_template.py)
        parts.append(("port imports", port_imports(first_port, ports)))
    if sampling:
        # after the memories, so their indices stay put; WASI writes the time
        # through the caller's exported "memory": the adapter's own, not the guest's
        parts.append(("sampling clock", '  (import "wasi_snapshot_preview1" "clock_time_get" '
                      "(func $clock (param i32 i64 i32) (result i32)))\n"
                      '  (memory $own (export "memory") 1 1)\n'
                      + fill("sampling clock", _SAMPLING,
                             {"OWNMEM": first_port + len(ports)})))
    for i, end in enumerate(ends):
        parts.extend(_end_parts(i + 1, end, sampling, bells))
    handles = fanin.units(len(ends), bells.fanin if bells is not None else ())
    targets, firsts = [t for t, _ in handles], [m for _, m in handles]
    per_handle = [ends[m - 1] for m in firsts]  # a fan-in handle: its first sub-ring
    plain = bells is None or not bells.fanin
    for op in available_ops(list(ends)):
        parts.append((f"dispatch {op}", _dispatch(op, per_handle, None if plain else targets)))
    if bells is not None:
        parts.extend(_wait_any_parts(per_handle, bells, targets))
    parts.extend(port_parts(first_port, ports))
    parts.append(("commit_all", _commit_all(list(ends))))
    parts.append(("tunnel lookup", _lookup(per_handle, None if plain else firsts) + ")\n"))
    return parts
