"""The WIT type of a value, read once from the component and kept in Python.

wasmtime-py describes a function's types through objects whose every
property (``fields``, ``cases``, ``element``...) is a fresh round of ctypes
calls; converting a value by walking them costs more than the call itself.
A ``Shape`` is the same tree fetched once, keeping the case and field names
that wasmtime-py's own conversion forgets (a variant whose cases carry the
same Python type comes back without its case name; a ``result<string,
string>`` comes back as a bare string, ok or err alike).
"""

from __future__ import annotations

from dataclasses import dataclass

from wasmtime import component as wc

PRIMITIVES: dict[type, str] = {
    wc.Bool: "bool", wc.S8: "s8", wc.S16: "s16", wc.S32: "s32", wc.S64: "s64",
    wc.U8: "u8", wc.U16: "u16", wc.U32: "u32", wc.U64: "u64", wc.F32: "f32",
    wc.F64: "f64", wc.Char: "char", wc.String: "string",
}


@dataclass(frozen=True)
class Shape:
    """One WIT type: its kind, the names it carries and its inner types.

    ``kind`` is a primitive's WIT name, or one of ``list``, ``record``,
    ``tuple``, ``variant``, ``enum``, ``option``, ``result``, ``flags``.
    ``names`` are field, case or flag names; ``items`` the matching inner
    shapes (None for a case without payload). ``prim`` is wasmtime-py's own
    type object, kept for primitives, whose conversion is right already.
    """

    kind: str
    names: tuple[str, ...] = ()
    items: tuple[Shape | None, ...] = ()
    prim: wc.ValType | None = None

    @property
    def is_bytes(self) -> bool:
        """``list<u8>``, which Python sees as ``bytes``."""
        return self.kind == "list" and self.items[0] is not None and self.items[0].kind == "u8"

    def wit(self) -> str:
        """The type as WIT writes it, for messages and listings."""
        inner = [i.wit() if i is not None else "_" for i in self.items]
        if self.kind in ("list", "option"):
            return f"{self.kind}<{inner[0]}>"
        if self.kind == "tuple":
            return f"tuple<{', '.join(inner)}>"
        if self.kind == "result":
            return f"result<{', '.join(inner)}>"
        if self.kind in ("record", "variant"):
            return f"{self.kind} {{{', '.join(self.names)}}}"
        if self.kind in ("enum", "flags"):
            return f"{self.kind} {{{', '.join(self.names)}}}"
        return self.kind


def _opt(ty: wc.ValType | None) -> Shape | None:
    return None if ty is None else shape_of(ty)


def shape_of(ty: wc.ValType) -> Shape:
    """The shape of a wasmtime-py type, fetched once, recursively."""
    prim = PRIMITIVES.get(type(ty))
    if prim is not None:
        return Shape(prim, prim=ty)
    if isinstance(ty, wc.ListType):
        return Shape("list", items=(shape_of(ty.element),))
    if isinstance(ty, wc.RecordType):
        fields = ty.fields
        return Shape("record", tuple(n for n, _ in fields), tuple(shape_of(t) for _, t in fields))
    if isinstance(ty, wc.TupleType):
        return Shape("tuple", items=tuple(shape_of(t) for t in ty.elements))
    if isinstance(ty, wc.VariantType):
        cases = ty.cases
        return Shape("variant", tuple(n for n, _ in cases), tuple(_opt(t) for _, t in cases))
    if isinstance(ty, wc.EnumType):
        return Shape("enum", tuple(ty.names))
    if isinstance(ty, wc.OptionType):
        return Shape("option", items=(shape_of(ty.payload),))
    if isinstance(ty, wc.ResultType):
        return Shape("result", ("ok", "err"), (_opt(ty.ok), _opt(ty.err)))
    if isinstance(ty, wc.FlagsType):
        return Shape("flags", tuple(ty.names))
    # resources, streams, futures: described, but refused when a value crosses
    return Shape(f"<{type(ty).__name__}>")


@dataclass(frozen=True)
class Signature:
    """A component function's parameter names and types, and its result type."""

    params: tuple[tuple[str, Shape], ...]
    result: Shape | None

    @classmethod
    def of(cls, fty: wc.FuncType) -> Signature:
        result = fty.result
        return cls(tuple((n, shape_of(t)) for n, t in fty.params),
                   None if result is None else shape_of(result))

    def wit(self) -> str:
        params = ", ".join(f"{n}: {s.wit()}" for n, s in self.params)
        tail = f" -> {self.result.wit()}" if self.result is not None else ""
        return f"func({params}){tail}"
