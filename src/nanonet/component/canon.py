"""Strings and ``list<u8>`` across the core API: one bulk copy, not per element.

    ptr, length = lower_bulk(store, memory, realloc, shape, b"...")  # realloc(0, 0, 1, n)
    value = lift_bulk(store, memory, shape, retptr)                  # bytes or str

The Wasm tunnel path (``ringpath.py``) calls a component's exports through
their ``canon lift`` with the core API. Numbers, bool and char pass as they
are; a ``string`` or ``list<u8>`` parameter is copied into the guest with
its ``realloc`` and one ``Memory.write``, and such a result is read from the
return area (pointer, length) with one ``Memory.read``, as the canonical ABI
lays them out. Other kinds are not lowered here.

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


def _within(store: wasmtime.Store, memory: wasmtime.Memory, ptr: int, length: int,
            fault: str) -> None:
    if ptr + length > memory.data_len(store):
        raise wasmtime.WasmtimeError(fault)


def lower_bulk(store: wasmtime.Store, memory: wasmtime.Memory, realloc: Callable[..., Any],
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
    if shape.kind != "string":
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise wasmtime.WasmtimeError(f"invalid utf-8 in the string: {err.reason} at byte "
                                     f"{err.start}") from None
