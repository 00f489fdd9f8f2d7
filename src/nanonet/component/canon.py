"""Strings and ``list<u8>`` across the core API: one bulk copy, not per element.

    ptr, length = lower_bulk(store, memory, realloc, shape, b"...")  # realloc(0, 0, 1, n)
    value = lift_bulk(store, memory, shape, retptr)                  # bytes or str

The Wasm tunnel path (``ringpath.py``) calls a component's exports through
their ``canon lift`` with the core API. Numbers, bool and char pass as they
are; a ``string`` or ``list<u8>`` parameter is copied into the guest with
its ``realloc`` and one ``Memory.write``, and such a result is read from the
return area (pointer, length) with one ``Memory.read``, as the canonical ABI
lays them out (``to_core``, ``from_core``, ``lower_bulk``, ``lift_bulk``).
An import the host serves on that path gets its string and bytes
arguments read by ``read_span`` and its result written by ``lower_bulk``
and ``store_span``. Other kinds are not lowered here.

What the canonical ABI traps on fails here too, with the component
runtime's own words, as a ``wasmtime.WasmtimeError``: a ``realloc`` result
or a (pointer, length) reaching past the memory, a return area not aligned
to 4 bytes, a string that is not UTF-8. ``Memory.read`` alone would cut a
read short in silence.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import wasmtime

from ..errors import WrongType
from .shapes import Shape

RETURN_ALIGN = 4  # the return area holds two u32: (pointer, length)


def to_core(shape: Shape, value: Any) -> Any:
    """A Python value of a numeric WIT type as the core API takes it."""
    if shape.kind == "char":
        return ord(value)
    if shape.kind == "bool":
        return int(bool(value))
    if shape.kind in ("u32", "u64"):
        bits = 32 if shape.kind == "u32" else 64
        return value - (1 << bits) if value >= 1 << (bits - 1) else value
    return value


_MASK = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFF_FFFF, "u64": (1 << 64) - 1}


def from_core(shape: Shape, value: Any) -> Any:
    """A core value as the Python value of its numeric WIT type."""
    if shape.kind in _MASK:
        return value & _MASK[shape.kind]
    if shape.kind == "bool":
        return bool(value)
    if shape.kind == "char":
        code = value & 0xFFFF_FFFF
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:  # not a Unicode scalar value
            raise wasmtime.WasmtimeError(f"invalid `char` bit pattern 0x{code:x}")
        return chr(code)
    if shape.kind in ("s8", "s16"):
        bits = 8 if shape.kind == "s8" else 16
        value &= (1 << bits) - 1
        return value - (1 << bits) if value >= 1 << (bits - 1) else value
    return value


def is_bulk(shape: Shape) -> bool:
    """A ``string`` or ``list<u8>``: a (pointer, length) pair in core values."""
    return shape.kind == "string" or shape.is_bytes


def _bytes_of(shape: Shape, value: Any) -> bytes:
    if shape.kind == "string":
        if not isinstance(value, str):
            raise WrongType(f"expected str for string, got {type(value).__name__}")
        return value.encode("utf-8")
    if not isinstance(value, bytes | bytearray | memoryview):
        raise WrongType(f"expected bytes for list<u8>, got {type(value).__name__}")
    return bytes(value)


def _within(store: Any, memory: wasmtime.Memory, ptr: int, length: int,
            fault: str) -> None:
    if ptr + length > memory.data_len(store):
        raise wasmtime.WasmtimeError(fault)


def lower_bulk(store: Any, memory: wasmtime.Memory, realloc: Callable[..., Any],
               shape: Shape, value: Any) -> tuple[int, int]:
    """Copy ``value`` into the guest (one write); its (pointer, length).
    ``realloc`` is the guest's, bound to ``store`` (a ``FastFunc``)."""
    data = _bytes_of(shape, value)
    ptr = realloc(0, 0, 1, len(data)) & 0xFFFF_FFFF
    _within(store, memory, ptr, len(data), "realloc return: beyond end of memory")
    if data:
        memory.write(store, data, ptr)
    return ptr, len(data)


def lift_bulk(store: wasmtime.Store, memory: wasmtime.Memory, shape: Shape,
              retptr: int) -> Any:
    """Read the (pointer, length) at ``retptr`` and the bytes it names (one read)."""
    if retptr % RETURN_ALIGN:
        raise wasmtime.WasmtimeError("return pointer not aligned")
    _within(store, memory, retptr, 8, "return pointer out of bounds of memory")
    ptr, length = struct.unpack("<II", memory.read(store, retptr, retptr + 8))
    kind = "string" if shape.kind == "string" else "list"
    _within(store, memory, ptr, length, f"{kind} pointer/length out of bounds of memory")
    data = bytes(memory.read(store, ptr, ptr + length))
    return _text(data) if shape.kind == "string" else data


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise wasmtime.WasmtimeError(f"invalid utf-8 in the string: {err.reason} at byte "
                                     f"{err.start}") from None


def read_span(store: Any, memory: wasmtime.Memory, shape: Shape, ptr: int, length: int) -> Any:
    """The ``string`` or ``list<u8>`` at (``ptr``, ``length``) in the guest (one read)."""
    ptr, length = ptr & 0xFFFF_FFFF, length & 0xFFFF_FFFF
    kind = "string" if shape.kind == "string" else "list"
    _within(store, memory, ptr, length, f"{kind} pointer/length out of bounds of memory")
    data = bytes(memory.read(store, ptr, ptr + length))
    return _text(data) if shape.kind == "string" else data


def store_span(store: Any, memory: wasmtime.Memory, retptr: int, ptr: int, length: int) -> None:
    """Write (``ptr``, ``length``) into the return area at ``retptr``, as a lowered
    import hands back a ``string`` or ``list<u8>``."""
    retptr &= 0xFFFF_FFFF
    if retptr % RETURN_ALIGN:
        raise wasmtime.WasmtimeError("return pointer not aligned")
    _within(store, memory, retptr, 8, "return pointer out of bounds of memory")
    memory.write(store, struct.pack("<II", ptr, length), retptr)
