"""Composing components: one component's import satisfied by another's export,
inside the engine, with no Python between them.

    both = compose(router_wasm, {"nanonet:auth/authenticator@0.1.0": auth_wasm})

The result is one component that nests both, unchanged, and instantiates
the provider first, then the root with the provider's exported instance as
that import; it imports what either imports (an import both declare once)
and exports what the root exports. Wasmtime compiles the call between them
into a fused adapter: the canonical ABI lifts from the caller's linear
memory and lowers into the callee's, so each keeps its own memory, and a
call costs what a Wasm call plus a copy costs (docs/components.md has the
figures). This is what ``wac plug`` / ``wasm-tools compose`` do; neither is
installable here (npm and PyPI ship neither), so nanonet writes the few
sections itself (``prelude.py`` copies the import declarations).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import LoadError
from . import binary as b
from .binary import Reader
from .prelude import Space, copy_prelude, skip_externdesc


@dataclass(frozen=True)
class Plug:
    """A provider: its binary, the export that serves the import, and its name
    (for messages)."""

    binary: bytes
    export: str
    who: str = "provider"


def exports(component: bytes) -> list[tuple[str, int]]:
    """A component binary's top-level exports: (name, sort), in order."""
    out = []
    for sec in b.sections(component):
        if sec.sid != b.EXPORT:
            continue
        r = Reader(component, sec.start, sec.end)
        for _ in range(r.u32()):
            tag = r.byte()
            name = r.name()
            if tag == 0x01:
                r.name()
            sort = r.byte()
            if sort == b.SORT_CORE:
                r.byte()
            r.u32()
            if r.byte():
                skip_externdesc(r)
            out.append((name, sort))
    return out


def _sortidx(sort: int, idx: int) -> bytes:
    return bytes([sort]) + b.u32(idx)


def _instantiate(space: Space, component: int, args: Mapping[str, tuple[int, int]]) -> int:
    items = [b.name(n) + _sortidx(sort, idx) for n, (sort, idx) in args.items()]
    space.emit(b.INSTANCE, b"\x00" + b.u32(component) + b.vec(items))
    return space.new(b.SORT_INSTANCE)


def _alias_export(space: Space, instance: int, name: str, sort: int) -> int:
    space.emit(b.ALIAS, bytes([sort, 0x00]) + b.u32(instance) + b.name(name))
    return space.new(sort)


def _provided(plug: Plug, name: str) -> int:
    for export, sort in exports(plug.binary):
        if export == plug.export:
            if sort != b.SORT_INSTANCE:
                raise LoadError(f"{plug.who} exports {plug.export!r}, but not as an "
                                f"interface: it cannot serve the import {name!r}")
            return sort
    known = ", ".join(n for n, _ in exports(plug.binary)) or "none"
    raise LoadError(f"{plug.who} exports no {plug.export!r} for the import {name!r} "
                    f"(exports: {known})")


def compose(root: bytes, plugs: Mapping[str, Plug], who: str = "component") -> bytes:
    """One component: ``root`` with each import named in ``plugs`` served by
    that provider's export. A name ``plugs`` gives that ``root`` does not
    import is a LoadError.

    The providers come first (their imports, the nested component, its
    instance and the export that serves the root), then the root's imports,
    which may use the types of those exports, then the root itself."""
    for name, plug in plugs.items():
        _provided(plug, name)
    space = Space()
    swap = {name: _provide(space, plug) for name, plug in plugs.items()}
    mine = copy_prelude(root, space, swap, who)
    missing = set(plugs) - mine.swapped
    if missing:
        raise LoadError(f"{who} does not import {sorted(missing)[0]!r}: remove it from what "
                        "the composition plugs in")
    top = _instantiate(space, _nest(space, root), {**mine.imports, **swap})
    for name, sort in exports(root):
        if sort in (b.SORT_CORE, b.SORT_VALUE):
            raise LoadError(f"{who} exports {name!r}, a core item or a value, which nanonet "
                            "cannot re-export from a composition")
        idx = _alias_export(space, top, name, sort)
        space.emit(b.EXPORT, b"\x00" + b.name(name) + _sortidx(sort, idx) + b"\x00")
        space.new(sort)  # an export is a new item of its sort too
    return b.PREAMBLE + space.sections()


def _nest(space: Space, component: bytes) -> int:
    space.emit(b.COMPONENT, component)
    return space.new(b.SORT_COMPONENT)


def _provide(space: Space, plug: Plug) -> tuple[int, int]:
    """Import what ``plug`` imports, instantiate it: its export's (sort, index)."""
    prelude = copy_prelude(plug.binary, space, {}, plug.who)
    inst = _instantiate(space, _nest(space, plug.binary), prelude.imports)
    return b.SORT_INSTANCE, _alias_export(space, inst, plug.export, b.SORT_INSTANCE)
