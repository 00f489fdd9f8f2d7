"""The one rule for the names of services and tunnels.

A tunnel's name is written into its ring header (``MAX_NAME`` bytes) and
resolved by the guest's ``tunnel(name)``; service and tunnel names both show
up in messages, ``nanonet check``, metrics and the dashboard. An empty name,
a NUL (cut short by C strings) or a control character (which rewrites a
terminal line) would make those lie, so both kinds of name follow the same
rule, in the Python API and in the manifest. ``<host>`` is the owner name of
the host's own tunnel ends, so no service may take it.
"""

from __future__ import annotations

from ..errors import InvalidValue
from ..ring.layout import MAX_NAME

HOST_OWNER = "<host>"
NAME_RULE = (f"1 to {MAX_NAME} bytes of printable UTF-8 (letters, digits, punctuation and "
             "spaces; no control, format or line-break characters)")


def name_problem(kind: str, name: object) -> str | None:
    """Why ``name`` cannot name a ``kind`` ("service" or "tunnel"), or None."""
    if not isinstance(name, str):
        return f"a {kind} name must be a string (got {type(name).__name__})"
    if kind == "service" and name == HOST_OWNER:
        return (f"{name!r} is reserved for the host's own tunnel ends and cannot name a "
                "service; rename the service")
    size = len(name.encode("utf-8", "replace"))
    if not name.isprintable() or not 1 <= size <= MAX_NAME:
        return f"{name!r} cannot name a {kind}: a name is {NAME_RULE}; rename the {kind}"
    return None


def check_name(kind: str, name: object) -> str:
    """``name`` if it may name a ``kind``; InvalidValue with the rule otherwise."""
    problem = name_problem(kind, name)
    if problem is not None:
        raise InvalidValue(problem)
    assert isinstance(name, str)
    return name
