"""WIT text -> type definitions: the tokens and the items a typed tunnel needs.

    reader = Reader(tokens(text)); reader.package_file()
    reader.package, reader.interfaces     # "my:app", {"types": {"order": ("record", ...)}}

A definition is kept as read (``("record", [(field, type expression)])``,
``("use", path, name)``, a type expression for an alias); ``wittypes.py``
turns them into Shapes. Functions, worlds and resource bodies are skipped;
``@since``-style gates are stepped over.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidValue

_TOKEN = re.compile(r"\s+|//[^\n]*|/\*.*?\*/|(%?[A-Za-z_][A-Za-z0-9-]*|[0-9][0-9A-Za-z.+-]*"
                    r"|[{}()<>,;:=./@*]|->)", re.S)


def tokens(text: str) -> list[str]:
    out, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if m is None:
            raise InvalidValue(f"cannot read the WIT text at {text[at:at + 20]!r}")
        if m.group(1):
            out.append(m.group(1).lstrip("%"))
        at = m.end()
    return out


class Reader:
    """One package's tokens: interfaces -> {type name: definition}."""

    def __init__(self, toks: list[str]) -> None:
        self.t, self.i = toks, 0
        self.package = ""
        self.interfaces: dict[str, dict[str, Any]] = {}

    def peek(self) -> str:
        return self.t[self.i] if self.i < len(self.t) else ""

    def take(self, want: str | None = None) -> str:
        got = self.peek()
        if want is not None and got != want:
            raise InvalidValue(f"WIT: expected {want!r}, found {got or 'the end'!r}")
        self.i += 1
        return got

    def skip_group(self) -> None:
        """Past the balanced ``{...}``, ``(...)`` or ``<...>`` starting here."""
        pairs, depth = {"{": "}", "(": ")", "<": ">"}, []
        while True:
            tok = self.take()
            if not tok:
                raise InvalidValue("WIT: unbalanced brackets")
            if tok in pairs:
                depth.append(pairs[tok])
            elif depth and tok == depth[-1]:
                depth.pop()
                if not depth:
                    return

    def skip_item(self) -> None:
        """Past one item: up to its ``;`` or its body's closing brace."""
        while self.peek() not in (";", "{", ""):
            self.skip_group() if self.peek() in "(<" else self.take()
        self.skip_group() if self.peek() == "{" else self.take()

    def gate(self) -> None:
        while self.peek() == "@":
            self.take("@")
            self.take()
            if self.peek() == "(":
                self.skip_group()

    def package_file(self) -> None:
        while self.peek():
            self.gate()
            tok = self.take()
            if tok == "package":
                start = self.i
                while self.peek() not in ("@", ";"):
                    self.take()
                self.package = "".join(self.t[start:self.i])
                while self.take() != ";":
                    pass
            elif tok == "interface":
                name = self.take()
                self.interfaces[name] = self.interface()
            else:  # world, top-level use, nested package
                self.skip_item()

    def interface(self) -> dict[str, Any]:
        defs: dict[str, Any] = {}
        self.take("{")
        while self.peek() != "}":
            self.gate()
            tok = self.take()
            if tok == "use":
                self.use(defs)
            elif tok == "type":
                name = self.take()
                self.take("=")
                defs[name] = self.expr()
                self.take(";")
            elif tok in ("record", "variant", "enum", "flags"):
                name = self.take()
                defs[name] = (tok, self.body(tok))
            elif tok == "resource":
                defs[self.take()] = ("resource",)
                self.skip_item()
            else:
                self.skip_item()
        self.take("}")
        return defs

    def use(self, defs: dict[str, Any]) -> None:
        start = self.i
        while self.peek() != "{":
            self.take()
        path = "".join(self.t[start:self.i - 1])  # up to the "." before "{"
        self.take("{")
        while self.peek() != "}":
            name = self.take()
            alias = name
            if self.peek() == "as":
                self.take()
                alias = self.take()
            defs[alias] = ("use", path, name)
            if self.peek() == ",":
                self.take()
        self.take("}")
        self.take(";")

    def body(self, kind: str) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        self.take("{")
        while self.peek() != "}":
            self.gate()
            name, inner = self.take(), None
            if kind == "record":
                self.take(":")
                inner = self.expr()
            elif kind == "variant" and self.peek() == "(":
                self.take("(")
                inner = self.expr()
                self.take(")")
            out.append((name, inner))
            if self.peek() == ",":
                self.take()
        self.take("}")
        return out

    def expr(self) -> Any:
        tok = self.take()
        if tok in ("list", "option", "tuple", "result", "borrow", "own") and self.peek() == "<":
            self.take("<")
            args = [self.expr()]
            while self.peek() == ",":
                self.take()
                args.append(self.expr())
            self.take(">")
            return (tok, args)
        return ("result", ["_", "_"]) if tok == "result" else tok
