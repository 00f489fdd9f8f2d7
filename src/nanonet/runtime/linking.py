"""Linking a guest to its adapter, whichever way the guest holds its memory.

A guest that *imports* its memory gets one the host creates from the type it
asks for; the adapter is instantiated first on that memory and its exports
satisfy the guest's ``nanonet`` imports. A guest that *exports* its memory
(the usual toolchain default) cannot be given the adapter before it exists,
and the adapter cannot exist before the guest's memory does; so the guest is
linked to a shim whose functions ``call_indirect`` through a table, and the
table is filled with the adapter's functions once the adapter exists (the
trick the Component Model's own tooling uses).

A reader granted raw access to a tunnel also imports that tunnel's ring
memory (``nanonet:raw``); it gets the ring's own ``SharedMemory``, once the
verifier (``policy/verify.py``) has shown that no code of it can write there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import wasmtime

from ..capi.instance import AsExtern
from ..errors import LoadError
from ..host.engine import Runtime
from ..policy import wasi as wasi_caps
from ..policy.policy import Grants
from ..policy.verify import verify
from ..policy.wasi import WASI_MODULE
from ..policy.wasmmod import RAW_MODULE
from ..ring.adapter import ABI, Direction, EndSpec, abi_type
from ..ring.port_template import PORT_OPS, port_op_type
from .hostpoll import BoundedPoll

ABI_MODULE = "nanonet"
WAIT_ANY = "wait_any"  # offered to a service that imports it (it gets a bell line)
OPS = [*list(ABI), "tunnel", WAIT_ANY, *PORT_OPS]


def _op_type(op: str) -> str:
    if op in PORT_OPS:
        return port_op_type(op)
    if op == WAIT_ANY:
        return "(param i32 i32 i32) (result i32)"
    return "(param i32 i32) (result i32)" if op == "tunnel" else abi_type(op)


def imports_wait_any(module: wasmtime.Module) -> bool:
    """Whether the guest waits on many ends (``nanonet.wait_any``): its adapter
    then has a bell line, and its peers' adapters ring it."""
    return any(imp.module == ABI_MODULE and imp.name == WAIT_ANY for imp in module.imports)


def shim_wat() -> str:
    """The table-based shim: every ABI function forwards through slot i."""
    lines = ["(module", f'  (table (export "slots") {len(OPS)} funcref)']
    for i, op in enumerate(OPS):
        lines.append(f"  (type $t{i} (func {_op_type(op)}))")
    for i, op in enumerate(OPS):
        nparams = len(re.findall(r"i32|i64", _op_type(op))) - 1
        args = " ".join(f"(local.get {j})" for j in range(nparams))
        lines.append(f'  (func (export "{op}") (type $t{i}) '
                     f"(call_indirect (type $t{i}) {args} (i32.const {i})))")
    lines.append(")")
    return "\n".join(lines)


@dataclass
class Linked:
    """A guest and its adapter, instantiated in one store."""

    guest: wasmtime.Instance
    adapter: wasmtime.Instance
    memory: wasmtime.Memory
    style: str  # "imports-memory" or "exports-memory"


def memory_import(name: str, module: wasmtime.Module) -> wasmtime.ImportType | None:
    """The guest's one memory import (``nanonet:raw`` rings aside), if any.

    One rule for both load paths: nanonet gives a guest exactly one memory of
    its own, so a second import is refused rather than aliased to the first.
    """
    mems = [imp for imp in module.imports
            if isinstance(imp.type, wasmtime.MemoryType) and imp.module != RAW_MODULE]
    if len(mems) > 1:
        names = ", ".join(f"{imp.module}.{imp.name}" for imp in mems)
        raise LoadError(f"service {name!r} imports {len(mems)} memories ({names}); nanonet "
                        "gives a guest one memory of its own: import one and define any "
                        "other in the module (or read a tunnel's ring with a nanonet:raw "
                        "import)")
    return mems[0] if mems else None


def check_imports(name: str, module: wasmtime.Module, grants: Grants,
                  available: frozenset[str] = frozenset(OPS),
                  reads: Mapping[str, int] | None = None, wasm: bytes | None = None) -> bool:
    """Refuse, before anything runs, any import not provided or not granted.

    ``reads`` maps the tunnels whose read end the service holds to their ring
    pages; ``wasm`` (binary or WAT) is what the raw-access verifier decodes.
    Returns True if the guest needs WASI (some granted WASI import).
    """
    wasi = raw = False
    memory_import(name, module)
    for imp in module.imports:
        if imp.module == RAW_MODULE:
            check_raw(name, imp, grants, reads or {})
            raw = True
        elif not isinstance(imp.type, wasmtime.MemoryType):
            wasi = _check_import(name, imp, grants, available) or wasi
    if raw:
        verify(name, _binary(wasm))
    return wasi


def _check_import(name: str, imp: wasmtime.ImportType, grants: Grants,
                  available: frozenset[str]) -> bool:
    """Refuse one function import not offered; True if it is a granted WASI one."""
    if imp.module == ABI_MODULE and imp.name in available:
        return False
    if imp.module == ABI_MODULE and imp.name in PORT_OPS:
        raise LoadError(f"service {name!r} imports {ABI_MODULE}.{imp.name} but neither serves "
                        "nor calls a port that needs it: give it serves=[...] or calls=[...] "
                        "(manifest: serves/calls), or drop the import")
    if imp.module == ABI_MODULE and imp.name in ABI:
        side = "write" if ABI[imp.name][1] == "write" else "read"
        raise LoadError(f"service {name!r} imports {ABI_MODULE}.{imp.name} but holds no "
                        f"{side} end of any tunnel: give it one, or drop the import")
    if imp.module == WASI_MODULE:
        refusal = wasi_caps.check(name, imp.name or "", grants)
        if refusal:
            raise LoadError(refusal)
        return True
    raise LoadError(
        f"service {name!r} imports {imp.module}.{imp.name}, which nanonet does not "
        f"provide: a guest may import only its memory and the {ABI_MODULE!r} functions "
        f"({', '.join(OPS)}); see docs/abi.md")


def check_raw(name: str, imp: wasmtime.ImportType, grants: Grants,
              reads: Mapping[str, int]) -> None:
    """A ``nanonet:raw`` import needs the raw grant, the read end and the ring's size."""
    tunnel = imp.name or ""
    what = f"service {name!r} imports {RAW_MODULE}.{tunnel} (the ring memory of tunnel {tunnel!r})"
    if tunnel not in grants.raw:
        raise LoadError(f"{what} without the raw grant for it: grant it with raw = "
                        f'["{tunnel}"] in the manifest, or Grants(raw=("{tunnel}",)) in '
                        f"Python; the service must also hold the read end of {tunnel!r}")
    if tunnel not in reads:
        raise LoadError(f"{what} but holds no read end of it: raw access is read access for "
                        f"the tunnel's reader; give it reads=[{tunnel!r}], or drop the import")
    ty, pages = imp.type, reads[tunnel]
    if not isinstance(ty, wasmtime.MemoryType):
        raise LoadError(f"{what} as a {type(ty).__name__}: import it as a memory, "
                        f"(memory {pages} {pages} shared)")
    hi = ty.limits.max
    if not ty.is_shared or ty.is_64 or ty.limits.min > pages or hi is None or hi < pages:
        raise LoadError(f"{what} with limits that do not fit the ring's {pages} page(s): "
                        f"import it as (memory {pages} {pages} shared)")


def read_pages(ends: list[EndSpec]) -> dict[str, int]:
    """The tunnels a service reads, with the pages of each ring."""
    return {e.name: e.geometry.pages for e in ends if e.direction is Direction.READ}


def raw_rings(ends: list[EndSpec], grants: Grants) -> dict[str, int]:
    """Tunnels granted raw that the service reads, with their index among its rings."""
    if not grants.raw:  # most services: nothing to scan
        return {}
    return {e.name: i for i, e in enumerate(ends)
            if e.direction is Direction.READ and e.name in grants.raw}


def _binary(wasm: bytes | None) -> bytes:
    """Module bytes for the verifier: WAT text is assembled first."""
    if wasm is None:
        raise LoadError("raw access cannot be verified without the module's bytes")
    if wasm[:4] == b"\0asm":
        return wasm
    try:
        return bytes(wasmtime.wat2wasm(wasm.decode()))
    except (UnicodeDecodeError, wasmtime.WasmtimeError) as err:
        raise LoadError(f"raw access cannot be verified: {err}") from err


def _abi_imports(module: wasmtime.Module, funcs: dict[str, wasmtime.Func],
                 memory: wasmtime.Memory | None,
                 raw: Mapping[str, wasmtime.SharedMemory]) -> list[AsExtern]:
    out: list[AsExtern] = []
    for imp in module.imports:
        if imp.module == RAW_MODULE:
            out.append(raw[imp.name or ""])
        elif isinstance(imp.type, wasmtime.MemoryType):
            assert memory is not None
            out.append(memory)
        elif imp.module == ABI_MODULE:
            out.append(funcs[imp.name or ""])
    return out


def _instantiate(store: wasmtime.Store, module: wasmtime.Module,
                 imports: list[AsExtern], wasi: Grants | None,
                 poll: BoundedPoll | None = None, owner: str = "") -> wasmtime.Instance:
    """Instantiate with a plain import list, or through a WASI linker if granted."""
    if wasi is None:
        return wasmtime.Instance(store, module, imports)
    cfg = wasi_caps.config(wasi, owner)
    store.set_wasi(cfg)  # exactly what was granted
    linker = wasmtime.Linker(store.engine)
    linker.define_wasi()
    linker.allow_shadowing = True
    if poll is not None:  # in place of wasmtime's, which no deadline or stop can end
        linker.define(store, WASI_MODULE, "poll_oneoff", poll.func(store, cfg.origin_ns))
    for imp, item in zip((i for i in module.imports if i.module != WASI_MODULE),
                         imports, strict=True):
        linker.define(store, imp.module, imp.name or "", item)
    return linker.instantiate(store, module)


def _opt(item: AsExtern | None) -> list[AsExtern]:
    return [] if item is None else [item]


def _funcs(store: wasmtime.Store, inst: wasmtime.Instance) -> dict[str, wasmtime.Func]:
    return {k: v for k, v in inst.exports(store).items() if isinstance(v, wasmtime.Func)}


def link(rt: Runtime, store: wasmtime.Store, guest: wasmtime.Module, adapter: wasmtime.Module,
         rings: list[wasmtime.SharedMemory], wasi: Grants | None = None,
         raw: Mapping[str, wasmtime.SharedMemory] | None = None,
         clock: wasmtime.Func | None = None, poll: BoundedPoll | None = None,
         owner: str = "") -> Linked:
    """Instantiate ``guest`` and ``adapter`` in ``store``, wired together.

    ``raw`` maps each tunnel the guest imports raw (already checked) to its ring;
    ``poll`` answers the guest's WASI ``poll_oneoff``; ``owner`` (the
    service's name) labels its stdio (``policy.wasi.route_output``).
    """
    raw = raw or {}
    mem_import = memory_import("guest", guest)
    if mem_import is not None:
        assert isinstance(mem_import.type, wasmtime.MemoryType)
        memory = wasmtime.Memory(store, mem_import.type)
        ad = wasmtime.Instance(store, adapter, [memory, *rings, *_opt(clock)])
        inst = _instantiate(store, guest, _abi_imports(guest, _funcs(store, ad), memory, raw),
                            wasi, poll, owner)
        return Linked(inst, ad, memory, "imports-memory")
    shim = wasmtime.Instance(store, rt.module(shim_wat()), [])
    inst = _instantiate(store, guest, _abi_imports(guest, _funcs(store, shim), None, raw), wasi,
                        poll, owner)
    exported = inst.exports(store).get("memory")
    if not isinstance(exported, wasmtime.Memory):
        raise LoadError("the guest neither imports nor exports a memory named 'memory'")
    ad = wasmtime.Instance(store, adapter, [exported, *rings, *_opt(clock)])
    table = shim.exports(store)["slots"]
    assert isinstance(table, wasmtime.Table)
    ad_funcs = _funcs(store, ad)
    for i, op in enumerate(OPS):
        if op in ad_funcs:
            table.set(store, i, ad_funcs[op])
    return Linked(inst, ad, exported, "exports-memory")
