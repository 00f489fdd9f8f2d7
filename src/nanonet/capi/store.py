"""A new Store in one C call and two attribute writes.

``wasmtime.Store()`` checks its engine, builds a null finalizer (a ctypes
cast of a new function pointer) and interns no data, which is a few
microseconds per store; a service's cold start makes one, so this makes the
same object (the same C store, the same Python type) without those steps.
"""

from __future__ import annotations

from typing import Any

import wasmtime
from wasmtime import _bindings

from .epoch import FINALIZER_T

_NO_FINALIZER: Any = FINALIZER_T()  # a null pointer: the store holds no data
_store_new: Any = _bindings._wasmtime_store_new
_store_context: Any = _bindings._wasmtime_store_context


def new_store(engine: wasmtime.Engine) -> wasmtime.Store:
    """A Store of ``engine`` with no data, as ``wasmtime.Store(engine)`` makes it."""
    store = wasmtime.Store.__new__(wasmtime.Store)
    store._set_ptr(_store_new(engine.ptr(), None, _NO_FINALIZER))
    store._Store__context = _store_context(store.ptr())  # type: ignore[attr-defined]
    store.engine = engine
    return store
