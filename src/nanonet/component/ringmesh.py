"""``Mesh.component``'s choice between the Wasm tunnel path and the host path.

    loaded, given, ends = wire(mesh, "producer", loaded, {"forward": "tunnel:out"}, wasi)

When ``ringplan.decide`` admits the component, its tunnel imports are served
by generated Wasm on the rings (``ringpath.py``): the write ends are taken
from the mesh as the host path takes them (one writer per tunnel; the
component service closes them when it ends, so readers finish); imports
given Python functions or ``"service:NAME"`` are resolved as on the host
path and served by core host functions (``ringhost.py``). Otherwise ``wiring.resolve`` wires every
import through Python, as before. The choice is logged and kept per mesh
(``paths(mesh)``: component name -> Choice), for ``nanonet check`` and tests.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..ring.end import End
from .host import Loaded
from .ringpath import RingLoaded
from .ringplan import TUNNEL, Choice, decide
from .typedread import take
from .wiring import resolve

if TYPE_CHECKING:
    from ..mesh import Mesh

log = logging.getLogger("nanonet.component")


def wire(mesh: Mesh, owner: str, loaded: Loaded, imports: Mapping[str, Any], wasi: bool,
         ) -> tuple[Loaded, dict[str, Any], list[End]]:
    """What the component service runs, what its imports are given, the ends it holds."""
    # every import it declares must be granted, whichever path serves it
    loaded.check(imports, f"component {owner!r}", wasi=wasi)
    # imports reading a typed tunnel are Python functions on either path (typedread.py)
    imports, read_ends = take(mesh, owner, loaded, imports)
    ends: list[End] = list(read_ends)
    choice = decide(loaded, imports, mesh.tunnel_types, wasi)
    paths(mesh)[owner] = choice
    log.info("component %r: %s", owner, choice.why)
    if not choice.wasm:
        given, writers = resolve(mesh, owner, loaded, imports)
        return loaded, given, [*writers, *ends]
    rest = {k: v for k, v in imports.items() if not (isinstance(v, str) and v.startswith(TUNNEL))}
    given, _ = resolve(mesh, owner, loaded, rest)  # "service:NAME" made its exports
    writers = [mesh.writer(r.tunnel, owner=owner) for r in choice.routes]
    rings = {r.tunnel: end.ring for r, end in zip(choice.routes, writers, strict=True)}
    return RingLoaded.of(mesh.rt, loaded, choice, rings), given, [*writers, *ends]


def paths(mesh: Mesh) -> dict[str, Choice]:
    """The path chosen for each component of ``mesh`` (by name)."""
    found: dict[str, Choice] | None = getattr(mesh, "_component_paths", None)
    if found is None:
        found = {}
        mesh._component_paths = found  # type: ignore[attr-defined]
    return found
