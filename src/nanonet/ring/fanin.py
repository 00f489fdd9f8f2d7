"""The adapter's fan-in pieces: K sub-rings read through one handle.

A fan-in tunnel (several writers, one reader) is K ordinary SPSC rings, one
per writer, in the standard format: each writer's adapter (or host end) is
the one it would have for a tunnel of its own. Only the reader's adapter
knows: its K read ends (consecutive memories ``F .. F+K-1``) answer as ONE
handle, whose receives are generated here:

- round-robin, fair: a sub-ring keeps the turn for at most ``TURN`` messages
  (a batch receive takes at most what is left of the turn), then the next
  one with a message gets it; so no writer starves another, and each
  writer's messages stay in its order (one sub-ring is one writer's);
- every receive first commits everything received before, on every
  sub-ring, so the two-phase contract (docs/abi.md) holds for the handle;
- when every sub-ring is empty, a blocking receive spins a little, then
  parks once on the service's bell line (``waitany``) for all of them;
- a sub-ring whose writer closed is drained, then leaves the turn; the
  handle reads ``CLOSED`` once every sub-ring has ended, ``BROKEN`` if one
  of them ended by a break. ``CORRUPT``, ``TRUNCATED`` and ``YIELD`` come
  back at once. Closing the handle closes every sub-ring.
"""

from __future__ import annotations

TURN = 16  # messages a sub-ring may deliver in a row while others wait
FAN_SPIN = 2048  # sub-ring looks (all rounds together) before a blocking receive parks
OP_RECV, OP_BATCH, OP_RAW = 0, 1, 2


def _try_one(g: int, first: int, count: int) -> str:
    """``$fk{g}(op, k, a, b, c)``: one non-blocking receive on sub-ring k."""
    arms = []
    for k in range(count):
        m = first + k
        arms.append(
            f"    (if (i32.eq (local.get $k) (i32.const {k})) (then\n"
            f"      (if (i32.eq (local.get $op) (i32.const {OP_BATCH})) (then (return\n"
            f"        (call $recv_batch{m} (i32.const 0) (local.get $a) (local.get $b)"
            " (local.get $c)))))\n"
            f"      (if (i32.eq (local.get $op) (i32.const {OP_RAW})) (then (return\n"
            f"        (call $recv_raw{m} (i32.const 0) (local.get $a)))))\n"
            f"      (return (call $recv{m} (i32.const 0) (local.get $a) (local.get $b)))))\n")
    return (f"  (func $fk{g} (param $op i32) (param $k i32) (param $a i32) (param $b i32)"
            " (param $c i32) (result i32)\n" + "".join(arms) + "    (unreachable))\n")


def _each(count: int, first: int, body: str) -> str:
    """``body`` (with ``{m}`` and ``{k}``) once per sub-ring."""
    return "".join(body.format(m=first + k, k=k) for k in range(count))


_TAKE = """
  (global $fcur{g} (mut i32) (i32.const 0))     ;; the sub-ring whose turn it is
  (global $fleft{g} (mut i32) (i32.const {TURN}))  ;; messages left in its turn
  (global $fended{g} (mut i32) (i32.const 0))   ;; bit k: sub-ring k ended, drained
  (global $fbroken{g} (mut i32) (i32.const 0))  ;; bit k: ...by a break

  ;; the turn passes to the next sub-ring
  (func $fnext{g}
    (global.set $fcur{g} (select (i32.const 0) (i32.add (global.get $fcur{g}) (i32.const 1))
                         (i32.ge_u (global.get $fcur{g}) (i32.const {LAST}))))
    (global.set $fleft{g} (i32.const {TURN})))

  ;; one pass over the sub-rings, from the one whose turn it is: the first
  ;; receive that got something (or failed), else AGAIN (0 for a batch)
  (func $fpass{g} (param $op i32) (param $a i32) (param $b i32) (param $c i32) (result i32)
    (local $tries i32) (local $r i32) (local $k i32) (local $bit i32)
    (block $none (loop $next
      (br_if $none (i32.ge_u (local.get $tries) (i32.const {K})))
      (local.set $k (global.get $fcur{g}))
      (local.set $bit (i32.shl (i32.const 1) (local.get $k)))
      (if (i32.eqz (i32.and (global.get $fended{g}) (local.get $bit))) (then
        (local.set $r (call $fk{g} (local.get $op) (local.get $k) (local.get $a) (local.get $b)
          (select (select (global.get $fleft{g}) (local.get $c)
                          (i32.lt_u (global.get $fleft{g}) (local.get $c)))
                  (local.get $c) (i32.eq (local.get $op) (i32.const {OP_BATCH})))))
        (if (i32.and (i32.eq (local.get $op) (i32.const {OP_BATCH}))
                     (i32.gt_s (local.get $r) (i32.const 0)))
          (then
            (global.set $fleft{g} (i32.sub (global.get $fleft{g}) (local.get $r)))
            (if (i32.le_s (global.get $fleft{g}) (i32.const 0)) (then (call $fnext{g})))
            (return (local.get $r))))
        (if (i32.and (i32.ne (local.get $op) (i32.const {OP_BATCH}))
                     (i32.ge_s (local.get $r) (i32.const 0)))
          (then
            (global.set $fleft{g} (i32.sub (global.get $fleft{g}) (i32.const 1)))
            (if (i32.le_s (global.get $fleft{g}) (i32.const 0)) (then (call $fnext{g})))
            (return (local.get $r))))
        (if (i32.eq (local.get $r) (i32.const {CLOSED}))
          (then (global.set $fended{g} (i32.or (global.get $fended{g}) (local.get $bit)))))
        (if (i32.eq (local.get $r) (i32.const {BROKEN})) (then
          (global.set $fended{g} (i32.or (global.get $fended{g}) (local.get $bit)))
          (global.set $fbroken{g} (i32.or (global.get $fbroken{g}) (local.get $bit)))))
        (if (i32.and (i32.lt_s (local.get $r) (i32.const 0))
              (i32.and (i32.ne (local.get $r) (i32.const {AGAIN}))
                (i32.and (i32.ne (local.get $r) (i32.const {CLOSED}))
                         (i32.ne (local.get $r) (i32.const {BROKEN})))))
          (then (return (local.get $r))))))  ;; CORRUPT, TRUNCATED, YIELD: at once
      (call $fnext{g})
      (local.set $tries (i32.add (local.get $tries) (i32.const 1)))
      (br $next)))
    (select (i32.const 0) (i32.const {AGAIN}) (i32.eq (local.get $op) (i32.const {OP_BATCH}))))

  ;; every receive, blocking or not, of the fan-in handle
  (func $ftake{g} (param $block i32) (param $op i32) (param $a i32) (param $b i32) (param $c i32)
    (result i32) (local $r i32) (local $spin i32) (local $pt i64)
    (call $fcommit{g})
    (local.set $pt (i64.const {TIMEOUT}))
    (loop $round
      (local.set $r (call $fpass{g} (local.get $op) (local.get $a) (local.get $b) (local.get $c)))
      (if (i32.and (i32.ne (local.get $r) (i32.const {AGAIN}))
                   (i32.or (i32.ne (local.get $op) (i32.const {OP_BATCH}))
                           (i32.ne (local.get $r) (i32.const 0))))
        (then (return (local.get $r))))
      (if (i32.eq (global.get $fended{g}) (i32.const {ALL}))
        (then (return (select (i32.const {BROKEN}) (i32.const {CLOSED}) (global.get $fbroken{g})))))
      (if (i32.eqz (local.get $block)) (then (return (local.get $r))))
      (local.set $spin (i32.add (local.get $spin) (i32.const {K})))  ;; rings looked at
      (if (i32.ge_u (local.get $spin) (i32.const {FAN_SPIN})) (then
        (local.set $r (call $fpark{g} (local.get $pt)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
        ;; a park that timed out doubles the next one's timeout (an idle spell)
        (local.set $pt (select
          (select (i64.const {READER_MAX}) (i64.shl (local.get $pt) (i64.const 1))
                  (i64.gt_u (i64.shl (local.get $pt) (i64.const 1)) (i64.const {READER_MAX})))
          (i64.const {TIMEOUT}) (i32.eq (local.get $r) (i32.const 2))))))
      (br $round))
    (unreachable))

  ;; park once on the bell for every sub-ring still open: 1 if news came, 2 if
  ;; the park timed out, or YIELD
  ;; SYNC POINT with $publish in the writers' adapters and RingControl.wake_reader:
  ;; every live sub-ring's reader_waiting is stored, then seq is read, then head
  (func $fpark{g} (param $pt i64) (result i32) (local $seq i32) (local $r i32)
    (call $fflags{g} (i32.const 1))
    (local.set $seq (i32.atomic.load {B} offset={O_BSEQ} (i32.const {OWN_BELL})))
    (local.set $r (call $fready{g}))
    (if (local.get $r) (then
      (call $fflags{g} (i32.const 0))
      (return (select (local.get $r) (i32.const 1) (i32.lt_s (local.get $r) (i32.const 0))))))
    (i64.store {B} offset={O_BPARKS} (i32.const {OWN_BELL})
      (i64.add (i64.load {B} offset={O_BPARKS} (i32.const {OWN_BELL})) (i64.const 1)))
    (local.set $r (memory.atomic.wait32 {B} offset={O_BSEQ} (i32.const {OWN_BELL})
      (local.get $seq) (local.get $pt)))
    (call $fflags{g} (i32.const 0))
    (select (i32.const 2) (i32.const 1) (i32.eq (local.get $r) (i32.const 2))))
"""


def fan_parts(g: int, first: int, count: int) -> str:
    """The fan-in handle ``g`` over memories ``first .. first+count-1``: its
    receives (``$recvf{g}``, ``$recv_batchf{g}``, ``$recv_rawf{g}``), commit,
    close, and the poll and flags ``wait_any`` uses (template text: the
    caller fills ``{B}``, ``{OWN_BELL}`` and the status codes)."""
    live = "(i32.eqz (i32.and (global.get $fended{g}) (i32.const {bit})))"
    flags = "".join(
        f"    (if {live.format(g=g, bit=1 << k)} (then (call $wa_flag{first + k}"
        " (local.get $v))))\n" for k in range(count))
    ready = "".join(
        f"    (if {live.format(g=g, bit=1 << k)} (then\n"
        f"      (local.set $r (call $wa_poll{first + k}))\n"
        "      (if (local.get $r) (then (return (local.get $r))))))\n" for k in range(count))
    return (
        _TAKE.replace("{g}", str(g)).replace("{K}", str(count)).replace("{LAST}", str(count - 1))
        .replace("{ALL}", str((1 << count) - 1)).replace("{TURN}", str(TURN))
        .replace("{FAN_SPIN}", str(FAN_SPIN)).replace("{OP_BATCH}", str(OP_BATCH))
        + _try_one(g, first, count)
        + f"  (func $fcommit{g}\n"
        + _each(count, first, "    (drop (call $commit_op{m}))\n") + "  )\n"
        + f"  (func $fflags{g} (param $v i32)\n" + flags + "  )\n"
        + f"  ;; 1 if a live sub-ring has a message, or every one ended; or YIELD\n"
        f"  (func $fready{g} (result i32) (local $r i32)\n" + ready
        + f"    (i32.eq (global.get $fended{g}) (i32.const {(1 << count) - 1})))\n"
        + f"  (func $recvf{g} (param $block i32) (param $ptr i32) (param $cap i32) (result i32)\n"
        f"    (call $ftake{g} (local.get $block) (i32.const {OP_RECV}) (local.get $ptr)"
        " (local.get $cap) (i32.const 0)))\n"
        f"  (func $recv_batchf{g} (param $block i32) (param $ptr i32) (param $cap i32)"
        " (param $max i32) (result i32)\n"
        f"    (call $ftake{g} (local.get $block) (i32.const {OP_BATCH}) (local.get $ptr)"
        " (local.get $cap) (local.get $max)))\n"
        f"  (func $recv_rawf{g} (param $block i32) (param $at i32) (result i32)\n"
        f"    (call $ftake{g} (local.get $block) (i32.const {OP_RAW}) (local.get $at)"
        " (i32.const 0) (i32.const 0)))\n"
        f"  (func $commit_opf{g} (result i32) (call $fcommit{g}) (i32.const 0))\n"
        f"  (func $close_endf{g} (result i32)\n"
        + _each(count, first, "    (drop (call $close_end{m}))\n") + "    (i32.const 0))\n"
        + f"  (func $wa_pollf{g} (result i32) (call $fready{g}))\n"
        + f"  (func $wa_flagf{g} (param $v i32) (call $fflags{g} (local.get $v)))\n")


def units(ends: int, groups: tuple[tuple[int, int], ...]) -> list[tuple[str, int]]:
    """The guest's handles, in order: each is (the suffix its functions carry,
    its first memory): a plain end ``("3", 3)``, a fan-in group ``("f0", 3)``.
    ``groups`` are (first end index, sub-rings), ends counted from 0."""
    starts = {first: (g, count) for g, (first, count) in enumerate(groups)}
    out, i = [], 0
    while i < ends:
        if i in starts:
            g, count = starts[i]
            out.append((f"f{g}", i + 1))
            i += count
        else:
            out.append((str(i + 1), i + 1))
            i += 1
    return out
