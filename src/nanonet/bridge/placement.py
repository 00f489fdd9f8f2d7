"""Where a manifest's services run and which tunnels cross between nodes.

``nanonet check`` shows it before anything runs: each node with its
services, and each tunnel whose ends are on two nodes, with the transport
its bridge will take. That is chosen when the nodes start, not in the
manifest: NATS (``--nats``, or the nats-server ``nanonet run`` starts),
or QUIC point to point with WebSocket when QUIC cannot connect
(``--listen``/``--peer``); at the end of a run each node says which
transport each tunnel took. A ``durable = true`` tunnel always takes a
JetStream stream over NATS (docs/bridge.md, "Durable tunnels").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..manifest.manifest import HOST
from ..manifest.schema import ManifestTable, TunnelTable
from .crossplan import Link, links

MAIN = "main"
TRANSPORTS = "NATS, or QUIC (WebSocket if QUIC cannot connect) with --listen/--peer"


@dataclass(frozen=True)
class Crossing:
    tunnel: str
    writer: str
    writer_node: str
    reader: str
    reader_node: str


def node_of(table: ManifestTable, owner: str) -> str:
    svc = table.services.get(owner)
    return MAIN if owner == HOST or svc is None or svc.node is None else svc.node


def nodes(table: ManifestTable) -> dict[str, list[str]]:
    """Node -> its services (the main node first, with the host's ends)."""
    out: dict[str, list[str]] = {MAIN: []}
    for name in table.services:
        out.setdefault(node_of(table, name), []).append(name)
    return out


def crossings(table: ManifestTable) -> list[Crossing]:
    """The one-writer, one-reader tunnels whose ends run on two nodes."""
    out = []
    for name, t in table.tunnels.items():
        if t.writer is None or t.reader is None:
            continue
        w, r = node_of(table, t.writer), node_of(table, t.reader)
        if w != r:
            out.append(Crossing(name, t.writer, w, t.reader, r))
    return out


def lines(table: ManifestTable) -> list[str]:
    """The text ``nanonet check`` prints (nothing for a one-node manifest)."""
    cross, more = crossings(table), links(table)
    if not cross and not more and len(nodes(table)) == 1:
        return []
    out = ["nodes:"]
    for node, services in nodes(table).items():
        out.append(f"  {node}: {', '.join(services) or '(the host only)'}")
    if cross:
        out.append(f"bridged tunnels ({TRANSPORTS}):")
    for c in cross:
        durable = _how(table.tunnels[c.tunnel])
        out.append(f"  {c.tunnel}: {c.writer} on {c.writer_node} -> {c.reader} on "
                   f"{c.reader_node}{durable}")
    if more:
        out.append(f"bridged patterns ({TRANSPORTS}; docs/bridge.md):")
        out += [f"  {k.link} ({_kind(k)}): {k.writer} on {k.writer_node} -> {k.reader} on "
                f"{k.reader_node}" for k in more]
    return out


def _how(t: TunnelTable) -> str:
    """What a bridged tunnel's line adds: durable, or datagram (and where not)."""
    if t.durable:
        return " (durable: through JetStream)"
    if t.delivery == "datagram":
        return (" (datagram: loss allowed, counted, over QUIC; reliable over NATS, "
                "WebSocket or memory)")
    return ""


def _kind(k: Link) -> str:
    if k.kind == "pubsub" and k.shared:
        return f"pub-sub copy shared by {len(k.shared)} subscribers there, {k.policy}"
    if k.kind == "pubsub":
        return f"pub-sub copy, {k.policy}"
    return "fan-in writer" if k.kind == "fanin" else "port calls"


def as_json(table: ManifestTable) -> dict[str, Any]:
    """``{"nodes": {...}, "bridged": [...], "patterns": [...]}`` (patterns:
    ``crossplan.Link`` as plain data), or {} for a one-node manifest."""
    cross, more = crossings(table), links(table)
    if not cross and not more and len(nodes(table)) == 1:
        return {}
    out = {"nodes": nodes(table), "bridged": [asdict(c) for c in cross]}
    if more:
        out["patterns"] = [asdict(k) for k in more]
    return out
