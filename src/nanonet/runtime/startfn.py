"""Moving a module's start function out of instantiation.

Wasm runs a module's start function inside instantiation, on whatever thread
instantiates it. For a service that is the host's thread, inside
``Mesh.service()`` or ``nanonet check``, before any deadline, fuel budget or
stop request can reach it: a start function that loops would hang the load,
one that sends would send before ``mesh.start()``. So at load a binary with
a start section is rewritten: the start section is dropped and the same
function is exported as ``START_EXPORT``. Instantiation then runs no guest
code at all, and the service's own thread calls that export first when it
starts, under the store's limits, before its entry function.

Only section headers are read (id and size of each), so a binary without a
start section costs one pass over a dozen headers and is returned as it is.
WAT text is searched for a ``start`` field first and assembled only if it
has one. The outcome is kept per source, so reloading the same module (a
restart, a thousand services of one guest) scans and rewrites it once.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import wasmtime

from ..errors import LoadError
from ..policy.wasmbin import Reader, WasmFormatError, uleb128

START_EXPORT = "nanonet:start"  # reserved: no guest may export this name itself
MAGIC = b"\0asm"
CORE_VERSION = b"\x01\x00\x00\x00"  # a core module; components have another
EXPORT_SECTION, START_SECTION = 7, 8
AFTER_START = frozenset({9, 10, 11, 12})  # element, code, data, data count
HEADER = 8  # magic and version

# "(start" in WAT text, allowing whitespace and comments after the parenthesis
_WAT_START = re.compile(rb"\((?:\s|;;[^\n]*\n|\(;.*?;\))*start(?![0-9A-Za-z_.$])", re.S)
MAX_PREPARED = 256
_PREPARED: dict[bytes, Prepared] = {}  # a source -> what to compile in its place


class Prepared(NamedTuple):
    """The bytes to compile, and whether they export a moved start function."""

    wasm: bytes
    has_start: bool


def prepare(source: bytes) -> Prepared:
    """``source`` (Wasm or WAT) with its start function moved to an export.

    Without a start section the source is returned unchanged (same object),
    so the compiled-module cache sees exactly what it saw before.
    """
    done = _PREPARED.get(source)  # a source seen before: no scan at all
    if done is None:
        if len(_PREPARED) >= MAX_PREPARED:
            _PREPARED.clear()
        done = _PREPARED[source] = _prepare(source)
    return done


def _prepare(source: bytes) -> Prepared:
    binary = source[:4] == MAGIC
    if binary and not has_start_section(source):
        return Prepared(source, False)
    if not binary and not _may_name_start(source):
        return Prepared(source, False)
    return _binary(source if binary else _assemble(source))


def _may_name_start(text: bytes) -> bool:
    """False if no ``start`` in ``text`` can be a start field: each one follows
    a character that no field name follows (``"_start"``, ``$start``). True
    after ``(``; after a comment or a line break, the full pattern decides."""
    at = text.find(b"start")
    while at >= 0:
        before = at - 1
        while before >= 0 and text[before] in b" \t":
            before -= 1
        if before >= 0 and text[before] == 0x28:  # "("
            return True
        if before < 0 or text[before] in b")\r\n;":
            return _WAT_START.search(text) is not None
        at = text.find(b"start", at + 5)
    return False


def _binary(wasm: bytes) -> Prepared:
    return _rewrite(wasm) if has_start_section(wasm) else Prepared(wasm, False)


def _assemble(text: bytes) -> bytes:
    try:
        return bytes(wasmtime.wat2wasm(text.decode()))
    except (UnicodeDecodeError, wasmtime.WasmtimeError) as err:
        raise LoadError(f"not a valid Wasm module: {err}") from err


def uleb_at(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 at ``pos`` (the decoder's own reader): its value and
    the position after it."""
    r = Reader(data, pos)
    try:
        return r.leb(32), r.pos
    except WasmFormatError:
        raise LoadError(f"not a valid Wasm module: bad LEB128 at byte {pos}") from None


def sections(wasm: bytes) -> list[tuple[int, int, int, int]]:
    """Each section as (id, start of header, start of content, end)."""
    out, pos = [], HEADER
    while pos < len(wasm):
        sid = wasm[pos]
        size, body = uleb_at(wasm, pos + 1)
        end = body + size
        if end > len(wasm):
            raise LoadError("not a valid Wasm module: a section runs past the end")
        out.append((sid, pos, body, end))
        pos = end
    return out


def _section(sid: int, content: bytes) -> bytes:
    return bytes([sid]) + uleb128(len(content)) + content


def _export_entry(func: int) -> bytes:
    name = START_EXPORT.encode()
    return uleb128(len(name)) + name + b"\x00" + uleb128(func)


def _with_export(wasm: bytes, found: tuple[int, int, int, int] | None, func: int) -> bytes:
    """An export section holding the old exports and the start function."""
    if found is None:
        return _section(EXPORT_SECTION, b"\x01" + _export_entry(func))
    _, _, body, end = found
    count, first = uleb_at(wasm, body)
    if START_EXPORT in _export_names(wasm[:end], first, count):
        raise LoadError(f"the module exports {START_EXPORT!r}, a name nanonet reserves for "
                        "its start function: rename that export")
    return _section(EXPORT_SECTION, uleb128(count + 1) + wasm[first:end] + _export_entry(func))


def _export_names(wasm: bytes, pos: int, count: int) -> list[str]:
    names = []
    for _ in range(count):
        size, pos = uleb_at(wasm, pos)
        names.append(wasm[pos:pos + size].decode("utf-8", "replace"))
        _, pos = uleb_at(wasm, pos + size + 1)  # the kind byte, then the index
    return names


def has_start_section(wasm: bytes) -> bool:
    """True if ``wasm`` has a start section: section headers only, and only up
    to the first section that must follow it (a valid module keeps the order;
    an invalid one is refused by the compiler anyway)."""
    if wasm[4:HEADER] != CORE_VERSION:
        return False  # a component (its section 8 is not a start section) or not Wasm
    pos, end = HEADER, len(wasm)
    while pos < end:
        sid = wasm[pos]
        if sid == START_SECTION:
            return True
        if sid in AFTER_START:
            return False
        size = shift = 0
        pos += 1
        while pos < end:  # the section's size, LEB128
            byte = wasm[pos]
            size |= (byte & 0x7F) << shift
            pos, shift = pos + 1, shift + 7
            if byte < 0x80:
                break
        pos += size
    return False


def _rewrite(wasm: bytes) -> Prepared:
    """Drop the start section; export its function under ``START_EXPORT``."""
    table = sections(wasm)
    starts = [s for s in table if s[0] == START_SECTION]
    exported = [s for s in table if s[0] == EXPORT_SECTION]
    if not starts:
        return Prepared(wasm, False)
    if len(starts) > 1 or len(exported) > 1:
        raise LoadError("not a valid Wasm module: more than one start or export section")
    func, _ = uleb_at(wasm[:starts[0][3]], starts[0][2])
    exports = exported[0] if exported else None
    new_exports = _with_export(wasm, exports, func)
    out = bytearray(wasm[:HEADER])
    for sid, head, _, end in table:
        if sid == START_SECTION:
            out += new_exports if exports is None else b""  # the export section's place
        elif sid == EXPORT_SECTION:
            out += new_exports
        else:
            out += wasm[head:end]
    return Prepared(bytes(out), True)
