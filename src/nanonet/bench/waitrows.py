"""The rate workload's rows per wait policy: ``result["rate_wait"]``.

The fixed-rate W1 (10 k round trips/s, Wasm pinger <-> Wasm echo) once per
tunnel wait policy (``nanonet-spin``, ``nanonet-adaptive``, ``nanonet-park``),
beside ``c-ring`` (two C threads spinning on a shared-memory ring) measured
in the same run: the latency tail each policy buys and the CPU it costs
(``cpu_per_wall``: the child process's CPU seconds over its wall seconds,
cores kept busy). Every row's pinger spins on the clock until each round is
due (c-ring's yields between clock reads), so about one core of every row is
the pacer's; what a policy changes is the echo's wait and the pinger's wait
for the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from ..ring.waitpolicy import WAIT_NAMES
from . import measure
from .plan import Job, rate_job

WORKLOAD = "rate_wait"
POLICY_ROWS = {f"nanonet-{name}": name for name in WAIT_NAMES}  # row -> policy
PEER = "c-ring"
Planned = tuple[str, str, Callable[[], measure.Figures]]


def plan(quick: bool, transports: tuple[str, ...],
         peers: Callable[[], Path | None]) -> list[Planned]:
    """The rows to run: the policies if nanonet runs, c-ring if it does
    (``peers``: the native peers' binary, once built)."""
    rows = list(POLICY_ROWS) if "nanonet" in transports else []
    rows += [PEER] if PEER in transports and rows else []
    return [(WORKLOAD, row, _runner(rate_job(row, quick), peers)) for row in rows]


def _runner(job: Job, peers: Callable[[], Path | None]) -> Callable[[], measure.Figures]:
    return lambda: measure.w1(job, peers())


def table(result: dict[str, Any]) -> Table:
    """The rows as the terminal shows them."""
    from .report import ns  # report shows this table: imported once both are loaded
    out = Table(title="The rate workload per wait policy: CPU used and round-trip tail "
                      "at a fixed offered rate", title_justify="left")
    for col in ("row", "achieved/s", "CPU/wall", "p50", "p99", "p99.9"):
        out.add_column(col, justify="left" if col == "row" else "right", no_wrap=True)
    for row, f in result.get(WORKLOAD, {}).items():
        if "error" in f:
            out.add_row(row, "[red]error[/red]", "", "", "", "")
            continue
        out.add_row(row, f"{f['achieved_per_s']:,.0f}", f"{f.get('cpu_per_wall', 0):.2f}",
                    *(ns(f[k]) for k in ("p50_ns", "p99_ns", "p999_ns")))
    return out
