"""What a browser tab runs: per service, its guest, its adapter and its rings.

The tab runs the *same* guest ``.wasm`` and the *same* generated adapter the
host would: ``adapter_wat`` for the service's ends (reads, then writes, in
tunnel order, with its name map), assembled with ``wasmtime.wat2wasm``. The
plan also carries each ring's geometry, so the tab lays out and initialises
its rings as ``ring/memory.py`` does, and the guest's memory type when the
guest imports its memory (a browser cannot read an import's type).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import wasmtime

from ..errors import InvalidValue
from ..manifest.manifest import Manifest, ServiceDef
from ..ring import layout as L
from ..ring import portlayout as P
from ..ring.adapter import Direction, EndSpec, adapter_wat
from ..ring.port_template import PortShape
from ..ring.portlayout import PortGeometry
from ..runtime.tunnelnames import named

TAB_MAILBOXES = 16  # calls a tab's port holds at once (more wait in the tab, in order)


@dataclass(frozen=True)
class TabEnd:
    """One ring the tab holds: the tunnel, its direction, its geometry."""

    tunnel: str
    direction: str
    geometry: L.Geometry

    def as_json(self) -> dict[str, object]:
        g = self.geometry
        return {"tunnel": self.tunnel, "direction": self.direction, "slot_count": g.slot_count,
                "slot_size": g.slot_size, "max_payload": g.max_payload, "pages": g.pages,
                "version": g.version, "header_size": L.HEADER_SIZE, "magic": L.MAGIC}


@dataclass(frozen=True)
class TabPort:
    """One port a tab's service serves: the memory the tab makes for it."""

    name: str
    geometry: PortGeometry

    def as_json(self) -> dict[str, object]:
        g = self.geometry
        return {"port": self.name, "mailboxes": g.mailboxes, "max_payload": g.max_payload,
                "box_size": g.box_size, "reply_offset": g.reply_offset, "pages": g.pages,
                "version": P.VERSION, "magic": P.MAGIC, "header_size": P.HEADER_SIZE}


@dataclass(frozen=True)
class TabService:
    """A service placed in a tab, ready to ship."""

    name: str
    guest: bytes
    adapter: bytes
    ends: tuple[TabEnd, ...]
    memory: tuple[int, int | None] | None  # the imported memory's (min, max) pages
    entry: str
    configure: tuple[tuple[str, int], ...]  # (wasm type, value) for configure(...)
    ports: tuple[TabPort, ...] = ()  # the ports it serves, in handle order

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "ends": [e.as_json() for e in self.ends],
                "ports": [p.as_json() for p in self.ports],
                "memory": None if self.memory is None else list(self.memory),
                "entry": self.entry, "configure": [list(a) for a in self.configure]}


def _code(m: Manifest, svc: ServiceDef) -> bytes:
    """The guest's binary: a ``.wasm`` as it is, a ``.wat`` assembled."""
    where = svc.table.wasm or svc.table.source
    if where is None or not where.endswith((".wasm", ".wat")):
        raise InvalidValue(f"service {svc.name!r} runs in a browser, so it must be a "
                           "prebuilt core module: set wasm = \"x.wasm\" or source = \"x.wat\"")
    path = m.file(where)
    data = Path(path).read_bytes()
    return bytes(wasmtime.wat2wasm(data.decode())) if where.endswith(".wat") else data


def _ends(m: Manifest, svc: ServiceDef) -> list[EndSpec]:
    specs = [EndSpec(t, Direction.READ, m.table.tunnels[t].geometry()) for t in svc.reads]
    specs += [EndSpec(t, Direction.WRITE, m.table.tunnels[t].geometry()) for t in svc.writes]
    return named(svc.name, specs, svc.table.names)


def _memory(module: wasmtime.Module) -> tuple[int, int | None] | None:
    for imp in module.imports:
        if isinstance(imp.type, wasmtime.MemoryType):
            return imp.type.limits.min, imp.type.limits.max
    return None


def _configure(module: wasmtime.Module, args: list[int]) -> tuple[tuple[str, int], ...]:
    if not args:
        return ()
    func = next((e.type for e in module.exports if e.name == "configure"), None)
    if not isinstance(func, wasmtime.FuncType) or len(func.params) != len(args):
        raise InvalidValue(f"[web] configure gives {len(args)} argument(s), but the guest "
                           "exports no configure function taking that many")
    return tuple((str(p), v) for p, v in zip(func.params, args, strict=True))


def _ports(m: Manifest, svc: ServiceDef) -> tuple[TabPort, ...]:
    if svc.calls:
        raise InvalidValue(f"service {svc.name!r} runs in a browser and calls port(s) "
                           f"{', '.join(svc.calls)}: a tab's services may serve ports, not "
                           "call them; move it to the host, or drop its calls")
    return tuple(TabPort(p, PortGeometry(TAB_MAILBOXES, m.table.ports[p].max_payload))
                 for p in svc.serves)


def tab_servers(m: Manifest, nodes: list[str]) -> dict[str, str]:
    """Port -> its server, for each port a service on a browser node serves."""
    return {n: p.server for n, p in m.table.ports.items()
            if m.table.services[p.server].node in nodes}


def with_tab_ports(mine: Manifest, m: Manifest, servers_of: dict[str, str]) -> Manifest:
    """The host's part ``mine`` of ``m`` with the ports its tabs serve: the
    host's callers (the ingress, host clients) post into them, and the host
    carries each call to the tab (``webport.py``)."""
    mine.table = mine.table.model_copy(update={"ports": {
        **mine.table.ports, **{n: m.table.ports[n] for n in servers_of}}})
    return mine


def tab_service(m: Manifest, name: str, args: list[int]) -> TabService:
    """The plan of service ``name`` for a tab: guest, adapter, rings, ports."""
    svc = m.services[name]
    guest = _code(m, svc)
    module = wasmtime.Module(wasmtime.Engine(), guest)
    ends = _ends(m, svc)
    ports = _ports(m, svc)
    shapes = tuple(PortShape("server", -1, p.geometry) for p in ports)
    adapter = bytes(wasmtime.wat2wasm(adapter_wat(ends, sampling=False, ports=shapes)))
    tab_ends = tuple(TabEnd(e.name, e.direction.value, e.geometry) for e in ends)
    return TabService(name, guest, adapter, tab_ends, _memory(module),
                      svc.table.entry or "run", _configure(module, args), ports)
