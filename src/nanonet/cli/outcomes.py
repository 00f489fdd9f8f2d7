"""What a run's services ended with, said briefly: grouped traps, exit codes.

A service in a restart storm traps hundreds of times; pasting each
backtrace buries the one fact that matters, so traps are grouped by cause
and place: ``20 × unreachable executed at parse_line+0x41``. The counts come
from the service's trap log (exact for every cause, docs/runtime.md); the
place is the innermost frame of the kept traps of that cause. A guest's
exit code that is one of the ABI's statuses (docs/abi.md) is shown with its
name and what it usually means for a guest that returns it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import Frame, GuestTrap
from ..ring.layout import Status

# status -> (name in nanonet.h, what a guest returning it usually ran into)
EXIT_MEANINGS: dict[int, tuple[str, str]] = {
    Status.CLOSED: ("NN_CLOSED", "a tunnel it used was closed (returned as its result)"),
    Status.AGAIN: ("NN_AGAIN", "a try_ call found the ring full or empty, and it gave up"),
    Status.TOO_BIG: ("NN_TOO_BIG", "sent a message longer than the tunnel's max_payload"),
    Status.CORRUPT: ("NN_CORRUPT", "a ring it used failed a check and was quarantined"),
    Status.BAD_HANDLE: ("NN_BAD_HANDLE", "asked for a tunnel it does not hold (or used an "
                        "end in the wrong direction)"),
    Status.TRUNCATED: ("NN_TRUNCATED", "its receive buffer was smaller than a message"),
    Status.BROKEN: ("NN_BROKEN", "the service at the other end of a tunnel is gone for good"),
    Status.YIELD: ("NN_YIELD", "the host asked it to return for an upgrade"),
}


def exit_meaning(code: int | None) -> str | None:
    """``-5 NN_BAD_HANDLE: asked for a tunnel ...``; None for 0, None, or a code
    that is no ABI status (the guest's own)."""
    if code is None or code not in EXIT_MEANINGS:
        return None
    name, meaning = EXIT_MEANINGS[code]
    return f"{code} {name}: {meaning}"


def place(frames: Sequence[Frame]) -> str:
    """The innermost frame as ``function+0xOFFSET`` (``module!`` when unnamed)."""
    if not frames:
        return "an unknown place"
    f = frames[0]
    return f"{f.function}+{f.offset:#x}" if f.function else str(f)


@dataclass(frozen=True)
class TrapGroup:
    """Traps of one cause: how many, and where the kept ones happened."""

    cause: str
    count: int
    places: tuple[tuple[str, int], ...]  # (place, kept traps there), most first

    def __str__(self) -> str:
        if not self.places:
            return f"{self.count} × {self.cause}"
        (top, _), others = self.places[0], len(self.places) - 1
        more = f" and {others} other place{'s' if others > 1 else ''}" if others else ""
        return f"{self.count} × {self.cause} at {top}{more}"


def group_traps(kept: Sequence[GuestTrap], counts: dict[str, int]) -> list[TrapGroup]:
    """One group per cause, the most frequent first; ``counts`` are exact
    totals per cause, ``kept`` the recent traps whose frames give places."""
    where: dict[str, Counter[str]] = {}
    for trap in kept:
        where.setdefault(trap.cause or "unknown", Counter())[place(trap.frames)] += 1
    totals = dict(counts) or {c: sum(n.values()) for c, n in where.items()}
    return [TrapGroup(cause, n, tuple(where.get(cause, Counter()).most_common()))
            for cause, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))]


def traps_text(kept: Sequence[GuestTrap], counts: dict[str, int]) -> str:
    """All groups on one line: ``20 × unreachable executed at f+0x41; 1 × ...``."""
    return "; ".join(str(g) for g in group_traps(kept, counts)) or "none"
