"""Workloads whose rows come from the standalone row benches, each in a child process.

``components``, ``browser`` and ``http`` reuse the row functions of
``component_cost``, ``browser_bench``/``tabhttp_bench`` and ``http_bench``
rather than measuring again in a second way. Each part of such a workload
(``PARTS`` in ``component_wl``, ``browser_wl``, ``http_wl``) runs alone in
``python -m nanonet.bench.rowsets WORKLOAD PART quick|full``, which prints
one JSON line ``{row: {statistic: number}}``: a part that cannot run (no
Chromium, no JavaScript toolchain) fails only its own row, recorded as
``{"error": ...}``, and the threads, tabs and servers of one part never
share the bench's process. The rows land in ``result[WORKLOAD][row]``.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from ..errors import BenchError
from .measure import CHILD_TIMEOUT

Rows = dict[str, dict[str, Any]]  # row -> statistic -> number, or {"error": why}
PartFn = Callable[[bool], Rows]
MODULES = {"components": "component_wl", "browser": "browser_wl", "http": "http_wl"}


def slug(name: str) -> str:
    """A row or figure name as a stable JSON key: ``"tab pipe 64 B"`` -> ``tab_pipe_64_b``."""
    text = name.lower().replace("msgs/s", "msgs_per_s").replace("requests/s", "requests_per_s")
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def slugged(rows: dict[str, dict[str, Any]]) -> Rows:
    """Every row and figure name slugged, numbers kept as floats."""
    return {slug(r): {slug(k): float(v) for k, v in f.items()} for r, f in rows.items()}


def module(workload: str) -> Any:
    return importlib.import_module(f"nanonet.bench.{MODULES[workload]}")


def measured(workload: str, part: str, quick: bool) -> Rows:
    """One part's rows, measured in a child process."""
    argv = [sys.executable, "-m", "nanonet.bench.rowsets", workload, part,
            "quick" if quick else "full"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT * 2)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise BenchError(f"{workload} {part}: {tail[0][-500:]}")
    rows: Rows = json.loads(done.stdout.splitlines()[-1])
    return rows


Planned = tuple[str, str, Callable[[], Rows]]


def plan(workload: str, quick: bool) -> tuple[list[Planned], dict[str, str]]:
    """The workload's steps, one per part, or why it (or a part) does not run here."""
    mod = module(workload)
    why: str | None = mod.missing()
    if why:
        return [], {workload: why}
    left: dict[str, str] = mod.left_out(quick) if hasattr(mod, "left_out") else {}
    return ([(workload, part, functools.partial(measured, workload, part, quick))
             for part in mod.PARTS if part not in left],
            {f"{workload} {part}": reason for part, reason in left.items()})


def main(argv: list[str]) -> int:
    workload, part, mode = argv
    parts: dict[str, PartFn] = module(workload).PARTS
    print(json.dumps(parts[part](mode == "quick")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
