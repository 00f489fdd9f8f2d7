"""Names in a service's own words: the tunnel names its guest asks for.

A guest resolves its tunnel ends by name (``tunnel("in")``), and that name
is compiled into the binary. ``names`` maps the names the guest asks for to
the mesh's tunnels the service holds, so one binary serves twice in one mesh
under different tunnels, with no rebuild. Each mapped end answers only to
its guest name (the adapter compares it with constants, ``EndSpec.alias``);
an end left out answers to its tunnel's name, as before.

``problems`` is the one set of rules, for the Python API (``named`` raises
the first) and for the manifest (``nanonet check`` shows each at its line).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from ..errors import InvalidValue
from ..policy.names import name_problem
from ..ring.adapter import EndSpec

API_FIX = "give it {tunnel!r} in reads= or writes="
Problem = tuple[str, str]  # (the guest's name, problem; fix)


def problems(held: Sequence[str], names: Mapping[str, str],
             fix: str = API_FIX) -> Iterator[Problem]:
    """Every reason ``names`` cannot map a service holding ``held``; ``fix``
    says how to hold a tunnel (``{tunnel!r}`` is filled in)."""
    mapped: dict[str, str] = {}  # tunnel -> guest name
    for guest, tunnel in names.items():
        problem = _pair(held, guest, tunnel, mapped, fix)
        if problem is not None:
            yield guest, problem
        else:
            mapped[tunnel] = guest
    seen: dict[str, str] = {}
    for tunnel in held:
        asked = mapped.get(tunnel, tunnel)
        if asked in seen:
            yield asked, (f"the guest would reach both tunnel {seen[asked]!r} and tunnel "
                          f"{tunnel!r} as {asked!r}; give one of them another name")
        seen[asked] = tunnel


def _pair(held: Sequence[str], guest: object, tunnel: object, mapped: Mapping[str, str],
          fix: str) -> str | None:
    problem = name_problem("tunnel", guest)
    if problem is not None:
        return f"the guest's name {problem}"
    if not isinstance(tunnel, str) or tunnel not in held:
        return (f"maps {guest!r} to {tunnel!r}, which is not a tunnel this service holds "
                f"(it holds: {', '.join(held) or 'none'}); map it to one of those, or "
                + fix.format(tunnel=tunnel))
    if tunnel in mapped:
        return (f"maps both {mapped[tunnel]!r} and {guest!r} to tunnel {tunnel!r}; a tunnel "
                "end has one name in the guest: keep one of them")
    return None


def named(service: str, ends: list[EndSpec], names: Mapping[str, str] | None) -> list[EndSpec]:
    """``ends`` with each mapped end's guest name set; InvalidValue with the fix
    for the first of ``problems``."""
    if not names:
        return ends
    if not isinstance(names, Mapping):
        raise InvalidValue(f"service {service!r}: names must map the guest's tunnel names "
                           f"to the mesh's (got {type(names).__name__}); pass a dict such as "
                           "{'in': 'raw'}")
    first = next(problems([e.name for e in ends], names), None)
    if first is not None:
        raise InvalidValue(f"service {service!r}: names: {first[1]}")
    alias = {tunnel: guest for guest, tunnel in names.items()}
    return [replace(e, alias=alias.get(e.name, "")) for e in ends]
