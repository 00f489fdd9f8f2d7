"""Instances, memories and tables through raw C API calls, for a cold start
in tens of microseconds (``runtime/fastlink.py`` plans them once).

An import list is a ctypes array of externs filled in place; instances are
the C API's plain structs, turned into wasmtime-py objects only at the end.
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi
from wasmtime._exportable import AsExtern as AsExtern  # what a Linker or Instance takes
from wasmtime._extern import wrap_extern

from ..errors import LoadError

Extern = ffi.wasmtime_extern_t
RawInstance = ffi.wasmtime_instance_t
_EXTERN_FUNC: Any = 0
_EXTERN_MEMORY: Any = 3  # ctypes fields typed as c_ubyte accept plain ints
_EXTERN_SHARED: Any = 4
_FUNCREF: Any = 5
# the ctypes functions themselves: wasmtime-py wraps each in a Python function
_instance_new: Any = _bindings._wasmtime_instance_new
_export_get: Any = _bindings._wasmtime_instance_export_get
_memory_new: Any = _bindings._wasmtime_memory_new
_TRAP_PTR: Any = ctypes.POINTER(ffi.wasm_trap_t)
_byref = ctypes.byref


def context(store: wasmtime.Store) -> Any:
    """The store's C context, which the raw calls here take."""
    return store._context()


def externs(count: int) -> ctypes.Array[Extern]:
    """An import list of ``count`` empty externs."""
    return (Extern * count)()


def set_shared(item: Extern, memory: wasmtime.SharedMemory) -> None:
    """Make ``item`` the shared memory ``memory``."""
    item.kind = _EXTERN_SHARED
    item.of.sharedmemory = memory.ptr()


def set_func(item: Extern, func: wasmtime.Func) -> None:
    """Make ``item`` the function ``func``."""
    item.kind = _EXTERN_FUNC
    item.of.func = func._func


def is_memory(item: Extern) -> bool:
    """Whether ``item`` is a (non-shared) memory."""
    return bool(int(item.kind) == _EXTERN_MEMORY)


def new_instance(ctx: object, module: wasmtime.Module,
                 imports: ctypes.Array[Extern]) -> RawInstance:
    """Instantiate ``module`` in the store ``ctx`` with ``imports``, in order."""
    return new_instance_of(ctx, module.ptr(), imports)


def new_instance_of(ctx: object, module: Any, imports: ctypes.Array[Extern]) -> RawInstance:
    """``new_instance`` for the C pointer of a module (``Module.ptr()``), which
    a caller instantiating one module many times takes once."""
    inst = RawInstance()
    trap = _TRAP_PTR()
    err = _instance_new(ctx, module, imports, len(imports), _byref(inst), _byref(trap))
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)
    if trap:
        raise wasmtime.Trap._from_ptr(trap)
    return inst


def export_into(ctx: object, inst: RawInstance, name: bytes, item: Extern,
                size: int | None = None) -> bool:
    """Write the export ``name`` (of ``size`` bytes, if the caller knows it)
    of ``inst`` into ``item`` (an import list's slot, in place); False if it
    has none."""
    return bool(_export_get(ctx, _byref(inst), name, len(name) if size is None else size,
                            _byref(item)))


def export(ctx: object, inst: RawInstance, name: bytes) -> Extern:
    """The export ``name`` of ``inst``; LoadError if it has none."""
    item = Extern()
    if not ffi.wasmtime_instance_export_get(ctx, ctypes.byref(inst), name, len(name),
                                            ctypes.byref(item)):
        raise LoadError(f"missing export {name.decode()!r}")
    return item


def export_of(store: wasmtime.Store, inst: wasmtime.Instance, name: str) -> Any:
    """The export ``name`` of ``inst`` as a wasmtime-py object, or None.

    One lookup by name: ``Instance.exports`` wraps every export of the
    instance in a Python object first, which costs a service's load more
    than the few exports it reads."""
    item = Extern()
    key = name.encode()
    if not _export_get(context(store), _byref(inst._instance), key, len(key), _byref(item)):
        return None
    kind = item.kind
    if kind == _EXTERN_FUNC:
        return wasmtime.Func._from_raw(item.of.func)
    if kind == _EXTERN_MEMORY:
        return wasmtime.Memory._from_raw(item.of.memory)
    return wrap_extern(item)


def new_memory(ctx: object, memory_type: wasmtime.MemoryType | Any,
               item: Extern | None = None) -> Extern:
    """A new memory of ``memory_type`` (or its C pointer, ``MemoryType.ptr()``)
    in the store ``ctx``, as an extern (written into ``item``, an import
    list's slot, if given)."""
    item = Extern() if item is None else item
    item.kind = _EXTERN_MEMORY
    ty = memory_type.ptr() if isinstance(memory_type, wasmtime.MemoryType) else memory_type
    err = _memory_new(ctx, ty, _byref(item.of.memory))
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)
    return item


def funcref_setter(ctx: object, table: Extern) -> Any:
    """``set(index, func_extern)``: store a function in ``table`` at ``index``."""
    val = ffi.wasmtime_val_t()
    val.kind = _FUNCREF

    def put(index: int, func: Extern) -> None:
        val.of.funcref = func.of.func
        err = ffi.wasmtime_table_set(ctx, ctypes.byref(table.of.table), index,
                                     ctypes.byref(val))
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
    return put


def instance(raw: RawInstance) -> wasmtime.Instance:
    """The wasmtime-py object of a raw instance."""
    return wasmtime.Instance._from_raw(raw)


def memory(item: Extern) -> wasmtime.Memory:
    """The wasmtime-py object of a memory extern."""
    return wasmtime.Memory._from_raw(item.of.memory)
