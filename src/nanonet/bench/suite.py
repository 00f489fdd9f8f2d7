"""The steps of one bench run, in order, and the result they fill in.

``result[workload][transport][statistic]``; a step that fails records
``{"error": message}`` in its place and the run goes on, so one broken peer
never hides the others' figures. A peer that cannot run here (its library or
binary is missing) gets no step at all and is listed in ``result["skipped"]``
with the reason. Latency histograms go to ``result["histograms"][workload]``.
The ``http``, ``components`` and ``browser`` workloads (``rowsets.py``) fill
``result[workload][row]`` with the rows of the standalone benches, a part
that fails recording ``{"error": message}`` under the part's name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import avail, bridge_wl, measure, native, patterns, rowsets, syscalls, waitrows
from .plan import (
    IDLE_WINDOW_MS,
    NATIVE,
    OBSERVE,
    PIPELINE_COUNT,
    PIPELINES,
    ROW_SETS,
    SCALE_SERVICES,
    SIZES,
    Job,
    rate_job,
    w1_job,
    w2_job,
    w3_job,
    w4_services,
)

Result = dict[str, Any]
ASYNC_ROW = "nanonet-host-async"  # W2 only: nanonet-host's stream from an asyncio task


@dataclass
class Step:
    workload: str  # result key: w1, rate, w2_64, w2_1024, w2_4096, w3, w4, scale
    transport: str  # or, for scale, the row's name
    run: Callable[[], measure.Figures]
    rows: bool = False  # run returns {row: figures}, each filling result[workload][row]

    @property
    def label(self) -> str:
        return f"{self.workload} {self.transport}"


class Suite:
    """Plans the steps for the chosen workloads and transports, then runs them."""

    def __init__(self, workloads: tuple[str, ...], transports: tuple[str, ...],
                 quick: bool) -> None:
        self.workloads = workloads
        self.quick = quick
        self.peers: Path | None = None
        self.result: Result = {}
        skipped = {t: why for t in transports if (why := avail.missing(t))}
        if skipped:
            self.result["skipped"] = skipped
        self.transports = tuple(t for t in transports if t not in skipped)

    def needs_native(self) -> bool:
        timed = {"w1", "rate", "w2", "w3"}
        return any(t in NATIVE for t in self.transports) and bool(timed & set(self.workloads))

    def build_native(self) -> None:
        try:
            self.peers = native.peers_binary()
        except (RuntimeError, OSError) as err:
            self.result.setdefault("errors", []).append(f"native peers: {err}")

    def steps(self) -> list[Step]:
        q, ts, out = self.quick, self.transports, []
        if "w1" in self.workloads:
            out += [Step("w1", t, self._bind(measure.w1, w1_job(t, q))) for t in ts]
        if "rate" in self.workloads:
            out += [Step("rate", t, self._bind(measure.w1, rate_job(t, q))) for t in ts]
            out += [Step(*p) for p in waitrows.plan(q, ts, lambda: self.peers)]
        if "w2" in self.workloads:
            out += [Step(f"w2_{size}", t, self._bind(measure.w2, w2_job(t, size, q)))
                    for size in SIZES for t in self._w2_rows()]
        if "w3" in self.workloads and syscalls.counter():
            out += [Step("w3", t, self._bind(measure.w3, w3_job(t, q))) for t in ts]
        if "nanonet" in ts:
            out += self._nanonet_only()
        if "patterns" in self.workloads:
            out += self._patterns()
        if "bridge" in self.workloads:
            out += self._bridge()
        for workload in (w for w in ROW_SETS if w in self.workloads):
            out += self._row_set(workload)
        return out

    def _row_set(self, workload: str) -> list[Step]:
        planned, skipped = rowsets.plan(workload, self.quick)
        if skipped:
            self.result.setdefault("skipped", {}).update(skipped)
        return [Step(w, part, run, rows=True) for w, part, run in planned]

    def _bridge(self) -> list[Step]:
        planned, skipped = bridge_wl.plan(self.quick, self.transports)
        if skipped:
            self.result.setdefault("skipped", {}).update(skipped)
        return [Step(*p) for p in planned]

    def _patterns(self) -> list[Step]:
        planned, skipped = patterns.plan(self.quick, self.transports)
        if skipped:
            self.result.setdefault("skipped", {}).update(skipped)
        return [Step(*p) for p in planned]

    def _w2_rows(self) -> tuple[str, ...]:
        """The transports' W2 rows: nanonet-host's asyncio twin runs beside it."""
        out: list[str] = []
        for t in self.transports:
            out += [t, ASYNC_ROW] if t == "nanonet-host" else [t]
        return tuple(out)

    def _nanonet_only(self) -> list[Step]:
        out = []
        if "w4" in self.workloads:
            out.append(Step("w4", "nanonet", lambda: measure.w4(w4_services(self.quick))))
        if "observe" in self.workloads:
            args = OBSERVE["quick" if self.quick else "full"]
            out += [Step("observe", mode, step) for mode, step in measure.observe(*args)]
        if "scale" in self.workloads:
            window_ms = IDLE_WINDOW_MS[self.quick]
            for n in SCALE_SERVICES:
                out.append(Step("scale", f"idle-{n}",
                                functools.partial(measure.idle, n, window_ms)))
            per_lane = PIPELINE_COUNT["quick" if self.quick else "full"]
            out.append(Step("scale", f"pipelines-{PIPELINES}",
                            lambda: measure.pipelines(PIPELINES, per_lane, 64)))
            out.append(Step("scale", "python-process", measure.python_process))
        return out

    def _bind(self, fn: Callable[[Job, Path | None], measure.Figures],
              job: Job) -> Callable[[], measure.Figures]:
        return lambda: fn(job, self.peers)

    def run_step(self, step: Step) -> None:
        try:
            figures: dict[str, Any] = dict(step.run())
        except Exception as err:  # recorded, shown, and the run goes on
            figures = {"error": f"{type(err).__name__}: {err}"}
        if step.rows and "error" not in figures:
            self.result.setdefault(step.workload, {}).update(figures)
            return
        hdr = figures.pop("hdr", None)
        if hdr is not None:
            self.result.setdefault("histograms", {}).setdefault(step.workload, {})[
                step.transport] = hdr
        self.result.setdefault(step.workload, {})[step.transport] = figures

    def failures(self) -> list[str]:
        out = list(self.result.get("errors", []))
        for workload, by_transport in self.result.items():
            if isinstance(by_transport, dict) and workload not in ("skipped", "histograms"):
                for transport, figures in by_transport.items():
                    if isinstance(figures, dict) and "error" in figures:
                        out.append(f"{workload} {transport}: {figures['error']}")
        return out
