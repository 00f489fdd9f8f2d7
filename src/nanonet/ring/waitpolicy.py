"""Per-tunnel wait policies: how a blocked end waits for the other side.

A blocked end (a reader on an empty ring, a writer on a full one) trades
wake-up latency against CPU. ``adaptive`` (the default) spins a bounded,
self-tuning while, then parks with ``memory.atomic.wait32``; ``spin`` never
parks (the lowest wake-up tail, and a core burnt while it waits); ``park``
parks at once (no CPU while idle, a futex wake-up, ~50 us here, on every
wait that finds nothing).

The policy is one constant per tunnel end, baked into that end's generated
``$wait`` (the adapter reads nothing to learn it): the adaptive template is
the adapter's own (ring/adapter.py); the other two are written here. A spinning end
never stores its waiting flag, so its peer never notifies it; it still
re-reads ``closed``, the quarantine and the yield flag on every poll, and a
spinning loop reaches the epoch (a forced stop, a deadline) at its back edge.
"""

from __future__ import annotations

from enum import Enum

from ..errors import InvalidValue


class WaitPolicy(Enum):
    """How a blocked tunnel end waits (``Mesh.tunnel(..., wait=...)``)."""

    SPIN = "spin"
    ADAPTIVE = "adaptive"
    PARK = "park"


DEFAULT_WAIT = WaitPolicy.ADAPTIVE
WAIT_NAMES = tuple(p.value for p in WaitPolicy)


def wait_policy(value: str | WaitPolicy, where: str) -> WaitPolicy:
    """``value`` as a policy; an ``InvalidValue`` naming ``where`` and the
    choices if it is none of them."""
    if isinstance(value, WaitPolicy):
        return value
    try:
        return WaitPolicy(value)
    except ValueError:
        raise InvalidValue(f"{where}: wait = {value!r} is not a wait policy; use one of "
                           + ", ".join(repr(n) for n in WAIT_NAMES)) from None


# Never park: poll the other side's counter until it moves or the ring ends.
# No waiting flag is stored, so the peer's publish never pays for a notify.
SPIN_WAIT = """  ;; wait policy "spin": poll until the other side moves; never announce, never park
  (func $wait{m} (result i32) (local $r i32)
    (loop $spin
      (local.set $r (call $refresh{m}))
      (if (local.get $r) (then (return (local.get $r))))
      (br $spin))
    (unreachable))
"""

# One turn of a park loop, shared by "adaptive" (ring/adapter.py) and "park": announce,
# re-check, park on the other side's counter with timeout $pt, unannounce; $r is
# then 0 (woken), 1 (the counter had moved) or 2 (timed out)
PARK_ONCE = """\
      ;; SYNC POINT with $publish in the writer adapter / $commit in the reader adapter
      ;; and ring/control.py $publish: my waiting flag is stored before my refresh
      ;; re-reads the other side's counter; they store the counter, then read the flag
      {@announce}  ;; announce (SC)
      (local.set $r (call $refresh{m}))                                       ;; then re-check
      (if (local.get $r) (then
        {@unannounce}
        (return (local.get $r))))
      (local.set $seen (global.get $peer{m}))
      (i64.store {m} offset={O_MYPARK} (i32.const 0)
        (i64.add (i64.load {m} offset={O_MYPARK} (i32.const 0)) (i64.const 1)))
      (local.set $r (memory.atomic.wait32 {m} (global.get $waitat{m})
        (i32.wrap_i64 (local.get $seen)) (local.get $pt)))
      {@unannounce}
"""

# Park at once: the adaptive park loop without the spin before it. The
# timeout backs off while parks time out, as the adaptive one's does.
PARK_WAIT = """  ;; wait policy "park": announce and park at once, with a finite timeout that
  ;; backs off while parks time out (one wait = one idle spell)
  (func $wait{m} (result i32) (local $r i32) (local $seen i64) (local $pt i64)
    (local.set $pt (i64.const {TIMEOUT}))
    (loop $park
""" + PARK_ONCE + """      (if (i32.eq (local.get $r) (i32.const 2))
        (then
          (local.set $pt (select (i64.const {PARK_MAX}) (i64.shl (local.get $pt) (i64.const 1))
                                 (i64.gt_u (local.get $pt) (i64.const {PARK_MAX2}))))))
      (br $park))
    (unreachable))
"""


def wait_template(policy: WaitPolicy, adaptive: str) -> str:
    """The ``$wait`` template of an end with ``policy`` (``adaptive``: the
    adapter's own)."""
    return {WaitPolicy.SPIN: SPIN_WAIT, WaitPolicy.PARK: PARK_WAIT}.get(policy, adaptive)


def host_spin_ns(policy: WaitPolicy, adaptive_ns: int) -> int | None:
    """How long a blocked host end polls before it parks: ``adaptive_ns``,
    0 for ``park``, None (for ever) for ``spin``."""
    return {WaitPolicy.SPIN: None, WaitPolicy.PARK: 0}.get(policy, adaptive_ns)


def host_polls(policy: WaitPolicy, adaptive: int) -> int | None:
    """How many loop turns an asyncio host end polls before it parks in a
    thread: ``adaptive``, 0 for ``park``, None (for ever) for ``spin``."""
    return {WaitPolicy.SPIN: None, WaitPolicy.PARK: 0}.get(policy, adaptive)
