"""The fast path: a component's data plane run as an ordinary core service.

    core = data_plane(Path("producer.wasm").read_bytes())   # the embedded module
    mesh.service("producer", core, writes=["stream"])        # the adapter, no Python

A component cannot import a tunnel's memory, and the canonical ABI copies
every value between memories, so a component's messages cannot reach a ring
without a copy through the host (tens of µs each, docs/components.md). A
"tunnel component" therefore carries its data plane as a core module that
imports the ``nanonet`` ABI exactly as a core guest does; nanonet takes that
module out of the component binary and runs it with the generated adapter:
its per-message cost is the core path's, because it is the core path.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import LoadError
from ..policy.wasmbin import Reader, WasmFormatError
from ..policy.wasmmod import import_modules

COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"  # magic, version 0xd, layer 1
CORE_MODULE, COMPONENT = 1, 4  # section ids of the component binary format
ABI = "nanonet"


def core_modules(binary: bytes) -> Iterator[bytes]:
    """Every core module a component embeds, nested components included."""
    if binary[:8] != COMPONENT_HEADER:
        raise LoadError("not a component binary (no \\0asm header of layer 1)")
    r = Reader(binary, 8)
    while not r.done:
        section, body = r.byte(), r.take(r.u32())
        if section == CORE_MODULE:
            yield body
        elif section == COMPONENT:
            yield from core_modules(body)


def data_plane(binary: bytes) -> bytes:
    """The one embedded core module that imports the ``nanonet`` ABI."""
    try:
        found = [m for m in core_modules(binary) if ABI in import_modules(m)]
    except WasmFormatError as err:
        raise LoadError(f"not a well-formed component: {err}") from err
    if len(found) != 1:
        raise LoadError(f"the component embeds {len(found)} core modules importing "
                        f"{ABI!r}; a tunnel component carries exactly one (its data plane)")
    return found[0]
