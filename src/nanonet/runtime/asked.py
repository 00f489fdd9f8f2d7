"""Which tunnel name a guest asked for and did not get, said after it ends.

A guest that asks ``tunnel("inn")`` gets ``-5`` and, usually, ends with it:
"returned -5" alone does not say why. The adapter keeps where the last
unknown name was (``asked_ptr``, ``asked_len``, in the guest's memory); after
a negative exit the host reads it once, from the guest's memory, bounded by
that memory and by the longest tunnel name, and names it with the names the
service does answer to.
"""

from __future__ import annotations

import wasmtime

from ..capi.instance import export_of
from ..ring.adapter import EndSpec
from ..ring.layout import MAX_NAME


def _global(store: wasmtime.Store, adapter: wasmtime.Instance, name: str) -> int | None:
    item = export_of(store, adapter, name)
    value = item.value(store) if isinstance(item, wasmtime.Global) else None
    return value if isinstance(value, int) else None


def asked_name(store: wasmtime.Store, adapter: wasmtime.Instance,
               memory: wasmtime.Memory) -> bytes | None:
    """The last name ``tunnel()`` matched to no end, or None if there was none."""
    ptr, size = _global(store, adapter, "asked_ptr"), _global(store, adapter, "asked_len")
    if ptr is None or size is None or size < 0:
        return None
    ptr &= 0xFFFFFFFF
    end = min(ptr + min(size, MAX_NAME + 1), memory.data_len(store))
    return bytes(memory.read(store, ptr, end)) if ptr < end else b""


def note(store: wasmtime.Store, adapter: wasmtime.Instance, memory: wasmtime.Memory,
         ends: list[EndSpec]) -> str:
    """``the guest asked for tunnel 'x', ...`` or "" when it asked for none it lacks."""
    try:
        raw = asked_name(store, adapter, memory)
    except (wasmtime.WasmtimeError, ValueError):  # a memory gone or odd: say nothing
        return ""
    if raw is None:
        return ""
    answers = ", ".join(repr(e.alias or e.name) for e in ends) or "none"
    name = raw[:MAX_NAME].decode("utf-8", "replace") + ("..." if len(raw) > MAX_NAME else "")
    return (f"the guest asked for tunnel {name!r}, which it does not hold (it answers to: "
            f"{answers}): fix the name in the guest, or map it with names=")
