"""Calling a Wasm function from Python in microseconds, not tens of them.

``wasmtime.Func.__call__`` rebuilds the function's type in Python on every
call (about 45-75 us here). ``FastFunc`` resolves the type once, keeps its
argument and result arrays, and calls ``wasmtime_func_call`` straight through
ctypes (a few us, and ctypes releases the GIL for the duration). i32, i64,
f32 and f64 parameters and results (no references or vectors). One FastFunc
belongs to one store, so to one thread at a time; ``call_in`` calls it
through a host function's caller, inside a call into that store.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

_KINDS = {"i32": 0, "i64": 1, "f32": 2, "f64": 3}
_FIELDS = ("i32", "i64", "f32", "f64")


def _kind(ty: wasmtime.ValType) -> int:
    name = str(ty)
    if name not in _KINDS:
        raise TypeError(f"FastFunc supports i32, i64, f32 and f64 only, not {name}")
    return _KINDS[name]


class FastFunc:
    """A pre-typed Wasm function: ``f(*ints) -> int | None``."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        self._store = store  # keeps the store alive as long as we are
        self._ctx = store._context()
        self._func = ctypes.byref(func._func)
        self._nparams = len(ty.params)
        self._nresults = len(ty.results)
        self._params = (ffi.wasmtime_val_t * max(1, self._nparams))()
        self._kinds = [_kind(t) for t in ty.params]
        for i, k in enumerate(self._kinds):
            self._params[i].kind = k  # type: ignore[assignment]
        self._results = (ffi.wasmtime_val_t * max(1, self._nresults))()
        self._result_kind = _kind(ty.results[0]) if self._nresults else None

    def __call__(self, *args: int) -> int | None:
        """The call of a function of integers (``call`` for any number types)."""
        result: int | None = self.call_in(self._ctx, *args)
        return result

    def call(self, *args: Any) -> Any:
        """The call with ints and floats as its core types take them."""
        return self.call_in(self._ctx, *args)

    def through(self, caller: wasmtime.Caller) -> Callable[..., Any]:
        """This function called in ``caller``'s store context (inside a host call)."""
        return functools.partial(self.call_in, caller._context())

    def call_in(self, ctx: Any, *args: Any) -> Any:
        """The call made in the store context ``ctx`` (a ``Caller``'s, inside a host call)."""
        params = self._params
        for i, value in enumerate(args):
            kind = self._kinds[i]
            if kind == 0:
                params[i].of.i32 = value
            elif kind == 1:
                params[i].of.i64 = value
            else:
                setattr(params[i].of, _FIELDS[kind], value)
        trap = ctypes.POINTER(ffi.wasm_trap_t)()
        error = ffi.wasmtime_func_call(ctx, self._func, params, self._nparams,
                                       self._results, self._nresults, ctypes.byref(trap))
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        if trap:
            raise wasmtime.Trap._from_ptr(trap)
        if self._result_kind is None:
            return None
        of = self._results[0].of
        if self._result_kind < 2:
            return int(of.i64 if self._result_kind else of.i32)
        return getattr(of, _FIELDS[self._result_kind])


class PlainCall:
    """A Wasm function of no parameters and one i32 result, in one ctypes call:
    its arguments, if any, go through its module's memory. ``FastFunc`` sets
    each argument's ctypes field in Python (about 2 us each on a slow core);
    a tap's look pays this call a few hundred times a second."""

    def __init__(self, store: wasmtime.Store, func: wasmtime.Func) -> None:
        ty = func.type(store)
        if ty.params or [str(t) for t in ty.results] != ["i32"]:
            raise TypeError("PlainCall takes a function of no parameters returning one i32")
        self._store = store  # keeps the store alive as long as we are
        self._ctx = store._context()
        self._func = ctypes.byref(func._func)
        self._results = (ffi.wasmtime_val_t * 1)()
        self._of = self._results[0].of
        self._trap = ctypes.POINTER(ffi.wasm_trap_t)()
        self._trap_ref = ctypes.byref(self._trap)
        self._call: Any = ffi.dll.wasmtime_func_call

    def __call__(self) -> int:
        error = self._call(self._ctx, self._func, None, 0, self._results, 1, self._trap_ref)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        if self._trap:
            trap, self._trap = self._trap, ctypes.POINTER(ffi.wasm_trap_t)()
            self._trap_ref = ctypes.byref(self._trap)
            raise wasmtime.Trap._from_ptr(trap)
        return int(self._of.i32)
