"""Exporting an imported memory as ``memory``, after a linker that cannot.

A guest that imports its memory and is granted the clock must also export it
(docs/abi.md: Wasmtime's WASI functions write through the caller's exported
memory). zig's linker does it with ``--export-memory``; the wasm-ld inside
Debian's rustc (LLVM 14) has no such flag. So the built module's export
section gets one more entry, ``memory`` for memory 0, unless it already
exports a memory. Only section headers and the export section are read.
"""

from __future__ import annotations

from ..policy.wasmbin import Reader, WasmFormatError, uleb128
from .build import BuildError

EXPORT_SECTION = 7
AFTER_EXPORT = frozenset({8, 9, 10, 11, 12})  # start, element, code, data, data count
MEMORY_KIND = 2
HEADER = 8  # magic and version


def _sections(wasm: bytes) -> list[tuple[int, int, int, int]]:
    """Each section as (id, start of its header, start of its content, end)."""
    r, out = Reader(wasm, HEADER), []
    while not r.done:
        at, sid = r.pos, r.byte()
        body = r.sub(r.u32())
        out.append((sid, at, body.pos, body.end))
    return out


def _exports_a_memory(entries: Reader, count: int) -> bool:
    """Whether one of the ``count`` export entries at ``entries`` is a memory."""
    memory = False
    for _ in range(count):
        entries.name()
        memory = entries.byte() == MEMORY_KIND or memory
        entries.u32()
    return memory


def _section(sid: int, content: bytes) -> bytes:
    return bytes([sid]) + uleb128(len(content)) + content


def export_memory(wasm: bytes) -> bytes:
    """``wasm`` with memory 0 exported as ``memory`` (unchanged if a memory is exported)."""
    entry = uleb128(6) + b"memory" + bytes([MEMORY_KIND]) + uleb128(0)
    try:
        found = _sections(wasm)
        for sid, at, body, end in found:
            if sid == EXPORT_SECTION:
                r = Reader(wasm, body, end)
                count = r.u32()
                first = r.pos
                if _exports_a_memory(r, count):
                    return wasm
                new = _section(sid, uleb128(count + 1) + wasm[first:end] + entry)
                return wasm[:at] + new + wasm[end:]
    except WasmFormatError as err:
        raise BuildError(f"the linker wrote a module nanonet cannot read ({err})") from None
    at = next((at for sid, at, _, _ in found if sid in AFTER_EXPORT), len(wasm))
    return wasm[:at] + _section(EXPORT_SECTION, b"\x01" + entry) + wasm[at:]
