"""OpenTelemetry spans for service lifecycles and sampled messages.

The tracer subscribes to the supervisor's lifecycle events
(``runtime/supervisor.py``): a service's START opens a span named after it,
each TRAP and each RESTART is a child span, and reaching STOPPED or FAILED
ends it, each at the time the transition happened. Nothing is polled, so a
service that starts and returns at once still leaves its span. Each new
latency sample becomes a ``message`` span whose duration is the measured
latency, ending when the host saw it.

Every span's resource names the mesh: ``service.name`` is the mesh's name
(``Observer(name=...)``; ``nanonet run`` uses the manifest's) and
``service.version`` nanonet's version, so a trace backend files a mesh's
spans under it, not under ``unknown_service:python``.
"""

from __future__ import annotations

import sys
import threading
import time

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from ..errors import InvalidValue, MissingTool
from ..runtime.lifecycle import ENDED, Event, State
from ..runtime.supervisor import Transition
from ..version import __version__

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


def mesh_resource(mesh_name: str) -> Resource:
    """The resource of a mesh's spans (with what ``OTEL_RESOURCE_ATTRIBUTES`` adds)."""
    return Resource.create({SERVICE_NAME: mesh_name, SERVICE_VERSION: __version__})


def provider(exporter: str | SpanExporter = "none", mesh_name: str = "nanonet") -> TracerProvider:
    """A tracer provider for the mesh ``mesh_name``, exporting to ``console``,
    ``otlp``, ``none`` or an exporter."""
    prov = TracerProvider(resource=mesh_resource(mesh_name))
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
    """Turns lifecycle events into spans (``on_event`` is a bus subscriber)."""

    def __init__(self, prov: trace.TracerProvider) -> None:
        self.tracer = prov.get_tracer("nanonet", __version__)
        self._open: dict[str, Span] = {}
        self._restarts: dict[str, int] = {}
        self._lock = threading.Lock()

    def on_event(self, ev: Transition) -> None:
        with self._lock:
            span = self._open.get(ev.service)
            if ev.event is Event.START:
                span = self._open[ev.service] = self.tracer.start_span(
                    f"service {ev.service}", attributes={"nanonet.service": ev.service},
                    start_time=ev.wall_ns)
                span.add_event("start", timestamp=ev.wall_ns)
            if span is None:
                return
            self._child(span, ev)
            if ev.to_state in ENDED:
                self._end(span, ev)

    def _child(self, parent: Span, ev: Transition) -> None:
        ctx = trace.set_span_in_context(parent)
        if ev.event is Event.TRAP:
            s = self.tracer.start_span("trap", context=ctx, start_time=ev.wall_ns,
                                       attributes={"nanonet.trap.cause": ev.cause or ""})
            s.set_status(Status(StatusCode.ERROR, ev.cause))
            s.end(end_time=ev.wall_ns)
        elif ev.event is Event.RESTART:
            n = self._restarts[ev.service] = self._restarts.get(ev.service, 0) + 1
            s = self.tracer.start_span("restart", context=ctx, start_time=ev.wall_ns,
                                       attributes={"nanonet.restart": n})
            s.end(end_time=ev.wall_ns)

    def _end(self, span: Span, ev: Transition) -> None:
        if ev.to_state is State.FAILED:
            span.set_status(Status(StatusCode.ERROR, ev.cause or "failed"))
        span.set_attribute("nanonet.final_state", ev.to_state.value)
        span.end(end_time=ev.wall_ns)
        del self._open[ev.service]

    def message(self, tunnel: str, counter: int, latency_ns: int) -> None:
        """One sampled message: a span as long as its measured latency."""
        end = time.time_ns()
        span = self.tracer.start_span(f"message {tunnel}", start_time=end - latency_ns,
                                      attributes={"nanonet.tunnel": tunnel,
                                                  "nanonet.message": counter,
                                                  "nanonet.latency_ns": latency_ns})
        span.end(end_time=end)

    def close(self) -> None:
        with self._lock:
            for span in self._open.values():
                span.end()
            self._open.clear()
