"""Imports given Python functions, on the Wasm tunnel path: a core host function each.

    host = HostImport(fn, sig, memory, realloc, "import 'lookup'")
    funcs.append(host.func(store))      # in place of the import's ``canon lower``

A component on the Wasm tunnel path (``ringpath.py``) runs as core modules,
so an import the host serves cannot go through the component runtime's
linker. Its ``canon lower`` is replaced by a raw host function
(``capi.hostfunc``) of the lowered core type: its arguments are lifted from
the flat core values, or from memory past 16 of them (``canon.py``), any
WIT kind, strings and lists read with one read each (UTF-8 checked); a
result goes back as one core value or, when it flattens to more, is stored
at the return pointer the caller passed, its strings and lists copied in
through the component's ``realloc`` with one write each.

A function with a ``lower_into(cx, result, retptr)`` method (a reading
import of a typed tunnel, ``typedread.py``) stores its result itself: its
messages are already in the canonical layout, so they are copied in.

The callback never lets an exception out into wasmtime (wasmtime-py keeps one
in a module-global slot, unsafe with several threads): it keeps it in a
per-thread slot and traps; ``raise_pending`` re-raises it from the call that
entered Wasm, as ``calls.py`` does for the component runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NoReturn

import wasmtime

from ..capi.epoch import trap_address
from ..capi.fastcall import FastFunc
from ..capi.hostfunc import CALLBACK_T, new_func
from .canon import Cx, core_types, lift_params, lower_flat, signed, store_result
from .shapes import Signature

_KIND = {"i32": 0, "i64": 1, "f32": 2, "f64": 3}  # WASMTIME_I32 .. WASMTIME_F64
_TYPE = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64(),
         "f32": wasmtime.ValType.f32(), "f64": wasmtime.ValType.f64()}


class _Pending(threading.local):
    error: BaseException | None = None


_PENDING = _Pending()


def raise_pending(err: BaseException) -> NoReturn:
    """Raise what a host function raised during the call that failed with ``err``, else ``err``."""
    pending, _PENDING.error = _PENDING.error, None
    if pending is not None:
        raise pending from err
    raise err


class HostImport:
    """One import served by the Python function ``fn``, with the lowered core type."""

    def __init__(self, fn: Callable[..., Any], sig: Signature, memory: wasmtime.Memory | None,
                 realloc: wasmtime.Func | None, who: str) -> None:
        self.fn, self.sig, self.memory, self.realloc, self.who = fn, sig, memory, realloc, who
        self._params, results = core_types(sig)
        self._retptr = sig.result is not None and not results
        self._result = results[0] if results else None
        self._callback = CALLBACK_T(self._call)  # lives as long as this object
        self._realloc: FastFunc | None = None

    def func(self, store: wasmtime.Store) -> wasmtime.Func:
        """The host function in ``store`` (keep this object alive with the store)."""
        params = [_TYPE[t] for t in self._params]
        results = [] if self._result is None else [_TYPE[self._result]]
        self._realloc = None if self.realloc is None else FastFunc(store, self.realloc)
        return new_func(store, wasmtime.FuncType(params, results), self._callback)

    def _call(self, _env: Any, raw_caller: Any, args: Any, nargs: int, results: Any,
              _nresults: int) -> int:
        caller = wasmtime.Caller(raw_caller)
        try:
            core = [getattr(args[i].of, self._params[i]) for i in range(nargs)]
            cx = Cx(caller, self.memory, self._grow(caller))
            direct = getattr(self.fn, "lower_into", None)
            if direct is not None and self._retptr and not self.sig.params:
                assert self.sig.result is not None
                direct(cx, self.sig.result, core[-1])  # it stores its own result
                return 0
            value = self.fn(*lift_params(cx, self.sig, core))
            if self._result is not None:
                assert self.sig.result is not None
                (flat,) = signed((self._result,), lower_flat(cx, self.sig.result, value))
                results[0].kind = _KIND[self._result]
                setattr(results[0].of, self._result, flat)
            elif self._retptr:
                assert self.sig.result is not None
                store_result(cx, self.sig.result, value, core[-1])
            return 0
        except BaseException as exc:  # never into wasmtime: see the module docstring
            _PENDING.error = exc
            return trap_address(f"nanonet: {self.who} raised {type(exc).__name__}: {exc}")
        finally:
            caller._invalidate()

    def _grow(self, caller: wasmtime.Caller) -> Callable[..., Any] | None:
        """The guest's ``realloc`` called through ``caller`` (one ctypes call), if it has one."""
        realloc = self._realloc
        if realloc is None:
            return None
        return realloc.through(caller)
