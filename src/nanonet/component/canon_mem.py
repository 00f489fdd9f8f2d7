"""WIT values in a component's memory: load and store at the canonical offsets.

    cx = Cx(store, memory, realloc)
    value = load(cx, shape, cx.read(ptr, size(shape), "..."), 0)
    ptr = cx.alloc(alignment(shape), size(shape)); buf = bytearray(size(shape))
    store(cx, shape, value, buf, 0); cx.write(ptr, buf)

A value's contiguous bytes are read or written with one ``Memory.read`` or
``Memory.write``; only what a pointer names (a string, a list's elements)
takes another. A list of numbers is one ``struct`` call, not a loop. Python
shapes are the value layer's (``values.py``): records are dicts, tuples
tuples, variants ``Variant``, options None or the value (``Some`` when
nested), results ``Ok``/``Err``, enums a case name, flags a frozenset.
Faults are ``wasmtime.WasmtimeError`` in the component runtime's words.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import wasmtime

from ..errors import WrongType
from . import canon_layout as lay
from .shapes import Shape
from .values import Err, Ok, Some, Variant

_FMT = {"bool": "B", "s8": "b", "u8": "B", "s16": "h", "u16": "H", "s32": "i", "u32": "I",
        "s64": "q", "u64": "Q", "f32": "f", "f64": "d", "char": "I"}


class Cx:
    """The memory, ``realloc`` and store one lowering or lifting works in."""

    def __init__(self, store: Any, memory: wasmtime.Memory | None,
                 realloc: Callable[..., Any] | None) -> None:
        self.store, self.memory, self.realloc = store, memory, realloc

    def _mem(self) -> wasmtime.Memory:
        if self.memory is None:
            raise wasmtime.WasmtimeError("no memory to lift or lower this value through")
        return self.memory

    def read(self, ptr: int, length: int, fault: str) -> bytes:
        """``length`` bytes at ``ptr``, or ``fault`` if they reach past the memory."""
        memory = self._mem()
        if ptr + length > memory.data_len(self.store):
            raise wasmtime.WasmtimeError(fault)
        return bytes(memory.read(self.store, ptr, ptr + length)) if length else b""

    def write(self, ptr: int, data: bytes | bytearray) -> None:
        if data:
            self._mem().write(self.store, data, ptr)

    def alloc(self, align: int, length: int) -> int:
        """Guest memory from its ``realloc``, checked as the runtime checks it."""
        if self.realloc is None:
            raise wasmtime.WasmtimeError("no realloc to lower this value with")
        ptr = int(self.realloc(0, 0, align, length)) & 0xFFFF_FFFF
        if ptr % align:
            raise wasmtime.WasmtimeError("realloc return: result not aligned")
        if ptr + length > self._mem().data_len(self.store):
            raise wasmtime.WasmtimeError("realloc return: beyond end of memory")
        return ptr


def char_of(code: int) -> str:
    """A Unicode scalar value, else the runtime's fault."""
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise wasmtime.WasmtimeError("converted integer out of range for `char`")
    return chr(code)


def text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise wasmtime.WasmtimeError(f"invalid utf-8 in the string: {err.reason} at byte "
                                     f"{err.start}") from None


def lift_string(cx: Cx, ptr: int, length: int) -> str:
    return text(cx.read(ptr, length, "string pointer/length out of bounds of memory"))


def lift_list(cx: Cx, elem: Shape, ptr: int, length: int) -> Any:
    """The list of ``length`` ``elem`` at ``ptr``: one read, one unpack for numbers."""
    p = lay.plan(elem)
    width = p.size
    if ptr % p.align:
        raise wasmtime.WasmtimeError("list pointer is not aligned")
    data = cx.read(ptr, length * width, "list pointer/length out of bounds of memory")
    if elem.kind == "u8":
        return data
    fmt = _FMT.get(elem.kind)
    if fmt is not None:
        items = list(struct.unpack(f"<{length}{fmt}", data))
        if elem.kind == "bool":
            return [b != 0 for b in items]
        return [char_of(c) for c in items] if elem.kind == "char" else items
    return [load(cx, elem, data, i * width) for i in range(length)]


def _case(shape: Shape, index: int, payload: Any) -> Any:
    """The Python value of case ``index`` of a variant-like type."""
    if shape.kind == "enum":
        return shape.names[index]
    if shape.kind == "option":
        if index == 0:
            return None
        inner = shape.items[0]
        return Some(payload) if inner is not None and inner.kind == "option" else payload
    if shape.kind == "result":
        return Ok(payload) if index == 0 else Err(payload)
    return Variant(shape.names[index], payload)


def check_case(shape: Shape, index: int) -> int:
    count = len(lay.cases(shape))
    if index >= count:
        raise wasmtime.WasmtimeError(f"discriminant {index} out of range [0..{count})")
    return index


def flag_names(shape: Shape, bits: int) -> frozenset[str]:
    return frozenset(n for i, n in enumerate(shape.names) if bits >> i & 1)


def load(cx: Cx, shape: Shape, buf: bytes, off: int) -> Any:
    """The value of type ``shape`` at ``off`` in ``buf`` (bytes read from the guest)."""
    kind = shape.kind
    fmt = _FMT.get(kind)
    if fmt is not None:
        (value,) = struct.unpack_from("<" + fmt, buf, off)
        return value != 0 if kind == "bool" else char_of(value) if kind == "char" else value
    if kind in ("string", "list"):
        ptr, length = struct.unpack_from("<II", buf, off)
        if kind == "string":
            return lift_string(cx, ptr, length)
        assert shape.items[0] is not None
        return lift_list(cx, shape.items[0], ptr, length)
    if kind in ("record", "tuple"):
        p = lay.plan(shape)
        values = [load(cx, s, buf, off + at) for s, at in zip(p.fields, p.offsets, strict=True)]
        return dict(zip(shape.names, values, strict=True)) if kind == "record" else tuple(values)
    if kind in lay.VARIANTS:
        p = lay.plan(shape)
        (index,) = struct.unpack_from(p.disc, buf, off)
        payload = p.cases[check_case(shape, index)]
        inner = None if payload is None else load(cx, payload, buf, off + p.payload)
        return _case(shape, index, inner)
    if kind == "flags":
        width = lay.flag_bytes(len(shape.names))
        return flag_names(shape, int.from_bytes(buf[off:off + width], "little"))
    raise WrongType(f"nanonet does not convert {kind} values")


def bytes_of(shape: Shape, value: Any) -> bytes:
    """A ``string``'s UTF-8 or a ``list<u8>``'s bytes, type-checked as values.py does."""
    if shape.kind == "string":
        if not isinstance(value, str):
            raise WrongType(f"expected str for string, got {type(value).__name__}")
        return value.encode("utf-8")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise WrongType(f"expected bytes for list<u8>, got {type(value).__name__}")
    return bytes(value)


def lower_list(cx: Cx, shape: Shape, value: Any) -> tuple[int, int]:
    """Copy a string or list into the guest (one write); its (pointer, length)."""
    elem = shape.items[0] if shape.kind == "list" else None
    if elem is None or elem.kind == "u8":
        data = bytes_of(shape, value)
        ptr = cx.alloc(1, len(data))
        cx.write(ptr, data)
        return ptr, len(data)
    items = list(value)
    p = lay.plan(elem)
    width = p.size
    ptr = cx.alloc(p.align, width * len(items))
    fmt = _FMT.get(elem.kind)
    if fmt is not None:
        data = _pack(f"<{len(items)}{fmt}", elem, items)
    else:
        buf = bytearray(width * len(items))
        for i, item in enumerate(items):
            store(cx, elem, item, buf, i * width)
        data = bytes(buf)
    cx.write(ptr, data)
    return ptr, len(items)


def _pack(fmt: str, elem: Shape, items: list[Any]) -> bytes:
    if elem.kind == "char":
        items = [ord(one_char(c)) for c in items]
    try:
        return struct.pack(fmt, *items)
    except struct.error as err:
        raise WrongType(f"a {elem.kind} value does not fit: {err}") from None


def one_char(value: Any) -> str:
    """A one-character str holding a Unicode scalar value (no lone surrogate)."""
    if not (isinstance(value, str) and len(value) == 1 and not 0xD800 <= ord(value) <= 0xDFFF):
        raise WrongType(f"expected a one-character str for char, got {value!r}")
    return value


def field(value: Any, name: str) -> Any:
    """A record field from a dict or an attribute (snake_case), as values.py reads it."""
    if isinstance(value, dict):
        return value[name]
    return getattr(value, name.replace("-", "_"))


def case_of(shape: Shape, value: Any) -> tuple[int, Any]:
    """The case index and payload of a variant-like Python value."""
    kind = shape.kind
    if kind == "enum":
        if value not in shape.names:
            raise WrongType(f"expected one of {list(shape.names)}, got {value!r}")
        return shape.names.index(value), None
    if kind == "option":
        if value is None:
            return 0, None
        inner = shape.items[0]
        if inner is not None and inner.kind == "option":
            if not isinstance(value, Some):
                raise WrongType(f"a present {shape.wit()} is written Some(value), got {value!r}")
            return 1, value.value
        return 1, value
    if kind == "result":
        if not isinstance(value, Ok | Err):
            raise WrongType(f"expected Ok(...) or Err(...) for {shape.wit()}, got {value!r}")
        return (0 if isinstance(value, Ok) else 1), value.value
    if not isinstance(value, Variant) or value.case not in shape.names:
        raise WrongType(f"expected Variant(case, payload) with case in {list(shape.names)}, "
                        f"got {value!r}")
    return shape.names.index(value.case), value.payload


def flag_bits(shape: Shape, value: Any) -> int:
    names = set(value)
    unknown = names - set(shape.names)
    if unknown:
        raise WrongType(f"unknown flag(s) {sorted(unknown)}; known: {list(shape.names)}")
    return sum(1 << i for i, n in enumerate(shape.names) if n in names)


def store(cx: Cx, shape: Shape, value: Any, buf: bytearray, off: int) -> None:
    """Write ``value`` of type ``shape`` at ``off`` in ``buf`` (written to the guest later)."""
    kind = shape.kind
    fmt = _FMT.get(kind)
    if fmt is not None:
        if kind == "char":
            value = ord(one_char(value))
        elif kind == "bool":
            value = int(bool(value))
        try:
            struct.pack_into("<" + fmt, buf, off, value)
        except struct.error as err:
            raise WrongType(f"a {kind} value does not fit: {err}") from None
    elif kind in ("string", "list"):
        struct.pack_into("<II", buf, off, *lower_list(cx, shape, value))
    elif kind in ("record", "tuple"):
        p = lay.plan(shape)
        values = ([field(value, n) for n in shape.names] if kind == "record" else list(value))
        if len(values) != len(p.fields):
            raise WrongType(f"expected a tuple of {len(p.fields)}, got {len(values)} values")
        for s, at, v in zip(p.fields, p.offsets, values, strict=True):
            store(cx, s, v, buf, off + at)
    elif kind in lay.VARIANTS:
        index, payload = case_of(shape, value)
        p = lay.plan(shape)
        struct.pack_into(p.disc, buf, off, index)
        case = p.cases[index]
        if case is not None:
            store(cx, case, payload, buf, off + p.payload)
    elif kind == "flags":
        width = lay.flag_bytes(len(shape.names))
        buf[off:off + width] = flag_bits(shape, value).to_bytes(width, "little")
    else:
        raise WrongType(f"nanonet does not convert {kind} values")
