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

Payloads up to ``INLINE_COPY`` bytes are copied with no loop at all (an
epoch check on every back edge cost more than the moves): 16-byte moves
unrolled up to the end's ``max_payload``, the last one overlapping; larger
ones with ``memory.copy`` (a call into the runtime, which pays off there).
"""

from __future__ import annotations

_OPS = {16: ("v128.load", "v128.store"), 8: ("i64.load", "i64.store"),
        4: ("i32.load", "i32.store"), 1: ("i32.load8_u", "i32.store8")}


def _move(width: int, at: int | None = None) -> str:
    """One move of ``width`` bytes from ``$cs`` to ``$cd``: at constant offset
    ``at``, or (``at`` None) at the offset in ``$ct``."""
    load, store = _OPS[width]
    if at is not None:
        off = f" offset={at}" if at else ""
        return (f"({store} {{DST}}{off} (local.get $cd) "
                f"({load} {{SRC}}{off} (local.get $cs)))")
    return (f"({store} {{DST}} (i32.add (local.get $cd) (local.get $ct)) "
            f"({load} {{SRC}} (i32.add (local.get $cs) (local.get $ct))))")


def _last(width: int) -> str:
    """The move of the last ``width`` bytes (``$len`` >= ``width``)."""
    return (f"(local.set $ct (i32.sub (local.get $len) (i32.const {width})))\n"
            f"          {_move(width)}")


def _whole(limit: int) -> str:
    """``$len`` from 16 to ``limit``: 16-byte moves from the start while more
    than 16 bytes lie past them, then the last 16 bytes."""
    steps = "".join(f"\n            (br_if $c16 (i32.le_u (local.get $len) (i32.const {k + 16})))"
                    f"\n            {_move(16, k)}" for k in range(16, limit - 16, 16))
    block = f"\n          (block $c16{steps})" if steps else ""
    return f"{_move(16, 0)}{block}\n          {_last(16)}"


def _sized(limit: int) -> str:
    """The moves for any ``$len`` from 0 to ``limit``, widest first."""
    text = ("(if (local.get $len) (then\n          " + _move(1, 0) + "\n"
            "          (local.set $ct (i32.shr_u (local.get $len) (i32.const 1)))\n"
            f"          {_move(1)}\n          {_last(1)}))")
    for width in (4, 8, 16):
        if width > limit:
            break
        body = _whole(limit) if width == 16 else f"{_move(width, 0)}\n          {_last(width)}"
        text = (f"(if (i32.ge_u (local.get $len) (i32.const {width})) (then\n          {body})\n"
                f"        (else {text}))")
    return text


def copy_inline(dst: str, src: str, limit: int, inline: int, guest: str) -> str:
    """Copy ``$len`` bytes, at most ``limit`` (the end's largest payload),
    from address expression ``src`` to ``dst``, in place (locals ``$cd $cs
    $ct``; memories ``{DST}``/``{SRC}``).

    No loop: Cranelift puts an epoch check on every loop's back edge, and in
    a loop of 16-byte moves those checks cost more than the moves. So whole
    16-byte moves from the start, unrolled up to ``limit``, then one move of
    the last 16 bytes, overlapping the one before; a payload under 16 bytes
    moves its first and last 8, 4 or 1 bytes. Every byte read or written lies
    in ``[0, $len)``. A payload over ``inline`` bytes goes to ``memory.copy``
    (a call into the runtime, quicker for those), and so does a range on the
    ``guest`` side (``src`` or ``dst``) that wraps round 4 GiB: memory.copy
    traps on it."""
    at = "$cs" if guest == "src" else "$cd"
    slow = f"(i32.lt_u (i32.add (local.get {at}) (local.get $len)) (local.get {at}))"
    if limit > inline:
        big = f"(i32.gt_u (local.get $len) (i32.const {inline}))"
        slow = f"(i32.or {big}\n                  {slow})"
    return f"""(local.set $cd {dst}) (local.set $cs {src})
      (if {slow}
        (then (memory.copy {{DST}} {{SRC}} (local.get $cd) (local.get $cs) (local.get $len)))
        (else {_sized(min(limit, inline))}))"""


SEND_BATCH = """\
  ;; records [len u32][payload, padded to 4] at $ptr; returns how many were sent
  (func $send_batch{m} (param $block i32) (param $ptr i32) (param $count i32) (result i32)
    (local $r i32) (local $n i32) (local $pend i32) (local $len i32) (local $bytes i64)
    (local $free i32) (local $slot i32) (local $cd i32) (local $cs i32) (local $ct i32)
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
