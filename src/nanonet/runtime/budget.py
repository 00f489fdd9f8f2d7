"""One memory cap over everything a guest holds: its memory and its tables.

wasmtime's store limiter (the only one the C API offers) caps each linear
memory and each table on its own; there is no sum. So nanonet makes the sum
hold by construction:

- under a cap, a guest may have one linear memory of its own (imported or
  defined; the ``nanonet:raw`` rings are the host's). A second one is refused
  at load, since each would get the whole cap;
- tables cost what wasmtime stores per element (a pointer, 8 bytes). Each
  table may grow to ``per_table`` elements: its declared size, or a share of
  a sixteenth of the cap split over the store's tables, whichever is larger;
  the most the tables can then hold is taken off the memory's limit;
- a sampling adapter's own page is fixed in size and taken off as well.

So memory + tables + the adapter's page never exceed the cap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import wasmtime

from ..errors import LoadError
from ..policy.wasmbin import Reader, WasmFormatError, skip_limits, skip_valtype, walk
from ..policy.wasmmod import MAGIC, RAW_MODULE

PAGE = 65536
TABLE_ELEMENT_BYTES = 8  # wasmtime keeps one pointer per table element
TABLE_SHARE = 16  # tables may take up to 1/16 of the cap beyond their declared sizes
_TABLE, _MEMORY = 1, 2  # import/export kinds


@dataclass(frozen=True)
class Table:
    """One table the guest defines: declared limits and whether it is exported."""

    minimum: int
    maximum: int | None
    export: str | None = None


@dataclass(frozen=True)
class Memory:
    """One linear memory of the guest's own (not a raw ring)."""

    minimum: int  # pages
    maximum: int | None
    imported: bool
    export: str | None = None


@dataclass(frozen=True)
class GuestShape:
    """The memories and tables of a guest module, read from its sections."""

    memory_list: tuple[Memory, ...] = field(default_factory=tuple)
    tables: tuple[Table, ...] = field(default_factory=tuple)

    @property
    def memories(self) -> int:
        """How many of its own: imported (raw rings aside) and defined."""
        return len(self.memory_list)

    def others(self, linked: str | None) -> tuple[Memory, ...]:
        """Its memories but the one the adapter is linked to (the imported one
        when ``linked`` is None, else the one exported under that name)."""
        first = next((m for m in self.memory_list
                      if (m.imported if linked is None else m.export == linked)), None)
        return tuple(m for m in self.memory_list if m is not first)


@dataclass(frozen=True)
class Budget:
    """The store limits that make one cap bound a service's memory and tables."""

    memory: int  # bytes, per linear memory
    per_table: int  # elements, per table
    tables: int  # how many tables the store may hold
    memories: int  # how many linear memories the store may create

    def table_bytes(self, table: Table) -> int:
        """The most ``table`` can hold under this budget, in bytes."""
        most = self.per_table if table.maximum is None else min(table.maximum, self.per_table)
        return max(most, table.minimum) * TABLE_ELEMENT_BYTES


def _imports(r: Reader) -> list[tuple[int, int | None, bool] | None]:
    """Every imported memory, in index order: (min, max, True), or None for a raw ring."""
    out: list[tuple[int, int | None, bool] | None] = []
    for _ in range(r.u32()):
        module, _name, kind = r.name(), r.name(), r.byte()
        if kind == 0:
            r.u32()
        elif kind == _TABLE:
            skip_valtype(r)
            skip_limits(r)
        elif kind == _MEMORY:
            lo, hi, _ = skip_limits(r)
            out.append(None if module == RAW_MODULE else (lo, hi, True))
        elif kind == 3:
            skip_valtype(r)
            r.byte()
        else:
            r.byte()
            r.u32()
    return out


def _memories(r: Reader) -> list[tuple[int, int | None, bool] | None]:
    out: list[tuple[int, int | None, bool] | None] = []
    for _ in range(r.u32()):
        lo, hi, _ = skip_limits(r)
        out.append((lo, hi, False))
    return out


def _tables(r: Reader) -> list[tuple[int, int | None]]:
    out = []
    for _ in range(r.u32()):
        init = r.data[r.pos] == 0x40 if r.pos < r.end else False
        if init:  # a table with an initial value: 0x40 0x00 reftype limits expr
            r.take(2)
        skip_valtype(r)
        lo, hi, _ = skip_limits(r)
        if init:
            for _ins in walk(r):
                pass
        out.append((lo, hi))
    return out


def _exports(r: Reader) -> dict[tuple[int, int], str]:
    """(kind, index) of each exported table and memory -> an export name of it."""
    out: dict[tuple[int, int], str] = {}
    for _ in range(r.u32()):
        name, kind, index = r.name(), r.byte(), r.u32()
        if kind in (_TABLE, _MEMORY) and ((kind, index) not in out or name == "memory"):
            out[(kind, index)] = name  # "memory" is the name the adapter links by
    return out


def guest_shape(source: bytes) -> GuestShape:
    """Read the memories and tables of a module (binary, or WAT text that
    wasmtime has already compiled, so it assembles)."""
    wasm = source if source[:4] == MAGIC else bytes(wasmtime.wat2wasm(source.decode()))
    if wasm[4:8] != b"\x01\0\0\0":
        raise LoadError("not a core WebAssembly module (a component?)")
    r = Reader(wasm, 8)
    mems: list[tuple[int, int | None, bool] | None] = []
    tables: list[tuple[int, int | None]] = []
    exports: dict[tuple[int, int], str] = {}
    try:
        while not r.done:
            section, body = r.byte(), r.sub(r.u32())
            if section == 2:
                mems = _imports(body) + mems
            elif section == 4:
                tables = _tables(body)
            elif section == 5:
                mems += _memories(body)
            elif section == 7:
                exports = _exports(body)
    except WasmFormatError as err:
        raise LoadError(f"the module's sections cannot be read: {err}") from err
    own = tuple(Memory(m[0], m[1], m[2], exports.get((_MEMORY, i)))
                for i, m in enumerate(mems) if m is not None)
    return GuestShape(own, tuple(Table(lo, hi, exports.get((_TABLE, i)))
                                 for i, (lo, hi) in enumerate(tables)))


def budget(service: str, cap: int, shape: GuestShape, fixed_tables: tuple[int, ...] = (),
           fixed_memories: int = 0) -> Budget:
    """The store limits for ``cap``; ``fixed_tables`` are the sizes of nanonet's
    own tables (the shim's), ``fixed_memories`` the pages of fixed-size
    memories of its own (a sampling adapter's)."""
    if shape.memories > 1:
        raise LoadError(
            f"service {service!r} has {shape.memories} linear memories and a memory cap "
            f"(memory_bytes): under a cap a guest may have one memory of its own, since "
            f"wasmtime caps each memory separately; build it with one memory, or drop the cap")
    count = len(shape.tables) + len(fixed_tables)
    declared = max([t.minimum for t in shape.tables] + list(fixed_tables) + [0])
    share = cap // TABLE_SHARE // (TABLE_ELEMENT_BYTES * max(count, 1))
    limits = Budget(0, max(declared, share), count, 1 + (fixed_memories > 0))
    tables = (sum(limits.table_bytes(t) for t in shape.tables)
              + sum(fixed_tables) * TABLE_ELEMENT_BYTES)
    memory = cap - tables - fixed_memories * PAGE
    if memory < 0:
        raise LoadError(
            f"service {service!r}: its tables alone hold {tables} bytes, more than its "
            f"memory cap of {cap} bytes: raise memory_bytes, or shrink the tables")
    return Budget(memory, limits.per_table, limits.tables, limits.memories)


@dataclass(frozen=True)
class Holdings:
    """What a service holds, as handles taken once at load on its own thread
    (observers then only read sizes) plus what no handle can show."""

    memories: tuple[wasmtime.Memory, ...]
    tables: tuple[wasmtime.Table, ...]
    fixed: int  # bytes: private memories and tables at their bounds, the shim's table

    def held(self, store: wasmtime.Store) -> int:
        return (sum(int(m.data_len(store)) for m in self.memories) + self.fixed
                + sum(int(t.size(store)) for t in self.tables) * TABLE_ELEMENT_BYTES)


def holdings(shape: GuestShape, limits: Budget | None, linked: wasmtime.Memory,
             export: Callable[[str], object], own: wasmtime.Memory | None,
             shim_elements: int, exported: bool) -> Holdings:
    """Everything a service holds: ``linked`` (the memory the adapter uses:
    the guest's export ``memory`` if ``exported``, else its imported one),
    the guest's other memories and its tables (read through ``export``, which
    gives the guest's export of a name or None, when exported, else at the
    most they can hold), a sampling adapter's ``own`` page and the shim's
    table of ``shim_elements``."""
    fixed = shim_elements * TABLE_ELEMENT_BYTES
    others = shape.others("memory" if exported else None)
    if not others and not shape.tables:  # most guests: one memory, no table
        return Holdings((linked, own) if own else (linked,), (), fixed)
    memories, tables = [linked, *([own] if own else [])], []
    for mem in others:
        item = export(mem.export) if mem.export else None
        if isinstance(item, wasmtime.Memory):
            memories.append(item)
        else:
            fixed += mem.minimum * PAGE
    for table in shape.tables:
        item = export(table.export) if table.export else None
        if isinstance(item, wasmtime.Table):
            tables.append(item)
        elif limits is not None:
            fixed += limits.table_bytes(table)
        else:
            size = table.maximum if table.maximum == table.minimum else table.minimum
            fixed += (size or 0) * TABLE_ELEMENT_BYTES
    return Holdings(tuple(memories), tuple(tables), fixed)
