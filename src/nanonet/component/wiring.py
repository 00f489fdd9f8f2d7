"""A mesh's component imports written as words: ``"tunnel:NAME"``, ``"service:NAME"``.

    mesh.component("auth", "auth.wasm", wasi=True,
                   imports={"access-logs": "tunnel:access-log"})

The manifest can only name things, so both it and ``Mesh.component`` take
these two forms besides Python objects:

- ``"tunnel:NAME"``: every call of the import sends one message down tunnel
  NAME, whose write end the component then holds. The message is the call's
  arguments in order (``encoder``); an interface import must have exactly
  one function, so that a message never needs to say which function sent it.
  An import that takes nothing and returns ``option<T>`` or ``list<T>`` of
  a typed tunnel's record reads it instead (``typedread.py``, made a
  function before this module sees it).
- ``"service:NAME"``: the import calls the same-named export(s) of component
  service NAME, which must already be in the mesh.

Each call still crosses Python (tens of µs, docs/components.md): control
traffic, not bulk data.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import LoadError
from ..ring.endpoint import TunnelWriter
from .host import Loaded, short
from .service import ComponentService, to_tunnel
from .shapes import Shape, Signature
from .typed import RecordLayout, wit_text

if TYPE_CHECKING:
    from ..mesh import Mesh

_FIXED = {"bool": "<?", "u8": "<B", "s8": "<b", "u16": "<H", "s16": "<h", "u32": "<I",
          "s32": "<i", "u64": "<Q", "s64": "<q", "f32": "<f", "f64": "<d"}
PREFIXES = ("tunnel:", "service:")


def _field(shape: Shape) -> Callable[[Any], bytes] | None:
    if shape.kind in _FIXED:
        fmt = _FIXED[shape.kind]
        return lambda v: struct.pack(fmt, v)
    if shape.kind == "char":
        return lambda v: struct.pack("<I", ord(v))
    if shape.kind == "string":
        return lambda v: struct.pack("<I", len(b := v.encode())) + b
    if shape.is_bytes:
        return lambda v: struct.pack("<I", len(v)) + bytes(v)
    return None


def encoder(sig: Signature, who: str) -> Callable[..., bytes]:
    """Arguments -> one message: numbers little-endian at their width, bool one
    byte, char a u32, strings and ``list<u8>`` a u32 length then the bytes."""
    fields = []
    for pname, shape in sig.params:
        f = _field(shape)
        if f is None:
            raise LoadError(f"{who}: parameter {pname!r} is {shape.wit()}, which a tunnel "
                            "import cannot carry (numbers, char, string, list<u8>); "
                            "wire this import to a Python function instead")
        fields.append(f)
    return lambda *args: b"".join(f(a) for f, a in zip(fields, args, strict=True))


def typed_encoder(sig: Signature, layout: RecordLayout, who: str,
                  tunnel: str) -> Callable[..., bytes]:
    """The record argument -> one message in the typed tunnel's layout; a
    LoadError unless the import takes exactly that record."""
    if len(sig.params) != 1 or not layout.matches(sig.params[0][1]):
        params = ", ".join(f"{n}: {wit_text(t)}" for n, t in sig.params)
        raise LoadError(f"{who} takes func({params}), but tunnel {tunnel!r} carries "
                        f"{layout.describe()}: give the import one parameter of that "
                        "record type, or declare the tunnel without a type")
    return layout.encode


def _wanted(loaded: Loaded, key: str) -> tuple[str, dict[str, Signature] | Signature]:
    for name, want in loaded.imports.items():
        if key in (name, name.split("@")[0], short(name)):
            return name, want
    known = ", ".join(short(n) for n in loaded.imports if not n.startswith("wasi:"))
    raise LoadError(f"the component imports nothing named {key!r} (imports: "
                    f"{known or 'none'}); remove it from imports")


def _tunnel(mesh: Mesh, owner: str, key: str, want: Any, tunnel: str,
            ends: list[TunnelWriter]) -> Any:
    who = f"component {owner!r}: import {key!r}"
    if isinstance(want, Signature):
        sig = want
    elif len(want) == 1:
        (fname, sig), = want.items()
    else:
        raise LoadError(f"{who} has {len(want)} functions; a tunnel import takes one: "
                        "wire it to Python functions or to a service instead")
    layout = mesh.tunnel_types.get(tunnel)
    encode = encoder(sig, who) if layout is None else typed_encoder(sig, layout, who, tunnel)
    ends.append(writer := mesh.writer(tunnel, owner=owner))
    send = to_tunnel(writer, encode)
    return send if isinstance(want, Signature) else {fname: send}


def _export_for(other: ComponentService, iface: str, fname: str) -> str:
    for key in other.loaded.exports:
        head, _, tail = key.rpartition("#")
        if tail == fname and (not head or short(head) == short(iface)):
            return key
    return fname  # export() names what is missing


def _service(mesh: Mesh, owner: str, iface: str, want: Any, target: str,
             ends: list[TunnelWriter]) -> Any:
    other = mesh.components.get(target)
    if other is None:
        known = ", ".join(mesh.components) or "none"
        raise LoadError(f"component {owner!r}: import {iface!r} names service {target!r}, "
                        f"which is not a component service of this mesh (components: {known})"
                        "; add it first")
    if isinstance(want, Signature):
        return other.export(_export_for(other, "", short(iface)))
    return {f: other.export(_export_for(other, iface, f)) for f in want}


def resolve(mesh: Mesh, owner: str, loaded: Loaded, imports: Mapping[str, Any],
            ) -> tuple[dict[str, Any], list[TunnelWriter]]:
    """``imports`` with every ``"tunnel:X"`` / ``"service:X"`` made a function,
    and the tunnel ends taken (the component closes them when it ends)."""
    out, ends = dict(imports), list[TunnelWriter]()
    for key, value in imports.items():
        if not (isinstance(value, str) and value.startswith(PREFIXES)):
            continue
        name, want = _wanted(loaded, key)
        kind, _, target = value.partition(":")
        make = _tunnel if kind == "tunnel" else _service
        out[key] = make(mesh, owner, name, want, target, ends)
    return out, ends
