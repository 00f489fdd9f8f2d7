"""The adapter's batch loops, written out flat: no call per message.

Cranelift does not inline: every ``call`` in a per-message loop is a real
call with its prologue, stack check and spills. So ``send_batch`` and
``recv_batch`` spell out, inside their loops, what ``$ready``, ``$put``,
``$peek``, ``$take`` and the copy routine do for one message; the functions
themselves stay for the single-message ABI (``send``, ``recv``), which is
on the latency path and not per-batch.

The writer counts its free slots once it has found room (``N - (pos -
peer)``, exactly what ``$ready`` tests, since only ``$refresh`` moves the
cached peer) and re-reads tail only when that count runs out. Every length
read from the ring is still checked against ``max_payload`` before its copy,
per message: the check is one compare, and a bad length quarantines the ring
with the messages before it delivered (as the call-based loop did).

Small payloads are copied with 16-byte moves, then one 8-byte move, then
bytes; larger ones with ``memory.copy`` (a call into the runtime,
which pays off above ``INLINE_COPY`` bytes).
"""

from __future__ import annotations


def copy_inline(dst: str, src: str) -> str:
    """Copy ``$len`` bytes from address expression ``src`` to ``dst``, in place
    (locals ``$cd $cs $ce``); memories ``{DST}``/``{SRC}``. A source range
    that wraps round 4 GiB goes to ``memory.copy``, which traps on it."""
    return f"""(local.set $cd {dst}) (local.set $cs {src})
      (if (i32.or (i32.gt_u (local.get $len) (i32.const {{INLINE}}))
                  (i32.lt_u (i32.add (local.get $cs) (local.get $len)) (local.get $cs)))
        (then (memory.copy {{DST}} {{SRC}} (local.get $cd) (local.get $cs) (local.get $len)))
        (else
          (local.set $ce (i32.add (local.get $cs) (i32.and (local.get $len) (i32.const -16))))
          (block $c16 (loop $l16
            (br_if $c16 (i32.ge_u (local.get $cs) (local.get $ce)))
            (v128.store {{DST}} (local.get $cd) (v128.load {{SRC}} (local.get $cs)))
            (local.set $cs (i32.add (local.get $cs) (i32.const 16)))
            (local.set $cd (i32.add (local.get $cd) (i32.const 16)))
            (br $l16)))
          (local.set $ce (i32.add (local.get $ce) (i32.and (local.get $len) (i32.const 8))))
          (block $c8 (loop $l8
            (br_if $c8 (i32.ge_u (local.get $cs) (local.get $ce)))
            (i64.store {{DST}} (local.get $cd) (i64.load {{SRC}} (local.get $cs)))
            (local.set $cs (i32.add (local.get $cs) (i32.const 8)))
            (local.set $cd (i32.add (local.get $cd) (i32.const 8)))
            (br $l8)))
          (local.set $ce (i32.add (local.get $ce) (i32.and (local.get $len) (i32.const 7))))
          (block $c1 (loop $l1
            (br_if $c1 (i32.ge_u (local.get $cs) (local.get $ce)))
            (i32.store8 {{DST}} (local.get $cd) (i32.load8_u {{SRC}} (local.get $cs)))
            (local.set $cs (i32.add (local.get $cs) (i32.const 1)))
            (local.set $cd (i32.add (local.get $cd) (i32.const 1)))
            (br $l1)))))"""


SEND_BATCH = """\
  ;; records [len u32][payload, padded to 4] at $ptr; returns how many were sent
  (func $send_batch{m} (param $block i32) (param $ptr i32) (param $count i32) (result i32)
    (local $r i32) (local $n i32) (local $pend i32) (local $len i32) (local $bytes i64)
    (local $free i32) (local $slot i32) (local $cd i32) (local $cs i32) (local $ce i32)
    ;; attach and check closed before the first record, as send does
    (if (local.get $count) (then
      (local.set $r (call $room{m} (local.get $block)))
      (if (i32.ne (local.get $r) (i32.const 1)) (then (return (local.get $r))))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $count)))
      (local.set $len (i32.load (local.get $ptr)))
      (if (i32.gt_u (local.get $len) (i32.const {PMAX})) (then
        (local.set $r (i32.const {TOO_BIG})) (br $done)))
      (if (i32.eqz (local.get $free)) (then
        (if (i32.eqz (call $ready{m})) (then
          (if (local.get $pend) (then
            (call $publish{m} (local.get $bytes))
            (local.set $bytes (i64.const 0)) (local.set $pend (i32.const 0))))
          (local.set $r (call $room{m} (local.get $block)))
          (br_if $done (i32.ne (local.get $r) (i32.const 1)))))
        ;; free slots as $ready counts them: 1..N once it holds
        (local.set $free (i32.wrap_i64 (i64.sub (i64.const {N})
          (i64.sub (global.get $pos{m}) (global.get $peer{m})))))))
      ;; $put, in line
      (local.set $slot {@slot_addr})
      (i32.store {m} (local.get $slot) (local.get $len))
      (i32.store {m} offset={SLOT_FLAGS} (local.get $slot) {@slot_seq})
      {@copy_inline_in}
{@sample}      (global.set $pos{m} (i64.add (global.get $pos{m}) (i64.const 1)))
      (local.set $free (i32.sub (local.get $free) (i32.const 1)))
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr)
        (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $pend (i32.add (local.get $pend) (i32.const 1)))
      (br $next)))
    (if (local.get $pend) (then (call $publish{m} (local.get $bytes))))
    (if (i32.and (i32.eqz (local.get $n)) (i32.lt_s (local.get $r) (i32.const 0)))
      (then (return (local.get $r))))
    (local.get $n))
"""

RECV_BATCH_LOOP = """    (local.set $n (i32.const 0))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $n) (local.get $max)))
      (if (i64.eq (global.get $pos{m}) (global.get $peer{m})) (then  ;; not $ready
        (br_if $done (i32.ne (call $refresh{m}) (i32.const 1)))))
      ;; $peek, in line: the length read from the slot, checked before any use
      (local.set $len (i32.load {m} {@slot_addr}))
      (if (i32.gt_u (local.get $len) (i32.const {PMAX})) (then
        (local.set $r (call $quarantine{m} (i32.const {Q_LEN}))) (br $done)))
      (local.set $need (i32.and (i32.add (local.get $len) (i32.const 7)) (i32.const -4)))
      (if (i32.gt_u (local.get $need) (local.get $cap)) (then
        (local.set $r (i32.const {TRUNC})) (br $done)))
      (i32.store (local.get $ptr) (local.get $len))
      ;; $take, in line
      {@copy_inline_out}
{@sample}      (global.set $pos{m} (i64.add (global.get $pos{m}) (i64.const 1))){@lossy_batch}
      (local.set $bytes (i64.add (local.get $bytes) (i64.extend_i32_u (local.get $len))))
      (local.set $ptr (i32.add (local.get $ptr) (local.get $need)))
      (local.set $cap (i32.sub (local.get $cap) (local.get $need)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
"""
