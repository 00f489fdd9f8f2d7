"""Raw host functions: made with ``wasmtime_func_new``, reading the caller's
memory through ``wasmtime_caller_export_get``.

A raw host function never raises into wasmtime-py (whose module-global
exception slot is unsafe with several threads): it returns 0, or a trap it
made itself (``epoch.trap_address``).
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

EXTERN_MEMORY, EXTERN_SHARED = 3, 4
CALLBACK_T: Any = ffi.wasmtime_func_callback_t
_NULL_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()


def new_func(store: wasmtime.Store, ty: wasmtime.FuncType, callback: Any) -> wasmtime.Func:
    """A host function of type ``ty`` in ``store`` that runs ``callback`` (a
    ``CALLBACK_T``, kept alive by the caller for as long as the store)."""
    raw = ffi.wasmtime_func_t()
    ffi.wasmtime_func_new(store._context(), ty.ptr(), callback, None, _NULL_FINALIZER,
                          ctypes.byref(raw))
    return wasmtime.Func._from_raw(raw)


def caller_memory(caller: Any) -> tuple[int, int] | None:
    """(address, size) of the calling instance's exported ``memory``, as WASI
    itself finds it; None if it exports none."""
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_caller_export_get(caller, b"memory", 6, ctypes.byref(item)):
        return None
    if int(item.kind) == EXTERN_MEMORY:
        ctx = ffi.wasmtime_caller_context(caller)
        mem = ctypes.byref(item.of.memory)
        base = ffi.wasmtime_memory_data(ctx, mem)
        size = ffi.wasmtime_memory_data_size(ctx, mem)
    elif int(item.kind) == EXTERN_SHARED:
        base = ffi.wasmtime_sharedmemory_data(item.of.sharedmemory)
        size = ffi.wasmtime_sharedmemory_data_size(item.of.sharedmemory)
    else:
        return None
    return ctypes.cast(base, ctypes.c_void_p).value or 0, int(size)
