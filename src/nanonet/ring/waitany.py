"""The adapter's wait-any pieces: ``wait_any`` and ringing a peer's bell.

Kept apart from ``adapter.py`` (which fills them with the same strict
``template.fill`` and the same per-end constants) so that an adapter built
without a ``BellPlan`` is byte for byte what it was. Memory ``{B}`` is the
mesh's bell (``ring/bell.py``), imported after the rings.

``wait_any(set, count, timeout_ms)`` scans the ends named by the ``count``
handles at ``set``: a read end is ready when a message waits (or the ring
ended: closed, broken, corrupt; the next receive says which), a write end
when a slot is free (or it ended). It returns the mask of the ready ones
(bit i for ``set[i]``), ``YIELD`` if the host asks the service to return,
or ``AGAIN`` once ``timeout_ms`` of parks passed with nothing ready
(0 polls once, -1 waits for ever). It spins a little, then parks ONCE, on
its bell line, for all of them.
"""

from __future__ import annotations

from .bell import OFF_BELL_PARKS, OFF_BELL_SEQ

MAX_SET = 31  # the result is a mask in a positive i32

# every end of a service that waits on many: is it ready, and its waiting flag
POLL_READ = """
  ;; wait_any: 1 if read end {m} has a message (or has ended: closed, broken or
  ;; corrupt, which the next receive reports), 0 if not yet, or YIELD
  (func $wa_poll{m} (result i32) (local $r i32)
    (if (i32.ne (global.get $ok{m}) (i32.const 1))
      (then (if (call $attach{m}) (then (return (i32.const 1))))))
    (call $commit{m})  ;; parking gives back what the last receive returned
    (if (i32.atomic.load {m} offset={O_RYIELD} (i32.const 0))
      (then (return (i32.const {YIELD}))))
    (if (call $ready{m}) (then (return (i32.const 1))))
    (local.set $r (call $refresh{m}))
    (if (i32.eq (local.get $r) (i32.const {YIELD})) (then (return (local.get $r))))
    (i32.ne (local.get $r) (i32.const 0)))

  (func $wa_flag{m} (param $v i32)
    (i32.atomic.store {m} offset={O_MYWAIT} (i32.const 0) (local.get $v)))
"""

POLL_WRITE = """
  ;; wait_any: 1 if write end {m} has a free slot (or has ended), 0 if not yet
  (func $wa_poll{m} (result i32)
    (if (i32.ne (global.get $ok{m}) (i32.const 1))
      (then (if (call $attach{m}) (then (return (i32.const 1))))))
    (if (call $ready{m}) (then (return (i32.const 1))))
    (i32.ne (call $refresh{m}) (i32.const 0)))

  (func $wa_flag{m} (param $v i32)
    (i32.atomic.store {m} offset={O_MYWAIT} (i32.const 0) (local.get $v)))
"""

# the one call a peer's publish, commit or close adds when its peer waits on many
RING_PEER = "        (call $bell_ring (i32.const {PEER_BELL}))\n"

BELL_RING = f"""
  ;; ring a service's bell line: bump its sequence word, wake it if parked there
  ;; SYNC POINT with wait_any's park: the caller stored its counter (or closed),
  ;; then read the waiter's flag; the waiter stores its flags, then reads seq
  (func $bell_ring (param $line i32)
    (drop (i32.atomic.rmw.add {{B}} offset={OFF_BELL_SEQ} (local.get $line) (i32.const 1)))
    (drop (memory.atomic.notify {{B}} offset={OFF_BELL_SEQ} (local.get $line) (i32.const 1))))
"""

WAIT_ANY = f"""
  (global $wa_spin (mut i32) (i32.const {{SPIN_INIT}}))

  ;; one look at every end of the set: the mask of the ready ones, or YIELD
  (func $wa_scan (param $set i32) (param $count i32) (result i32)
    (local $i i32) (local $mask i32) (local $r i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $r (call $wa_poll
        (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2))))))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (local.get $r) (then (local.set $mask
        (i32.or (local.get $mask) (i32.shl (i32.const 1) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (local.get $mask))

  ;; store (or clear) the waiting flag of every end of the set
  (func $wa_flags (param $set i32) (param $count i32) (param $v i32) (local $i i32)
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (call $wa_flag (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2))))
                     (local.get $v))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each))))

  ;; 0 unless 1 <= count <= {MAX_SET} and every handle names an end of this
  ;; service; else 1, or 2 if a write end is among them (its parks stay short:
  ;; a reader wakes a parked writer only once the ring is half empty)
  (func $wa_valid (param $set i32) (param $count i32) (result i32)
    (local $i i32) (local $h i32) (local $w i32)
    (if (i32.or (i32.eqz (local.get $count)) (i32.gt_u (local.get $count) (i32.const {MAX_SET})))
      (then (return (i32.const 0))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $h (i32.load (i32.add (local.get $set) (i32.shl (local.get $i) (i32.const 2)))))
      (if (i32.ge_u (local.get $h) (i32.const {{ENDS}})) (then (return (i32.const 0))))
      (if (i32.or (i32.ge_u (local.get $h) (i32.const 32))
                  (i32.and (i32.shr_u (i32.const {{WMASK}}) (local.get $h)) (i32.const 1)))
        (then (local.set $w (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.add (i32.const 1) (local.get $w)))

  (func (export "wait_any") (param $set i32) (param $count i32) (param $ms i32) (result i32)
    (local $r i32) (local $i i32) (local $seq i32) (local $left i64) (local $pt i64) (local $t i64)
    (local $max i64)
    (local.set $r (call $wa_valid (local.get $set) (local.get $count)))
    (if (i32.eqz (local.get $r)) (then (return (i32.const {{BAD_HANDLE}}))))
    (local.set $max (select (i64.const {{WRITER_MAX}}) (i64.const {{READER_MAX}})
                            (i32.eq (local.get $r) (i32.const 2))))
    (local.set $left (i64.mul (i64.extend_i32_s (local.get $ms)) (i64.const 1000000)))
    (local.set $pt (i64.const {{TIMEOUT}}))
    (local.set $i (global.get $wa_spin))
    (loop $spin
      (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
      (if (local.get $r) (then (return (local.get $r))))
      (if (i32.eqz (local.get $ms)) (then (return (i32.const {{AGAIN}}))))
      ;; the budget counts ends looked at, so a spin lasts what one end's would
      (local.set $i (i32.sub (local.get $i) (local.get $count)))
      (br_if $spin (i32.gt_s (local.get $i) (i32.const 0))))
    (loop $park
      ;; SYNC POINT with $publish and $commit in the peers' adapters, and
      ;; RingControl.wake_* on the host: every end's waiting flag is stored, then
      ;; seq is read, then the counters are re-read; a peer stores its counter,
      ;; reads the flag, then rings (bumps seq, notifies)
      (call $wa_flags (local.get $set) (local.get $count) (i32.const 1))
      (local.set $seq (i32.atomic.load {{B}} offset={OFF_BELL_SEQ} (i32.const {{OWN_BELL}})))
      (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
      (if (local.get $r) (then
        (call $wa_flags (local.get $set) (local.get $count) (i32.const 0))
        (return (local.get $r))))
      (local.set $t (local.get $pt))
      (if (i32.and (i32.ge_s (local.get $ms) (i32.const 0))
                   (i64.lt_s (local.get $left) (local.get $t)))
        (then (local.set $t (local.get $left))))
      (i64.store {{B}} offset={OFF_BELL_PARKS} (i32.const {{OWN_BELL}})
        (i64.add (i64.load {{B}} offset={OFF_BELL_PARKS} (i32.const {{OWN_BELL}})) (i64.const 1)))
      (local.set $r (memory.atomic.wait32 {{B}} offset={OFF_BELL_SEQ} (i32.const {{OWN_BELL}})
        (local.get $seq) (local.get $t)))
      (call $wa_flags (local.get $set) (local.get $count) (i32.const 0))
      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $left (i64.sub (local.get $left) (local.get $t)))
          (if (i32.and (i32.ge_s (local.get $ms) (i32.const 0))
                       (i64.le_s (local.get $left) (i64.const 0)))
            (then  ;; one last look, then the timeout
              (local.set $r (call $wa_scan (local.get $set) (local.get $count)))
              (return (select (local.get $r) (i32.const {{AGAIN}}) (local.get $r)))))
          (local.set $pt (select (local.get $max) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (i64.shl (local.get $pt) (i64.const 1))
                                           (local.get $max))))
          (global.set $wa_spin (select (i32.const {{SPIN_MIN}})
                (i32.shr_u (global.get $wa_spin) (i32.const 1))
                (i32.lt_u (global.get $wa_spin) (i32.const {{SPIN_MIN2}})))))
        (else
          (local.set $pt (i64.const {{TIMEOUT}}))
          (global.set $wa_spin (select (i32.const {{SPIN_MAX}})
                (i32.shl (global.get $wa_spin) (i32.const 1))
                (i32.gt_u (global.get $wa_spin) (i32.const {{SPIN_MAX2}}))))))
      (br $park))
    (unreachable))
"""


def handle_dispatch(targets: list[str]) -> str:
    """``$wa_poll`` and ``$wa_flag`` over the service's handles: handle i's
    functions carry the suffix ``targets[i]`` (a memory index, or a fan-in
    group's ``f<g>``)."""
    polls = "".join(f"    (if (i32.eq (local.get $h) (i32.const {i})) "
                    f"(then (return (call $wa_poll{t}))))\n" for i, t in enumerate(targets))
    flags = "".join(f"    (if (i32.eq (local.get $h) (i32.const {i})) "
                    f"(then (call $wa_flag{t} (local.get $v))))\n" for i, t in enumerate(targets))
    return ("  (func $wa_poll (param $h i32) (result i32)\n" + polls + "    (i32.const 0))\n"
            "  (func $wa_flag (param $h i32) (param $v i32)\n" + flags + "  )\n")
