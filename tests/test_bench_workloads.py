"""``nanonet bench --only components,http``: the standalone benches' rows in one run.

One quick run of both workloads (module scope) with ``--json`` and
``--report``; every documented row has a number for each of its statistics,
an ``{"error": reason}`` entry, or (the cold-start rows whose guests a quick
run does not build) a reason in ``skipped``, the report has a section per workload,
and the component target is evaluated from the same run. The browser
workload is left out: its tabs take longer than this file may (it is run
by hand, docs/performance.md). Only structure and signs are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nanonet.bench import component_wl, http_wl, rowsets
from nanonet.bench.suite import Step, Suite
from nanonet.bench.targets import evaluate

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
KEYS: dict[str, dict[str, tuple[str, ...]]] = {"components": component_wl.KEYS,
                                              "http": http_wl.KEYS}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    tmp = tmp_path_factory.mktemp("workloads")
    out, page = tmp / "bench.json", tmp / "performance.md"
    cmd = [sys.executable, "-m", "nanonet.cli", "bench", "--quick", "--only", "components,http",
           "--json", str(out), "--report", str(page)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a part failed, recorded
    return json.loads(out.read_text()), page.read_text(), done.stdout


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.parametrize("workload", sorted(KEYS))
def test_every_documented_key_has_a_number_or_a_reason(run: tuple[dict[str, Any], str, str],
                                                       workload: str) -> None:
    result = run[0]
    for row, stats in KEYS[workload].items():
        if f"{workload} {row}" in result.get("skipped", {}):  # left out, with the reason
            assert result["skipped"][f"{workload} {row}"].strip()
            continue
        figures = result[workload][row]
        if "error" in figures:
            assert isinstance(figures["error"], str) and figures["error"].strip(), (row, figures)
            continue
        for stat in stats:
            assert _number(figures[stat]) and figures[stat] >= 0, (workload, row, stat, figures)


def test_the_core_rows_ran(run: tuple[dict[str, Any], str, str]) -> None:
    """No toolchain is needed for these: they must measure, not fail."""
    result = run[0]
    for workload, row in (("components", "pair"), ("components", "stream"),
                          ("http", "nanonet_wat"), ("http", "python_stdlib")):
        assert "error" not in result[workload][row], result[workload][row]
    assert result["http"]["nanonet_wat"]["requests"] == http_wl.REQUESTS[True]


def test_component_target_from_the_same_run(run: tuple[dict[str, Any], str, str]) -> None:
    result = run[0]
    target = {t["target"]: t for t in result["targets"]}["component -> component call p50 <= 2 us"]
    assert target["value"] == pytest.approx(result["components"]["pair"]["c2c_p50_ns"] / 1e3)
    assert target["met"] == (target["value"] <= 2)


def test_component_target_listed_only_when_components_ran() -> None:
    name = "component -> component call p50 <= 2 us"
    assert name not in {t["target"] for t in evaluate({})}
    listed = {t["target"]: t for t in evaluate({"components": {}})}
    assert listed[name]["met"] is None and listed[name]["value"] is None


def test_report_has_a_section_per_workload(run: tuple[dict[str, Any], str, str]) -> None:
    _, page, terminal = run
    for heading in ("## HTTP ingress", "## Components"):
        assert heading in page
    section = page.split("## Components", 1)[1].split("\n## ", 1)[0]
    for row in component_wl.KEYS:
        assert f"| {row} |" in section or row in component_wl.left_out(True)
    assert "host -> component call p50 is" in section
    assert "Components: calls" in terminal and "HTTP ingress" in terminal
    assert "## Where nanonet is not ahead" in page


@pytest.mark.parametrize("workload", sorted(KEYS))
def test_docs_list_every_row(workload: str) -> None:
    text = DOCS.read_text()
    for row, stats in KEYS[workload].items():
        assert f"`{row}`" in text, row
        for stat in stats:
            assert stat in text, (row, stat)


def test_a_part_that_cannot_run_records_its_reason() -> None:
    suite = Suite(("components",), (), True)
    suite.run_step(Step("components", "no-such-part",
                        lambda: rowsets.measured("components", "no-such-part", True), rows=True))
    error = suite.result["components"]["no-such-part"]["error"]
    assert "no-such-part" in error and "KeyError" in error
    assert suite.failures() == [f"components no-such-part: {error}"]


def test_row_names_become_stable_keys() -> None:
    assert rowsets.slug("tab to host 64 B") == "tab_to_host_64_b"
    assert rowsets.slug("tab webtransport msgs/s") == "tab_webtransport_msgs_per_s"
    assert rowsets.slugged({"tab pipe 64 B": {"host msgs/s": 3}}) == {
        "tab_pipe_64_b": {"host_msgs_per_s": 3.0}}
