"""Prometheus metrics: a custom collector that reads the mesh's snapshots.

Nothing is counted twice: the data plane already counts in the ring headers,
and the collector only turns one snapshot into metric families when scraped.
Families are ``nanonet_tunnel_*`` (label ``tunnel``, and ``side`` for the
writer/reader pairs) and ``nanonet_service_*`` (label ``service``; module and
component services alike). ``nanonet_service_transitions`` counts lifecycle
events as the supervisor's bus delivered them, so a state held for less than
a scrape still counts. Latency is a real histogram (``_bucket{le}``, ``_sum``,
``_count``) made from the HDR histogram's counts; ``nanonet_build_info`` and
``nanonet_tunnel_info`` (writer and reader of each tunnel) are there to join
on. Amounts are in base units (bytes, seconds). ``exposition`` renders the
Prometheus text format or OpenMetrics, as the scraper's ``Accept`` asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from ..runtime.lifecycle import State
from ..version import __version__
from .httpmetrics import http_families
from .latency import BUCKET_BOUNDS_NS
from .snapshot import BROKEN_REASONS, QUARANTINE_REASONS, MeshSnapshot, TunnelSnapshot

_T_COUNTERS = (
    ("sent_messages", "messages published by the writer", "sent"),
    ("received_messages", "messages committed by the reader", "received"),
    ("sent_bytes", "payload bytes published", "bytes_in"),
    ("received_bytes", "payload bytes consumed", "bytes_out"),
    ("full", "times the writer found the ring full", "times_full"),
    ("empty", "times the reader found the ring empty", "times_empty"),
)
_T_SIDES = (("parks", "times a side parked", "writer_parks", "reader_parks"),
            ("wakes", "notifies a side sent to a parked peer", "writer_wakes", "reader_wakes"))


_P_COUNTERS = (
    ("calls", "requests posted by the port's callers"),
    ("taken", "requests the server took (a requeued one again)"),
    ("replied", "replies delivered"),
    ("timeouts", "calls abandoned at their deadline"),
    ("late", "replies dropped: their caller had given up"),
    ("refused", "requests refused for a length out of range"),
    ("requeued", "taken requests posted again after a server trap"),
)


def _port_families(ports: list[dict[str, Any]]) -> Iterator[Metric]:
    """Request/reply ports, label ``port``: counters, and the calls in flight."""
    for name, doc in _P_COUNTERS:
        fam = CounterMetricFamily(f"nanonet_port_{name}", doc, labels=["port"])
        for p in ports:
            fam.add_metric([p["name"]], p[name])
        yield fam
    gauge = GaugeMetricFamily("nanonet_port_in_flight", "calls posted or taken now",
                              labels=["port"])
    for p in ports:
        gauge.add_metric([p["name"]], p["in_flight"])
    yield gauge
    for pct in ("p50", "p99"):
        call = GaugeMetricFamily(f"nanonet_port_call_{pct}_seconds",
                                 f"{pct} of the round trips the port's host clients timed",
                                 labels=["port"])
        for p in ports:
            if p.get(f"call_{pct}_ns") is not None:
                call.add_metric([p["name"]], p[f"call_{pct}_ns"] / 1e9)
        yield call


def _pattern_families(snap: MeshSnapshot) -> Iterator[Metric]:
    """Per service: hot upgrades asked, and (one that waits on many ends) its bell parks."""
    upgrades = CounterMetricFamily("nanonet_service_upgrades",
                                   "hot upgrades asked (Mesh.upgrade), kept or not",
                                   labels=["service"])
    bells = CounterMetricFamily("nanonet_service_bell_parks",
                                "parks on its bell line (a service waiting on many ends)",
                                labels=["service"])
    for s in snap.services:
        upgrades.add_metric([s.name], s.upgrades)
        if s.bell_parks is not None:
            bells.add_metric([s.name], s.bell_parks)
    yield from (upgrades, bells)


_L_COUNTERS = (
    ("retransmits", "messages a bridge sent again after a loss"),
    ("reconnects", "sessions a bridge began again (lost link, protocol error, dial)"),
    ("duplicates", "messages a bridge's receiver dropped as already had"),
    ("missed", "messages a bridge's receiver gave up as lost (a datagram tunnel over QUIC)"),
    ("bytes_sent", "bytes a bridge put on its link"),
    ("bytes_received", "bytes a bridge took from its link"),
    ("nats_reconnects", "reconnects of the NATS client a link runs on (0 off NATS)"),
)
_L_LABELS = ["tunnel", "side", "transport"]


def _link_families(links: list[dict[str, Any]]) -> Iterator[Metric]:
    """Bridged tunnels' links, labels ``tunnel``, ``side``, ``transport``."""
    for name, doc in _L_COUNTERS:
        fam = CounterMetricFamily(f"nanonet_link_{name}", doc, labels=_L_LABELS)
        for k in links:
            fam.add_metric([k["tunnel"], k["side"], k["transport"]], k[name])
        yield fam
    up = GaugeMetricFamily("nanonet_link_open", "1 if the link's session is open",
                           labels=_L_LABELS)
    flight = GaugeMetricFamily("nanonet_link_in_flight", "messages sent, not yet acknowledged",
                               labels=_L_LABELS)
    rtt = GaugeMetricFamily("nanonet_link_rtt_seconds", "the last PING to PONG round trip",
                            labels=_L_LABELS)
    info = GaugeMetricFamily("nanonet_link_info", "1 per link: its session's state and the "
                             "tunnel's far end (node, service)",
                             labels=[*_L_LABELS, "state", "far_node", "far_service"])
    for k in links:
        labels = [k["tunnel"], k["side"], k["transport"]]
        up.add_metric(labels, float(k["state"] == "open"))
        flight.add_metric(labels, k["in_flight"])
        if k["rtt_s"] is not None:
            rtt.add_metric(labels, k["rtt_s"])
        info.add_metric([*labels, k["state"], k.get("far_node") or "",
                         k.get("far_service") or ""], 1.0)
    yield from (up, flight, rtt, info)


def _tunnel_families(tunnels: list[TunnelSnapshot]) -> Iterator[Metric]:
    for name, doc, attr in _T_COUNTERS:
        fam = CounterMetricFamily(f"nanonet_tunnel_{name}", doc, labels=["tunnel"])
        for t in tunnels:
            fam.add_metric([t.name], getattr(t, attr))
        yield fam
    for name, doc, w, r in _T_SIDES:
        fam = CounterMetricFamily(f"nanonet_tunnel_{name}", doc, labels=["tunnel", "side"])
        for t in tunnels:
            fam.add_metric([t.name, "writer"], getattr(t, w))
            fam.add_metric([t.name, "reader"], getattr(t, r))
        yield fam
    yield from _tunnel_gauges(tunnels)


def _tunnel_gauges(tunnels: list[TunnelSnapshot]) -> Iterator[Metric]:
    for name, doc, get in (("fill", "messages in the ring now", lambda t: t.fill),
                           ("slots", "slots in the ring", lambda t: t.slots),
                           ("closed", "1 once the tunnel is closed", lambda t: int(t.closed)),
                           ("tap", "1 while a tap is attached", lambda t: int(t.tap))):
        fam = GaugeMetricFamily(f"nanonet_tunnel_{name}", doc, labels=["tunnel"])
        for t in tunnels:
            fam.add_metric([t.name], get(t))
        yield fam
    yield _reasons("quarantined", "1 for why the ring was quarantined (a check it failed)",
                   tunnels, QUARANTINE_REASONS, lambda t: t.quarantine_reason)
    yield _reasons("broken", "1 for why the service at one end is gone for good",
                   tunnels, BROKEN_REASONS, lambda t: t.broken_reason)
    info = InfoMetricFamily("nanonet_tunnel", "who holds each end (empty: nobody yet)",
                            labels=["tunnel"])
    for t in tunnels:
        info.add_metric([t.name], {"writer": t.writer or "", "reader": t.reader or ""})
    yield info
    yield _latency(tunnels)
    yield from _subscriber_gauges(tunnels)


def _subscriber_gauges(tunnels: list[TunnelSnapshot]) -> Iterator[Metric]:
    """Per subscriber of a pub-sub tunnel: how far behind it is and what it missed."""
    labels = ["tunnel", "line", "subscriber", "policy"]
    lag = GaugeMetricFamily("nanonet_subscriber_lag_messages",
                            "messages published that the subscriber has not consumed",
                            labels=labels)
    missed = CounterMetricFamily("nanonet_subscriber_missed_messages",
                                 "messages a lossy subscriber lost to the writer lapping it",
                                 labels=labels)
    for t in tunnels:
        for sub in t.subscribers:
            key = [t.name, str(sub["line"]), sub.get("owner") or "", sub["policy"]]
            lag.add_metric(key, sub["lag"])
            missed.add_metric(key, sub["missed"])
    yield lag
    yield missed


def _reasons(name: str, doc: str, tunnels: list[TunnelSnapshot], names: dict[int, str],
             get: Callable[[TunnelSnapshot], str | None]) -> Metric:
    """One series per tunnel and known reason, 1 for the one that holds (like a state set)."""
    fam = GaugeMetricFamily(f"nanonet_tunnel_{name}", doc, labels=["tunnel", "reason"])
    for t in tunnels:
        now = get(t)
        whys = list(names.values())
        if now is not None and now not in whys:  # a code this version does not know
            whys.append(now)
        for why in whys:
            fam.add_metric([t.name, why], int(why == now))
    return fam


def _latency(tunnels: list[TunnelSnapshot]) -> Metric:
    """Writer-to-reader latency of sampled messages, from each tunnel's HDR counts."""
    fam = HistogramMetricFamily("nanonet_tunnel_latency_seconds",
                                "writer-to-reader latency of sampled messages",
                                labels=["tunnel"], unit="seconds")
    for t in tunnels:
        if not t.latency_samples:
            continue  # a tunnel's histogram appears with its first sample
        buckets = [(_le(b), float(n)) for b, n in zip(BUCKET_BOUNDS_NS, t.latency_buckets,
                                                       strict=True)]
        fam.add_metric([t.name], [*buckets, ("+Inf", float(t.latency_samples))],
                       t.latency_sum_ns / 1e9)
    return fam


def _le(bound_ns: int) -> str:
    """A bucket bound in seconds, written the shortest way that reads back exactly."""
    return repr(bound_ns / 1e9)


def _service_families(snap: MeshSnapshot) -> Iterator[Metric]:
    state = GaugeMetricFamily("nanonet_service_state", "1 for the state the service is in",
                              labels=["service", "state"])
    restarts = CounterMetricFamily("nanonet_service_restarts", "restarts after a trap",
                                   labels=["service"])
    traps = CounterMetricFamily("nanonet_service_traps", "traps by cause",
                                labels=["service", "cause"])
    memory = GaugeMetricFamily("nanonet_service_memory_bytes",
                               "bytes the service holds: memories and tables", labels=["service"])
    fuel = CounterMetricFamily("nanonet_service_fuel_used", "fuel burnt (services with a budget)",
                               labels=["service"])
    moves = CounterMetricFamily("nanonet_service_transitions",
                                "lifecycle events, from the supervisor's event bus",
                                labels=["service", "event"])
    for s in snap.services:
        if s.fuel_used is not None:
            fuel.add_metric([s.name], s.fuel_used)
        for st in State:
            state.add_metric([s.name, st.value], int(s.state == st.value))
        restarts.add_metric([s.name], s.restarts)
        for cause, n in s.traps.items():
            traps.add_metric([s.name, cause], n)
        if s.memory_bytes is not None:
            memory.add_metric([s.name], s.memory_bytes)
        for event, n in s.transitions.items():
            moves.add_metric([s.name, event], n)
    yield from (state, restarts, traps, memory, fuel, moves)


def _build_info() -> Metric:
    info = InfoMetricFamily("nanonet_build", "the nanonet and wasmtime-py versions serving")
    try:
        wasmtime = version("wasmtime")
    except PackageNotFoundError:  # a wasmtime not installed as a distribution
        wasmtime = "unknown"
    info.add_metric([], {"version": __version__, "wasmtime": wasmtime})
    return info


class MeshCollector(Collector):
    """Yields the families of whatever snapshot ``source`` returns at scrape time."""

    def __init__(self, source: Callable[[], MeshSnapshot]) -> None:
        self.source = source
        self._build = _build_info()

    def collect(self) -> Iterator[Metric]:
        snap = self.source()
        yield self._build
        yield from _tunnel_families(snap.tunnels)
        yield from _service_families(snap)
        yield from _port_families(snap.ports)
        yield from _pattern_families(snap)
        yield from http_families(snap.http)
        yield from _link_families(snap.links)


def registry(source: Callable[[], MeshSnapshot]) -> CollectorRegistry:
    """A registry of its own (not the global one): one per observed mesh."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MeshCollector(source))
    return reg


def exposition(reg: CollectorRegistry, accept: str | None) -> tuple[bytes, str]:
    """The body and content type ``accept`` asks for: OpenMetrics (ending in
    ``# EOF``) for ``application/openmetrics-text``, else the Prometheus text
    format 0.0.4."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(reg), content_type
