"""Prometheus metrics: a custom collector that reads the mesh's snapshots.

Nothing is counted twice: the data plane already counts in the ring headers,
and the collector only turns one snapshot into metric families when scraped.
Families are ``nanonet_tunnel_*`` (label ``tunnel``, and ``side`` for the
writer/reader pairs) and ``nanonet_service_*`` (label ``service``; module and
component services alike). ``nanonet_service_transitions`` counts lifecycle
events as the supervisor's bus delivered them, so a state held for less than
a scrape still counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from ..runtime.lifecycle import State
from .snapshot import MeshSnapshot, TunnelSnapshot

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
                           ("quarantine", "quarantine reason, 0 if healthy",
                            lambda t: t.quarantine),
                           ("tap", "1 while a tap is attached", lambda t: int(t.tap))):
        fam = GaugeMetricFamily(f"nanonet_tunnel_{name}", doc, labels=["tunnel"])
        for t in tunnels:
            fam.add_metric([t.name], get(t))
        yield fam
    lat = GaugeMetricFamily("nanonet_tunnel_latency_seconds",
                            "writer-to-reader latency of sampled messages, by quantile",
                            labels=["tunnel", "quantile"])
    samples = CounterMetricFamily("nanonet_tunnel_latency_samples", "latency samples taken",
                                  labels=["tunnel"])
    for t in tunnels:
        samples.add_metric([t.name], t.latency_samples)
        for q, v in (("0.5", t.p50_ns), ("0.99", t.p99_ns)):
            if v is not None:
                lat.add_metric([t.name, q], v / 1e9)
    yield from (lat, samples)


def _service_families(snap: MeshSnapshot) -> Iterator[Metric]:
    state = GaugeMetricFamily("nanonet_service_state", "1 for the state the service is in",
                              labels=["service", "state"])
    restarts = CounterMetricFamily("nanonet_service_restarts", "restarts after a trap",
                                   labels=["service"])
    traps = CounterMetricFamily("nanonet_service_traps", "traps by cause",
                                labels=["service", "cause"])
    memory = GaugeMetricFamily("nanonet_service_memory_bytes", "the guest's linear memory",
                               labels=["service"])
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


class MeshCollector(Collector):
    """Yields the families of whatever snapshot ``source`` returns at scrape time."""

    def __init__(self, source: Callable[[], MeshSnapshot]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        snap = self.source()
        yield from _tunnel_families(snap.tunnels)
        yield from _service_families(snap)


def registry(source: Callable[[], MeshSnapshot]) -> CollectorRegistry:
    """A registry of its own (not the global one): one per observed mesh."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(MeshCollector(source))
    return reg
