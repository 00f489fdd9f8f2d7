"""Filling the adapter's WAT templates: strict, and readable in the output.

The adapter (``adapter.py``) is written as WAT templates with ``{KEY}``
placeholders for constants from ``layout`` and ``{@helper args}`` calls to
named helpers (a slot address, a counter bump, a range check) that expand
into more template text. Filling is strict: a placeholder without a value,
an unknown helper or a stray brace is an ``InternalError`` naming the
template, never WAT that fails to compile far from its cause.

Every ``offset={KEY}`` whose value is a header field gets that field's name
in a comment at the end of its line (``offset=64 ;; head``), so the
generated text reads like the layout table in ``docs/ring.md``. Comments
change nothing in the compiled code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..errors import InternalError

Helper = Callable[..., str]

_HELPER = re.compile(r"\{@(\w+)((?: [^{}\s]+)*)\}")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_OFFSET = re.compile(r"offset=\{(\w+)\}")
_MAX_DEPTH = 4  # helpers may call helpers, this deep


def expand(name: str, template: str, helpers: Mapping[str, Helper]) -> str:
    """Replace every ``{@helper args}`` by the template text it returns."""
    def one(match: re.Match[str]) -> str:
        helper = helpers.get(match.group(1))
        if helper is None:
            raise InternalError(f"adapter template {name!r}: no helper named "
                                f"{match.group(1)!r} (in {match.group(0)!r})")
        return helper(*match.group(2).split())

    for _ in range(_MAX_DEPTH):
        template, count = _HELPER.subn(one, template)
        if not count:
            return template
    raise InternalError(f"adapter template {name!r}: helpers nest deeper than {_MAX_DEPTH}")


def fill(name: str, template: str, values: Mapping[str, object],
         helpers: Mapping[str, Helper] | None = None,
         offset_names: Mapping[str, str] | None = None) -> str:
    """The template with every helper expanded and every placeholder filled.

    ``offset_names`` maps placeholder keys to the field names written beside
    their ``offset=`` uses. Raises ``InternalError`` naming ``name`` if any
    placeholder is left unfilled.
    """
    text = expand(name, template, helpers or {})
    names = offset_names or {}
    out = "\n".join(_fill_line(name, line, values, names) for line in text.split("\n"))
    stray = re.search(r"[{}]", out)
    if stray:
        line = out.count("\n", 0, stray.start()) + 1
        raise InternalError(f"adapter template {name!r}: a brace is left unfilled on line "
                            f"{line}: {out.splitlines()[line - 1].strip()!r}")
    return out


def _fill_line(name: str, line: str, values: Mapping[str, object],
               names: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise InternalError(f"adapter template {name!r}: placeholder {{{key}}} has no "
                                f"value, in {line.strip()!r}")
        return str(values[key])

    fields = list(dict.fromkeys(names[k] for k in _OFFSET.findall(line) if k in names))
    filled = _PLACEHOLDER.sub(one, line)
    return _annotate(filled, fields) if fields else filled


def _annotate(line: str, fields: list[str]) -> str:
    """Write the field names at the end of ``line``, before any comment it has."""
    label = ", ".join(fields)
    code, sep, comment = line.partition(";;")
    if sep:
        return f"{code};; {label}: {comment.strip()}"
    return f"{line} ;; {label}"


# a name check against the one in a header (a ring's or a port's: {O_NLEN}, {O_NAME})
_NAME_IS_BODY = """ (param $ptr i32) (param $len i32) (result i32) (local $i i32)
    (if (i32.ne (local.get $len) (i32.load {m} offset={O_NLEN} (i32.const 0)))
      (then (return (i32.const 0))))
    (if (i32.gt_u (local.get $len) (i32.const {MAX_NAME})) (then (return (i32.const 0))))
    (block $differ (loop $each
      (if (i32.ge_u (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (br_if $differ (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                             (i32.load8_u {m} offset={O_NAME} (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $each)))
    (i32.const 0))
"""


def name_is(func: str) -> str:
    """The template of ``func{m}``: is the guest's name at $ptr, $len the header's?
    A ring's adapter and a port's check a name the same way, each with its own name."""
    return f"  (func {func}{{m}}" + _NAME_IS_BODY
