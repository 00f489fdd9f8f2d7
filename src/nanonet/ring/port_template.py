"""The adapter's request/reply code: one port end per shared port memory.

A service's adapter imports its port memories after its ring memories, and
this module generates, per port end, either the client's ``call`` (its own
mailbox baked in) or the server's ``serve_recv``/``serve_reply``, plus the
exported ABI that dispatches on the port handle. Every offset comes from
``portlayout``. No Python runs per call between two services.

Memory ordering (Wasm atomics are sequentially consistent):

- A client writes its request with plain stores, then stores its mailbox
  word ``(id, POSTED)`` atomically (release), bumps the port's ``wake`` word,
  then reads ``server_waiting``; the server announces ``server_waiting``,
  reads ``wake``, re-scans the mailboxes, and only then waits on ``wake``
  with the value it read. One of the two sees the other (Dekker).
- The server takes a request by a CAS ``(id, POSTED) -> (id, TAKEN)``,
  writes the reply, then CASes ``(id, TAKEN) -> (id, REPLIED)`` and reads
  ``client_waiting``; the client announces ``client_waiting``, re-reads its
  word, then waits on it. A client whose deadline passed CASes its word to
  ``(id, ABANDONED)`` first, so a late reply's CAS fails and is dropped.
- Every value read from the port is checked: the header at attach, a
  request's length before the server copies it, a reply's length before
  the client copies it, a call token's mailbox index before its use.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import portlayout as P
from .layout import Quarantine, Status
from .portlayout import Box, PortGeometry
from .template import Helper, fill, name_is

CLIENT_SPIN = 4096  # polls of the mailbox word before a client parks, at first
CLIENT_SPIN_MIN = 64  # adapted as the server's is: a park the reply ended doubles it
CLIENT_SPIN_MAX = 1 << 16
SERVER_SPIN = 2048  # scans of every mailbox before the server parks, at first
# the server's spin adapts as a tunnel reader's does (ring/adapter.py): a park
# that a request ended doubles it (callers come back faster than a futex wake),
# a park that timed out (an idle port) halves it
SERVER_SPIN_MIN = 64
SERVER_SPIN_MAX = 1 << 16
SLICE_NS = 50_000_000  # a park's slice: the deadline, close and the epoch are seen between
SERVER_PARK_NS = 100_000_000
RESCAN = -100  # internal: the request taken was refused, look again

# name, params after the handle, role; the guest ABI of docs/abi.md ("Ports")
PORT_ABI = {
    "call": ("(param i32 i32 i32 i32 i32)", "client"),
    "serve_recv": ("(param i32 i32 i32)", "server"),
    "try_serve_recv": ("(param i32 i32 i32)", "server"),
    "serve_reply": ("(param i64 i32 i32)", "server"),
}
PORT_OPS = [*PORT_ABI, "port"]


def port_op_type(op: str) -> str:
    """The WAT type of one port export (``port`` is the name lookup)."""
    if op == "port":
        return "(param i32 i32) (result i32)"
    return f"(param i32) {PORT_ABI[op][0]} (result i32)"


@dataclass(frozen=True)
class PortShape:
    """What a port end's code depends on: role, the client's mailbox, geometry."""

    role: str  # "server" or "client"
    box: int  # the client's mailbox index; -1 for the server
    geometry: PortGeometry


@dataclass(frozen=True)
class PortEnd:
    """One port end a service holds: the port's name and its shape."""

    name: str
    shape: PortShape


_COMMON = """
  (global $pok{m} (mut i32) (i32.const 0))  ;; 0 unattached, 1 attached, 2 quarantined
  (global $pid{m} (mut i32) (i32.const 0))  ;; client: the last call id
  (global $pcspin{m} (mut i32) (i32.const {CSPIN}))  ;; client: its spin budget, adapted
  (global $pcur{m} (mut i32) (i32.const 0)) ;; server: where the next scan starts (fair)
  (global $ptw{m} (mut i64) (i64.const 0))  ;; server: the word its last take stored
  (global $pspin{m} (mut i32) (i32.const {SSPIN}))  ;; server: its spin budget, adapted

  (func $pquar{m} (param $why i32) (result i32)
    (i32.atomic.store {m} offset={O_Q} (i32.const 0) (local.get $why))
    (global.set $pok{m} (i32.const 2))
    (i32.const {CORRUPT}))

  ;; validate the header once against what this adapter was built for
  (func $pattach{m} (result i32)
    (if (i32.eq (global.get $pok{m}) (i32.const 1)) (then (return (i32.const 0))))
    (if (i32.eq (global.get $pok{m}) (i32.const 2)) (then (return (i32.const {CORRUPT}))))
    (if (i32.or (i32.or (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_MAGIC} (i32.const 0)) (i32.const {MAGIC}))
          (i32.ne (i32.atomic.load {m} offset={O_VERSION} (i32.const 0)) (i32.const {VERSION})))
        (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_N} (i32.const 0)) (i32.const {N}))
          (i32.ne (i32.atomic.load {m} offset={O_PMAX} (i32.const 0)) (i32.const {PMAX}))))
        (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_BSZ} (i32.const 0)) (i32.const {BSZ}))
          (i32.ne (i32.atomic.load {m} offset={O_HSIZE} (i32.const 0)) (i32.const {HDR}))))
      (then (return (call $pquar{m} (i32.const {Q_HDR})))))
    (if (i32.atomic.load {m} offset={O_Q} (i32.const 0))
      (then (global.set $pok{m} (i32.const 2)) (return (i32.const {CORRUPT}))))
{@client_attach}    (global.set $pok{m} (i32.const 1))
    (i32.const 0))

  ;; CLOSED (the mesh stops), BROKEN (the server is gone for good), or 0
  (func $pgone{m} (result i32)
    (if (i32.atomic.load {m} offset={O_CLOSED} (i32.const 0)) (then (return (i32.const {CLOSED}))))
    (if (i32.atomic.load {m} offset={O_BROKEN} (i32.const 0)) (then (return (i32.const {BROKEN}))))
    (i32.const 0))

""" + name_is("$pname_is")

# a restarted client goes on from its mailbox's last call id: never one reused
_CLIENT_ATTACH = """    (global.set $pid{m} (i32.wrap_i64 (i64.shr_u
      (i64.atomic.load {m} offset={B_WORD} (i32.const {BOX})) (i64.const 32))))
"""

_CLIENT = """
  ;; give up call $id: 1 if its word went to ABANDONED, 0 if the reply came first
  (func $pabandon{m} (param $id i64) (result i32)
    (if (i64.eq (i64.atomic.rmw.cmpxchg {m} (i32.const {BOX})
                  (i64.or (local.get $id) (i64.const {POSTED}))
                  (i64.or (local.get $id) (i64.const {ABANDONED})))
                (i64.or (local.get $id) (i64.const {POSTED})))
      (then (return (i32.const 1))))
    (i64.eq (i64.atomic.rmw.cmpxchg {m} (i32.const {BOX})
              (i64.or (local.get $id) (i64.const {TAKEN}))
              (i64.or (local.get $id) (i64.const {ABANDONED})))
            (i64.or (local.get $id) (i64.const {TAKEN}))))

  ;; the reply is in: check its length, copy it out, free the mailbox
  (func $pdeliver{m} (param $id i64) (param $buf i32) (param $cap i32) (result i32) (local $n i32)
    (local.set $n (i32.load {m} offset={B_REPLEN} (i32.const {BOX})))
    (if (i32.gt_u (local.get $n) (i32.const {PMAX}))
      (then (local.set $n (i32.const {CORRUPT})))
      (else (if (i32.gt_u (local.get $n) (local.get $cap))
        (then (local.set $n (i32.const {TRUNC})))
        (else (memory.copy 0 {m} (local.get $buf) (i32.const {REP}) (local.get $n))))))
    (i64.atomic.store {m} offset={B_WORD} (i32.const {BOX}) (i64.or (local.get $id)
      (i64.const {IDLE})))
    (local.get $n))

  ;; a park's outcome adapts the spin: timed out (2) halves it, woken doubles it
  (func $pcadapt{m} (param $woke i32)
    (if (i32.eq (local.get $woke) (i32.const 2))
      (then (global.set $pcspin{m} (select (i32.const {CSPIN_MIN})
              (i32.shr_u (global.get $pcspin{m}) (i32.const 1))
              (i32.lt_u (global.get $pcspin{m}) (i32.const {CSPIN_MIN2})))))
      (else (global.set $pcspin{m} (select (i32.const {CSPIN_MAX})
              (i32.shl (global.get $pcspin{m}) (i32.const 1))
              (i32.gt_u (global.get $pcspin{m}) (i32.const {CSPIN_MAX2})))))))

  (func $pcall{m} (param $req i32) (param $len i32) (param $buf i32) (param $cap i32)
    (param $ms i32) (result i32)
    (local $r i32) (local $id i64) (local $w i64) (local $left i64) (local $slice i64)
    (local $spin i32)
    (if (i32.gt_u (local.get $len) (i32.const {PMAX})) (then (return (i32.const {TOO_BIG}))))
    (local.set $r (call $pattach{m}))
    (if (local.get $r) (then (return (local.get $r))))
    (local.set $r (call $pgone{m}))
    (if (local.get $r) (then (return (local.get $r))))
    (global.set $pid{m} (i32.add (global.get $pid{m}) (i32.const 1)))
    (local.set $id (i64.shl (i64.extend_i32_u (global.get $pid{m})) (i64.const 32)))
    (memory.copy {m} 0 (i32.const {REQ}) (local.get $req) (local.get $len))
    (i32.store {m} offset={B_REQLEN} (i32.const {BOX}) (local.get $len))
    ;; SYNC POINT with $precv: request written, then the word says POSTED (SC),
    ;; then wake bumped, then server_waiting read; the server stores the flag,
    ;; reads wake, re-scans, and waits only on the wake value it read
    (i64.atomic.store {m} offset={B_WORD} (i32.const {BOX}) (i64.or (local.get $id)
      (i64.const {POSTED})))
    {@box_bump B_CALLS}
    (drop (i32.atomic.rmw.add {m} offset={O_WAKE} (i32.const 0) (i32.const 1)))
    (if (i32.atomic.load {m} offset={O_SWAIT} (i32.const 0))
      (then (drop (memory.atomic.notify {m} offset={O_WAKE} (i32.const 0) (i32.const 1)))))
    (local.set $left (select (i64.const -1)
      (i64.mul (i64.extend_i32_u (local.get $ms)) (i64.const 1000000))
      (i32.lt_s (local.get $ms) (i32.const 0))))
    (local.set $spin (global.get $pcspin{m}))
    (loop $poll
      (local.set $w (i64.atomic.load {m} offset={B_WORD} (i32.const {BOX})))  ;; acquire
      (if (i64.eq (local.get $w) (i64.or (local.get $id) (i64.const {REPLIED})))
        (then (return (call $pdeliver{m} (local.get $id) (local.get $buf) (local.get $cap)))))
      (if (i64.eq (local.get $w) (i64.or (local.get $id) (i64.const {REFUSED})))
        (then (i64.atomic.store {m} offset={B_WORD} (i32.const {BOX})
                (i64.or (local.get $id) (i64.const {IDLE})))
              (return (i32.const {CORRUPT}))))
      ;; only POSTED or TAKEN of this call may be here: anything else was forged
      (if (i32.or (i64.ne (i64.shr_u (local.get $w) (i64.const 32))
                          (i64.shr_u (local.get $id) (i64.const 32)))
                  (i32.and (i64.ne (local.get $w) (i64.or (local.get $id) (i64.const {POSTED})))
                           (i64.ne (local.get $w) (i64.or (local.get $id) (i64.const {TAKEN})))))
        (then (return (i32.const {CORRUPT}))))
      (if (local.get $spin) (then
        (local.set $spin (i32.sub (local.get $spin) (i32.const 1)))
        (br $poll)))
      (local.set $r (call $pgone{m}))
      (if (i32.eqz (local.get $r)) (then
        (if (i64.eqz (local.get $left)) (then (local.set $r (i32.const {TIMEOUT}))))))
      (if (local.get $r) (then
        (if (call $pabandon{m} (local.get $id)) (then
          (if (i32.eq (local.get $r) (i32.const {TIMEOUT})) (then {@box_bump B_TIMEOUTS}))
          (return (local.get $r))))
        (br $poll)))  ;; the reply came in the meantime: take it
      (local.set $slice (select (i64.const {SLICE}) (local.get $left)
                                (i64.gt_u (local.get $left) (i64.const {SLICE}))))
      ;; SYNC POINT with $preply: my flag is stored before my word is re-read;
      ;; the server CASes the word, then reads the flag
      (i32.atomic.store {m} offset={B_WAIT} (i32.const {BOX}) (i32.const 1))
      (if (i64.eq (i64.atomic.load {m} offset={B_WORD} (i32.const {BOX})) (local.get $w))
        (then (local.set $r (memory.atomic.wait32 {m} offset={B_WORD} (i32.const {BOX})
                              (i32.wrap_i64 (local.get $w)) (local.get $slice)))
          (call $pcadapt{m} (local.get $r))
          (if (i32.eq (local.get $r) (i32.const 2))
            (then (if (i64.ne (local.get $left) (i64.const -1))
              (then (local.set $left (i64.sub (local.get $left) (local.get $slice)))))))))
      (i32.atomic.store {m} offset={B_WAIT} (i32.const {BOX}) (i32.const 0))
      (br $poll))
    (unreachable))
"""

_SERVER = """
  (func $pbox{m} (param $i i32) (result i32)
    (i32.add (i32.const {HDR}) (i32.mul (local.get $i) (i32.const {BSZ}))))

  ;; take the first posted request from the cursor on (round robin): its
  ;; mailbox's address, or -1 if none is posted
  (func $pscan{m} (result i32) (local $i i32) (local $k i32) (local $a i32) (local $w i64)
    (local.set $i (global.get $pcur{m}))
    (local.set $k (i32.const {N}))
    (loop $each
      (local.set $a (call $pbox{m} (local.get $i)))
      (local.set $w (i64.atomic.load {m} offset={B_WORD} (local.get $a)))  ;; acquire
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (local.get $i) (i32.const {N})) (then (local.set $i (i32.const 0))))
      (if (i32.eq (i32.wrap_i64 (local.get $w)) (i32.const {POSTED})) (then
        (if (i64.eq (i64.atomic.rmw.cmpxchg {m} offset={B_WORD} (local.get $a) (local.get $w)
                      (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {TAKEN})))
                    (local.get $w))
          (then (global.set $pcur{m} (local.get $i))
                (global.set $ptw{m}
                  (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {TAKEN})))
                (return (local.get $a))))))
      (local.set $k (i32.sub (local.get $k) (i32.const 1)))
      (br_if $each (local.get $k)))
    (i32.const -1))

  ;; mailbox at $a was just taken: check the request, copy it out, write the token
  (func $ptook{m} (param $a i32) (param $buf i32) (param $cap i32) (param $callp i32)
    (result i32) (local $n i32) (local $w i64)
    ;; the word as the take stored it: a CAS below fails if the caller gave up since
    (local.set $w (global.get $ptw{m}))
    (local.set $n (i32.load {m} offset={B_REQLEN} (local.get $a)))
    (if (i32.gt_u (local.get $n) (i32.const {PMAX})) (then
      (drop (i64.atomic.rmw.cmpxchg {m} offset={B_WORD} (local.get $a) (local.get $w)
              (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {REFUSED}))))
      {@hdr_bump O_REFUSED}
      (if (i32.atomic.load {m} offset={B_WAIT} (local.get $a))
        (then (drop (memory.atomic.notify {m} offset={B_WORD} (local.get $a) (i32.const 1)))))
      (return (i32.const {RESCAN}))))
    (if (i32.gt_u (local.get $n) (local.get $cap)) (then  ;; the guest's buffer: put it back
      (drop (i64.atomic.rmw.cmpxchg {m} offset={B_WORD} (local.get $a) (local.get $w)
              (i64.or (i64.and (local.get $w) (i64.const {HI})) (i64.const {POSTED}))))
      (return (i32.const {TRUNC}))))
    (memory.copy 0 {m} (local.get $buf) (i32.add (local.get $a) (i32.const {B_REQ})) (local.get $n))
    (i64.store (local.get $callp) (i64.or (i64.and (local.get $w) (i64.const {HI}))
      (i64.extend_i32_u (i32.div_u (i32.sub (local.get $a) (i32.const {HDR})) (i32.const {BSZ})))))
    {@hdr_bump O_TAKEN}
    (local.get $n))

  ;; a park's outcome adapts the spin: timed out (2) halves it, woken doubles it
  (func $padapt{m} (param $woke i32)
    (if (i32.eq (local.get $woke) (i32.const 2))
      (then (global.set $pspin{m} (select (i32.const {SSPIN_MIN})
              (i32.shr_u (global.get $pspin{m}) (i32.const 1))
              (i32.lt_u (global.get $pspin{m}) (i32.const {SSPIN_MIN2})))))
      (else (global.set $pspin{m} (select (i32.const {SSPIN_MAX})
              (i32.shl (global.get $pspin{m}) (i32.const 1))
              (i32.gt_u (global.get $pspin{m}) (i32.const {SSPIN_MAX2})))))))

  (func $precv{m} (param $block i32) (param $buf i32) (param $cap i32) (param $callp i32)
    (result i32) (local $r i32) (local $a i32) (local $spin i32) (local $seen i32)
    (local.set $r (call $pattach{m}))
    (if (local.get $r) (then (return (local.get $r))))
    (local.set $spin (global.get $pspin{m}))
    (loop $look
      ;; an upgrade asks the server to stop: take nothing more (what it took, it
      ;; answered before this call, so nothing is left to requeue)
      (if (i32.atomic.load {m} offset={O_SYIELD} (i32.const 0))
        (then (return (i32.const {YIELD}))))
      (local.set $a (call $pscan{m}))
      (if (i32.and (i32.lt_s (local.get $a) (i32.const 0))
                   (i32.and (local.get $block) (i32.eqz (local.get $spin)))) (then
        ;; SYNC POINT with $pcall: server_waiting stored, wake read, mailboxes
        ;; re-scanned, and the wait is on the wake value read before the scan
        (i32.atomic.store {m} offset={O_SWAIT} (i32.const 0) (i32.const 1))
        (local.set $seen (i32.atomic.load {m} offset={O_WAKE} (i32.const 0)))
        (local.set $a (call $pscan{m}))
        (if (i32.and (i32.lt_s (local.get $a) (i32.const 0)) (i32.eqz (call $pgone{m})))
          (then {@hdr_bump O_SPARKS}
                (call $padapt{m} (memory.atomic.wait32 {m} offset={O_WAKE} (i32.const 0)
                                   (local.get $seen) (i64.const {SPARK})))))
        (i32.atomic.store {m} offset={O_SWAIT} (i32.const 0) (i32.const 0))
        (local.set $spin (global.get $pspin{m}))))
      (if (i32.ge_s (local.get $a) (i32.const 0)) (then
        (local.set $r (call $ptook{m} (local.get $a) (local.get $buf) (local.get $cap)
                        (local.get $callp)))
        (if (i32.ne (local.get $r) (i32.const {RESCAN})) (then (return (local.get $r))))
        (br $look)))
      (if (i32.atomic.load {m} offset={O_CLOSED} (i32.const 0)) (then (return
        (i32.const {CLOSED}))))
      (if (i32.eqz (local.get $block)) (then (return (i32.const {AGAIN}))))
      (if (local.get $spin) (then (local.set $spin (i32.sub (local.get $spin) (i32.const 1)))))
      (br $look))
    (unreachable))

  ;; answer call $call (id << 32 | mailbox); a call whose client gave up is dropped
  (func $preply{m} (param $call i64) (param $ptr i32) (param $len i32) (result i32)
    (local $r i32) (local $a i32) (local $want i64)
    (local.set $r (call $pattach{m}))
    (if (local.get $r) (then (return (local.get $r))))
    (if (i64.ge_u (i64.and (local.get $call) (i64.const 0xFFFFFFFF)) (i64.const {N}))
      (then (return (i32.const {BAD_HANDLE}))))
    (if (i32.gt_u (local.get $len) (i32.const {PMAX})) (then (return (i32.const {TOO_BIG}))))
    (local.set $a (call $pbox{m} (i32.wrap_i64 (local.get $call))))
    (local.set $want (i64.or (i64.and (local.get $call) (i64.const {HI})) (i64.const {TAKEN})))
    (if (i64.ne (i64.atomic.load {m} offset={B_WORD} (local.get $a)) (local.get $want))
      (then {@hdr_bump O_LATE} (return (i32.const 0))))
    (memory.copy {m} 0 (i32.add (local.get $a) (i32.const {B_REP})) (local.get $ptr)
      (local.get $len))
    (i32.store {m} offset={B_REPLEN} (local.get $a) (local.get $len))
    ;; SYNC POINT with $pcall's park: the word is CASed to REPLIED, then
    ;; client_waiting read; the client stores the flag, then re-reads the word
    (if (i64.ne (i64.atomic.rmw.cmpxchg {m} offset={B_WORD} (local.get $a) (local.get $want)
                  (i64.or (i64.and (local.get $call) (i64.const {HI})) (i64.const {REPLIED})))
                (local.get $want))
      (then {@hdr_bump O_LATE} (return (i32.const 0))))
    {@hdr_bump O_REPLIED}
    (if (i32.atomic.load {m} offset={B_WAIT} (local.get $a))
      (then (drop (memory.atomic.notify {m} offset={B_WORD} (local.get $a) (i32.const 1)))))
    (i32.const 0))
"""


def _values(m: int, shape: PortShape) -> dict[str, object]:
    g = shape.geometry
    box = g.box(max(shape.box, 0))
    # a scan reads every mailbox: the most a server spins is the same work however many
    spin_max = max(2 * SERVER_SPIN_MIN, SERVER_SPIN_MAX // g.mailboxes)
    return dict(
        m=m, N=g.mailboxes, PMAX=g.max_payload, BSZ=g.box_size, HDR=P.HEADER_SIZE,
        MAGIC=P.MAGIC, VERSION=P.VERSION, MAX_NAME=P.MAX_NAME,
        O_MAGIC=P.OFF_MAGIC, O_VERSION=P.OFF_VERSION, O_N=P.OFF_MAILBOXES,
        O_PMAX=P.OFF_MAX_PAYLOAD, O_BSZ=P.OFF_BOX_SIZE, O_HSIZE=P.OFF_HEADER_SIZE,
        O_CLOSED=P.OFF_CLOSED, O_Q=P.OFF_QUARANTINE, O_NLEN=P.OFF_NAME_LEN, O_NAME=P.OFF_NAME,
        O_WAKE=P.OFF_WAKE, O_SWAIT=P.OFF_SERVER_WAITING, O_BROKEN=P.OFF_BROKEN,
        O_SYIELD=P.OFF_SERVER_YIELD, YIELD=Status.YIELD,
        O_TAKEN=P.OFF_TAKEN, O_REPLIED=P.OFF_REPLIED, O_LATE=P.OFF_LATE,
        O_REFUSED=P.OFF_REFUSED, O_SPARKS=P.OFF_SERVER_PARKS,
        B_WORD=P.BOX_WORD, B_REQLEN=P.BOX_REQ_LEN, B_REPLEN=P.BOX_REP_LEN,
        B_WAIT=P.BOX_CLIENT_WAITING, B_CALLS=P.BOX_CALLS, B_TIMEOUTS=P.BOX_TIMEOUTS,
        B_REQ=P.BOX_REQUEST, B_REP=g.reply_offset,
        BOX=box, REQ=box + P.BOX_REQUEST, REP=box + g.reply_offset,
        IDLE=Box.IDLE, POSTED=Box.POSTED, TAKEN=Box.TAKEN, REPLIED=Box.REPLIED,
        ABANDONED=Box.ABANDONED, REFUSED=Box.REFUSED, HI=-(1 << 32),
        CLOSED=Status.CLOSED, AGAIN=Status.AGAIN, TOO_BIG=Status.TOO_BIG,
        CORRUPT=Status.CORRUPT, TRUNC=Status.TRUNCATED, BROKEN=Status.BROKEN,
        BAD_HANDLE=Status.BAD_HANDLE, TIMEOUT=Status.TIMEOUT, Q_HDR=Quarantine.BAD_HEADER,
        CSPIN_MIN=CLIENT_SPIN_MIN, CSPIN_MIN2=2 * CLIENT_SPIN_MIN, CSPIN_MAX=CLIENT_SPIN_MAX,
        CSPIN_MAX2=CLIENT_SPIN_MAX // 2,
        CSPIN=CLIENT_SPIN, SSPIN=min(SERVER_SPIN, spin_max), SSPIN_MIN=SERVER_SPIN_MIN,
        SSPIN_MIN2=2 * SERVER_SPIN_MIN, SSPIN_MAX=spin_max, SSPIN_MAX2=spin_max // 2,
        SLICE=SLICE_NS, SPARK=SERVER_PARK_NS,
        RESCAN=RESCAN,
    )


def _bump(field: str, base: str) -> str:
    """Add 1 to a u64 counter only one side writes (a plain load and store)."""
    return (f"(i64.store {{m}} offset={{{field}}} {base} "
            f"(i64.add (i64.load {{m}} offset={{{field}}} {base}) (i64.const 1)))")


def port_end_parts(m: int, shape: PortShape) -> list[tuple[str, str]]:
    """Port end ``m``'s code as (template label, filled text) pieces."""
    client = shape.role == "client"
    helpers: dict[str, Helper] = {
        "client_attach": lambda: _CLIENT_ATTACH if client else "",
        "box_bump": lambda field: _bump(field, "(i32.const {BOX})"),
        "hdr_bump": lambda field: _bump(field, "(i32.const 0)"),
    }
    values = _values(m, shape)
    label = f"port (memory {m})"
    body = _CLIENT if client else _SERVER
    return [(f"{label} common", fill(label, _COMMON, values, helpers)),
            (f"{label} {shape.role}", fill(label, body, values, helpers))]


def _arm(op: str, m: int) -> str:
    if op == "call":
        args = " ".join(f"(local.get {i})" for i in range(1, 6))
        return f"(call $pcall{m} {args})"
    if op == "serve_reply":
        return f"(call $preply{m} (local.get 1) (local.get 2) (local.get 3))"
    block = "0" if op.startswith("try_") else "1"
    return f"(call $precv{m} (i32.const {block}) (local.get 1) (local.get 2) (local.get 3))"


def port_dispatch(op: str, first: int, shapes: tuple[PortShape, ...]) -> str:
    """Exported port ABI function ``op``: a br_table over the port handle."""
    want = PORT_ABI[op][1]
    inner = f"(br_table {' '.join(f'$h{i}' for i in range(len(shapes)))} $bad (local.get 0))"
    code = f"(block $h0 {inner})"
    for i, shape in enumerate(shapes):
        arm = f"(return {_arm(op, first + i)})" if shape.role == want else "(br $bad)"
        wrap = f"$h{i + 1}" if i + 1 < len(shapes) else "$bad"
        code = f"(block {wrap} {code} {arm})"
    return (f'  (func (export "{op}") {port_op_type(op)}\n    {code}\n'
            f"    (i32.const {Status.BAD_HANDLE}))\n")


def port_lookup(first: int, shapes: tuple[PortShape, ...]) -> str:
    """Exported ``port(name_ptr, name_len) -> handle``: names live in the port headers."""
    arms = "".join(f"    (if (call $pname_is{first + i} (local.get 0) (local.get 1)) "
                   f"(then (return (i32.const {i}))))\n" for i in range(len(shapes)))
    return ('  (func (export "port") (param i32 i32) (result i32)\n'
            + arms + f"    (i32.const {Status.BAD_HANDLE}))\n")


def port_ops(shapes: tuple[PortShape, ...]) -> list[str]:
    """The port exports an adapter has: none for a role not held."""
    if not shapes:
        return []
    roles = {s.role for s in shapes}
    return [op for op in PORT_ABI if PORT_ABI[op][1] in roles] + ["port"]


def port_parts(first: int, shapes: tuple[PortShape, ...]) -> list[tuple[str, str]]:
    """Every port end's code, then the port exports; ``first`` is the memory
    index of the first port (after the guest's memory and the rings)."""
    parts: list[tuple[str, str]] = []
    for i, shape in enumerate(shapes):
        parts.extend(port_end_parts(first + i, shape))
    for op in port_ops(shapes):
        if op != "port":
            parts.append((f"dispatch {op}", port_dispatch(op, first, shapes)))
    if shapes:
        parts.append(("port lookup", port_lookup(first, shapes)))
    return parts


def port_imports(first: int, shapes: tuple[PortShape, ...]) -> str:
    """The adapter's imports of the port memories, in handle order."""
    return "".join(f'  (import "p{i}" "port" (memory {s.geometry.pages} {s.geometry.pages} '
                   "shared))\n" for i, s in enumerate(shapes))
