"""Per-route request counters and latency histograms, for /metrics and the snapshot.

The ingress records here; the observer reads ``routes_of(mesh)`` when it
takes a snapshot. The registry is keyed by the mesh weakly, so the
observer needs no handle on the server and a stopped mesh takes its
counters along.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

# upper bounds in seconds (Prometheus' defaults, with finer steps below 5 ms)
BOUNDS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
            0.5, 1.0, 2.5, 5.0, 10.0)
UNROUTED = "(no route)"


@dataclass
class RouteStats:
    """One route's requests: how many, per status code, and how long they took."""

    route: str
    port: str  # or the component's name on a component route
    requests: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_S) + 1))
    seconds: float = 0.0  # the sum of every request's latency
    streamed_bytes: int = 0  # body bytes in body-part calls and response parts (stream routes)
    component: bool = False  # ``port`` names a component service (docs/http.md)

    def record(self, status: int, seconds: float) -> None:
        self.requests += 1
        self.codes[status] = self.codes.get(status, 0) + 1
        self.buckets[bisect.bisect_left(BOUNDS_S, seconds)] += 1
        self.seconds += seconds

    def p50_s(self) -> float | None:
        """The bucket bound under which half the requests finished (None: none yet)."""
        return self.quantile_s(0.5)

    def quantile_s(self, q: float) -> float | None:
        """The bucket bound under which a share ``q`` of the requests finished."""
        if not self.requests:
            return None
        seen = 0
        for i, n in enumerate(self.buckets):
            seen += n
            if seen >= q * self.requests:
                return BOUNDS_S[i] if i < len(BOUNDS_S) else float("inf")
        return None  # unreachable: the buckets sum to requests

    def as_dict(self) -> dict[str, Any]:
        return {"route": self.route, "port": self.port, "component": self.component,
                "requests": self.requests,
                "codes": {str(k): v for k, v in sorted(self.codes.items())},
                "buckets": list(self.buckets), "bounds_s": list(BOUNDS_S),
                "seconds": self.seconds, "streamed_bytes": self.streamed_bytes,
                "p50_s": _finite(self.p50_s()),
                "p99_s": _finite(self.quantile_s(0.99))}


def _finite(seconds: float | None) -> float | None:
    """JSON has no infinity (a browser's ``JSON.parse`` refuses Python's ``Infinity``):
    a quantile past the last bucket is written as null, which beside a non-zero
    ``requests`` means "over the last bound"."""
    return None if seconds == float("inf") else seconds


class IngressStats:
    """Every route's stats, and the unrouted requests' (404s, 400s before a route)."""

    def __init__(self, routes: list[tuple[str, str, bool]]) -> None:
        """``routes``: each route's pattern, its port (or component) and whether a
        component serves it."""
        self._lock = threading.Lock()
        self.routes = {r: RouteStats(r, p, component=c)
                       for r, p, c in [*routes, (UNROUTED, "", False)]}

    def record(self, route: str | None, status: int, seconds: float) -> None:
        with self._lock:
            self.routes[route or UNROUTED].record(status, seconds)

    def stream(self, route: str, n: int) -> None:
        """``n`` more body bytes crossed in parts on a stream route."""
        with self._lock:
            self.routes[route].streamed_bytes += n

    def as_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.as_dict() for s in self.routes.values()]


_REGISTRY: weakref.WeakKeyDictionary[object, IngressStats] = weakref.WeakKeyDictionary()


def register(mesh: object, stats: IngressStats) -> None:
    _REGISTRY[mesh] = stats


def routes_of(mesh: object) -> list[dict[str, Any]]:
    """The HTTP routes' stats of ``mesh`` as plain data; [] when it has no ingress."""
    stats = _REGISTRY.get(mesh)
    return [] if stats is None else stats.as_list()
