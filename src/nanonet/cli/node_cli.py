"""``nanonet node``: run one node's part of a manifest split over nodes.

Services name their node (``node = "b"``); ``nanonet node --name b --nats
URL nanonet.toml`` builds node b's services and tunnels, bridges every
tunnel that crosses to another node over NATS (docs/bridge.md), and runs
until its services have ended and every message it sent is acknowledged.
``nanonet run`` on such a manifest runs the main node (services with no
``node``) the same way; without ``--nats`` either starts a nats-server of
its own on 127.0.0.1 and says where, for the other nodes' ``--nats``.
``--dashboard`` (``--observe-port``) serves the node's part as ``nanonet run``
serves a mesh: dashboard, ``/metrics``, snapshot, its links with their far ends.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..bridge.direct import Certs, DirectBridges, host_port
from ..bridge.jetstream import wait_drained
from ..bridge.nats import NatsOptions
from ..bridge.natsd import NatsServer
from ..bridge.node import NodeBridges, Part, part
from ..errors import InvalidValue, ManifestError
from ..manifest.manifest import Manifest, load_manifest
from ..mesh import Mesh
from ..observe.hook import add_arguments, attach, mesh_name, preflight
from ..observe.topmodel import missed_text, nats_reconnects_text
from .manifest_run import HostReads, RunOptions, failed, run_mesh, summary
from .verbosity import add_switch
from .where import manifest_path


def add_bridge_arguments(p: argparse.ArgumentParser) -> None:
    """The options of a node's bridges: where NATS is, how to log in, the token."""
    p.add_argument("--nats", metavar="URL", default=None,
                   help="the NATS server the nodes meet on (nats://HOST:PORT, tls://...; a "
                   "cluster's URLs joined by commas); "
                   "default: start a local nats-server on 127.0.0.1 and print its URL")
    p.add_argument("--nats-token", default=None, help="the NATS server's auth token")
    p.add_argument("--nats-creds", type=Path, default=None,
                   help="a NATS credentials file (JWT and NKey)")
    p.add_argument("--nats-nkey", type=Path, default=None, metavar="SEEDFILE",
                   help="a file holding an NKey user seed (SU...), for a NATS server that "
                   "lists users by their public NKey")
    p.add_argument("--tls-ca", type=Path, default=None, help="CA file to check the server's TLS")
    p.add_argument("--tls-cert", type=Path, default=None, help="client TLS certificate")
    p.add_argument("--tls-key", type=Path, default=None, help="client TLS key")
    p.add_argument("--listen", metavar="HOST:PORT", default=None,
                   help="bridge point to point instead of over NATS: listen here for the "
                   "tunnels this node reads (QUIC on the UDP port, WebSocket on the TCP port)")
    p.add_argument("--peer", metavar="NODE=HOST:PORT", action="append", default=[],
                   help="bridge point to point: where NODE listens (its --listen), for the "
                   "tunnels this node writes and NODE reads; QUIC, else WebSocket (logged, "
                   "with why); the main node is 'main'")
    p.add_argument("--listen-cert", type=Path, default=None, metavar="CERT",
                   help="with --listen: the certificate (PEM) its QUIC port presents, with "
                   "--listen-key; default: a fresh self-signed one")
    p.add_argument("--listen-key", type=Path, default=None, metavar="KEY",
                   help="the private key (PEM) of --listen-cert")
    p.add_argument("--peer-cert", type=Path, default=None, metavar="CERT",
                   help="with --peer: the certificate (or its CA) every peer must present; "
                   "one that presents another is refused, and there is no WebSocket fallback")
    p.add_argument("--token-file", type=Path, default=None,
                   help="file holding the bridge token every node must share (or set "
                   "$NANONET_BRIDGE_TOKEN; needed with --listen); a peer with another token is "
                   "refused and logged")


def _token(args: argparse.Namespace) -> bytes:
    """The bridge token. A node that listens (--listen) takes links from the
    network, so it refuses to start without one: with an empty token any
    peer that reaches its port would feed its tunnels."""
    token = os.environ.get("NANONET_BRIDGE_TOKEN", "").encode()
    if args.token_file is not None:
        path: Path = args.token_file
        try:
            token = path.read_bytes().strip()
        except OSError as err:
            raise InvalidValue(f"--token-file {str(path)!r}: {err.strerror}; give a file "
                               "holding the bridge token every node shares") from None
    if not token and args.listen is not None:
        raise InvalidValue(f"--listen {args.listen} takes links from the network, and this "
                           "node has no bridge token, so any peer could feed its tunnels: "
                           "give every node the same --token-file FILE (or "
                           "$NANONET_BRIDGE_TOKEN)")
    return token


def _nats(args: argparse.Namespace, url: str) -> NatsOptions:
    return NatsOptions(url, args.nats_token, args.nats_creds, args.nats_nkey, args.tls_ca,
                       args.tls_cert, args.tls_key)


def _certs(args: argparse.Namespace) -> Certs:
    if (args.listen_cert is None) != (args.listen_key is None):
        raise InvalidValue("--listen-cert and --listen-key go together: give both, or "
                           "neither for a fresh self-signed certificate")
    for path in (args.listen_cert, args.listen_key, args.peer_cert):
        if path is not None and not path.is_file():
            raise InvalidValue(f"{str(path)!r} is not a file: give a PEM file")
    return Certs(args.listen_cert, args.listen_key, args.peer_cert)


def _peers(args: argparse.Namespace) -> dict[str, tuple[str, int]]:
    out = {}
    for text in args.peer:
        node, _, where = text.partition("=")
        if not node or not where:
            raise InvalidValue(f"--peer {text!r}: write it as NODE=HOST:PORT")
        out[node] = host_port(where)
    return out


@dataclass(frozen=True)
class Bridging:
    """How a node's mesh is bridged: over NATS, or point to point."""

    part: Part
    token: bytes
    nats: NatsOptions | None = None
    direct: Any = None  # (listen, peers, readers) for --listen/--peer
    certs: Certs = field(default_factory=Certs)  # the listener's, and the one peers present

    def start(self, mesh: Mesh) -> NodeBridges:
        """Take the bridged ends of ``mesh`` and start a pump for each."""
        if self.direct is not None:
            listen, peers, readers = self.direct
            return DirectBridges(self.part, mesh, listen or None, peers, self.token,
                                 readers, certs=self.certs).start()
        assert self.nats is not None
        return NodeBridges(self.part, mesh, self.nats, self.token).start()


@contextmanager
def bridging(m: Manifest, node: str | None, args: argparse.Namespace) -> Iterator[Bridging]:
    """``node``'s part of ``m`` and its bridging; without --nats (and not point
    to point) a local nats-server runs for as long as the block."""
    p = part(m, node)
    if node is not None and not p.manifest.services:
        raise InvalidValue(f"no service in {m.path} has node = {node!r}; name a node the "
                           "manifest places services on")
    durable = [n for n in (*p.outgoing, *p.incoming) if m.table.tunnels[n].durable]
    if args.listen is not None or args.peer:
        if durable:
            raise InvalidValue(f"tunnel {durable[0]!r} is durable, which needs NATS with "
                               "JetStream: bridge with --nats (or no bridge option)")
        readers = {n: m.table.services[t.reader].node or "main"
                   if t.reader in m.table.services else "main"
                   for n, t in m.table.tunnels.items()}
        yield Bridging(p, _token(args), direct=(args.listen and host_port(args.listen),
                                                _peers(args), readers), certs=_certs(args))
        return
    server = NatsServer(jetstream=bool(durable)).start() if args.nats is None else None
    try:
        url = server.url if server else args.nats
        if server:
            print(f"nats-server listening on {url} (other nodes: --nats {url})", file=sys.stderr)
        yield Bridging(p, _token(args), _nats(args, url))
        if server and (out := [n for n in durable if n in p.outgoing]):
            _keep_serving(url, p.mesh_name, out, args.timeout)
    finally:
        if server:
            server.stop()


def _keep_serving(url: str, mesh: str, tunnels: list[str], timeout: float | None) -> None:
    """This node's nats-server holds its durable tunnels' streams (in a
    temporary store): keep it up until their readers' nodes took them all."""
    print(f"nats-server stays up until the far nodes have taken durable tunnel(s) "
          f"{', '.join(tunnels)}", file=sys.stderr)
    try:
        if not asyncio.run(wait_drained(url, mesh, tunnels, timeout)):
            print("durable tunnels not taken by the timeout: what they held is lost with this "
                  "nats-server (run one of your own and pass --nats)", file=sys.stderr)
    except KeyboardInterrupt:
        print("stopped before the durable tunnels were taken", file=sys.stderr)
    except Exception as err:  # nats-py's errors: the server is unreachable or its stream gone
        print(f"cannot tell whether the durable tunnels were taken: {err}", file=sys.stderr)


def run_node(m: Manifest, node: str | None, args: argparse.Namespace) -> int:
    """Build, bridge and run ``node``'s part of ``m``; the exit status."""
    with bridging(m, node, args) as how:
        return _run_part(how, node, args)


def _run_part(how: Bridging, node: str | None, args: argparse.Namespace) -> int:
    m, label = how.part.manifest, node or "main"
    print(started_line(label, how.part), file=sys.stderr)
    mesh = m.build_mesh(latency=args.dashboard)
    for name in m.host_writes:
        mesh.writer(name).close()
    host = HostReads({n: mesh.reader(n) for n in m.host_reads},
                     RunOptions(args.timeout, args.quiet), print)
    bridges = how.start(mesh)
    t0 = time.perf_counter()
    try:
        with attach(mesh, args, observed_name(m, label)):
            why = run_mesh(mesh, host, RunOptions(args.timeout, args.quiet), bridges=bridges)
    finally:
        bridges.stop()
    print(f"node {label}: {why} after {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    print("\n".join(bridge_lines(label, bridges)), file=sys.stderr)
    print("\n".join(summary(mesh, host)))
    status = 1 if failed(mesh, why) or bridges.errors else 0
    mesh.close()
    return status


def observed_name(m: Manifest, label: str) -> str:
    """What ``nanonet top --mesh`` calls a node's mesh: the manifest's mesh name
    and the node's, ``two.b`` (the main node's is the manifest's alone)."""
    return f"{mesh_name(m.path)}.{label}"


def started_line(label: str, p: Part) -> str:
    return (f"node {label}: {len(p.manifest.services)} service(s), {len(p.outgoing)} "
            f"tunnel(s) out, {len(p.incoming)} in, {len(p.links_out)} pattern link(s) out, "
            f"{len(p.links_in)} in")


def bridge_lines(label: str, bridges: NodeBridges) -> list[str]:
    """What a node says of its bridges at the end: transports, then links."""
    out = [f"node {label}: tunnel {name} was bridged over {how}"
           for name, how in bridges.transports.items()]
    out += link_lines(label, bridges.link_stats())
    for link, n in (bridges.patterns.missed if bridges.patterns else {}).items():
        out.append(f"node {label}: link {link} missed {n:,} message(s) (a lossy copy: lapped "
                   "or no room on the writer's node)")
    return out


def link_lines(label: str, links: list[dict[str, Any]]) -> list[str]:
    """One line per bridged link: its state, round trip and counters."""
    out = []
    for k in links:
        rtt = "-" if k["rtt_s"] is None else f"{k['rtt_s'] * 1e3:.2f} ms"
        out.append(f"node {label}: link {k['tunnel']} ({k['side']}, {k['transport']}): "
                   f"{k['state']}, rtt {rtt}, in flight {k['in_flight']}, retransmits "
                   f"{k['retransmits']}, reconnects {k['reconnects']}, duplicates "
                   f"{k['duplicates']}, {k['bytes_sent']:,} B out, "
                   f"{k['bytes_received']:,} B in{missed_text(k)}{nats_reconnects_text(k)}")
    return out


def _node(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest, "node")
    if path is None:
        return 1
    try:
        preflight(args)
        m = load_manifest(path)
    except ManifestError as err:
        print(err, file=sys.stderr)
        return 1
    return run_node(m, args.name, args)


def register(sub: Any) -> None:
    p = sub.add_parser("node", help="run one node's part of a manifest split over nodes",
                       description="Build and run the services a manifest places on this "
                       "node (node = \"NAME\"), with a bridge over NATS for every tunnel that "
                       "crosses to another node (docs/bridge.md). Ends when the node's "
                       "services have ended and every message it sent was acknowledged, at "
                       "the --timeout, Ctrl-C or SIGTERM. With --dashboard it serves the "
                       "dashboard, /metrics and the snapshot of its part, bridged links "
                       "included, as nanonet run does. Exit status 0 if nothing failed.")
    p.add_argument("manifest", nargs="?", help="the manifest (default ./nanonet.toml)")
    p.add_argument("--name", required=True, help="this node's name (a service's node = ...)")
    p.add_argument("--timeout", type=float, default=None,
                   help="stop after this many seconds")
    p.add_argument("--quiet", action="store_true",
                   help="count what the host receives instead of printing it")
    add_bridge_arguments(p)
    add_arguments(p, node=True)
    add_switch(p)
    p.set_defaults(func=_node)
