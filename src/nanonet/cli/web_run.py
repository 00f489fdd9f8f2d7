"""``nanonet run``'s HTTP ingress: started from the manifest's ``[[http]]`` routes.

It is off unless the manifest has routes; ``--http HOST:PORT`` moves it
(``127.0.0.1:0`` takes a free port, and the line it prints says which).
It starts before the mesh, so a request that comes early waits for its
server within the route's deadline, and stops after the mesh stops.
``share_lines`` says the URL that reaches each route (``--share``).
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any

from ..manifest.manifest import Manifest
from ..manifest.schema import IngressTable, listen_address
from ..mesh import Mesh
from ..web.routes import HttpRoute
from ..web.server import HttpIngress, HttpLimits
from .manifest_run import Print


def _address(text: str) -> str:
    try:
        listen_address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_http_argument(r: Any) -> None:
    r.add_argument("--http", type=_address, metavar="HOST:PORT",
                   help="serve the manifest's [[http]] routes here instead of [ingress] listen "
                   "(default 127.0.0.1:8080; port 0 takes a free one)")


def start_ingress(m: Manifest, mesh: Mesh, listen: str | None, say: Print) -> HttpIngress | None:
    """The started ingress, or None when the manifest has no routes (ValueError if
    --http asks for one anyway; OSError if the address cannot be bound)."""
    if not m.table.http:
        if listen is not None:
            raise ValueError("--http needs [[http]] routes in the manifest (docs/http.md); "
                             "add one, or drop --http")
        return None
    web = m.table.ingress or IngressTable()
    host, port = listen_address(listen or web.listen)
    routes = [HttpRoute(r.route, r.target, tuple(r.methods) if r.methods else None,
                        r.timeout_ms, r.stream, r.service is not None) for r in m.table.http]
    limits = HttpLimits(web.max_header_bytes, web.max_body_bytes)
    ingress = HttpIngress(mesh, routes, host, port, limits)
    bound = ingress.start()
    say(f"http: serving http://{bound[0]}:{bound[1]} ({len(routes)} route(s): "
        f"{', '.join(f'{r.pattern} → {_to(r)}' for r in routes)})")
    return ingress


def _to(r: HttpRoute) -> str:
    return f"component {r.port}" if r.component else r.port


def share_lines(ingress: HttpIngress) -> list[str]:
    """The URL of each route: the ingress's bound address, then the route
    (a prefix without its ``*``)."""
    assert ingress.address is not None
    host, port = ingress.address[:2]
    where = f"[{host}]" if ":" in host else host
    return [f"http: route {r.pattern} ({'component' if r.component else 'port'} {r.port!r}): "
            f"http://{where}:{port}"
            f"{r.pattern.removesuffix('*')}" for r in ingress.routes.all]


def web_exposure(host: str) -> str | None:
    """Why a tab page served on ``host`` will not work as a user expects, or None
    on loopback: a browser shares memory with Workers only in a secure context
    (127.0.0.1, localhost, or HTTPS), so a tab opened at another machine's
    plain http:// address cannot run its services; and the page and the
    token's first message cross that network unencrypted."""
    if host == "localhost" or _loopback(host):
        return None
    return (f"web: {host} is not a loopback address: a tab opened from another machine at "
            "http://<this host> is not a secure context, so the browser gives it no "
            "SharedArrayBuffer and the page refuses to start, and the token would cross "
            "the network unencrypted; listen on 127.0.0.1 and reach it through an SSH "
            "tunnel (ssh -L PORT:127.0.0.1:PORT HOST) or an HTTPS proxy")


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def page_host(host: str) -> str:
    """The host to print in a tab's URL: a wildcard listen (0.0.0.0, ::) is
    opened at loopback, the one address of it a browser treats as secure."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}.get(
        host, host)
