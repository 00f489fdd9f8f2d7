"""Imports given Python functions, on the Wasm tunnel path: a core host function each.

    host = HostImport(fn, sig, memory, realloc, "import 'lookup'")
    funcs.append(host.func(store))      # in place of the import's ``canon lower``

A component on the Wasm tunnel path (``ringpath.py``) runs as core modules,
so an import the host serves cannot go through the component runtime's
linker. Its ``canon lower`` is replaced by a raw host function
(``capi.hostfunc``) of the lowered core type: numbers arrive as core values
(``canon.from_core``), a ``string`` or ``list<u8>`` as (pointer, length) in
the component's memory (``canon.read_span``: one read, UTF-8 checked), and a
result goes back as a core value or, for a ``string`` or ``list<u8>``,
through the component's ``realloc``, one write and the return area the
caller passed (``canon.lower_bulk``, ``canon.store_span``).

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
from ..capi.hostfunc import CALLBACK_T, new_func
from .canon import from_core, is_bulk, lower_bulk, read_span, store_span, to_core
from .ringglue import FLAT
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
        self._params = [t for _, s in sig.params
                        for t in (("i32", "i32") if is_bulk(s) else (FLAT[s.kind],))]
        result = sig.result
        self._retptr = result is not None and is_bulk(result)
        self._result = None if result is None or self._retptr else FLAT[result.kind]
        self._callback = CALLBACK_T(self._call)  # lives as long as this object

    def func(self, store: wasmtime.Store) -> wasmtime.Func:
        """The host function in ``store`` (keep this object alive with the store)."""
        params = [_TYPE[t] for t in self._params] + ([_TYPE["i32"]] if self._retptr else [])
        results = [] if self._result is None else [_TYPE[self._result]]
        return new_func(store, wasmtime.FuncType(params, results), self._callback)

    def _call(self, _env: Any, raw_caller: Any, args: Any, nargs: int, results: Any,
              _nresults: int) -> int:
        caller = wasmtime.Caller(raw_caller)
        try:
            core = [getattr(args[i].of, self._params[i]) if i < len(self._params)
                    else args[i].of.i32 for i in range(nargs)]
            value = self.fn(*self._lift(caller, core))
            if self._result is not None:
                assert self.sig.result is not None
                results[0].kind = _KIND[self._result]
                setattr(results[0].of, self._result, to_core(self.sig.result, value))
            elif self._retptr:
                self._lower_result(caller, value, core[-1])
            return 0
        except BaseException as exc:  # never into wasmtime: see the module docstring
            _PENDING.error = exc
            return trap_address(f"nanonet: {self.who} raised {type(exc).__name__}: {exc}")
        finally:
            caller._invalidate()

    def _lift(self, caller: wasmtime.Caller, core: list[Any]) -> list[Any]:
        out, at = [], 0
        for _, shape in self.sig.params:
            if is_bulk(shape):
                assert self.memory is not None  # validation: a list or string needs memory
                out.append(read_span(caller, self.memory, shape, core[at], core[at + 1]))
                at += 2
            else:
                out.append(from_core(shape, core[at]))
                at += 1
        return out

    def _lower_result(self, caller: wasmtime.Caller, value: Any, retptr: int) -> None:
        assert self.memory is not None and self.realloc is not None and self.sig.result
        realloc = self.realloc

        def grow(*args: int) -> Any:
            return realloc(caller, *args)

        ptr, length = lower_bulk(caller, self.memory, grow, self.sig.result, value)
        store_span(caller, self.memory, retptr, ptr, length)
