"""``nanonet run --web HOST:PORT``: a manifest whose services run in browser tabs.

The manifest places services on a node (``node = "tab"``) and names that
node a browser (``[web] browsers = ["tab"]``; with ``--web`` and no
``[web]`` table every node the manifest names is one). The host runs the
main node's part, serves the page (docs/browser.md) and prints, for each
browser node, the URL to open: its capability token is in the fragment.
The run ends when every tunnel the tabs write has ended and every tunnel the
host writes into a tab was sent to its end (or broke, when a tab closed), at
the ``--timeout``, or on Ctrl-C. A port whose server runs in a tab is served
by the host through it (``bridge/webport.py``), so ``[[http]]`` routes to it
are served too; such a run goes on until ``--timeout`` or Ctrl-C.
``--share`` (or ``[web] share = true``) also prints the URL of each route.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time

from ..bridge.direct import host_port
from ..bridge.node import node_names, part
from ..bridge.webhost import WebHost
from ..bridge.weblease import LEASE
from ..bridge.webplan import tab_servers, tab_service, with_tab_ports
from ..bridge.webtoken import Grant, mint
from ..errors import InvalidValue
from ..manifest.manifest import Manifest
from ..manifest.schema import WEB_LISTEN, ManifestTable
from ..observe.hook import attach, mesh_name
from .manifest_run import HostReads, RunOptions, failed, run_mesh, summary
from .web_run import page_host, share_lines, start_ingress, web_exposure

DEFAULT_LISTEN = WEB_LISTEN


def add_web_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--web", metavar="HOST:PORT", default=None,
                   help="serve the page that runs the manifest's browser nodes ([web] "
                   "browsers) here, and print each tab's URL with its token (port 0: any)")
    p.add_argument("--share", action="store_true", default=None,
                   help="once the page and the HTTP ingress listen, also print the URL that "
                   "reaches each [[http]] route (the ingress address and the route), to hand "
                   "out beside the tabs' URLs ([web] share = true does the same)")


def browsers(table: ManifestTable, web: str | None) -> list[str]:
    """The nodes that are browser tabs (none: this is no web run)."""
    if table.web is not None and table.web.browsers:
        return list(table.web.browsers)
    if web is not None or table.web is not None:
        return [n for n in node_names(table) if n is not None]
    return []


def _check(m: Manifest, nodes: list[str]) -> None:
    if not nodes:
        raise InvalidValue("--web serves browser nodes, but no service names a node: set "
                           "node = \"tab\" on the services the tab runs")
    others = [n for n in node_names(m.table) if n is not None and n not in nodes]
    if others:
        raise InvalidValue(f"node(s) {', '.join(others)} are not browsers: a web run carries "
                           "only tabs; add them to [web] browsers, or run them with nanonet node")
    crossing = [n for n, t in m.table.tunnels.items()
                if len({_node(m, t.writer), _node(m, t.reader)} - {None}) > 1]
    if crossing:
        raise InvalidValue(f"tunnel(s) {', '.join(crossing)} run between two browser nodes: "
                           "each tab bridges to the host; put both ends in one tab, or make "
                           "the host one end")


def _node(m: Manifest, owner: str | None) -> str | None:
    svc = m.table.services.get(owner or "")
    return None if svc is None else svc.node


def _plans(m: Manifest, nodes: list[str]) -> dict[str, object]:
    configure = m.table.web.configure if m.table.web is not None else {}
    return {name: tab_service(m, name, configure.get(name, []))
            for name, s in m.table.services.items() if s.node in nodes}


def sharing(m: Manifest, args: argparse.Namespace) -> bool:
    """Does this run print its routes' URLs (``--share`` or ``[web] share``)?"""
    return bool(args.share) or (m.table.web is not None and m.table.web.share)


def run_web(m: Manifest, args: argparse.Namespace) -> int:
    """Run the main node, serve the tabs, print their URLs; the exit status."""
    nodes = browsers(m.table, args.web)
    p = part(m, None)
    try:
        _check(m, nodes)
        plans = _plans(m, nodes)
    except InvalidValue as err:
        print(err, file=sys.stderr)
        return 1
    listen = args.web or (m.table.web.listen if m.table.web else None) or DEFAULT_LISTEN
    host, port = host_port(listen)
    servers_of = tab_servers(m, nodes)
    mine = with_tab_ports(p.manifest, m, servers_of)
    mesh = mine.build_mesh()
    for name in p.manifest.host_writes:
        mesh.writer(name).close()
    reads = HostReads({n: mesh.reader(n) for n in p.manifest.host_reads},
                      RunOptions(args.timeout, args.quiet), print)
    writers_of = {t: m.table.tunnels[t].writer or "" for t in p.incoming}
    readers_of = {t: m.table.tunnels[t].reader or "" for t in p.outgoing}
    secret = secrets.token_bytes(32)  # never printed: tokens are signed with it
    transport = m.table.web.transport if m.table.web else "auto"
    lease = m.table.web.lease if m.table.web else LEASE
    web = WebHost(mesh, secret, plans, writers_of, host, port,  # type: ignore[arg-type]
                  transport=transport, lease=lease, readers_of=readers_of,
                  servers_of=servers_of, nodes=tuple(nodes)).start()
    reads.holds = web.holds
    try:
        ingress = start_ingress(mine, mesh, args.http, _say)
    except (OSError, ValueError) as err:
        print(f"http: {err}", file=sys.stderr)
        web.stop()
        mesh.close()
        return 1
    if (why := web_exposure(host)) is not None:
        print(why, file=sys.stderr, flush=True)
    ttl = m.table.web.token_ttl if m.table.web else 3600.0
    for node in nodes:
        grant = Grant(node, tuple(n for n, s in m.table.services.items() if s.node == node),
                      time.time() + ttl)
        print(f"web: tab node {node!r}: open http://{page_host(host)}:{web.port}/#token="
              f"{mint(secret, grant)}", file=sys.stderr, flush=True)
        if lease > 0 and not set(grant.services) & set(readers_of.values()):
            print(f"web: tab node {node!r} may rejoin within {lease:g} s of leaving "
                  "([web] lease)", file=sys.stderr, flush=True)
    if ingress is not None and sharing(m, args):
        for line in share_lines(ingress):
            _say(line)
    t0 = time.perf_counter()
    try:  # --dashboard: nanonet top and the dashboard see the tabs (the snapshot's web)
        with attach(mesh, args, getattr(args, "name", None) or mesh_name(m.path)):
            why = run_mesh(mesh, reads, RunOptions(args.timeout, args.quiet), bridges=web)
    finally:
        web.stop()
        if ingress is not None:
            ingress.stop()
    print(f"web: {why} after {time.perf_counter() - t0:.3f} s; {len(web.refusals)} refusal(s), "
          f"{len(web.left)} tab(s) left", file=sys.stderr)
    print("\n".join(summary(mesh, reads)))
    status = 1 if failed(mesh, why) or web.failure() is not None else 0
    mesh.close()
    return status


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
