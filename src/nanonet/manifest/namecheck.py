"""``names = { in = "raw" }`` in a service's table, checked against its ends.

The rules are the runtime's (``runtime.tunnelnames``); here each problem is
said at the key that must change, with the manifest's own fix: a service
holds a tunnel by being its writer or reader.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import ManifestError
from ..runtime.tunnelnames import problems

if TYPE_CHECKING:
    from .manifest import Manifest

FIX = "add [tunnels.{tunnel}] with this service as its writer or reader"


def names_problems(m: Manifest, name: str) -> Iterator[ManifestError]:
    """Each way service ``name``'s ``names`` table cannot map its tunnels."""
    svc = m.services[name]
    names = svc.table.names
    held = [*svc.reads, *svc.writes]
    for guest, problem in problems(held, names, FIX):
        where = ("services", name, "names", guest) if guest in names else ("services", name,
                                                                         "names")
        yield m.error(where, problem)


def mapping(m: Manifest, name: str) -> list[str]:
    """``in → raw (reads)`` for each name the guest asks for that is not its tunnel's."""
    svc = m.services[name]
    side = {t: "reads" for t in svc.reads} | {t: "writes" for t in svc.writes}
    return [f"tunnel({guest!r}) → {tunnel} ({side.get(tunnel, 'not held')})"
            for guest, tunnel in svc.table.names.items()]


def unspelt(m: Manifest, name: str) -> list[str]:
    """The names service ``name`` answers to that its module's bytes never spell.

    A guest asks for a tunnel with a name it holds as bytes, nearly always a
    constant in its data: a name spelt nowhere in the module (or the WAT
    text) is most likely one it never asks for, while it asks for another.
    Only a module already on disk is read; none is built for this.
    """
    svc = m.services[name]
    t = svc.table
    source = t.wasm if t.build is None and t.wasm else t.source
    if source is None or not source.endswith((".wasm", ".wat")):
        return []
    try:
        code = m.file(source).read_bytes()
    except OSError:
        return []  # the file check says so
    alias = {tunnel: guest for guest, tunnel in t.names.items()}
    wanted = [alias.get(x, x) for x in (*svc.reads, *svc.writes)]
    return [w for w in wanted if w.encode() not in code]
