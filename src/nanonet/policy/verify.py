"""Load-time proof that a guest cannot write the ring memories it maps raw.

A reader granted raw access imports a tunnel's ring memory itself
(``(import "nanonet:raw" "T" (memory ...))``) and reads messages in place.
The memory is shared, so one stray store could corrupt the ring for the
writer; Wasm has no read-only memories, so nanonet checks the code instead:
every function body is decoded instruction by instruction, and the module is
refused if anything can write a raw memory (a store, an atomic store or
read-modify-write, ``memory.copy`` into it, ``memory.fill``, ``memory.init``,
``memory.grow``, a SIMD store), if an active data segment targets it, or if
the module re-exports it (an export hands write access to others). An
instruction the decoder does not know is refused too: what it cannot read,
it cannot vouch for.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import LoadError
from .wasmbin import UnknownOpcode, WasmFormatError
from .wasmmod import MEMORY, Shape, scan
from .wasmscan import writes


@dataclass(frozen=True)
class Refusal:
    """Why a module cannot have raw access: what, where, and the fix."""

    what: str
    offset: int
    tunnel: str | None = None  # the tunnel whose ring would be written, if known
    fix: str = "remove that write"

    def message(self, service: str, raw: tuple[str, ...]) -> str:
        tunnel = self.tunnel or (raw[0] if len(raw) == 1 else None)
        grant = repr(list(raw) if tunnel is None else [tunnel]).replace("'", '"')
        return (f"service {service!r} cannot be granted raw access to "
                f"{_tunnels(raw, self.tunnel)}: {self.what} (byte {self.offset:#x} of the "
                f"module). Raw ring memories are read-only: {self.fix}, or drop the "
                f"raw grant (raw = {grant}) and receive with recv")


def _tunnels(raw: tuple[str, ...], tunnel: str | None) -> str:
    if tunnel is not None:
        return f"tunnel {tunnel!r}"
    if not raw:
        return "any tunnel"
    return "tunnel" + ("s " if len(raw) > 1 else " ") + ", ".join(repr(t) for t in raw)


def _function(shape: Shape, index: int) -> str:
    func = index + shape.imported_funcs
    name = shape.names.get(func)
    return f"function {func}" + (f" (${name})" if name else "")


def _check_body(shape: Shape, wasm: bytes, index: int) -> Refusal | None:
    start, end = shape.bodies[index]
    where = _function(shape, index)
    try:
        ins = next(writes(wasm, start, end, frozenset(shape.raw)), None)
    except UnknownOpcode as err:
        return Refusal(f"{where} uses an instruction the verifier does not know "
                       f"({err.what}), so it cannot verify that function", err.offset,
                       fix="build the guest without that feature")
    except WasmFormatError as err:
        raise WasmFormatError(err.offset, f"{where}: {err.what}") from None
    if ins is None:
        return None
    tunnel = shape.raw[ins.writes or 0]
    return Refusal(f"{where} writes the ring memory of tunnel {tunnel!r} "
                   f"(memory {ins.writes}) with {ins.name}", ins.offset, tunnel)


def _check_module(shape: Shape) -> Refusal | None:
    for offset, mem in shape.data:
        if mem in shape.raw:
            return Refusal(f"an active data segment initialises memory {mem}, the ring memory "
                           f"of tunnel {shape.raw[mem]!r}", offset, shape.raw[mem])
    for name, kind, index, at in shape.exports:
        if kind == MEMORY and index in shape.raw:
            tunnel = shape.raw[index]
            return Refusal(f"the module exports the ring memory of tunnel {tunnel!r} as "
                           f"{name!r}, which would hand write access to whoever imports it",
                           at, tunnel, "remove the export")
    return None


@lru_cache(maxsize=64)
def inspect(wasm: bytes) -> tuple[tuple[str, ...], Refusal | None]:
    """The raw tunnels ``wasm`` imports, and why it cannot have them (or None)."""
    try:
        shape = scan(wasm)
        raw = tuple(shape.raw.values())
        if not raw:
            return raw, None
        refusal = _check_module(shape)
        for i in range(len(shape.bodies)):
            refusal = refusal or _check_body(shape, wasm, i)
    except WasmFormatError as err:
        return raw_names(wasm), Refusal(f"the module cannot be decoded ({err.what})",
                                        err.offset, fix="fix the module")
    return raw, refusal


def raw_names(wasm: bytes) -> tuple[str, ...]:
    """The raw tunnels a module imports, as far as its imports can be read."""
    try:
        return tuple(scan(wasm).raw.values())
    except WasmFormatError:
        return ()


def verify(service: str, wasm: bytes) -> tuple[str, ...]:
    """The tunnels ``wasm`` maps raw; ``LoadError`` if it could write any of them."""
    raw, refusal = inspect(bytes(wasm))
    if refusal is not None:
        raise LoadError(refusal.message(service, raw))
    return raw
