"""Instantiating a service in tens of microseconds.

wasmtime-py's object layer costs tens of microseconds per step (import types
wrapped in Python, every export wrapped), which would dominate a service's
cold start. A ``LinkPlan`` does that reflection once per (guest, adapter)
pair; ``instantiate`` then only makes raw C API calls with prebuilt ctypes
arrays: new memory, two instances, a few export look-ups (and, for a guest
that exports its memory, the shim and its table). It covers guests without
WASI grants; those go through the Linker path in ``linking.py``. A guest's
``nanonet:raw`` imports (checked and verified before a plan is built) get
the service's ring of that tunnel.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

from ..errors import LoadError
from ..policy.wasmmod import RAW_MODULE
from .linking import ABI_MODULE, OPS, Linked, memory_import

_EXTERN_FUNC: Any = 0
_EXTERN_MEMORY: Any = 3  # ctypes fields typed as c_ubyte accept plain ints
_EXTERN_SHARED: Any = 4
_FUNCREF: Any = 5


def _raw_instance(ctx: object, module: wasmtime.Module,
                  imports: ctypes.Array[ffi.wasmtime_extern_t]) -> ffi.wasmtime_instance_t:
    inst = ffi.wasmtime_instance_t()
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    err = ffi.wasmtime_instance_new(ctx, module.ptr(), imports, len(imports),
                                    ctypes.byref(inst), ctypes.byref(trap))
    if err:
        raise wasmtime.WasmtimeError._from_ptr(err)
    if trap:
        raise wasmtime.Trap._from_ptr(trap)
    return inst


def _export(ctx: object, inst: ffi.wasmtime_instance_t, name: bytes) -> ffi.wasmtime_extern_t:
    item = ffi.wasmtime_extern_t()
    if not ffi.wasmtime_instance_export_get(ctx, ctypes.byref(inst), name, len(name),
                                            ctypes.byref(item)):
        raise LoadError(f"missing export {name.decode()!r}")
    return item


@dataclass
class LinkPlan:
    """What one (guest, adapter) pair needs, worked out once."""

    guest: wasmtime.Module
    adapter: wasmtime.Module
    shim: wasmtime.Module
    memory_type: wasmtime.MemoryType | None  # set if the guest imports its memory
    # ABI op name, None for the guest's memory, or the index of a raw-mapped ring
    guest_imports: list[bytes | int | None]

    @classmethod
    def build(cls, guest: wasmtime.Module, adapter: wasmtime.Module,
              shim: wasmtime.Module, raw: Mapping[str, int] | None = None) -> LinkPlan:
        """``raw`` maps each tunnel the guest may import raw to its index in ``rings``."""
        memory_type, raw = None, raw or {}
        memory_import("guest", guest)  # one memory of its own, never two aliased
        names: list[bytes | int | None] = []
        for imp in guest.imports:
            if imp.module == RAW_MODULE and (imp.name or "") in raw:
                names.append(raw[imp.name or ""])
            elif isinstance(imp.type, wasmtime.MemoryType) and imp.module != RAW_MODULE:
                memory_type = imp.type
                names.append(None)
            elif imp.module == ABI_MODULE and imp.name in OPS:
                names.append(imp.name.encode())
            else:
                raise LoadError(f"import {imp.module}.{imp.name} needs the Linker path")
        return cls(guest, adapter, shim, memory_type, names)

    def instantiate(self, store: wasmtime.Store, rings: list[wasmtime.SharedMemory],
                    clock: wasmtime.Func | None = None) -> Linked:
        """``clock`` is WASI's clock_time_get, for an adapter built with sampling."""
        ctx = store._context()
        if self.memory_type is not None:
            return self._imports_memory(ctx, rings, clock)
        return self._exports_memory(ctx, rings, clock)

    def _adapter(self, ctx: object, memory: ffi.wasmtime_extern_t,
                 rings: list[wasmtime.SharedMemory],
                 clock: wasmtime.Func | None) -> ffi.wasmtime_instance_t:
        imports = (ffi.wasmtime_extern_t * (1 + len(rings) + (clock is not None)))()
        imports[0] = memory
        for i, ring in enumerate(rings):
            imports[i + 1].kind = _EXTERN_SHARED
            imports[i + 1].of.sharedmemory = ring.ptr()
        if clock is not None:
            imports[len(rings) + 1].kind = _EXTERN_FUNC
            imports[len(rings) + 1].of.func = clock._func
        return _raw_instance(ctx, self.adapter, imports)

    def _guest(self, ctx: object, funcs_from: ffi.wasmtime_instance_t,
               memory: ffi.wasmtime_extern_t | None,
               rings: list[wasmtime.SharedMemory]) -> ffi.wasmtime_instance_t:
        imports = (ffi.wasmtime_extern_t * len(self.guest_imports))()
        for i, name in enumerate(self.guest_imports):
            if name is None:
                assert memory is not None
                imports[i] = memory
            elif isinstance(name, int):
                imports[i].kind = _EXTERN_SHARED
                imports[i].of.sharedmemory = rings[name].ptr()
            else:
                imports[i] = _export(ctx, funcs_from, name)
        return _raw_instance(ctx, self.guest, imports)

    def _imports_memory(self, ctx: object, rings: list[wasmtime.SharedMemory],
                        clock: wasmtime.Func | None) -> Linked:
        assert self.memory_type is not None
        mem = ffi.wasmtime_memory_t()
        err = ffi.wasmtime_memory_new(ctx, self.memory_type.ptr(), ctypes.byref(mem))
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        extern = ffi.wasmtime_extern_t()
        extern.kind = _EXTERN_MEMORY
        extern.of.memory = mem
        adapter = self._adapter(ctx, extern, rings, clock)
        guest = self._guest(ctx, adapter, extern, rings)
        return Linked(wasmtime.Instance._from_raw(guest), wasmtime.Instance._from_raw(adapter),
                      wasmtime.Memory._from_raw(mem), "imports-memory")

    def _exports_memory(self, ctx: object, rings: list[wasmtime.SharedMemory],
                        clock: wasmtime.Func | None) -> Linked:
        shim = _raw_instance(ctx, self.shim, (ffi.wasmtime_extern_t * 0)())
        guest = self._guest(ctx, shim, None, rings)
        try:
            memory = _export(ctx, guest, b"memory")
        except LoadError:
            raise LoadError("the guest neither imports nor exports a memory named "
                            "'memory'") from None
        if int(memory.kind) != 3:
            raise LoadError("the guest's export 'memory' is not a memory")
        adapter = self._adapter(ctx, memory, rings, clock)
        self._fill_table(ctx, shim, adapter)
        return Linked(wasmtime.Instance._from_raw(guest), wasmtime.Instance._from_raw(adapter),
                      wasmtime.Memory._from_raw(memory.of.memory), "exports-memory")

    def _fill_table(self, ctx: object, shim: ffi.wasmtime_instance_t,
                    adapter: ffi.wasmtime_instance_t) -> None:
        """Point the shim's slot i at the adapter's function i (only those used)."""
        table = _export(ctx, shim, b"slots")
        val = ffi.wasmtime_val_t()
        val.kind = _FUNCREF
        for name in self.guest_imports:
            if not isinstance(name, bytes):
                continue
            val.of.funcref = _export(ctx, adapter, name).of.func
            err = ffi.wasmtime_table_set(ctx, ctypes.byref(table.of.table),
                                         OPS.index(name.decode()), ctypes.byref(val))
            if err:
                raise wasmtime.WasmtimeError._from_ptr(err)
