"""A core module's outline: its imports and exports, with nothing behind them.

    small = core_outline(module)   # same imports, same exports and types, no code

What a component's type depends on in a core module is its interface: the
imports its instantiation must satisfy and the types of the exports that
``canon`` definitions and aliases take. So the outline keeps the type,
import, table, memory, tag and global sections byte for byte, keeps one
function for each type of function the module exports (its body
``unreachable``, which validates for any signature), exports it under the
name of every exported function of that type, and drops the start,
element, data count, data and custom sections. A componentize-js module of
~30,000 functions becomes a few dozen, which wasmtime compiles in
milliseconds; emptying every body but keeping every function still took
~0.8 s of CPU here (one trivial function and trampoline each), and keeping
every exported one ~0.3 s for the libpython of componentize-py, which
exports thousands.

A global or table initialised with ``ref.func`` of a dropped function makes
the outline invalid; ``outline.py`` then falls back to ``emptied``, which
keeps every function (with empty bodies).
"""

from __future__ import annotations

from ..errors import LoadError
from . import binary as b
from .binary import Reader

PREAMBLE = b"\0asm\x01\x00\x00\x00"
CUSTOM, TYPE, IMPORT, FUNCTION, EXPORT, START = 0, 1, 2, 3, 7, 8
ELEMENT, CODE, DATA, DATACOUNT = 9, 10, 11, 12
DROPPED = {CUSTOM, START, ELEMENT, DATA, DATACOUNT}
EMPTY_BODY = b"\x03\x00\x00\x0b"  # size 3: no locals, unreachable, end
FUNC, TABLE, MEMORY, GLOBAL, TAG = range(5)  # import and export kinds
REF_TYPES = (0x63, 0x64)  # (ref null ht), (ref ht): a heap type follows


def sections(module: bytes) -> list[tuple[int, int, int]]:
    """A core module's sections: (id, start, end) of each body."""
    if module[:8] != PREAMBLE:
        raise LoadError("not a valid component: a core module section does not hold a "
                        "core module (no \\0asm version 1 preamble)")
    r, out = Reader(module, 8), []
    while not r.done:
        sid, size = r.byte(), r.u32()
        out.append((sid, skip(r, size), r.pos))
    return out


def emptied(module: bytes) -> bytes:
    """``module`` with every function body ``unreachable`` and no custom sections."""
    out = bytearray(PREAMBLE)
    for sid, start, end in sections(module):
        if sid == CUSTOM:
            continue
        body = module[start:end]
        if sid == CODE:
            count = Reader(module, start, end).u32()
            body = b.u32(count) + EMPTY_BODY * count
        out += b.section(sid, body)
    return bytes(out)


def core_outline(module: bytes) -> bytes:
    """``module`` reduced to its interface: one empty function per type of
    exported function, exported under each name a function of that type had."""
    parts = sections(module)
    body = {sid: module[start:end] for sid, start, end in parts}
    imported = _imported_funcs(body.get(IMPORT, b""))
    types = _vec_u32(body.get(FUNCTION, b""))
    exports = _exports(body.get(EXPORT, b""))
    by_type: dict[int, int] = {}  # a function type -> the one function of that type
    for _, kind, index in exports:
        if kind == FUNC and index >= imported:
            by_type.setdefault(types[index - imported], imported + len(by_type))

    def renumbered(kind: int, index: int) -> int:
        if kind != FUNC or index < imported:
            return index
        return by_type[types[index - imported]]
    out = bytearray(PREAMBLE)
    for sid, _, _ in parts:
        if sid in DROPPED:
            continue
        if sid == FUNCTION:
            text = b.vec([b.u32(t) for t in by_type])
        elif sid == EXPORT:
            text = b.vec([b.name(n) + bytes([k]) + b.u32(renumbered(k, i)) for n, k, i in exports])
        elif sid == CODE:
            text = b.u32(len(by_type)) + EMPTY_BODY * len(by_type)
        else:
            text = body[sid]
        out += b.section(sid, text)
    return bytes(out)


def skip(r: Reader, size: int) -> int:
    """Where the ``size`` bytes at the cursor start; the cursor moves past them."""
    start = r.pos
    if start + size > r.end:
        raise LoadError("not a valid component: it ends in the middle of a core module")
    r.pos += size
    return start


def _vec_u32(body: bytes) -> list[int]:
    if not body:
        return []
    r = Reader(body)
    return [r.u32() for _ in range(r.u32())]


def _exports(body: bytes) -> list[tuple[str, int, int]]:
    if not body:
        return []
    r = Reader(body)
    return [(r.name(), r.byte(), r.u32()) for _ in range(r.u32())]


def _imported_funcs(body: bytes) -> int:
    """How many functions the import section imports (they come first in the space)."""
    if not body:
        return 0
    r, funcs = Reader(body), 0
    for _ in range(r.u32()):
        r.name()
        r.name()
        kind = r.byte()
        if kind == FUNC:
            funcs += 1
            r.u32()
        elif kind == TABLE:
            _valtype(r)
            _limits(r)
        elif kind == MEMORY:
            _limits(r)
        elif kind == GLOBAL:
            _valtype(r)
            r.byte()  # mutability
        elif kind == TAG:
            r.byte()  # attribute
            r.u32()
        else:
            raise LoadError(f"not a valid component: a core module imports an item of "
                            f"unknown kind {kind:#x}")
    return funcs


def _valtype(r: Reader) -> None:
    """Past one value type: a number, vector or reference type (with its heap type)."""
    if r.byte() in REF_TYPES:
        r.s33()


def _limits(r: Reader) -> None:
    """Past a table's or memory's limits: flags, minimum, maximum, page size."""
    flags = r.byte()
    _uleb(r)
    if flags & 0x01:
        _uleb(r)
    if flags & 0x08:  # custom page size: its log2
        r.u32()


def _uleb(r: Reader) -> None:
    """Past one LEB128 number of up to 64 bits (a memory64 limit)."""
    while r.byte() & 0x80:
        pass
