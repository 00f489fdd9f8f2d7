"""Each port's row of a snapshot: its counters, the round trips its host clients
timed, and (filled by ``port_rates``) calls per second.

A host client times every call it makes (``PortClient.latencies_ns``, the
last few thousand); the percentiles here are over those of every host client
of the port. A call from one Wasm service to another is not timed (the
adapter would need a clock read per call): a port only Wasm services call
shows ``null`` latencies.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from ..mesh import Mesh

# what a snapshot's port row carries beyond ring.port.PortStats
EXTRA_FIELDS = ("timed_calls", "call_p50_ns", "call_p99_ns", "calls_per_s")


def percentile(sorted_ns: list[int], pct: float) -> int | None:
    """The nearest-rank percentile of sorted round trips; None with none."""
    if not sorted_ns:
        return None
    rank = max(1, math.ceil(len(sorted_ns) * pct / 100))
    return sorted_ns[min(rank, len(sorted_ns)) - 1]


def _timed(mesh: Mesh, port: str) -> list[int]:
    clients = list(mesh.port_clients.get(port, []))
    return sorted(ns for c in clients for ns in list(c.latencies_ns))


def port_rows(mesh: Mesh) -> list[dict[str, Any]]:
    """Every port's counters and its host clients' call latency (p50, p99)."""
    rows = []
    for name, stats in mesh.port_statistics().items():
        timed = _timed(mesh, name)
        rows.append({**asdict(stats), "timed_calls": len(timed),
                     "call_p50_ns": percentile(timed, 50.0),
                     "call_p99_ns": percentile(timed, 99.0), "calls_per_s": 0.0})
    return rows


def port_rates(cur: list[dict[str, Any]], prev: list[dict[str, Any]],
               seconds: float) -> list[dict[str, Any]]:
    """``cur`` with calls per second (posted) since ``prev``."""
    before = {p["name"]: p["calls"] for p in prev}
    return [{**p, "calls_per_s": max(0, p["calls"] - before[p["name"]]) / seconds}
            if p["name"] in before else p for p in cur]
