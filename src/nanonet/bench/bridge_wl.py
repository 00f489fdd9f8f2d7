"""The ``bridge`` workload: the NATS bridge against raw nats-py, one run.

``bridge_bench.bridge_rows`` measures both sides on one nats-server of its
own, in a child process (``python -m nanonet.bench.bridge_wl quick|full``)
so that its threads and asyncio loop never share the bench's process. Its
rows become three ``--json`` keys with a ``nanonet`` and a ``nats``
figure each: ``bridge_64`` and ``bridge_4096`` (delivered msgs/s, every
sequence number checked) and ``bridge_rtt`` (round trip p50, the bridge
through two tunnels against nats-py request/reply). The targets
(``targets.py``) are ratios of these.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from ..errors import BenchError
from .measure import CHILD_TIMEOUT, Figures

ROWS = ("bridge_64", "bridge_4096", "bridge_rtt")
PEERS = ("nanonet", "nats")
# result key -> (bridge_rows' row, its statistic, ours as (name, scale))
_FROM: dict[str, tuple[str, str, float]] = {
    "bridge_64": ("bridge nats 64 B", "msgs_per_s", 1.0),
    "bridge_4096": ("bridge nats 4096 B", "msgs_per_s", 1.0),
    "bridge_rtt": ("bridge nats round trip", "p50_ns", 1000.0),
}
_UNIT = {"msgs_per_s": "msgs/s", "p50_ns": "us p50"}
Planned = tuple[str, str, Callable[[], Figures]]


def measured(quick: bool) -> dict[str, Any]:
    """``bridge_rows(quick)`` from a child process."""
    argv = [sys.executable, "-m", "nanonet.bench.bridge_wl", "quick" if quick else "full"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"the bridge rows exited with {done.returncode}: {done.stderr[-1500:]}")
    rows: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return rows


def figures(rows: dict[str, Any], key: str, peer: str) -> Figures:
    """One peer's figure of one row, under the bench's statistic names."""
    name, stat, scale = _FROM[key]
    row = rows[name]
    who = "nanonet" if peer == "nanonet" else "nats-py"
    out: Figures = {stat: row[f"{who} {_UNIT[stat]}"] * scale}
    if peer == "nanonet" and "loss" in row:
        out["lost"] = row["loss"]
    return out


def _pick(once: Callable[[], dict[str, Any]], key: str, peer: str) -> Figures:
    return figures(once(), key, peer)


def plan(quick: bool, transports: tuple[str, ...]) -> tuple[list[Planned], dict[str, str]]:
    """The bridge steps (one measurement shared by all six), or why none."""
    if "nanonet" not in transports or "nats" not in transports:
        return [], {"bridge": "needs the nanonet and nats transports (nats-py, nats-server)"}
    once = functools.cache(functools.partial(measured, quick))
    return [(key, peer, functools.partial(_pick, once, key, peer))
            for key in ROWS for peer in PEERS], {}


def main(argv: list[str]) -> int:
    from .bridge_bench import bridge_rows
    print(json.dumps(bridge_rows(argv[:1] == ["quick"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
