"""The steps of one bench run, in order, and the result they fill in.

``result[workload][transport][statistic]``; a step that fails records
``{"error": message}`` in its place and the run goes on, so one broken peer
never hides the others' figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import measure, native, syscalls
from .plan import NATIVE, SIZES, Job, w1_job, w2_job, w3_job, w4_services

Result = dict[str, Any]


@dataclass
class Step:
    workload: str  # result key: w1, w2_64, w2_4096, w3, w4
    transport: str
    run: Callable[[], measure.Figures]

    @property
    def label(self) -> str:
        return f"{self.workload} {self.transport}"


class Suite:
    """Plans the steps for the chosen workloads and transports, then runs them."""

    def __init__(self, workloads: tuple[str, ...], transports: tuple[str, ...],
                 quick: bool) -> None:
        self.workloads = workloads
        self.transports = transports
        self.quick = quick
        self.peers: Path | None = None
        self.result: Result = {}

    def needs_native(self) -> bool:
        return any(t in NATIVE for t in self.transports) and self.workloads != ("w4",)

    def build_native(self) -> None:
        try:
            self.peers = native.peers_binary()
        except (RuntimeError, OSError) as err:
            self.result.setdefault("errors", []).append(f"native peers: {err}")

    def steps(self) -> list[Step]:
        q, out = self.quick, []
        for t in self.transports:
            if "w1" in self.workloads:
                out.append(Step("w1", t, self._bind(measure.w1, w1_job(t, q))))
        for size in SIZES:
            for t in self.transports:
                if "w2" in self.workloads:
                    out.append(Step(f"w2_{size}", t, self._bind(measure.w2, w2_job(t, size, q))))
        if "w3" in self.workloads and syscalls.counter():
            for t in self.transports:
                out.append(Step("w3", t, self._bind(measure.w3, w3_job(t, q))))
        if "w4" in self.workloads and "nanonet" in self.transports:
            out.append(Step("w4", "nanonet", lambda: measure.w4(w4_services(q))))
        return out

    def _bind(self, fn: Callable[[Job, Path | None], measure.Figures],
              job: Job) -> Callable[[], measure.Figures]:
        return lambda: fn(job, self.peers)

    def run_step(self, step: Step) -> None:
        try:
            figures: dict[str, Any] = dict(step.run())
        except Exception as err:  # recorded, shown, and the run goes on
            figures = {"error": f"{type(err).__name__}: {err}"}
        self.result.setdefault(step.workload, {})[step.transport] = figures

    def failures(self) -> list[str]:
        out = list(self.result.get("errors", []))
        for workload, by_transport in self.result.items():
            if isinstance(by_transport, dict):
                for transport, figures in by_transport.items():
                    if isinstance(figures, dict) and "error" in figures:
                        out.append(f"{workload} {transport}: {figures['error']}")
        return out
