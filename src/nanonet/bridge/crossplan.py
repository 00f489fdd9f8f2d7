"""Which pub-sub copies, fan-in writers and port calls cross between nodes.

A one-writer, one-reader tunnel crosses as itself (``placement.crossings``).
The other patterns cross as bridged *links*, each one sender and one
receiver over the same bridge (docs/bridge.md, "Patterns across nodes"):

- a pub-sub tunnel: one link per node other than the writer's with
  subscribers on it. One subscriber there: ``t>sub``, on the writer's node
  the bridge is one more subscriber of the ring, with that subscriber's
  policy; on the subscriber's node a plain ring that the subscriber reads.
  Several: one shared copy ``t>@node``, with ``block`` if any of them
  blocks, else ``lossy``; on that node the bridge writes a plain ring
  (named after the link) that a fan-out service (``guests/fan_out.wat``)
  copies into the node's own pub-sub ring, where each local subscriber
  keeps its own policy;
- a fan-in tunnel: one link per writer on another node than the reader
  (``t<writer``): the writer writes its own ring on its node, the bridge
  writes that writer's ring of the fan-in on the reader's node;
- a port: one link per node with callers but not the server (``p@node``):
  each call is one NATS request (``crossport``).

``cut`` gives one node's share of these: the tables it builds and the links
it sends, receives, serves or forwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NanonetError
from ..manifest.manifest import HOST
from ..manifest.schema import ManifestTable, PortTable, ServiceTable, TunnelTable
from ..ring.layout import MAX_NAME

MAIN = "main"
FAN_OUT = Path(__file__).resolve().parent.parent / "guests" / "fan_out.wat"
FAN_OUT_LIMIT = (1 << 20) - 4  # the longest message its buffer holds


@dataclass(frozen=True)
class Link:
    """One bridged link of a pattern: its kind, name, ends and their nodes."""

    kind: str  # "pubsub", "fanin" or "port"
    tunnel: str  # the tunnel or port
    link: str  # the name both ends agree on (and its NATS subjects)
    writer: str  # the sending end: the tunnel's writer, or a port's callers
    writer_node: str
    reader: str  # the receiving end: a subscriber, the fan-in's reader, a port's server
    reader_node: str
    policy: str = ""  # a pub-sub copy: the subscriber's policy
    owner: str = ""  # a fan-in writer: its name in writers (it takes that ring)
    shared: tuple[str, ...] = ()  # a shared pub-sub copy: the subscribers it is for

    @property
    def ring(self) -> str:
        """The ring the receiving side writes: the tunnel's, or a shared
        copy's own (named after the link, read by the fan-out service)."""
        return self.link if self.shared else self.tunnel


def node_of(table: ManifestTable, owner: str) -> str:
    svc = table.services.get(owner)
    return MAIN if owner == HOST or svc is None or svc.node is None else svc.node


def _pubsub(table: ManifestTable, name: str, t: TunnelTable) -> list[Link]:
    assert t.writer is not None
    wn = node_of(table, t.writer)
    by_node: dict[str, dict[str, str]] = {}
    for sub, policy in t.policies().items():
        if (n := node_of(table, sub)) != wn:
            by_node.setdefault(n, {})[sub] = policy
    out: list[Link] = []
    for n, subs in by_node.items():
        if len(subs) == 1:
            (sub, policy), = subs.items()
            out.append(Link("pubsub", name, f"{name}>{sub}", t.writer, wn, sub, n, policy=policy))
            continue
        out.append(_shared(name, t, wn, n, subs))
    return out


def _shared(name: str, t: TunnelTable, wn: str, n: str, subs: dict[str, str]) -> Link:
    """The one copy for node ``n``'s several subscribers ``subs`` (name -> policy)."""
    assert t.writer is not None
    if (t.max_payload or 0) > FAN_OUT_LIMIT:
        raise NanonetError(f"tunnel {name!r}: subscribers {', '.join(subs)} run on node "
                           f"{n!r}, which gets one shared copy, fanned out by a service "
                           f"that holds messages up to {FAN_OUT_LIMIT} bytes; lower "
                           "max_payload, or place at most one of them on that node")
    link = f"{name}>@{n}"
    if len(link.encode()) > MAX_NAME:
        raise NanonetError(f"tunnel {name!r}: its shared copy for node {n!r}, {link!r}, "
                           f"also names a ring and a service there, which take at most "
                           f"{MAX_NAME} bytes; shorten the tunnel's or the node's name")
    policy = "block" if "block" in subs.values() else "lossy"
    return Link("pubsub", name, link, t.writer, wn, ", ".join(subs), n, policy=policy,
                shared=tuple(subs))


def _fanin(table: ManifestTable, name: str, t: TunnelTable) -> list[Link]:
    assert t.writers is not None and t.reader is not None
    rn = node_of(table, t.reader)
    out = []
    for i, w in enumerate(t.writers):
        n = node_of(table, w)
        if n == rn:
            continue
        k = t.writers[:i].count(w)
        link = f"{name}<{w}" if t.writers.count(w) == 1 else f"{name}<{w}{k}"
        out.append(Link("fanin", name, link, w, n, t.reader, rn, owner=w))
    return out


def port_callers(table: ManifestTable, name: str, p: PortTable) -> list[str]:
    return [s for s, svc in table.services.items() if name in svc.calls or s in p.clients]


def _port(table: ManifestTable, name: str, p: PortTable) -> list[Link]:
    sn = node_of(table, p.server)
    by_node: dict[str, list[str]] = {}
    for caller in port_callers(table, name, p):
        by_node.setdefault(node_of(table, caller), []).append(caller)
    return [Link("port", name, f"{name}@{n}", ", ".join(callers), n, p.server, sn)
            for n, callers in by_node.items() if n != sn]


def links(table: ManifestTable) -> list[Link]:
    """Every pattern link of the manifest, in tunnel then port order."""
    out: list[Link] = []
    for name, t in table.tunnels.items():
        if t.subscribers is not None and t.writer is not None:
            out += _pubsub(table, name, t)
        elif t.writers is not None:
            out += _fanin(table, name, t)
    for name, p in table.ports.items():
        out += _port(table, name, p)
    return out


@dataclass
class Cut:
    """One node's share of the patterns (``node``: None for the main node)."""

    tunnels: dict[str, TunnelTable] = field(default_factory=dict)
    ports: dict[str, PortTable] = field(default_factory=dict)
    send: list[Link] = field(default_factory=list)  # this node's end writes the link
    receive: list[Link] = field(default_factory=list)  # this node's end reads the link
    bridge_reads: set[str] = field(default_factory=set)  # tunnels a bridge reads, not the host
    bridge_writes: set[str] = field(default_factory=set)  # and writes
    services: dict[str, ServiceTable] = field(default_factory=dict)  # fan-outs of shared copies


def _mine(node: str | None) -> str:
    return MAIN if node is None else node


def _cut_pubsub(table: ManifestTable, name: str, t: TunnelTable, here: str, c: Cut) -> None:
    assert t.writer is not None
    crossing = [k for k in links(table) if k.kind == "pubsub" and k.tunnel == name]
    if node_of(table, t.writer) == here and not crossing:
        c.tunnels[name] = t
        return
    if node_of(table, t.writer) == here:
        local = [s for s in t.subscribers or [] if node_of(table, s) == here]
        lines = t.max_subscribers or len(t.subscribers or []) + 4  # the copies' lines too
        c.tunnels[name] = t.model_copy(update={
            "subscribers": local or None, "max_subscribers": lines,
            "policy": {s: p for s, p in t.policy.items() if s in local}})
        c.send += crossing
        return
    for k in crossing:
        if k.reader_node != here:
            continue
        c.receive.append(k)
        if k.shared:
            _fan_out(t, k, c)
            continue
        c.tunnels[name] = t.model_copy(update={
            "writer": HOST, "reader": k.reader, "subscribers": None, "policy": {},
            "max_subscribers": None})
        c.bridge_writes.add(name)


def _fan_out(t: TunnelTable, k: Link, c: Cut) -> None:
    """A shared copy's node: the bridge writes the copy's ring, the fan-out
    service (named after the link) reads it and writes the local pub-sub ring."""
    c.tunnels[k.tunnel] = t.model_copy(update={
        "writer": k.link, "subscribers": list(k.shared), "max_subscribers": None,
        "policy": {s: p for s, p in t.policy.items() if s in k.shared}})
    c.tunnels[k.link] = t.model_copy(update={
        "writer": HOST, "reader": k.link, "subscribers": None, "policy": {},
        "max_subscribers": None})
    c.services[k.link] = ServiceTable(source=str(FAN_OUT),
                                      names={"in": k.link, "out": k.tunnel})
    c.bridge_writes.add(k.link)


def _cut_fanin(table: ManifestTable, name: str, t: TunnelTable, here: str, c: Cut) -> None:
    assert t.writers is not None and t.reader is not None
    crossing = [k for k in links(table) if k.kind == "fanin" and k.tunnel == name]
    if node_of(table, t.reader) == here:
        c.tunnels[name] = t
        c.receive += crossing
        if any(k.owner == HOST for k in crossing):
            c.bridge_writes.add(name)  # its host writer is on another node: the bridge writes it
        return
    mine = [w for w in t.writers if node_of(table, w) == here]
    if mine:
        c.tunnels[name] = t.model_copy(update={"writers": mine, "reader": HOST})
        c.send += [k for k in crossing if k.writer_node == here]
        c.bridge_reads.add(name)


def cut(table: ManifestTable, node: str | None) -> Cut:
    """``node``'s share of the pub-sub, fan-in and port patterns."""
    here, c = _mine(node), Cut()
    for name, t in table.tunnels.items():
        if t.subscribers is not None and t.writer is not None:
            _cut_pubsub(table, name, t, here, c)
        elif t.writers is not None:
            _cut_fanin(table, name, t, here, c)
    for name, p in table.ports.items():
        crossing = [k for k in links(table) if k.kind == "port" and k.tunnel == name]
        if node_of(table, p.server) == here and not crossing:
            c.ports[name] = p
        elif node_of(table, p.server) == here:
            c.ports[name] = p.model_copy(update={
                "host_clients": p.host_clients + len(crossing) * CALLS_IN_FLIGHT})
            c.receive += crossing
        elif any(k.writer_node == here for k in crossing):
            c.ports[name] = p
            c.send += [k for k in crossing if k.writer_node == here]
    return c


CALLS_IN_FLIGHT = 8  # host mailboxes the server's node gives each far caller node
