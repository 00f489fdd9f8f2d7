"""Naming why a service trapped, and where, for reports and the fault matrix."""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import wasmtime

from ..errors import Frame, GuestTrap

# "    0:     0xb1 - <unknown>!fault" in the text of a host-raised error
_FRAME_LINE = re.compile(r"^\s*\d+:\s+0x([0-9a-f]+) - (.*?)!(.*)$", re.M)


@dataclass
class OffsetMap:
    """Code offsets of the rewritten module back to those of the original."""

    module: str  # the module name trap frames of the rewritten guest carry
    original_name: str | None
    new: list[int] = field(default_factory=list)  # sorted breakpoints in the new module
    old: list[int] = field(default_factory=list)  # the same points in the original

    def point(self, new: int, old: int) -> None:
        self.new.append(new)
        self.old.append(old)

    def original(self, offset: int) -> int:
        i = bisect.bisect_right(self.new, offset) - 1
        return offset if i < 0 else self.old[i] + (offset - self.new[i])


def trap_frames(exc: Exception, offsets: OffsetMap | None = None) -> tuple[Frame, ...]:
    """The Wasm frames of a trap; for an error our epoch callback raised
    (a deadline, a stop), wasmtime gives them only as text, so parse that.
    ``offsets`` maps a watched guest's offsets back to the module as given."""
    if isinstance(exc, wasmtime.Trap):
        frames = tuple(Frame(f.module_name, f.func_name, f.module_offset)
                       for f in exc.frames or [])
    else:
        frames = tuple(Frame(None if mod == "<unknown>" else mod, func, int(off, 16))
                       for off, mod, func in _FRAME_LINE.findall(str(exc)))
    if offsets is None:
        return frames
    return tuple(Frame(offsets.original_name, f.function, offsets.original(f.offset))
                 if f.module == offsets.module else f for f in frames)


def trap_message(exc: Exception, offsets: OffsetMap | None = None) -> str:
    """The trap's own words: a Trap's message, or the cause of a host error."""
    if isinstance(exc, wasmtime.Trap):
        text = str(exc.message)
    else:
        whole = str(exc)
        _, sep, cause = whole.partition("Caused by:")
        text = cause.strip() if sep else whole.strip()
    return text if offsets is None else _FRAME_LINE.sub(lambda m: _remap(m, offsets), text)


def _remap(m: re.Match[str], offsets: OffsetMap) -> str:
    if m.group(2) != offsets.module:
        return m.group(0)
    prefix = m.group(0)[: m.start(1) - m.start(0) - 2]
    name = offsets.original_name or "<unknown>"
    return f"{prefix}{offsets.original(int(m.group(1), 16)):#x} - {name}!{m.group(3)}"

CAUSES = {
    "STACK_OVERFLOW": "stack overflow",
    "MEMORY_OUT_OF_BOUNDS": "out-of-bounds memory access",
    "UNREACHABLE": "unreachable executed",
    "OUT_OF_FUEL": "fuel exhausted",
    "INTERRUPT": "interrupted",
    "INTEGER_DIVISION_BY_ZERO": "integer division by zero",
    "INTEGER_OVERFLOW": "integer overflow",
    "TABLE_OUT_OF_BOUNDS": "out-of-bounds table access",
    "INDIRECT_CALL_TO_NULL": "indirect call to null",
    "BAD_SIGNATURE": "indirect call signature mismatch",
    "HEAP_MISALIGNED": "misaligned atomic access",
}


# what a guest does when its allocator gets -1: abort, or use a null pointer
_AFTER_REFUSAL = (None, "UNREACHABLE", "MEMORY_OUT_OF_BOUNDS")


def trap_cause(exc: Exception, watchdog_cause: str | None, grow_refused: bool) -> str:
    """One short cause: the watchdog's own, a memory cap, or the trap code.

    ``grow_refused``: the guest's instance saw a ``memory.grow`` refused
    (``growwatch``), a fact, so a trap that typically follows it is named so."""
    if watchdog_cause:
        return watchdog_cause
    code = getattr(exc, "trap_code", None) if isinstance(exc, wasmtime.Trap) else None
    name = code.name if code is not None else None
    if grow_refused and name in _AFTER_REFUSAL:
        return "memory cap reached (memory.grow refused past the limit)"
    if name in CAUSES:
        return CAUSES[name]
    return name.lower().replace("_", " ") if name else "host error"


KEEP_TRAPS = 64  # the most recent traps a service keeps in full


_TRAP_LOCK = threading.Lock()  # one for every log: traps are rare, logs many


class TrapLog:
    """A service's traps: the last ``keep`` in full, and a count per cause of all.

    A service in a restart storm (a zero back-off, a guest that traps at once)
    traps over a thousand times a second; keeping every report would grow
    without bound, so older reports are dropped while the counts stay exact.
    The service's own thread appends; observers read from other threads, so
    both go through one lock (a list mutated while copied raises). Most
    services never trap: the list and the counts are made at the first trap.
    """

    __slots__ = ("_counts", "_keep", "_recent")

    def __init__(self, keep: int = KEEP_TRAPS) -> None:
        self._keep = keep
        self._recent: list[GuestTrap] | None = None
        self._counts: Counter[str] | None = None

    def append(self, trap: GuestTrap) -> None:
        with _TRAP_LOCK:
            if self._recent is None or self._counts is None:
                self._recent, self._counts = [], Counter()
            self._recent.append(trap)
            if len(self._recent) >= 2 * self._keep:  # drop the oldest, in chunks
                del self._recent[:-self._keep]
            self._counts[trap.cause or "unknown"] += 1

    def recent(self) -> list[GuestTrap]:
        """The kept traps, oldest first."""
        with _TRAP_LOCK:
            return self._recent[-self._keep:] if self._recent else []

    def counts(self) -> dict[str, int]:
        """How many traps of each cause, since the service was created."""
        with _TRAP_LOCK:
            return dict(self._counts or {})

    @property
    def total(self) -> int:
        with _TRAP_LOCK:
            return sum(self._counts.values()) if self._counts else 0
