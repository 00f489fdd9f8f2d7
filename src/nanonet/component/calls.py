"""Calling a component's exports, and being called through its imports.

Both directions convert with the Shapes read once from the component (see
shapes.py), not with wasmtime-py's per-call type walk, so names survive and
the types are fetched once. A host function's Python exception is kept in a
per-thread slot and re-raised by the call that entered Wasm on that thread:
wasmtime-py parks it in one module-global slot, which two services calling
host functions on two threads at once would overwrite.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any

import wasmtime
from wasmtime import component as wc

from ..capi import component as cc
from ..errors import WrongType
from .lift import lift
from .shapes import Signature
from .values import lower

HostFunc = Callable[..., Any]
_NO_STORE: Any = None


class _Pending(threading.local):
    error: BaseException | None = None


_PENDING = _Pending()
_HOST: cc.Slab[tuple[HostFunc, Signature]] = cc.Slab()


class HostFuncError(wasmtime.WasmtimeError):
    """Raised in place of an exception a host function raised, when that one is gone."""


def _raise_pending(err: wasmtime.WasmtimeError) -> None:
    pending, _PENDING.error = _PENDING.error, None
    if pending is not None:
        raise pending from err
    raise err


def call(store: wasmtime.Store, func: wc.Func, sig: Signature, args: tuple[Any, ...]) -> Any:
    """Call ``func`` with Python ``args``; the Python value of its result."""
    if len(args) != len(sig.params):
        names = ", ".join(n for n, _ in sig.params)
        raise WrongType(f"expected {len(sig.params)} argument(s) ({names}), got {len(args)}")
    params = cc.vals(len(args))
    for i, ((_, shape), arg) in enumerate(zip(sig.params, args, strict=True)):
        lower(store, shape, arg, ctypes.pointer(params[i]))
    result = cc.Val()
    nres = 0 if sig.result is None else 1
    try:
        err = cc.call_func(func, store, params, len(args), result, nres)
    finally:
        for i in range(len(args)):
            cc.free_val(params[i])
    if err is not None:
        _raise_pending(err)
    return None if sig.result is None else lift(sig.result, result)


def _run_host(idx: int, args: Any, nargs: int, results: Any) -> None:
    func, sig = _HOST.get(idx)
    pyargs = [lift(shape, args[i]) for i, (_, shape) in enumerate(sig.params)]
    value = func(*pyargs)
    if sig.result is not None:
        lower(_NO_STORE, sig.result, value, results)  # only resources need a store


@cc.HOST_CALLBACK_T  # type: ignore[untyped-decorator]
def _trampoline(idx: int | None, context: Any, ty: Any, args: Any, nargs: int, results: Any,
                nresults: int) -> int:
    try:
        _run_host(idx or 0, args, nargs, results)
    except BaseException as exc:
        _PENDING.error = exc
        error = HostFuncError(f"host function raised {type(exc).__name__}: {exc}")
        return cc.error_address(error)
    return 0


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _finalize(idx: int | None) -> None:
    if _HOST:
        _HOST.deallocate(idx or 0)


def define(parent: wc.LinkerInstance, name: str, func: HostFunc, sig: Signature) -> None:
    """Define ``name`` in ``parent`` as ``func``, converting by ``sig``."""
    idx = _HOST.allocate((func, sig))
    cc.add_func(parent, name, _trampoline, idx, _finalize)
