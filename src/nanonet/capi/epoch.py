"""A store's epoch-deadline callback, its fuel, and the errors and traps a
host callback returns to wasmtime.

The callback types are the ctypes prototypes of
``wasmtime_store_epoch_deadline_callback``'s arguments; a callback returns
0 to go on or the address of a ``wasmtime_error_t`` to trap the store.
"""

from __future__ import annotations

import ctypes
from typing import Any

from wasmtime import _bindings
from wasmtime import _ffi as ffi

CALLBACK_T: Any = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[1]
FINALIZER_T: Any = _bindings._wasmtime_store_epoch_deadline_callback.argtypes[3]
UPDATE_DEADLINE_CONTINUE = 0  # the kind an epoch callback answers to go on
_NO_FINALIZER: Any = FINALIZER_T()  # a null pointer: the callback owns no data
# the ctypes functions themselves (a store's cold start calls each once)
_set_deadline: Any = _bindings._wasmtime_context_set_epoch_deadline
_set_callback: Any = _bindings._wasmtime_store_epoch_deadline_callback


def install_epoch_callback(store: Any, callback: Any) -> None:
    """Give ``store`` an epoch deadline one tick ahead and ``callback`` (a
    ``CALLBACK_T``, kept alive by the caller) to decide at each tick whether
    it goes on: how a store that runs guest code is made stoppable."""
    _set_deadline(store._context(), 1)
    _set_callback(store.ptr(), callback, None, _NO_FINALIZER)


def error_address(message: str) -> int:
    """A new ``wasmtime_error_t`` saying ``message``: what an epoch callback
    returns to trap its store (wasmtime takes ownership)."""
    err = ffi.wasmtime_error_new(message.encode())
    return ctypes.cast(err, ctypes.c_void_p).value or 0


def trap_address(message: str) -> int:
    """A new ``wasm_trap_t`` saying ``message``: what a raw host function
    returns to trap its caller (wasmtime takes ownership)."""
    text = message.encode()
    return ctypes.cast(ffi.wasmtime_trap_new(text, len(text)), ctypes.c_void_p).value or 0


def set_fuel(ctx: Any, fuel: int) -> None:
    """Set the store's fuel from inside a callback, where ``ctx`` is its context."""
    ffi.wasmtime_context_set_fuel(ctx, fuel)


def get_fuel(ctx: Any) -> int | None:
    """The store's fuel left, or None if the store does not count fuel."""
    left = ctypes.c_uint64(0)
    if ffi.wasmtime_context_get_fuel(ctx, ctypes.byref(left)):
        return None
    return left.value
