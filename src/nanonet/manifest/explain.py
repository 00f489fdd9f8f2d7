"""pydantic's validation errors, said the way a manifest's author needs them.

pydantic reports ``Input should be greater than or equal to 1``; the author
of ``nanonet.toml`` needs ``must be a positive integer (got -5); set a
positive number or remove the key``. Each error type maps to one sentence
with the value that was written and what to do instead.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .schema import AtKey, ManifestTable
from .suggest import did_you_mean

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
KEY_MARK = "[key]"  # pydantic's last loc item when a dict key, not its value, is at fault


def key_path(loc: Sequence[str | int]) -> str:
    """``services.ingress.grants.dirs[0].host``, quoting keys that need it."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE.match(part) else _quoted(part)
            out += f".{text}" if out else text
    return out


def _quoted(key: str) -> str:
    """A TOML basic string: a control character is shown as its escape, never raw."""
    return '"' + "".join(_escape(c) for c in key) + '"'


def _escape(c: str) -> str:
    if c in '"\\':
        return "\\" + c
    if c.isprintable():
        return c
    return f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"


def shown(value: Any) -> str:
    """A value as TOML would write it, cut short."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = _quoted(value)
    elif isinstance(value, dict):
        text = "a table"
    elif isinstance(value, list):
        text = "an array"
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unwrap(ann: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
        return next(a for a in typing.get_args(ann) if a is not type(None))
    return ann


def known_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys the table holding ``loc[-1]`` accepts (empty if it is no table)."""
    ann: Any = ManifestTable
    for part in loc[:-1]:
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return []
            ann = field.annotation
        elif typing.get_origin(ann) in (dict, list):
            ann = typing.get_args(ann)[-1]
        else:
            return []
    ann = _unwrap(ann)
    is_table = isinstance(ann, type) and issubclass(ann, BaseModel)
    return list(ann.model_fields) if is_table else []


def _bound(ctx: dict[str, Any], got: str) -> str:
    low = ctx.get("ge", ctx.get("gt"))
    if low in (0, 1) and "ge" in ctx:
        what = "a positive integer" if low == 1 else "0 or more"
        return f"must be {what} (got {got}); set a positive number or remove the key"
    return f"must be at least {low} (got {got}); raise it or remove the key"


_SAY: dict[str, Callable[[dict[str, Any], str, Sequence[str | int]], str]] = {
    "greater_than_equal": lambda c, g, _: _bound(c, g),
    "greater_than": lambda c, g, _: _bound(c, g),
    "less_than_equal": lambda c, g, _: f"must be at most {c.get('le')} (got {g}); lower it",
    "int_type": lambda c, g, _: f"must be an integer (got {g}); write digits, no quotes",
    "bool_type": lambda c, g, _: f"must be true or false (got {g}); write true or false",
    "string_type": lambda c, g, _: f"must be a string (got {g}); put it in double quotes",
    "float_type": lambda c, g, _: f"must be a number (got {g}); write it without quotes",
    "finite_number": lambda c, g, _: f"must be a finite number (got {g}); write one",
    "list_type": lambda c, g, _: f"must be an array (got {g}); write it as [\"a\", \"b\"]",
    "dict_type": lambda c, g, _: f"must be a table (got {g}); write it as {{ KEY = \"value\" }}",
    "model_type": lambda c, g, _: f"must be a table (got {g}); write it as [section] "
                                  "or { key = value }",
    "literal_error": lambda c, g, _: f"must be one of {c.get('expected')} (got {g}); "
                                     "use one of them",
    "string_too_short": lambda c, g, _: "must not be empty; write a value or remove the key",
    "too_short": lambda c, g, _: "must not be empty; list at least one item",
    "missing": lambda c, g, loc: f"required key {loc[-1]!s} is missing; add it "
                                 "(see docs/manifest.md)",
}


def explain(error: ErrorDetails) -> tuple[tuple[str | int, ...], str]:
    """(where, problem; fix) for one pydantic error."""
    loc = tuple(error["loc"])
    kind, ctx, got = error["type"], dict(error.get("ctx") or {}), shown(error.get("input"))
    if kind == "extra_forbidden":
        keys = known_keys(loc)
        near = did_you_mean(str(loc[-1]), keys)
        return loc, f"unknown key; {near}remove it, or use one of: {', '.join(keys) or 'none'}"
    if kind == "value_error":
        if loc[-1:] == (KEY_MARK,):  # a key's own validator (a service or tunnel name)
            loc = loc[:-1]
        cause = ctx.get("error")
        if isinstance(cause, AtKey):  # a whole-table check that names the key at fault
            loc = (*loc, cause.key)
        return loc, str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return loc[:-1], _SAY[kind](ctx, got, loc)
    say = _SAY.get(kind)
    if say is None:
        return loc, f"{error['msg'].lower()} (got {got}); see docs/manifest.md"
    return loc, say(ctx, got, loc)
