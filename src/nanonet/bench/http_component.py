"""HTTP requests/s through a component route beside a port route, in one run.

The same clients (``http_bench``'s subprocess: N threads, one keep-alive
connection each) drive ``GET /w/hello/cK/I`` of the example's C component
(``hello_component.c``: one ``handle(request) -> response`` call per request,
the records converted by wasmtime's component runtime) and ``GET
/api/cK/I`` of its WAT port server (the binary request form through a host
mailbox), each behind its own ingress, one after the other.

    python -m nanonet.bench.http_component [--requests N] [--clients 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..mesh import Mesh
from ..toolchain.guestbuild import build_c
from ..web.routes import HttpRoute
from ..web.server import HttpIngress
from ..wit import PACKAGES
from .http_bench import _drive, nanonet_row

COMPONENT = Path(__file__).resolve().parents[1] / "examples" / "http" / "hello_component.c"


def component_row(clients: int, per: int) -> dict[str, float]:
    """The clients against the C component behind one route, in this process."""
    wasm = build_c(COMPONENT, PACKAGES["http"], "server").path
    with Mesh() as mesh:
        mesh.component("web", wasm)
        mesh.start()
        with HttpIngress(mesh, [HttpRoute("/*", "web", component=True)]) as ingress:
            assert ingress.address is not None
            return _drive(ingress.address, clients, per, "/w/hello")


def rows(clients: int, per: int) -> dict[str, dict[str, float]]:
    return {"http_nanonet_component": component_row(clients, per),
            "http_nanonet_wat": nanonet_row(clients, per)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=8_000)
    p.add_argument("--clients", type=int, default=8)
    args = p.parse_args(argv)
    got = rows(args.clients, args.requests // args.clients)
    for name, row in got.items():
        print(f"{name:<24} {row['requests_per_s']:>9,.0f} requests/s  p50 "
              f"{row['p50_ms']:.3f} ms  ({int(row['requests'])} requests, {args.clients} "
              "keep-alive clients)")
    ratio = got["http_nanonet_component"]["requests_per_s"] / got["http_nanonet_wat"][
        "requests_per_s"]
    print(f"component / port route requests/s: {ratio:.2f}")


if __name__ == "__main__":
    main()
