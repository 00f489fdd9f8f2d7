"""OpenTelemetry spans for service lifecycles and sampled messages.

The runtime has no lifecycle hook (yet), so the tracer compares successive
snapshots: a service seen running opens a span named after it; each new trap
and each restart is a child span; reaching STOPPED or FAILED ends it. A state
held for less than one poll (250 ms) can be missed, traps and restarts cannot
(they are counted). Each new latency sample becomes a ``message`` span whose
duration is the measured latency, ending when the host saw it.
"""

from __future__ import annotations

import sys
import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from ..errors import InvalidValue, MissingTool
from .snapshot import MeshSnapshot, ServiceSnapshot

ENDED = ("stopped", "failed")
LIVE = ("running", "parked", "trapped", "restarting")
EXPORTERS = ("none", "console", "otlp")


def _otlp() -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        raise MissingTool("OTLP export needs opentelemetry-exporter-otlp-proto-http: "
                          "pip install it, or choose --traces console") from None
    exporter: SpanExporter = OTLPSpanExporter()
    return exporter


def provider(exporter: str | SpanExporter = "none") -> TracerProvider:
    """A tracer provider exporting to ``console``, ``otlp``, ``none`` or an exporter."""
    prov = TracerProvider()
    if isinstance(exporter, SpanExporter):
        prov.add_span_processor(SimpleSpanProcessor(exporter))
    elif exporter == "console":
        prov.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif exporter == "otlp":
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        prov.add_span_processor(BatchSpanProcessor(_otlp()))
    elif exporter != "none":
        raise InvalidValue(f"unknown trace exporter {exporter!r}: choose from {EXPORTERS}")
    return prov


class LifecycleTracer:
    """Turns changes between snapshots into spans."""

    def __init__(self, prov: trace.TracerProvider) -> None:
        self.tracer = prov.get_tracer("nanonet")
        self._open: dict[str, Span] = {}
        self._seen: dict[str, ServiceSnapshot] = {}

    def update(self, snap: MeshSnapshot) -> None:
        for svc in snap.services:
            self._service(svc, self._seen.get(svc.name))
            self._seen[svc.name] = svc

    def _service(self, svc: ServiceSnapshot, before: ServiceSnapshot | None) -> None:
        span = self._open.get(svc.name)
        if span is None and svc.state in LIVE and (before is None or before.state not in LIVE):
            span = self._open[svc.name] = self.tracer.start_span(
                f"service {svc.name}", attributes={"nanonet.service": svc.name})
            span.add_event("start")
        if span is None:
            return
        self._children(span, svc, before)
        if svc.state in ENDED:
            if svc.state == "failed":
                span.set_status(Status(StatusCode.ERROR, "out of restarts"))
            span.set_attribute("nanonet.final_state", svc.state)
            span.end()
            del self._open[svc.name]

    def _children(self, parent: Span, svc: ServiceSnapshot, before: ServiceSnapshot | None) -> None:
        ctx = trace.set_span_in_context(parent)
        old = before.traps if before else {}
        for cause, n in svc.traps.items():
            for _ in range(n - old.get(cause, 0)):
                with self.tracer.start_as_current_span("trap", context=ctx) as s:
                    s.set_attribute("nanonet.trap.cause", cause)
                    s.set_status(Status(StatusCode.ERROR, cause))
        for i in range(before.restarts if before else 0, svc.restarts):
            with self.tracer.start_as_current_span("restart", context=ctx) as s:
                s.set_attribute("nanonet.restart", i + 1)

    def message(self, tunnel: str, counter: int, latency_ns: int) -> None:
        """One sampled message: a span as long as its measured latency."""
        end = time.time_ns()
        span = self.tracer.start_span(f"message {tunnel}", start_time=end - latency_ns,
                                      attributes={"nanonet.tunnel": tunnel,
                                                  "nanonet.message": counter,
                                                  "nanonet.latency_ns": latency_ns})
        span.end(end_time=end)

    def close(self) -> None:
        for span in self._open.values():
            span.end()
        self._open.clear()
