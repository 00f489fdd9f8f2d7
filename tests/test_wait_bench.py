"""``nanonet bench --only rate``: a row per tunnel wait policy beside c-ring
(``result["rate_wait"]``), each with its CPU use and latency tail. Only the
shape and signs of the figures are checked, never a threshold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from nanonet.bench import avail, waitrows

pytestmark = pytest.mark.timeout(240)
ROWS = {"nanonet-spin", "nanonet-adaptive", "nanonet-park"}


def test_the_rows_follow_the_transports() -> None:
    def rows(*transports: str) -> set[str]:
        return {row for _, row, _ in waitrows.plan(True, transports, lambda: None)}

    assert rows("nanonet", "c-ring") == ROWS | {"c-ring"}
    assert rows("nanonet") == ROWS
    assert rows("c-ring", "py-tcp") == set()  # no nanonet row: nothing to stand beside


def _figures(row: dict[str, Any]) -> None:
    assert "error" not in row, row
    assert row["cpu_per_wall"] > 0
    assert row["achieved_per_s"] > 0
    assert row["p50_ns"] <= row["p99_ns"] <= row["p999_ns"] <= row["max_ns"]


def test_quick_rate_run_has_a_row_per_policy_beside_c_ring(tmp_path: Path) -> None:
    if avail.missing("c-ring"):
        pytest.skip(f"c-ring cannot run here: {avail.missing('c-ring')}")
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "nanonet.cli", "bench", "--quick", "--only", "rate",
           "--transports", "nanonet,c-ring", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    assert set(result["rate_wait"]) == ROWS | {"c-ring"}
    for row in result["rate_wait"].values():
        _figures(row)
    for row in result["rate"].values():  # the plain rate rows carry CPU use too
        _figures(row)
    console = Console(record=True, width=120)
    console.print(waitrows.table(result))
    assert "nanonet-park" in console.export_text()
