"""The parts of a module's structure that decide who can write which memory.

``scan`` reads the sections the raw-access verifier needs: imports (which
memory index each ``nanonet:raw`` import gets), memories, exports, data
segments, function bodies and the function names of the ``name`` section.
Everything else is skipped by its declared size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .wasmbin import Reader, WasmFormatError, skip_limits, skip_valtype, walk

RAW_MODULE = "nanonet:raw"
MAGIC = b"\0asm"
FUNC, TABLE, MEMORY, GLOBAL, TAG = range(5)
KIND_NAMES = ("function", "table", "memory", "global", "tag")


@dataclass
class Shape:
    """What ``scan`` found in one module."""

    raw: dict[int, str] = field(default_factory=dict)  # memory index -> tunnel name
    memories: int = 0  # memories so far: imported first, then defined
    imported_funcs: int = 0
    exports: list[tuple[str, int, int, int]] = field(default_factory=list)  # name, kind, index, at
    data: list[tuple[int, int]] = field(default_factory=list)  # active: (offset, memory)
    bodies: list[tuple[int, int]] = field(default_factory=list)  # (start, end) of each body
    names: dict[int, str] = field(default_factory=dict)  # function index -> name


def _import(r: Reader, shape: Shape) -> None:
    module, name, kind = r.name(), r.name(), r.byte()
    if kind == FUNC:
        r.u32()
        shape.imported_funcs += 1
    elif kind == TABLE:
        skip_valtype(r)
        skip_limits(r)
    elif kind == MEMORY:
        skip_limits(r)
        if module == RAW_MODULE:
            shape.raw[shape.memories] = name
        shape.memories += 1
    elif kind == GLOBAL:
        skip_valtype(r)
        r.byte()
    elif kind == TAG:
        r.byte()
        r.u32()
    else:
        raise r.fail(f"import kind {kind:#x}")


def _data(r: Reader, shape: Shape) -> None:
    at = r.pos
    flags = r.u32()
    if flags not in (0, 1, 2):
        raise r.fail(f"data segment flags {flags}")
    if flags != 1:
        mem = r.u32() if flags == 2 else 0
        for _ in walk(r):  # the offset: a constant expression
            pass
        shape.data.append((at, mem))
    r.take(r.u32())


def _names(r: Reader, shape: Shape) -> None:
    """Function names (subsection 1); a malformed name section is ignored."""
    try:
        while not r.done:
            kind, sub = r.byte(), r.sub(r.u32())
            if kind != 1:
                continue
            for _ in range(sub.u32()):
                index = sub.u32()
                shape.names[index] = sub.name()
    except WasmFormatError:
        return


def _vec(r: Reader, each: Callable[[Reader, Shape], None], shape: Shape) -> None:
    for _ in range(r.u32()):
        each(r, shape)


def _memory(r: Reader, shape: Shape) -> None:
    skip_limits(r)
    shape.memories += 1


def _export(r: Reader, shape: Shape) -> None:
    at = r.pos
    name, kind, index = r.name(), r.byte(), r.u32()
    shape.exports.append((name, kind, index, at))


def _body(r: Reader, shape: Shape) -> None:
    size = r.u32()
    body = r.sub(size)
    shape.bodies.append((body.pos, body.end))


_SECTIONS: dict[int, Callable[[Reader, Shape], None]] = {
    2: _import, 5: _memory, 7: _export, 10: _body, 11: _data}


def scan(wasm: bytes) -> Shape:
    """The shape of ``wasm``; raises ``WasmFormatError`` if it is not a module."""
    if wasm[:4] != MAGIC or len(wasm) < 8:
        raise WasmFormatError(0, "not a WebAssembly module (no \\0asm header)")
    if wasm[4:8] != b"\x01\0\0\0":
        raise WasmFormatError(4, "not a core module of version 1 (a component?)")
    r, shape = Reader(wasm, 8), Shape()
    while not r.done:
        section, body = r.byte(), r.sub(r.u32())
        if section == 0:
            if body.name() == "name":
                _names(body, shape)
        elif section in _SECTIONS:
            _vec(body, _SECTIONS[section], shape)
            if not body.done:
                raise body.fail(f"section {section} has trailing bytes")
    return shape


def import_modules(wasm: bytes) -> list[str]:
    """The module name of every import of a core module, in order (``nanonet``,
    ``env``, ...): what tells a data-plane module inside a component apart."""
    r, out = Reader(wasm, 8), []
    while not r.done:
        section, body = r.byte(), r.sub(r.u32())
        if section != 2:
            continue
        for _ in range(body.u32()):
            at = body.pos
            out.append(body.name())
            body.pos = at
            _import(body, Shape())
    return out
