"""Checks that need more than one table of a manifest at once.

Each table can be valid alone while the whole still cannot run: a tunnel
whose writer names no service, a service that holds no tunnel end, a file
that is not there, a raw grant on a tunnel the service does not read, a fuel
limit in a mesh that meters no fuel. Each check yields every problem it finds
as a ManifestError at the key that must change, with the fix (``nanonet
check`` shows them all at once); a check stops at a problem that makes the
rest of its table meaningless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import ManifestError
from ..ring.layout import MAX_NAME
from ..ring.portlayout import MAX_NAME as PORT_MAX_NAME
from ..wit import PACKAGES
from .httpcheck import http_problems
from .namecheck import names_problems
from .suggest import did_you_mean

if TYPE_CHECKING:
    from .manifest import Manifest

HOST = "host"
Problems = Iterator[ManifestError]


def crosscheck(m: Manifest) -> None:
    """Raise the first problem that spans tables, in the order a reader meets them."""
    first = next(problems(m), None)
    if first is not None:
        raise first


def problems(m: Manifest) -> Problems:
    """Every problem that spans tables, in the order a reader meets them."""
    if not m.table.services:
        yield m.error(("services",), "no services; add a [services.NAME] table with "
                      "wasm = \"x.wasm\" or source = \"x.c\"")
        return
    yield from _names(m)
    yield from _tunnel_ends(m)
    yield from _ports(m)
    yield from http_problems(m)
    order = {name: i for i, name in enumerate(m.table.services)}  # for "defined above"
    for name in m.table.services:
        yield from _service(m, name, order)


def _names(m: Manifest) -> Problems:
    for name in m.table.tunnels:
        size = len(name.encode())
        if not 1 <= size <= MAX_NAME:
            yield m.error(("tunnels", name), f"a tunnel name takes 1 to {MAX_NAME} bytes "
                          f"(this one takes {size}); rename the tunnel")
    for name in m.table.services:
        if name == HOST or not name:
            yield m.error(("services", name), f"{name!r} cannot name a service (\"host\" "
                          "means the host in writer/reader); rename the service")


def _owner(m: Manifest, tunnel: str, side: str, owner: str) -> Problems:
    if owner != HOST and owner not in m.table.services:
        known = ", ".join(sorted(m.table.services))
        yield m.error(("tunnels", tunnel, side), f"no service named {owner!r} (services: "
                      f"{known}); {did_you_mean(owner, [*m.table.services, HOST])}"
                      "name one of them, or \"host\"")


def _ports(m: Manifest) -> Problems:
    """Each port's server and clients name services; each service calls known ports."""
    services = list(m.table.services)
    for name, p in m.table.ports.items():
        if len(name.encode()) > PORT_MAX_NAME:
            yield m.error(("ports", name), f"a port name takes 1 to {PORT_MAX_NAME} bytes "
                          f"(this one takes {len(name.encode())}); rename the port")
        named = [("server", p.server)] + [(i, c) for i, c in enumerate(p.clients)]
        for key, who in named:
            where = ("ports", name, "server") if key == "server" else ("ports", name,
                                                                       "clients", key)
            if who not in m.table.services:
                yield m.error(where, f"no service named {who!r} (services: "
                              f"{', '.join(services)}); {did_you_mean(who, services)}"
                              "name one of them")
        if p.server in p.clients:
            yield m.error(("ports", name, "clients"), f"{p.server!r} serves port {name!r} "
                          "and cannot call it too; remove it from clients")
    for svc, t in m.table.services.items():
        for i, port in enumerate(t.calls):
            if port not in m.table.ports:
                yield m.error(("services", svc, "calls", i), f"no port named {port!r} "
                              f"(ports: {', '.join(m.table.ports) or 'none'}); "
                              f"{did_you_mean(port, list(m.table.ports))}add [ports.{port}] "
                              "with server = \"NAME\", or fix the name")
            elif m.table.ports[port].server == svc:
                yield m.error(("services", svc, "calls", i), f"{svc!r} serves port {port!r} "
                              "and cannot call it too; remove it from calls")


def _tunnel_ends(m: Manifest) -> Problems:
    for name, t in m.table.tunnels.items():
        side = "writer" if t.writers is None else "writers"
        for writer in t.all_writers:
            yield from _owner(m, name, side, writer)
        rside = "reader" if t.reader is not None else "subscribers"
        for reader in t.readers():
            yield from _owner(m, name, rside, reader)
        both = [r for r in t.readers() if r in t.all_writers and r != HOST]
        if both:
            yield m.error(("tunnels", name, rside), f"{both[0]!r} is both writer and "
                          "reader; a service cannot hold both ends of one tunnel: give one "
                          "end to another service or to \"host\"")
        if t.subscribers is not None and HOST in [t.writer, *t.subscribers]:
            yield m.error(("tunnels", name), "a pub-sub tunnel's writer and subscribers are "
                          "services; the host subscribes at run time (Mesh.subscribe)")


def _service(m: Manifest, name: str, order: dict[str, int]) -> Problems:
    svc = m.services[name]
    if svc.table.component is not None:
        yield from _component(m, name, order)
        return
    if not svc.reads and not svc.writes and not svc.serves and not svc.calls:
        yield m.error(("services", name), "holds no tunnel end; name it as writer or "
                      "reader of a [tunnels.NAME] table, or remove the service")
    yield from _files(m, name)
    yield from names_problems(m, name)
    for i, tunnel in enumerate(svc.table.grants.raw):
        if tunnel not in svc.reads:
            reads = ", ".join(svc.reads) or "none"
            yield m.error(("services", name, "grants", "raw", i), f"{tunnel!r} is not a "
                          f"tunnel {name!r} reads (it reads: {reads}); raw access is "
                          f"read-only: {did_you_mean(tunnel, svc.reads)}name a tunnel it "
                          "reads, or remove it")
    if svc.table.limits.fuel_per_tick is not None and not m.table.mesh.fuel:
        yield m.error(("services", name, "limits", "fuel_per_tick"), "needs fuel metering, "
                      "which is off; set fuel = true under [mesh], or remove fuel_per_tick")


def _component(m: Manifest, name: str, order: dict[str, int]) -> Problems:
    """A component reads and writes only the tunnels its imports name (an import
    returning option<T> or list<T> reads, component/typedread.py), and calls
    only components defined above it (so that they are loaded first)."""
    svc, t = m.services[name], m.table.services[name]
    targets = {v.partition(":")[2]: k for k, v in t.imports.items()
               if v.startswith("tunnel:")}
    for side, tunnels in (("reader", svc.reads), ("writer", svc.writes)):
        verb = "reads" if side == "reader" else "writes"
        for tunnel in tunnels:
            if tunnel not in targets:
                yield m.error(("tunnels", tunnel, side), f"component {name!r} {verb} "
                              f"{tunnel!r} only through an import: add imports = {{ NAME = "
                              f"\"tunnel:{tunnel}\" }} to it, or give this end to another "
                              "service")
    for key, value in t.imports.items():
        yield from _import(m, name, key, value, order)
    yield from _component_file(m, name)


def _import(m: Manifest, name: str, key: str, value: str, order: dict[str, int]) -> Problems:
    kind, _, target = value.partition(":")
    where = ("services", name, "imports", key)
    if kind == "tunnel":
        t = m.table.tunnels.get(target)
        if t is None or name not in (t.writer, t.reader):
            near = did_you_mean(target, [n for n, x in m.table.tunnels.items()
                                         if name in (x.writer, x.reader)])
            yield m.error(where, f"{target!r} is not a tunnel {name!r} writes or reads; "
                          f"{near}add [tunnels.{target}] with writer = \"{name}\" (or "
                          f"reader = \"{name}\" for an import returning records), or fix "
                          "the name")
    elif order.get(target, len(order)) >= order[name] or m.table.services[target].component is None:
        comps = [s for s in list(order)[:order[name]] if m.table.services[s].component is not None]
        yield m.error(where, f"{target!r} is not a component service defined above {name!r} "
                      f"(above: {', '.join(comps) or 'none'}); {did_you_mean(target, comps)}"
                      "define it first, or fix the name")


def _component_file(m: Manifest, name: str) -> Problems:
    t = m.table.services[name]
    path = m.file(t.component or "")
    if not path.is_file():
        yield m.error(("services", name, "component"), f"no file {path}; fix the path "
                      "(relative to the manifest)")
    if t.wit is not None and t.wit not in PACKAGES and not m.file(t.wit).is_dir():
        yield m.error(("services", name, "wit"), f"{t.wit!r} is neither a nanonet WIT "
                      f"package ({', '.join(PACKAGES)}) nor a directory ({m.file(t.wit)}); "
                      "fix it (a path is relative to the manifest)")


def _files(m: Manifest, name: str) -> Problems:
    t = m.table.services[name]
    if t.source is not None and not m.file(t.source).is_file():
        yield m.error(("services", name, "source"), f"no file {m.file(t.source)}; fix the "
                      "path (it is relative to the manifest)")
    if t.wasm is not None and t.build is None and not m.file(t.wasm).is_file():
        yield m.error(("services", name, "wasm"), f"no file {m.file(t.wasm)}; fix the path "
                      "(relative to the manifest), or add a build command that makes it")
    for i, d in enumerate(t.grants.dirs):
        if not m.file(d.host).is_dir():
            yield m.error(("services", name, "grants", "dirs", i, "host"), f"no directory "
                          f"{m.file(d.host)}; create it, or fix the path (relative to the "
                          "manifest)")
