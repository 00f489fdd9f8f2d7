"""Counters of a whole mesh at one instant, read without stopping anything.

Tunnel counters come from the ring headers (a few aligned loads each). Service
counters come from the ``Service`` and ``ComponentService`` objects: the state
their own threads wrote (PARKED is read from the rings' waiting flags, never
written), the cause of the last trap or failure, restarts, traps by cause and
the size of the guest's memory, the CPU time of the service's own thread
(``threadcpu.py``) and its last traps in full. Fuel burnt is what the service's epoch
callback counted at its last tick (``Watchdog.fuel_used``, only with a fuel
budget): wasmtime's ``Store.get_fuel`` is only safe on the service's own
thread, so the host never reads the store itself. A snapshot is plain data
(``to_json``), so the same rendering serves a mesh in this process and one
behind a control endpoint. Every amount is in base units: bytes, nanoseconds,
bytes per second; views format them (``units.py``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..bridge.webstate import web_of
from ..errors import GuestTrap
from ..mesh import FanIn, Mesh, Tunnel
from ..ring import layout as L
from ..ring.stats import TunnelStats
from ..runtime.service import Service
from ..web.stats import routes_of
from .latency import BUCKET_BOUNDS_NS, LatencySampler
from .portcalls import port_rates, port_rows
from .threadcpu import thread_cpu_seconds

if TYPE_CHECKING:
    from ..component.service import ComponentService


@dataclass(frozen=True)
class ServiceSnapshot:
    name: str
    state: str
    restarts: int
    traps: dict[str, int]  # cause -> count
    memory_bytes: int | None
    exit_code: int | None
    fuel_used: int | None = None  # with a fuel budget: counted at each tick
    kind: str = "module"  # or "component"
    cause: str | None = None  # why it last trapped or failed
    transitions: dict[str, int] = field(default_factory=dict)  # event -> count, from the bus
    # the messages its supervisor moved aside (the last few): tunnel, sequence, where to
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    cpu_seconds: float | None = None  # its thread's CPU time; None before start, once ended
    # its last few traps in full: cause, message, frames (module, function, offset)
    last_traps: list[dict[str, Any]] = field(default_factory=list)
    bell_parks: int | None = None  # parks on its bell line if it waits on many ends (wait_any)
    upgrades: int = 0  # hot upgrades asked (Mesh.upgrade), kept or not
    last_upgrade: str | None = None  # the last one's result: "kept: ...", "refused: ..."


@dataclass(frozen=True)
class TunnelSnapshot:
    name: str
    writer: str | None
    reader: str | None
    slots: int
    max_payload: int
    sent: int
    received: int
    bytes_in: int
    bytes_out: int
    times_full: int
    times_empty: int
    writer_parks: int
    reader_parks: int
    writer_wakes: int
    reader_wakes: int
    fill: int
    closed: bool
    quarantine: int  # 0 healthy, else a layout.Quarantine code (named by quarantine_reason)
    tap: bool
    broken: int = 0  # 0 intact, else why its other end's service is gone (layout.Broken)
    dead_letters: int = 0  # messages moved aside at the reader's committed tail
    latency_samples: int = 0
    p50_ns: int | None = None
    p99_ns: int | None = None
    latency_sum_ns: int = 0
    latency_buckets: list[int] = field(default_factory=list)  # at most each bound, cumulative
    quarantine_reason: str | None = None  # QUARANTINE_REASONS[quarantine]
    broken_reason: str | None = None  # BROKEN_REASONS[broken]
    # a pub-sub tunnel: each held line (line, owner, policy, received, lag, missed)
    subscribers: list[dict[str, Any]] = field(default_factory=list)
    # a fan-in tunnel: each writer's own ring, {"writer", "sent", "received", "closed"}
    writers: list[dict[str, Any]] = field(default_factory=list)
    # filled by ``with_rates`` from the previous snapshot
    msgs_per_s: float = 0.0
    bytes_per_s: float = 0.0


QUARANTINE_REASONS = {L.Quarantine.BAD_HEADER: "bad_header", L.Quarantine.BAD_COUNTERS:
                      "bad_counters", L.Quarantine.BAD_LENGTH: "bad_length"}
BROKEN_REASONS = {L.Broken.TRAPPED: "trapped", L.Broken.FAILED: "failed"}


def reason(names: dict[int, str], code: int) -> str | None:
    """The name of a nonzero code (``code N`` for one this version does not know)."""
    return None if code == 0 else names.get(code, f"code {code}")


@dataclass(frozen=True)
class MeshSnapshot:
    time_ns: int  # monotonic: differences only
    services: list[ServiceSnapshot] = field(default_factory=list)
    tunnels: list[TunnelSnapshot] = field(default_factory=list)
    name: str = "nanonet"  # the mesh's name (the observer's; spans' service.name)
    ended: bool = False  # True in the last snapshot, taken as the observer closes
    uptime_s: float | None = None  # since the mesh started; None before
    latency_bounds_ns: list[int] = field(default_factory=lambda: list(BUCKET_BOUNDS_NS))
    # request/reply ports: PortStats as plain data (calls, in flight, timeouts, late...),
    # with the host clients' call latency and calls/s (portcalls.py)
    ports: list[dict[str, Any]] = field(default_factory=list)
    # HTTP ingress routes (web/stats.py): requests, per status code, latency buckets, p50
    http: list[dict[str, Any]] = field(default_factory=list)
    # bridged tunnels' links: bridge.linkstats.LinkStats as plain data (state, RTT, ...)
    links: list[dict[str, Any]] = field(default_factory=list)
    # browser tabs (bridge/webstate.py): the [web] lease, tabs joined, leases running
    web: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _memory(svc: Service) -> int | None:
    """The guest memory's size; None while a restart swaps its store."""
    try:
        return svc.memory_bytes()
    except Exception:  # a store being replaced mid-read: report nothing this time
        return None


Counts = dict[str, dict[str, int]]  # service -> lifecycle event -> how many


SHOWN_TRAPS = 5  # the last traps of a service a snapshot carries in full


def trap_detail(trap: GuestTrap) -> dict[str, Any]:
    """One trap as plain data: why, and where in the guest (innermost frame first)."""
    return {"cause": trap.cause, "message": trap.message,
            "frames": [asdict(f) for f in trap.frames]}


def service_snapshot(svc: Service, counts: Counts | None = None) -> ServiceSnapshot:
    causes = svc.trap_counts
    metered = svc.spec.policy.limits.fuel_per_tick is not None
    return ServiceSnapshot(svc.name, svc.observed_state().value, svc.restarts, causes,
                           _memory(svc), svc.exit_code,
                           svc.watchdog.fuel_used if metered else None, cause=svc.cause,
                           transitions=dict((counts or {}).get(svc.name, {})),
                           dead_letters=[asdict(r) for r in svc.dead_letters],
                           cpu_seconds=thread_cpu_seconds(svc.thread),
                           last_traps=[trap_detail(t) for t in svc.traps[-SHOWN_TRAPS:]])


def component_snapshot(comp: ComponentService, counts: Counts | None = None) -> ServiceSnapshot:
    return ServiceSnapshot(comp.name, comp.state.value, comp.restarts, {}, None, None,
                           kind="component", cause=comp.cause,
                           transitions=dict((counts or {}).get(comp.name, {})),
                           cpu_seconds=thread_cpu_seconds(comp.thread))


def tunnel_snapshot(mesh: Mesh, name: str, sampler: LatencySampler | None) -> TunnelSnapshot:
    t = mesh.tunnels[name]
    s = t.statistics()
    lat: dict[str, Any] = {}
    if sampler is not None and sampler.samples:
        lat = dict(latency_samples=sampler.samples, p50_ns=sampler.percentile(50.0),
                   p99_ns=sampler.percentile(99.0), latency_sum_ns=sampler.sum_ns,
                   latency_buckets=sampler.buckets())
    # the ring's counters as TunnelStats reads them, flattened, plus what only the mesh knows
    fan = [{"writer": w, "sent": p.sent, "received": p.received, "closed": p.closed}
           for w, p in t.per_writer()] if isinstance(t, FanIn) else []
    writer = ", ".join(t.writers) if isinstance(t, FanIn) else t.writer
    # a fan-in reader holds every sub-ring: the first one's reader is the tunnel's
    reader = t.parts[0].reader if isinstance(t, FanIn) and t.parts else t.reader
    return TunnelSnapshot(name=name, writer=writer, reader=reader, writers=fan,
                          max_payload=t.geometry.max_payload, fill=s.fill,
                          tap=t.ring.u32(L.OFF_TAP_MODE) != 0,
                          quarantine_reason=reason(QUARANTINE_REASONS, s.quarantine),
                          broken_reason=reason(BROKEN_REASONS, s.broken),
                          **{**asdict(s), "subscribers": _subscribers(t, s)}, **lat)


def _subscribers(t: Tunnel, s: TunnelStats) -> list[dict[str, Any]]:
    """Each subscriber line's counters, with who holds it (the mesh knows that)."""
    owners = {} if t.lines is None else {k: who for k, (who, _) in t.lines.holders.items()}
    return [{**asdict(sub), "owner": owners.get(sub.line)} for sub in s.subscribers]


def take(mesh: Mesh, samplers: dict[str, LatencySampler] | None = None,
         counts: Counts | None = None, name: str = "nanonet") -> MeshSnapshot:
    """Every service's and tunnel's counters now (``counts``: lifecycle events
    counted from the supervisor's bus)."""
    samplers = samplers or {}
    return MeshSnapshot(
        time.monotonic_ns(),
        [*(_with_patterns(mesh, service_snapshot(s, counts))
           for s in list(mesh.services.values())),
         *(component_snapshot(c, counts) for c in list(mesh.components.values()))],
        [tunnel_snapshot(mesh, n, samplers.get(n)) for n in list(mesh.tunnels)], name,
        uptime_s=_uptime(mesh),
        ports=port_rows(mesh), http=routes_of(mesh), links=mesh.link_statistics(),
        web=web_of(mesh))


def _with_patterns(mesh: Mesh, snap: ServiceSnapshot) -> ServiceSnapshot:
    """What the mesh knows of a service beyond its own object: bell parks, upgrades."""
    record = mesh.upgrades.record(snap.name)
    return replace(snap, bell_parks=mesh.bells.parks(snap.name), upgrades=record.count,
                   last_upgrade=record.last)


def _uptime(mesh: Mesh) -> float | None:
    started = mesh.started_ns
    return None if started is None else (time.monotonic_ns() - started) / 1e9


def with_rates(cur: MeshSnapshot, prev: MeshSnapshot | None) -> MeshSnapshot:
    """``cur`` with messages/s and bytes/s since ``prev`` (received side)."""
    if prev is None or cur.time_ns <= prev.time_ns:
        return cur
    seconds = (cur.time_ns - prev.time_ns) / 1e9
    before = {t.name: t for t in prev.tunnels}
    tunnels = []
    for t in cur.tunnels:
        p = before.get(t.name)
        if p is None:
            tunnels.append(t)
            continue
        msgs = max(0, t.received - p.received) / seconds
        rate = max(0, t.bytes_out - p.bytes_out) / seconds
        tunnels.append(replace(t, msgs_per_s=msgs, bytes_per_s=rate))
    return replace(cur, tunnels=tunnels, ports=port_rates(cur.ports, prev.ports, seconds))

