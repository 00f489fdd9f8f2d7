"""Naming why a service trapped, for reports and for the fault matrix."""

from __future__ import annotations

import wasmtime

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


def trap_cause(exc: Exception, watchdog_cause: str | None, memory_at_cap: bool) -> str:
    """One short cause: the watchdog's own, a memory cap, or the trap code."""
    if watchdog_cause:
        return watchdog_cause
    code = getattr(exc, "trap_code", None) if isinstance(exc, wasmtime.Trap) else None
    name = code.name if code is not None else None
    if memory_at_cap and name in (None, "UNREACHABLE"):
        return "memory cap reached (memory.grow refused past the limit)"
    if name in CAUSES:
        return CAUSES[name]
    return name.lower().replace("_", " ") if name else "host error"
