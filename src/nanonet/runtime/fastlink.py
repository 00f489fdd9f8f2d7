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
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from ..capi import instance as raw
from ..errors import LoadError
from ..policy.wasmmod import RAW_MODULE
from .linking import ABI_MODULE, OPS, Linked, memory_import


@dataclass
class LinkPlan:
    """What one (guest, adapter) pair needs, worked out once."""

    guest: wasmtime.Module
    adapter: wasmtime.Module
    shim: wasmtime.Module
    memory_type: wasmtime.MemoryType | None  # set if the guest imports its memory
    # ABI op name, None for the guest's memory, or the index of a raw-mapped ring
    guest_imports: list[bytes | int | None]
    memory_slot: int  # where the guest's memory goes in its import list (-1: none)
    # taken once from the above, so that an instantiation only makes C calls:
    # the modules' and memory type's C pointers (the plan holds their owners),
    # and (slot, name, length) of each ABI import, (slot, ring index) of each raw one
    _guest_ptr: Any = field(init=False, repr=False)
    _adapter_ptr: Any = field(init=False, repr=False)
    _type_ptr: Any = field(init=False, repr=False)
    _ops: tuple[tuple[int, bytes, int], ...] = field(init=False, repr=False)
    _raws: tuple[tuple[int, int], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._guest_ptr, self._adapter_ptr = self.guest.ptr(), self.adapter.ptr()
        self._type_ptr = None if self.memory_type is None else self.memory_type.ptr()
        names = list(enumerate(self.guest_imports))
        self._ops = tuple((i, n, len(n)) for i, n in names if isinstance(n, bytes))
        self._raws = tuple((i, n) for i, n in names if isinstance(n, int))

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
        slot = names.index(None) if None in names else -1
        return cls(guest, adapter, shim, memory_type, names, slot)

    def instantiate(self, store: wasmtime.Store, rings: list[wasmtime.SharedMemory],
                    clock: wasmtime.Func | None = None) -> Linked:
        """``clock`` is WASI's clock_time_get, for an adapter built with sampling."""
        ctx = raw.context(store)
        if self.memory_type is not None:
            return self._imports_memory(ctx, rings, clock)
        return self._exports_memory(ctx, rings, clock)

    def _adapter(self, ctx: object, memory: raw.Extern,
                 rings: list[wasmtime.SharedMemory],
                 clock: wasmtime.Func | None) -> raw.RawInstance:
        imports = raw.externs(1 + len(rings) + (clock is not None))
        imports[0] = memory
        for i, ring in enumerate(rings):
            raw.set_shared(imports[i + 1], ring)
        if clock is not None:
            raw.set_func(imports[len(rings) + 1], clock)
        return raw.new_instance_of(ctx, self._adapter_ptr, imports)

    def _guest(self, ctx: object, funcs_from: raw.RawInstance,
               rings: list[wasmtime.SharedMemory]) -> raw.RawInstance:
        """The guest of its own memory, its functions from ``funcs_from``."""
        imports = raw.externs(len(self.guest_imports))
        self._fill_guest(ctx, imports, funcs_from, rings)
        return raw.new_instance_of(ctx, self._guest_ptr, imports)

    def _fill_guest(self, ctx: object, imports: ctypes.Array[raw.Extern],
                    funcs_from: raw.RawInstance, rings: list[wasmtime.SharedMemory]) -> None:
        """The guest's function imports and raw rings, written in place."""
        for i, index in self._raws:
            raw.set_shared(imports[i], rings[index])
        for i, name, size in self._ops:
            if not raw.export_into(ctx, funcs_from, name, imports[i], size):
                raise LoadError(f"missing export {name.decode()!r}")

    def _imports_memory(self, ctx: object, rings: list[wasmtime.SharedMemory],
                        clock: wasmtime.Func | None) -> Linked:
        """The memory is made in the guest's own import slot, the adapter on it."""
        imports = raw.externs(len(self.guest_imports))
        extern = raw.new_memory(ctx, self._type_ptr, imports[self.memory_slot])
        adapter = self._adapter(ctx, extern, rings, clock)
        self._fill_guest(ctx, imports, adapter, rings)
        guest = raw.new_instance_of(ctx, self._guest_ptr, imports)
        return Linked(raw.instance(guest), raw.instance(adapter), raw.memory(extern),
                      "imports-memory")

    def _exports_memory(self, ctx: object, rings: list[wasmtime.SharedMemory],
                        clock: wasmtime.Func | None) -> Linked:
        shim = raw.new_instance(ctx, self.shim, raw.externs(0))
        guest = self._guest(ctx, shim, rings)
        try:
            memory = raw.export(ctx, guest, b"memory")
        except LoadError:
            raise LoadError("the guest neither imports nor exports a memory named "
                            "'memory'") from None
        if not raw.is_memory(memory):
            raise LoadError("the guest's export 'memory' is not a memory")
        adapter = self._adapter(ctx, memory, rings, clock)
        self._fill_table(ctx, shim, adapter)
        return Linked(raw.instance(guest), raw.instance(adapter), raw.memory(memory),
                      "exports-memory")

    def _fill_table(self, ctx: object, shim: raw.RawInstance,
                    adapter: raw.RawInstance) -> None:
        """Point the shim's slot i at the adapter's function i (only those used)."""
        put = raw.funcref_setter(ctx, raw.export(ctx, shim, b"slots"))
        for name in self.guest_imports:
            if isinstance(name, bytes):
                put(OPS.index(name.decode()), raw.export(ctx, adapter, name))
