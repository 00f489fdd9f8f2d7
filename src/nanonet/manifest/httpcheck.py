"""The ``[ingress]`` and ``[[http]]`` tables checked against the ports, and described.

A route is only as good as its port: one that names no port, or a port the
host cannot call (``host_clients = 0``), would answer every request 503, so
``nanonet check`` refuses it at its line. ``http_lines`` is what ``check``
prints: where the ingress listens and each route → port.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import ManifestError
from .schema import HttpRouteTable, IngressTable
from .suggest import did_you_mean

if TYPE_CHECKING:
    from ..mesh import Mesh
    from .manifest import Manifest


def http_problems(m: Manifest) -> Iterator[ManifestError]:
    """Each route names a port the host can call (or a component service), and no
    pattern comes twice."""
    ports = m.table.ports
    seen: dict[str, int] = {}
    for i, r in enumerate(m.table.http):
        if r.port is None:
            yield from _component_problems(m, i, r)
        elif r.port not in ports:
            yield m.error(("http", i, "port"), f"no port named {r.port!r} (ports: "
                          f"{', '.join(ports) or 'none'}); {did_you_mean(r.port, list(ports))}"
                          f"add [ports.{r.port}] with server = \"NAME\", or fix the name")
        elif ports[r.port].host_clients == 0:
            yield m.error(("http", i, "port"), f"port {r.port!r} has host_clients = 0, and "
                          "the HTTP ingress calls it from the host; set host_clients = 8 "
                          "(at most that many requests in flight)")
        if r.route in seen:
            yield m.error(("http", i, "route"), f"route {r.route!r} is also route "
                          f"{seen[r.route]}; remove one, or change its pattern")
        seen.setdefault(r.route, i)
    if m.table.ingress is not None and not m.table.http:
        yield m.error(("ingress",), "[ingress] is set but no [[http]] route is: the ingress would "
                      "answer 404 to everything; add [[http]] route = \"/*\", port = \"NAME\"")


def _component_problems(m: Manifest, i: int, r: HttpRouteTable) -> Iterator[ManifestError]:
    """A route's ``service`` must be a component service of this manifest."""
    services = m.table.services
    name = r.service or ""
    if name not in services:
        yield m.error(("http", i, "service"), f"no service named {name!r} (services: "
                      f"{', '.join(services) or 'none'}); {did_you_mean(name, list(services))}"
                      f"add [services.{name}] with component = \"x.wasm\", or fix the name")
    elif services[name].component is None:
        yield m.error(("http", i, "service"), f"service {name!r} is a core module, which "
                      "serves HTTP through a port; write port = \"NAME\" for a port it "
                      "serves, or make it a component of the world nanonet:http/server")


def loaded_route_problems(m: Manifest, mesh: Mesh) -> tuple[list[str], list[ManifestError]]:
    """Once the mesh is loaded: each component a route names exports the handler.
    What ``check`` says of each, and an error for each that does not."""
    from ..web.records import EXPORT

    said: list[str] = []
    errors: list[ManifestError] = []
    for i, r in enumerate(m.table.http):
        comp = mesh.components.get(r.service or "")
        if comp is None:
            continue  # not a component route, or the component failed to load (reported)
        if EXPORT in comp.loaded.exports:
            said.append(f"route {r.route}: component {r.service} exports "
                        "nanonet:http/handler.handle")
            continue
        known = ", ".join(sorted(comp.loaded.exports)) or "none"
        errors.append(m.error(("http", i, "service"), f"component {r.service!r} does not "
                              f"export nanonet:http/handler (its exports: {known}); build it "
                              "for the world nanonet:http/server (`nanonet wit http`)"))
    return said, errors


def route_text(r: HttpRouteTable) -> str:
    methods = ", ".join(r.methods) if r.methods else "any method"
    streamed = "; bodies streamed in parts" if r.stream else ""
    to = f"port {r.port}" if r.port is not None else \
        f"component {r.service} (its nanonet:http/handler.handle, one call per request)"
    return f"{r.route} → {to} ({methods}; timeout {r.timeout_ms} ms{streamed})"


def http_lines(m: Manifest) -> list[str]:
    """``http:`` then the address, limits and every route; [] with no routes."""
    if not m.table.http:
        return []
    web = m.table.ingress or IngressTable()
    lines = ["http:", f"  listens on {web.listen} (nanonet run --http HOST:PORT changes it); "
             f"heads ≤ {web.max_header_bytes} B, bodies ≤ {web.max_body_bytes} B"]
    return lines + [f"  {route_text(r)}" for r in m.table.http]
