"""wit-component's interface-export shims: nested components that only rename.

    shim = read_shim(nested_component_bytes)   # or None: a component with code
    shim.exports                               # {"relay": "import-func-relay"}

wit-component writes each exported interface as an instance of a small
nested component that imports the types and the lifted functions
(``import-func-relay``) and exports them again under the interface's names
with their types ascribed; it holds no core module, no canon and no
instance. Such a shim adds nothing to run: the interface's function
``relay`` *is* the lifted function given for ``import-func-relay``, so
``graph.py`` reads an instantiation of a shim as an instance made of those
functions, and the component stays a flat graph for the Wasm tunnel path.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LoadError
from . import binary as b
from .binary import Reader
from .prelude import skip_externdesc

ALLOWED = (b.CUSTOM, b.TYPE, b.IMPORT, b.EXPORT)


class NotFlat(ValueError):
    """An instance the ring path cannot read as plain functions (``graph.Unfit``)."""


@dataclass(frozen=True)
class Shim:
    """What a shim exports: each function's export name -> the import it re-exports."""

    exports: dict[str, str]


def _imports(r: Reader, funcs: list[str]) -> None:
    for _ in range(r.u32()):
        versioned = r.byte() == 0x01
        name = r.name()
        if versioned:
            r.name()
        if r.data[r.pos] == b.SORT_FUNC:
            r.byte()
            r.u32()
            funcs.append(name)
        else:
            skip_externdesc(r)


def _exports(r: Reader, funcs: list[str], out: dict[str, str]) -> bool:
    """Record the function exports; False if one is not a re-exported import."""
    for _ in range(r.u32()):
        versioned = r.byte() == 0x01
        name = r.name()
        if versioned:
            r.name()
        sort = r.byte()
        if sort == b.SORT_CORE:
            return False
        index = r.u32()
        if r.byte():
            skip_externdesc(r)
        if sort == b.SORT_FUNC:
            if index >= len(funcs):
                return False
            out[name] = funcs[index]
            funcs.append(funcs[index])  # an export is a new function too
        elif sort != b.SORT_TYPE:
            return False
    return True


def read_shim(component: bytes) -> Shim | None:
    """The shim ``component`` is, or None if it holds anything but types,
    imports and exports (then it is code, which the ring path does not nest)."""
    try:
        sections = b.sections(component)
    except LoadError:  # not a component binary: not a shim
        return None
    if any(sec.sid not in ALLOWED for sec in sections):
        return None
    funcs: list[str] = []
    out: dict[str, str] = {}
    for sec in sections:
        r = Reader(component, sec.start, sec.end)
        if sec.sid == b.IMPORT:
            _imports(r, funcs)
        elif sec.sid == b.EXPORT and not _exports(r, funcs, out):
            return None
    return Shim(out) if out else None  # a shim re-exports at least one function


def instance_funcs(r: Reader, shims: list[Shim]) -> dict[str, int]:
    """One component instance definition as {function name: component func
    index}: made of exports, or an instantiation of one of ``shims``."""
    if r.byte() == 0x00:
        return _of_shim(r, shims)
    funcs: dict[str, int] = {}
    for _ in range(r.u32()):
        versioned = r.byte() == 0x01
        name = r.name()
        if versioned:
            r.name()  # the version suffix
        sort = r.byte()
        if sort == b.SORT_CORE:
            raise NotFlat(f"an instance exports {name!r}, a core item")
        index = r.u32()
        if sort == b.SORT_FUNC:
            funcs[name] = index
        elif sort != b.SORT_TYPE:
            raise NotFlat(f"an instance exports {name!r}, which is not a function")
    return funcs


def _of_shim(r: Reader, shims: list[Shim]) -> dict[str, int]:
    index = r.u32()
    if index >= len(shims):
        raise NotFlat("it instantiates a component that is not an interface shim")
    shim = shims[index]
    given: dict[str, int] = {}
    for _ in range(r.u32()):
        name = r.name()
        sort = r.byte()
        if sort == b.SORT_CORE:
            r.byte()
        index = r.u32()
        if sort == b.SORT_FUNC:
            given[name] = index
    missing = [imp for imp in shim.exports.values() if imp not in given]
    if missing:
        raise NotFlat(f"an interface shim is not given {missing[0]!r}")
    return {name: given[imp] for name, imp in shim.exports.items()}
