"""A component's outline: the same component with no code in it, to read its types.

    types = wc.Component(engine, outline(engine, binary))   # milliseconds, even for 18 MB

wasmtime reflects a component's imports and exports only from a compiled
``Component``, and compiling a componentize-js (~12.5 MB) or componentize-py
(~18 MB) guest takes about ten seconds of CPU. Yet the Wasm tunnel path
(``ringpath.py``) never runs that compiled component: it compiles the core
modules themselves; and a composition (``compose.py``) runs only the
composite, never its parts. So a ``Loaded`` reads its types from the
outline: each core module reduced to its interface (``outline_core.py``)
and every custom section dropped. Its component-level sections, which are
all its types are made of, are kept byte for byte, so it has exactly the
component's type. The real component is compiled only when the host path
instantiates it (``host.Loaded.component``).

An outline no longer proves that the real code is valid, so ``validate``
checks every core module with wasmtime's validator (tens of ms for a
componentize-js guest, against seconds to compile it): a binary that does
not validate is still refused at load.
"""

from __future__ import annotations

from collections.abc import Callable

import wasmtime

from ..errors import LoadError
from ..policy.wasmbin import WasmFormatError
from . import binary as b
from .outline_core import core_outline, emptied
from .split import core_modules


def outline(engine: wasmtime.Engine, component: bytes) -> bytes:
    """``component`` with each core module reduced to its interface, nested
    components too; a module whose reduction does not validate is kept whole
    with its bodies emptied instead."""
    def reduce(module: bytes) -> bytes:
        small = core_outline(module)
        try:
            wasmtime.Module.validate(engine, small)
        except wasmtime.WasmtimeError:  # a ref.func of a function it dropped
            return emptied(module)
        return small
    return rewrite(component, reduce)


def rewrite(component: bytes, core: Callable[[bytes], bytes]) -> bytes:
    """``component`` with ``core`` applied to every core module and no custom sections."""
    out = bytearray(b.PREAMBLE)
    for sec in b.sections(component):
        body = component[sec.start:sec.end]
        if sec.sid == b.CUSTOM:
            continue
        if sec.sid == b.CORE_MODULE:
            body = core(body)
        elif sec.sid == b.COMPONENT:
            body = rewrite(body, core)
        out += b.section(sec.sid, body)
    return bytes(out)


def validate(engine: wasmtime.Engine, component: bytes) -> None:
    """A ``LoadError`` naming the first core module wasmtime's validator refuses."""
    try:
        modules = list(core_modules(component))
    except WasmFormatError as err:
        raise LoadError(f"not a valid component: {err}") from err
    for i, module in enumerate(modules):
        try:
            wasmtime.Module.validate(engine, module)
        except wasmtime.WasmtimeError as err:
            raise LoadError(f"not a valid component: its core module {i} does not "
                            f"validate ({err}); rebuild it with its toolchain") from err
