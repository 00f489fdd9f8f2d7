"""Calling a guest export of no parameters in one ctypes call.

``Func.__call__`` rebuilds the function's type in Python on every call (its
parameter and result types, each wrapped), tens of microseconds that a
service's thread spends holding the GIL before it enters Wasm, while the
host is busy starting the next service. A service's entry and start
functions take no parameters and return nothing or one integer, so their
result count is read once per module (``plain_results``) and the call made
straight to ``wasmtime_func_call``, raising what ``Func.__call__`` raises:
a Trap, a WasmtimeError, or the Python exception a host function raised.
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _bindings, _func
from wasmtime import _ffi as ffi

_func_call: Any = _bindings._wasmtime_func_call
_TRAP: Any = ctypes.POINTER(ffi.wasm_trap_t)
_I32, _I64 = ffi.WASMTIME_I32.value, ffi.WASMTIME_I64.value
_KINDS: dict[tuple[wasmtime.Module, str], int | None] = {}


def plain_results(module: wasmtime.Module, name: str) -> int | None:
    """How many results the export ``name`` returns (0 or 1) if it takes no
    parameters and returns nothing or one i32 or i64; else None (then call
    it through ``Func.__call__``). Read once per module and name."""
    key = (module, name)
    if key not in _KINDS:
        ty = next((e.type for e in module.exports if e.name == name), None)
        _KINDS[key] = _plain(ty) if isinstance(ty, wasmtime.FuncType) else None
    return _KINDS[key]


def _plain(ty: wasmtime.FuncType) -> int | None:
    if ty.params:
        return None
    results = tuple(ty.results)
    if not results:
        return 0
    return 1 if len(results) == 1 and results[0] in (wasmtime.ValType.i32(),
                                                     wasmtime.ValType.i64()) else None


def call_plain(store: wasmtime.Store, func: wasmtime.Func, results: int) -> int | None:
    """``func(store)`` for a function ``plain_results`` said is plain."""
    out = (ffi.wasmtime_val_t * results)()
    trap = _TRAP()
    err = _func_call(store._context(), ctypes.byref(func._func), None, 0, out, results,
                     ctypes.byref(trap))
    if err:
        _func.maybe_raise_last_exn()
        raise wasmtime.WasmtimeError._from_ptr(err)
    if trap:
        trapped = wasmtime.Trap._from_ptr(trap)
        _func.maybe_raise_last_exn()
        raise trapped
    if not results:
        return None
    value = out[0]
    return int(value.of.i32 if int(value.kind) == _I32 else value.of.i64)
