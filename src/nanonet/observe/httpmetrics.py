"""The HTTP ingress's routes as Prometheus families (``/metrics``).

``nanonet_http_requests_total{route, port, code}`` counts answered requests
by status code; ``nanonet_http_request_seconds{route}`` is each route's
latency histogram (from the head read to the response made). Requests
that matched no route are counted under ``route="(no route)"``.
``nanonet_http_streamed_bytes_total{route, port}`` counts the body bytes a
stream route carried in parts (only routes that carried some).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric


def http_families(routes: list[dict[str, Any]]) -> Iterator[Metric]:
    count = CounterMetricFamily("nanonet_http_requests", "HTTP requests answered, by status "
                                "code", labels=["route", "port", "code"])
    for r in routes:
        for code, n in r["codes"].items():
            count.add_metric([r["route"], r["port"], code], n)
    yield count
    hist = HistogramMetricFamily("nanonet_http_request_seconds", "HTTP request latency, head "
                                 "read to response made", labels=["route"])
    for r in routes:
        bounds = [f"{b:g}" for b in r["bounds_s"]] + ["+Inf"]
        cumulative = list(itertools.accumulate(r["buckets"]))
        hist.add_metric([r["route"]], list(zip(bounds, cumulative, strict=True)),
                        sum_value=r["seconds"])
    yield hist
    streamed = CounterMetricFamily("nanonet_http_streamed_bytes", "body bytes a stream "
                                   "route carried in parts", labels=["route", "port"])
    for r in routes:
        if r.get("streamed_bytes"):
            streamed.add_metric([r["route"], r["port"]], r["streamed_bytes"])
    yield streamed
