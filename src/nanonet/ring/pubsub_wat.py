"""The adapter's pub-sub parts: a writer with N subscribers, one ring.

A pub-sub ring (version 2, docs/ring.md "Publish-subscribe") is a ring whose
single reader cursor is replaced by subscriber lines after the slots, one
64-byte line per subscriber: its tail, its counters, its missed count and
the mode the host gave it (``layout.SubMode``). ``adapter.py`` builds a
pub-sub end from the same templates as a single-reader end; this module
gives what differs, as placeholder values and helper fragments, so that a
single-reader adapter's text stays exactly what it was:

- the writer holds back for the slowest *blocking* subscriber (a loop over
  the lines on the slow path, where a single-reader writer loads ``tail``),
  parks on that subscriber's tail, wakes every parked subscriber at once,
  stores each message's sequence number (low 32 bits) in its slot's flags,
  and publishes head at least every ``publish_every`` messages;
- a subscriber is a reader whose cursor lives in its line, whose park is
  announced by a count (``reader_waiting`` counts parked subscribers), and
  whose close leaves (frees its line) instead of closing the tunnel;
- a lossy subscriber checks each message after copying it (seqlock style:
  fence, re-load head, the message must still be within the lossy window
  and its slot's flags must hold its sequence number), drops and counts one
  that was overwritten, and resumes at the oldest message still safe to read
  when the writer laps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import layout as L
from .layout import Geometry, Status

STALE = -100  # internal: a lossy receive copied a message the writer overwrote
MISSED_MAX = 0x7FFF_FFFF  # missed(h) saturates here; the host reads the whole u64


@dataclass(frozen=True)
class Sub:
    """A read end that is one subscriber of a pub-sub ring: its line, its policy."""

    line: int
    lossy: bool = False


def writer_values(g: Geometry) -> dict[str, object]:
    """What a pub-sub writer's templates are filled with (beside the usual)."""
    return dict(OTHER=L.OFF_HEAD, VERSION=L.VERSION_PUBSUB, WAKE_N=-1, **_common(g))


def reader_values(g: Geometry, sub: Sub) -> dict[str, object]:
    """A subscriber's counters are those of its line, not the header's reader line."""
    line = g.sub_line(sub.line)
    return dict(OWN=line + L.SUB_TAIL, O_TAIL=line + L.SUB_TAIL,
                O_BOUT=line + L.SUB_BYTES_OUT, O_EMPTY=line + L.SUB_EMPTY,
                O_MYPARK=line + L.SUB_PARKS, O_RWAKE=line + L.SUB_WAKES,
                O_MISSED=line + L.SUB_MISSED, O_MODE=line + L.SUB_MODE,
                VERSION=L.VERSION_PUBSUB, X="_once" if sub.lossy else "",
                W=g.lossy_window, STALE=STALE, MISSED_MAX=MISSED_MAX,
                BAD_HANDLE=Status.BAD_HANDLE, **_common(g))


def _common(g: Geometry) -> dict[str, object]:
    return dict(S=g.subscribers, SUBS=g.sub_lines, LINE=L.SUB_LINE, O_SUBS=L.OFF_SUBSCRIBERS,
                O_SUBAT=L.OFF_SUB_LINES, M_BLOCK=L.SubMode.BLOCK, L_TAIL=L.SUB_TAIL,
                L_MODE=L.SUB_MODE, NB=g.slot_count - g.publish_every,
                SUBS_END=g.sub_lines + g.subscribers * L.SUB_LINE)


# the header of a pub-sub ring also says how many lines it has, and where
SUB_HEADER = """    (if (i32.or
          (i32.ne (i32.atomic.load {m} offset={O_SUBS} (i32.const 0)) (i32.const {S}))
          (i32.ne (i32.atomic.load {m} offset={O_SUBAT} (i32.const 0)) (i32.const {SUBS})))
      (then (return (call $quarantine{m} (i32.const {Q_HDR})))))
"""

# The writer stays behind the slowest blocking subscriber and parks on its
# tail. With none (or only lossy ones) it may still run only publish_every
# messages past the head it last published: the bound a lossy subscriber's
# check relies on. A lossless tap holds it as in a single-reader ring.
# SYNC POINT with subscribe in ring/subscriber.py: mode is read before tail;
# the host stores tail, then mode
SUB_HOLD = """    (local.set $v (i64.sub (global.get $pos{m}) (i64.const {NB})))
    (global.set $waitat{m} (i32.const {OTHER}))
    (local.set $i (i32.const {SUBS}))
    (block $lines (loop $line
      (br_if $lines (i32.ge_u (local.get $i) (i32.const {SUBS_END})))
      (if (i32.eq (i32.atomic.load {m} offset={L_MODE} (local.get $i)) (i32.const {M_BLOCK}))
        (then
          (local.set $t (i64.atomic.load {m} offset={L_TAIL} (local.get $i)))  ;; acquire
          (if (i64.gt_u (i64.sub (global.get $pos{m}) (local.get $t))
                        (i64.sub (global.get $pos{m}) (local.get $v)))
            (then (local.set $v (local.get $t))
                  (global.set $waitat{m} (i32.add (local.get $i) (i32.const {L_TAIL})))))))
      (local.set $i (i32.add (local.get $i) (i32.const {LINE})))
      (br $line)))
"""

# a lossy subscriber's check on the head it read: far behind is not corrupt,
# it catches up; a head behind its own cursor is
CATCH_UP = "(if (call $catch_up{m}) (then (return (i32.const {CORRUPT}))))"

# after a lossy receive copied a message out: drop it if it was overwritten
LOSSY_RECV = """
    (if (i32.eqz (call $fresh{m})) (then (return (i32.const {STALE}))))"""
LOSSY_BATCH = """
      (br_if $next (i32.eqz (call $fresh{m})))"""
# a lossy subscriber cannot hold a slot: no zero-copy receive
LOSSY_RAW = """    (if (i32.const 1) (then (return (i32.const {BAD_HANDLE}))))
"""
ANNOUNCE = "(drop (i32.atomic.rmw.add {m} offset={O_MYWAIT} (i32.const 0) (i32.const 1)))"
UNANNOUNCE = "(drop (i32.atomic.rmw.sub {m} offset={O_MYWAIT} (i32.const 0) (i32.const 1)))"

SUBSCRIBER = """
  ;; missed(h): messages this subscriber lost to the writer lapping it (saturating)
  (func $missed_op{m} (result i32) (local $n i64)
    (local.set $n (i64.atomic.load {m} offset={O_MISSED} (i32.const 0)))
    (select (i32.const {MISSED_MAX}) (i32.wrap_i64 (local.get $n))
            (i64.gt_u (local.get $n) (i64.const {MISSED_MAX}))))

  ;; a subscriber's close leaves the tunnel: its line is free, the writer (which
  ;; may be parked on this line's tail) is woken and ignores it from then on
  (func $leave{m} (result i32)
    (i32.atomic.store {m} offset={O_MODE} (i32.const 0) (i32.const 0))
    (drop (memory.atomic.notify {m} offset={O_TAIL} (i32.const 0) (i32.const -1)))
    (i32.const 0))
"""

LOSSY = """
  ;; head (in $peer) more than the lossy window ahead: resume at the oldest
  ;; message still safe to read and count the ones skipped; 0, or CORRUPT for
  ;; a head behind this cursor (the writer's counter never goes back)
  (func $catch_up{m} (result i32) (local $d i64)
    (local.set $d (i64.sub (global.get $peer{m}) (global.get $pos{m})))
    (if (i64.lt_s (local.get $d) (i64.const 0))
      (then (return (call $quarantine{m} (i32.const {Q_CNT})))))
    (if (i64.gt_u (local.get $d) (i64.const {W})) (then
      {@bump O_MISSED local $d}
      (i64.store {m} offset={O_MISSED} (i32.const 0)
        (i64.sub (i64.load {m} offset={O_MISSED} (i32.const 0)) (i64.const {W})))
      (global.set $pos{m} (i64.sub (global.get $peer{m}) (i64.const {W})))))
    (i32.const 0))

  ;; the message just taken ($pos - 1) was copied whole only if, after the copy,
  ;; the writer has not come round to its slot: head - n within the window
  ;; and the slot's flags still hold n's sequence number. Else drop it, count
  ;; it, and catch up. SYNC POINT with $put/$publish in the writer adapter: the
  ;; writer publishes head before it reuses a slot; here the copy, a fence,
  ;; then the load of head
  (func $fresh{m} (result i32) (local $n i64) (local $h i64)
    (local.set $n (i64.sub (global.get $pos{m}) (i64.const 1)))
    (atomic.fence)
    (local.set $h (i64.atomic.load {m} offset={O_HEAD} (i32.const 0)))
    (if (i32.and
          (i64.le_u (i64.sub (local.get $h) (local.get $n)) (i64.const {W}))
          (i32.eq (i32.atomic.load {m} offset={SLOT_FLAGS} (i32.add (i32.const {HDR})
                    (i32.mul (i32.const {SZ}) (i32.and (i32.wrap_i64 (local.get $n))
                                                       (i32.const {MASK})))))
                  (i32.wrap_i64 (local.get $n))))
      (then (return (i32.const 1))))
    {@bump O_MISSED}
    (global.set $peer{m} (local.get $h))
    (drop (call $catch_up{m}))
    (i32.const 0))

  ;; a receive that copied an overwritten message tries the next one
  (func $recv{m} (param $block i32) (param $ptr i32) (param $cap i32) (result i32)
    (local $r i32)
    (loop $again
      (local.set $r (call $recv_once{m} (local.get $block) (local.get $ptr) (local.get $cap)))
      (br_if $again (i32.eq (local.get $r) (i32.const {STALE}))))
    (local.get $r))
"""


def writer_helpers(tap_hold: str) -> dict[str, str]:
    """Fragments of a pub-sub writer: the subscriber hold (then the tap's, without
    its reset of where to park) and the sequence number in each slot's flags."""
    tap = tap_hold.split("\n", 1)[1]
    return {"tap_hold": SUB_HOLD + tap, "sub_header": SUB_HEADER, "sub_locals": " (local $i i32)",
            "slot_seq": "(i32.wrap_i64 (global.get $pos{m}))"}


def reader_helpers(sub: Sub) -> dict[str, str]:
    """Fragments of a subscriber, lossy or blocking."""
    out = {"sub_header": SUB_HEADER, "announce": ANNOUNCE, "unannounce": UNANNOUNCE,
           "end_close": "(call $leave{m})"}
    if sub.lossy:
        out.update(check_counters=CATCH_UP, lossy_recv=LOSSY_RECV, lossy_batch=LOSSY_BATCH,
                   lossy_raw=LOSSY_RAW)
    return out


def reader_templates(sub: Sub) -> list[tuple[str, str]]:
    return [("subscriber", SUBSCRIBER)] + ([("lossy", LOSSY)] if sub.lossy else [])

