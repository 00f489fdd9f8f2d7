"""WIT type definitions read from text: ``package/interface.type`` -> a ``Shape``.

    shape = resolve("nanonet:tunnel/types.packet")          # nanonet's own packages
    shape = resolve("my:app/types.order", "wit/")           # a .wit file or a folder

A typed tunnel is declared by a WIT type name before any component is
loaded (the host's ends and ``nanonet check`` need its layout), so the
definitions are read from the WIT text itself. This reads what a type needs:
``record``, ``variant``, ``enum``, ``flags``, ``type`` aliases, ``use`` of
another interface of the same package, and the type expressions ``list``,
``option``, ``result``, ``tuple``, primitives and names; functions, worlds,
resources and ``@since``-style gates are skipped (a handle in a type is
kept as a resource, which a typed tunnel refuses).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InvalidValue
from ..wit import PACKAGES
from .shapes import Shape
from .witread import Reader, tokens

PRIMS = ("bool", "s8", "s16", "s32", "s64", "u8", "u16", "u32", "u64", "f32", "f64",
         "float32", "float64", "char", "string")
_NAME = re.compile(r"^([a-z][a-z0-9-]*:[a-z][a-z0-9-]*)/([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)$")


def _texts(wit: str | Path | None) -> list[str]:
    if wit is None:
        return [p.read_text() for folder in PACKAGES.values() for p in sorted(folder.glob("*.wit"))]
    path = PACKAGES.get(wit, Path(wit)) if isinstance(wit, str) else Path(wit)
    if not path.exists():
        raise InvalidValue(f"no WIT file or folder {str(path)!r}: give a .wit file or a folder "
                           "holding the package that defines the tunnel's type")
    files = sorted(path.glob("*.wit")) if path.is_dir() else [path]
    return [p.read_text() for p in files]


def _package(package: str, wit: str | Path | None) -> dict[str, dict[str, Any]]:
    """Every interface of ``package`` (its files merged), from ``wit`` or nanonet's own."""
    found: dict[str, dict[str, Any]] = {}
    names = []
    for text in _texts(wit):
        reader = Reader(tokens(text))
        reader.package_file()
        names.append(reader.package)
        if reader.package == package:
            found.update(reader.interfaces)
    if not found:
        where = "nanonet's WIT packages" if wit is None else str(wit)
        known = ", ".join(sorted(set(filter(None, names)))) or "none"
        raise InvalidValue(f"no WIT package {package!r} in {where} (packages: {known})")
    return found


class _Resolver:
    """Type names of one package -> Shapes, following ``use`` and aliases."""

    def __init__(self, package: str, interfaces: dict[str, dict[str, Any]]) -> None:
        self.package, self.interfaces = package, interfaces
        self.busy: set[tuple[str, str]] = set()

    def named(self, iface: str, name: str) -> Shape:
        defs = self.interfaces.get(iface)
        if defs is None:
            raise InvalidValue(f"no interface {iface} in {self.package}")
        if name not in defs:
            raise InvalidValue(f"no type {name} in {self.package}/{iface}")
        if (iface, name) in self.busy:
            raise InvalidValue(f"type {name} of {self.package}/{iface} refers to itself")
        self.busy.add((iface, name))
        try:
            return self.definition(iface, defs[name])
        finally:
            self.busy.discard((iface, name))

    def definition(self, iface: str, d: Any) -> Shape:
        if isinstance(d, tuple) and d[0] == "use":
            _, path, name = d
            other = path.split("/")[-1].split("@")[0]
            if ":" in path and not path.startswith(self.package.split("@")[0] + "/"):
                raise InvalidValue(f"{self.package}/{iface} uses {path}, another package: "
                                   "define the type in the tunnel's own package")
            return self.named(other, name)
        if isinstance(d, tuple) and d[0] in ("record", "variant", "enum", "flags"):
            kind, body = d
            names = tuple(n for n, _ in body)
            if kind in ("enum", "flags"):
                return Shape(kind, names)
            return Shape(kind, names, tuple(None if t is None else self.expr(iface, t)
                                            for _, t in body))
        if isinstance(d, tuple) and d[0] == "resource":
            return Shape("<resource>")
        return self.expr(iface, d)

    def expr(self, iface: str, e: Any) -> Shape:
        if isinstance(e, tuple):
            kind, args = e
            inner = tuple(None if a == "_" else self.expr(iface, a) for a in args)
            if kind in ("borrow", "own"):
                return Shape(f"<{kind}>")
            if kind == "result":
                inner = (*inner, None, None)[:2]
                return Shape("result", ("ok", "err"), inner)
            return Shape(kind, items=inner)
        if e in PRIMS:
            return Shape({"float32": "f32", "float64": "f64"}.get(e, e))
        return self.named(iface, e)


def resolve(wit_type: str, wit: str | Path | None = None) -> Shape:
    """The Shape of ``package/interface.type`` (``nanonet:tunnel/types.packet``)."""
    m = _NAME.match(wit_type)
    if m is None:
        raise InvalidValue(f"a tunnel type is written package/interface.record, e.g. "
                           f"\"nanonet:tunnel/types.packet\" (got {wit_type!r})")
    package, iface, name = m.groups()
    return _Resolver(package, _package(package, wit)).named(iface, name)
