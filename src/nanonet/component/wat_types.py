"""The WAT text of a component value type, from its ``Shape``.

    types = WatTypes()
    ref = types.ref(shape)          # "$n3", or "(list string)" for a structural type
    "(component\n" + types.text() + f'(import "send" (func (param "r" {ref})))...'

A component function's record, variant, enum and flags types must be
named where it is imported or exported, so each such type is defined and
imported as ``tN`` (``(import "t0" (type $n0 (eq $t0)))``); lists, options,
results and tuples are written inline. Benchmarks and tests build their WAT
components with it from the same shapes the typed tunnels use.
"""

from __future__ import annotations

from .shapes import Shape

NOMINAL = ("record", "variant", "enum", "flags")


class WatTypes:
    """Type definitions, each nominal type imported as ``tN``, in dependency order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def text(self) -> str:
        return "".join(self.lines)

    def ref(self, shape: Shape | None) -> str:
        """How the component refers to ``shape`` (defining what it needs first)."""
        assert shape is not None
        kind = shape.kind
        if kind not in NOMINAL:
            return self._structural(shape)
        if kind == "record":
            body = " ".join(f'(field "{n}" {self.ref(s)})'
                            for n, s in zip(shape.names, shape.items, strict=True))
        elif kind == "variant":
            body = " ".join(f'(case "{n}"{"" if s is None else " " + self.ref(s)})'
                            for n, s in zip(shape.names, shape.items, strict=True))
        else:
            body = " ".join(f'"{n}"' for n in shape.names)
        n = len(self.lines)
        self.lines.append(f'  (type $t{n} ({kind} {body}))\n'
                          f'  (import "t{n}" (type $n{n} (eq $t{n})))\n')
        return f"$n{n}"

    def _structural(self, shape: Shape) -> str:
        kind = shape.kind
        if kind in ("list", "option"):
            return f"({kind} {self.ref(shape.items[0])})"
        if kind == "tuple":
            return f"(tuple {' '.join(self.ref(s) for s in shape.items)})"
        if kind == "result":
            ok, err = shape.items
            parts = ([self.ref(ok)] if ok else []) + ([f"(error {self.ref(err)})"] if err else [])
            return f"(result {' '.join(parts)})" if parts else "(result)"
        return kind
