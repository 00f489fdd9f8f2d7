"""Compiled code from the disk cache with no copy of its bytes in Python.

A componentize-py guest compiles to ~40 MB, and so does the core module of
a componentize-js guest that the Wasm tunnel path runs.
``Component.deserialize`` and ``Module.deserialize`` copy the bytes into a
ctypes array before wasmtime copies them again into its own mapping, and
slicing the cache entry's header off was a third copy: together about a
quarter of a cached load (for the JavaScript producer's core module on
the Wasm path, ~250 ms of a warm start's module load became ~100 ms).
Here wasmtime reads the entry's bytes where Python read them (the bytes
object stays referenced for the call).
"""

from __future__ import annotations

import ctypes

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc


def _address(view: memoryview) -> int:
    """Where ``view``, a tail slice of a bytes object, starts in memory. A
    read-only buffer has no ``from_buffer``, so the address comes from the
    bytes object itself (``c_char_p`` points at its buffer, no copy)."""
    base = view.obj
    if not isinstance(base, bytes) or not view.contiguous:
        raise TypeError("a view into a bytes object was expected")
    start = ctypes.cast(ctypes.c_char_p(base), ctypes.c_void_p).value
    assert start is not None
    return start + len(base) - view.nbytes


def deserialize(engine: wasmtime.Engine, view: memoryview) -> wc.Component:
    """``Component.deserialize`` of the bytes ``view`` shows, copied only by wasmtime."""
    ptr = ctypes.POINTER(ffi.wasmtime_component_t)()
    data = ctypes.cast(_address(view), ctypes.POINTER(ctypes.c_uint8))
    error = ffi.wasmtime_component_deserialize(engine.ptr(), data, view.nbytes,
                                               ctypes.byref(ptr))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    return wc.Component._from_ptr(ptr)


def deserialize_module(engine: wasmtime.Engine, view: memoryview) -> wasmtime.Module:
    """``Module.deserialize`` of the bytes ``view`` shows, copied only by wasmtime."""
    ptr = ctypes.POINTER(ffi.wasmtime_module_t)()
    data = ctypes.cast(_address(view), ctypes.POINTER(ctypes.c_uint8))
    error = ffi.wasmtime_module_deserialize(engine.ptr(), data, view.nbytes, ctypes.byref(ptr))
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    return wasmtime.Module._from_ptr(ptr)
