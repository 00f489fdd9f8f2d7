"""Giving a guest that defines its memory that memory from the host instead.

A guest that defines and exports its memory (the toolchains' default) cannot
be handed the adapter's functions at instantiation: the adapter needs the
guest's memory, which exists only once the guest does. The way around it, a
shim whose table is filled after both exist (``linking.py``), costs a third
instance per service, a table fill at every load and a ``call_indirect`` on
every ABI call. So at load such a module is rewritten to *import* that very
memory: its definition leaves the memory section and becomes the last entry
of the import section, with the same limits, so its index and its export
(``memory``) stay as they were. The host then creates the memory, the
adapter on it, and the guest against the adapter's exports.

The import's module and field names are empty, which makes the new import
entry exactly as long as the memory section it replaces: every byte from the
memory section on (code, data, names) stays where it was, so trap frames
keep the offsets of the module as given. A module where that does not hold
(no import section yet, a count or size that needs one more LEB128 byte),
or whose memory is shared, 64-bit, of custom page size, one of several,
exported under no ``memory`` name, or beside an imported memory of its own,
is left as it is and goes through the shim.
"""

from __future__ import annotations

from typing import NamedTuple

import wasmtime

from ..errors import LoadError
from ..policy.wasmbin import Reader, WasmFormatError, skip_limits, skip_valtype, uleb128
from ..policy.wasmmod import RAW_MODULE
from .startfn import CORE_VERSION, MAGIC, sections

IMPORT_SECTION, MEMORY_SECTION, EXPORT_SECTION = 2, 5, 7
MEMORY_KIND = 2
PLAIN_FLAGS = (0, 1)  # limits without shared, 64-bit or page-size bits
HOST_MEMORY = ("", "")  # the module and field names of the memory import
MAX_KEPT = 256
_KEPT: dict[bytes, bytes | None] = {}  # a binary -> what to compile in its place (None: itself)
_UNSEEN = b""  # no binary is empty: the mark of one not kept yet


class _Imports(NamedTuple):
    total: int  # how many imports
    entries: bytes  # the entries without their count
    memories: int  # imported memories (raw rings only, or it is not rewritten)


def importing(source: bytes) -> bytes:
    """``source`` (Wasm or WAT) with its defined memory moved to an import, or
    ``source`` itself (the same object) if it cannot be moved with every
    offset kept; kept per source, so a thousand services of one guest rewrite
    it once (and the compiled-module cache then holds the rewritten one)."""
    done = _KEPT.get(source, _UNSEEN)
    if done is _UNSEEN:
        if len(_KEPT) >= MAX_KEPT:
            _KEPT.clear()
        moved = _rewrite(source)
        done = _KEPT[source] = None if moved is source else moved
    return source if done is None else done  # an equal source kept earlier is not this one


def _binary(source: bytes) -> bytes | None:
    """Wasm bytes of ``source``; None for WAT that does not assemble (the
    compiler then says why, as it would have)."""
    if source[:4] == MAGIC:
        return source
    try:
        return bytes(wasmtime.wat2wasm(source.decode()))
    except (UnicodeDecodeError, wasmtime.WasmtimeError):
        return None


def _rewrite(source: bytes) -> bytes:
    wasm = _binary(source)
    if wasm is None or wasm[4:8] != CORE_VERSION:
        return source
    try:
        table = {sid: (head, body, end) for sid, head, body, end in sections(wasm) if sid}
        moved = _moved(wasm, table)
    except (LoadError, WasmFormatError, UnicodeDecodeError):
        return source  # what the compiler will refuse (or explain) on its own
    return source if moved is None else moved


def _moved(wasm: bytes, table: dict[int, tuple[int, int, int]]) -> bytes | None:
    if IMPORT_SECTION not in table or MEMORY_SECTION not in table:
        return None
    imports = _imports(wasm, *table[IMPORT_SECTION][1:])
    limits = _one_memory(wasm, *table[MEMORY_SECTION][1:])
    if imports is None or limits is None:
        return None
    if _exported_memory(wasm, table.get(EXPORT_SECTION)) != imports.memories:
        return None
    entry = b"".join(uleb128(len(n.encode())) + n.encode() for n in HOST_MEMORY)
    content = uleb128(imports.total + 1) + imports.entries + entry + bytes([MEMORY_KIND]) + limits
    head, _, end = table[IMPORT_SECTION]
    m_head, _, m_end = table[MEMORY_SECTION]
    out = (wasm[:head] + bytes([IMPORT_SECTION]) + uleb128(len(content)) + content
           + wasm[end:m_head] + wasm[m_end:])
    return out if len(out) == len(wasm) else None  # every later byte where it was


def _imports(wasm: bytes, body: int, end: int) -> _Imports | None:
    """The import section's entries; None if it imports a memory of its own."""
    r = Reader(wasm, body, end)
    count, memories = r.u32(), 0
    first = r.pos
    for _ in range(count):
        module, _field, kind = r.name(), r.name(), r.byte()
        if kind == MEMORY_KIND:
            if module != RAW_MODULE:
                return None
            memories += 1
            skip_limits(r)
        elif kind == 1:
            skip_valtype(r)
            skip_limits(r)
        elif kind == 3:
            skip_valtype(r)
            r.byte()
        else:  # a function (type index) or a tag (attribute, type index)
            if kind == 4:
                r.byte()
            r.u32()
    return _Imports(count, wasm[first:end], memories)


def _one_memory(wasm: bytes, body: int, end: int) -> bytes | None:
    """The limits of the module's one plain memory, as encoded; else None."""
    r = Reader(wasm, body, end)
    if r.u32() != 1 or r.peek() not in PLAIN_FLAGS:
        return None
    at = r.pos
    skip_limits(r)
    return wasm[at:r.pos] if r.pos == end else None


def _exported_memory(wasm: bytes, found: tuple[int, int, int] | None) -> int | None:
    """The memory index exported as ``memory``, if any."""
    if found is None:
        return None
    r = Reader(wasm, found[1], found[2])
    for _ in range(r.u32()):
        name, kind, index = r.name(), r.byte(), r.u32()
        if name == "memory":
            return index if kind == MEMORY_KIND else None
    return None
