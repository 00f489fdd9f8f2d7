"""The parts of a module's structure that decide who can write which memory.

``scan`` reads the sections the raw-access verifier needs: imports (which
memory index each ``nanonet:raw`` import gets), memories, exports, data
segments, function bodies and the function names of the ``name`` section.
The other sections are decoded too, as strictly as the engine decodes them
(section order, every type, table, global and element segment, the counts
that must agree), so that a module nanonet accepts is one every decoder reads
the same way. The ``name`` section alone may be malformed: it is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .wasmbin import (
    ABSTRACT_HEAP,
    REF_PREFIXES,
    Reader,
    WasmFormatError,
    skip_limits,
    skip_valtype,
    walk,
)

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
    funcs: int = 0  # entries of the function section
    data_count: int | None = None  # the data count section, if any
    data_segments: int = 0  # active and passive


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
        _globaltype(r)
    elif kind == TAG:
        _tagtype(r)
    else:
        raise r.fail(f"import kind {kind:#x}")


def _globaltype(r: Reader) -> None:
    skip_valtype(r)
    if r.byte() not in (0, 1):
        raise WasmFormatError(r.pos - 1, "global mutability is neither 0 nor 1")


def _tagtype(r: Reader) -> None:
    if r.byte() != 0:
        raise WasmFormatError(r.pos - 1, "tag attribute is not 0")
    r.u32()


def _expr(r: Reader) -> None:
    """A constant expression, through its final end."""
    for _ in walk(r):
        pass


def _reftype(r: Reader) -> None:
    if r.peek() not in ABSTRACT_HEAP and r.peek() not in REF_PREFIXES:
        raise r.fail("not a reference type")
    skip_valtype(r)


def _type(r: Reader, shape: Shape) -> None:
    if r.byte() != 0x60:
        raise WasmFormatError(r.pos - 1, "a type that is not a function type")
    for _ in range(2):  # parameters, results
        for _ in range(r.u32()):
            skip_valtype(r)


def _func(r: Reader, shape: Shape) -> None:
    r.u32()
    shape.funcs += 1


def _table(r: Reader, shape: Shape) -> None:
    init = r.peek() == 0x40
    if init:
        r.pos += 1
        if r.byte() != 0:
            raise WasmFormatError(r.pos - 1, "table with an initialiser: reserved byte")
    _reftype(r)
    skip_limits(r)
    if init:
        _expr(r)


def _global(r: Reader, shape: Shape) -> None:
    _globaltype(r)
    _expr(r)


def _tag(r: Reader, shape: Shape) -> None:
    _tagtype(r)


def _elem(r: Reader, shape: Shape) -> None:
    flags = r.u32()
    if flags > 7:
        raise WasmFormatError(r.pos - 1, f"element segment flags {flags}")
    if flags & 3 == 2:
        r.u32()  # table index
    if not flags & 1:
        _expr(r)  # active: the offset
    exprs = bool(flags & 4)
    if flags & 3:  # an element kind or a reference type
        if exprs:
            _reftype(r)
        elif r.byte() != 0:
            raise WasmFormatError(r.pos - 1, "element kind is not 0 (funcref)")
    for _ in range(r.u32()):
        _expr(r) if exprs else r.u32()


def _data(r: Reader, shape: Shape) -> None:
    at = r.pos
    shape.data_segments += 1
    flags = r.u32()
    if flags not in (0, 1, 2):
        raise r.fail(f"data segment flags {flags}")
    if flags != 1:
        mem = r.u32() if flags == 2 else 0
        _expr(r)  # the offset
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
    if kind > TAG:
        raise WasmFormatError(at, f"export kind {kind:#x}")
    shape.exports.append((name, kind, index, at))


def _body(r: Reader, shape: Shape) -> None:
    size = r.u32()
    body = r.sub(size)
    shape.bodies.append((body.pos, body.end))


_SECTIONS: dict[int, Callable[[Reader, Shape], None]] = {
    1: _type, 2: _import, 3: _func, 4: _table, 5: _memory, 13: _tag, 6: _global, 7: _export,
    9: _elem, 10: _body, 11: _data}
ORDER = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)  # the only order sections may come in


def _section(section: int, body: Reader, shape: Shape) -> None:
    if section in _SECTIONS:
        _vec(body, _SECTIONS[section], shape)
    elif section == 8:
        body.u32()  # the start function
    elif section == 12:
        shape.data_count = body.u32()
    if not body.done:
        raise body.fail(f"section {section} has trailing bytes")


def _custom(body: Reader, shape: Shape) -> None:
    if body.name() == "name":
        _names(body, shape)


def _counts(shape: Shape, end: int) -> None:
    if shape.funcs != len(shape.bodies):
        raise WasmFormatError(end, f"{shape.funcs} functions declared but "
                              f"{len(shape.bodies)} bodies: the function and code sections "
                              "disagree")
    data = shape.data_segments
    if shape.data_count is not None and shape.data_count != data:
        raise WasmFormatError(end, f"data count {shape.data_count} but {data} data segments")


def scan(wasm: bytes) -> Shape:
    """The shape of ``wasm``; raises ``WasmFormatError`` if it is not a module."""
    if wasm[:4] != MAGIC or len(wasm) < 8:
        raise WasmFormatError(0, "not a WebAssembly module (no \\0asm header)")
    if wasm[4:8] != b"\x01\0\0\0":
        raise WasmFormatError(4, "not a core module of version 1 (a component?)")
    r, shape, last = Reader(wasm, 8), Shape(), -1
    while not r.done:
        at = r.pos
        section, body = r.byte(), r.sub(r.u32())
        if section == 0:
            _custom(body, shape)
            continue
        if section not in ORDER:
            raise WasmFormatError(at, f"unknown section {section}")
        if ORDER.index(section) <= last:
            raise WasmFormatError(at, f"section {section} out of order or repeated")
        last = ORDER.index(section)
        _section(section, body, shape)
    _counts(shape, r.pos)
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
