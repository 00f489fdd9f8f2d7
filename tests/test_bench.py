"""``nanonet bench --quick``: the JSON has the promised shape and real figures.

Only structure and signs are checked: a benchmark's durations depend on the
machine and its load, so no figure is compared with a threshold here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nanonet.bench.plan import parse_list
from nanonet.bench.targets import evaluate

TRANSPORTS = ("nanonet", "py-tcp", "c-ring")


def _bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "nanonet.cli", "bench", "--quick", "--json", str(out), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _bench(tmp_path_factory.mktemp("bench"), "--only", "w1,w2,w3,w4",
                  "--transports", ",".join(TRANSPORTS))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_machine_and_versions(result: dict[str, Any]) -> None:
    assert result["machine"]["cores"] >= 1
    assert result["machine"]["cpu_model"]
    assert result["versions"]["wasmtime"]
    assert result["meta"]["mode"] == "quick"


@pytest.mark.parametrize("workload", ["w1", "w2_64", "w2_4096"])
def test_every_transport_has_positive_figures(result: dict[str, Any], workload: str) -> None:
    assert set(result[workload]) == set(TRANSPORTS)
    for transport, figures in result[workload].items():
        assert "error" not in figures, (transport, figures)
        assert figures and all(_number(v) and v > 0 for v in figures.values()), figures


def test_w1_statistics(result: dict[str, Any]) -> None:
    for figures in result["w1"].values():
        assert figures["p50_ns"] <= figures["p99_ns"] <= figures["p999_ns"] <= figures["max_ns"]


def test_w2_checked_every_message(result: dict[str, Any]) -> None:
    for by_transport in (result["w2_64"], result["w2_4096"]):
        for figures in by_transport.values():
            assert figures["checked"] == figures["messages"]


def test_w3_counts_syscalls(result: dict[str, Any]) -> None:
    if result["meta"]["syscall_counter"] == "none":
        pytest.skip("neither perf nor strace can count here")
    for figures in result["w3"].values():
        assert _number(figures["syscalls_per_msg"]) and figures["syscalls_per_msg"] >= 0
        assert figures["syscalls_empty"] > 0


def test_w4_cold_start_and_rss(result: dict[str, Any]) -> None:
    figures = result["w4"]["nanonet"]
    for stat in ("cold_start_p50_us", "cold_start_p99_us", "rss_per_service_kb"):
        assert _number(figures[stat]) and figures[stat] > 0


def test_targets_listed(result: dict[str, Any]) -> None:
    assert len(result["targets"]) == 6
    assert all(t["met"] in (True, False, None) for t in result["targets"])


def test_targets_not_measured_are_none() -> None:
    assert all(t["met"] is None for t in evaluate({}))


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown transport nope"):
        parse_list("nanonet,nope", ("nanonet",), "transport")
