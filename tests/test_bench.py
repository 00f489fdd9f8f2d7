"""``nanonet bench --quick``: the JSON has the promised shape and real figures.

Only structure and signs are checked: a benchmark's durations depend on the
machine and its load, so no figure is compared with a threshold here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram
from rich.console import Console

from browser_tab import need_chromium
from nanonet.bench import avail, claims, page, patterns, report
from nanonet.bench.plan import PIPELINE_COUNT, RATE_PER_S, parse_list
from nanonet.bench.suite import Suite
from nanonet.bench.tabpipe import TRANSPORTS as TAB_TRANSPORTS
from nanonet.bench.tabpipe import pipe_rows
from nanonet.bench.targets import TARGETS, evaluate

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
    return _bench(tmp_path_factory.mktemp("bench"), "--only", "w1,w2,w3,w4,scale",
                  "--transports", ",".join(TRANSPORTS))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_machine_and_versions(result: dict[str, Any]) -> None:
    assert result["machine"]["cores"] >= 1
    assert result["machine"]["cpu_model"]
    assert result["versions"]["wasmtime"]
    assert result["meta"]["mode"] == "quick"


@pytest.mark.parametrize("workload", ["w1", "w2_64", "w2_1024", "w2_4096"])
def test_every_transport_has_positive_figures(result: dict[str, Any], workload: str) -> None:
    assert set(result[workload]) == set(TRANSPORTS)
    for transport, figures in result[workload].items():
        assert "error" not in figures, (transport, figures)
        assert figures and all(_number(v) and v > 0 for v in figures.values()), figures


def test_w1_statistics(result: dict[str, Any]) -> None:
    for figures in result["w1"].values():
        assert figures["p50_ns"] <= figures["p99_ns"] <= figures["p999_ns"] <= figures["max_ns"]


def test_w2_checked_every_message(result: dict[str, Any]) -> None:
    for by_transport in (result["w2_64"], result["w2_1024"], result["w2_4096"]):
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
    for stat in ("cold_start_p50_us", "cold_start_p99_us", "rss_per_service_kb",
                 "engine_floor_p50_us"):
        assert _number(figures[stat]) and figures[stat] > 0
    # the ratio is the two medians of the same run, whatever they are
    want = figures["cold_start_p50_us"] / figures["engine_floor_p50_us"]
    assert figures["cold_start_vs_floor"] == pytest.approx(want, rel=1e-6)


def test_targets_listed(result: dict[str, Any]) -> None:
    listed = {t["target"] for t in result["targets"]}
    assert listed == {t.name for t in TARGETS if t.only is None}
    assert all(t["met"] in (True, False, None) for t in result["targets"])


def test_targets_not_measured_are_none() -> None:
    assert all(t["met"] is None for t in evaluate({}))


def test_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown transport nope"):
        parse_list("nanonet,nope", ("nanonet",), "transport")


def test_scale_rows(result: dict[str, Any]) -> None:
    rows = result["scale"]
    assert set(rows) == {"idle-100", "idle-1000", "pipelines-8", "python-process"}
    for figures in rows.values():
        assert "error" not in figures, figures
        idle = figures.pop("idle_cpu_per_s", 0.0)  # idle services may well cost nothing
        assert _number(idle) and idle >= 0, figures
        assert all(_number(v) and v > 0 for v in figures.values()), figures
    assert rows["pipelines-8"]["messages"] == 8 * PIPELINE_COUNT["quick"]


def test_versions_name_every_peer(result: dict[str, Any]) -> None:
    for name in ("pyzmq", "libzmq", "iceoryx2", "nats-py", "nats-server", "matplotlib"):
        assert result["versions"][name]


# -- the library peers, the fixed-rate workload and the report page ----------

PEERS = ("nanonet", "nanonet-py", "mp-pipe", "zmq-inproc", "iceoryx2", "nats")


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    if any(avail.missing(t) for t in PEERS):
        pytest.skip("the bench extra is not installed: pip install '.[bench]'")
    tmp = tmp_path_factory.mktemp("peers")
    page = tmp / "docs" / "performance.md"
    args = ("--only", "w1,rate,w2", "--transports", ",".join(PEERS), "--report", str(page))
    result = _bench(tmp, *args)
    return result, page


def test_peers_have_figures(peers: tuple[dict[str, Any], Path]) -> None:
    result, _ = peers
    assert "skipped" not in result
    for workload in ("w1", "rate", "w2_64", "w2_1024", "w2_4096"):
        assert set(result[workload]) == set(PEERS)
        for transport, figures in result[workload].items():
            assert "error" not in figures, (workload, transport, figures)
    for figures in result["w2_64"].values():
        assert figures["checked"] == figures["messages"]


def test_rate_counts_from_intended_send_time(peers: tuple[dict[str, Any], Path]) -> None:
    result, _ = peers
    for figures in result["rate"].values():
        assert figures["offered_per_s"] == RATE_PER_S
        assert figures["achieved_per_s"] > 0
        assert figures["p50_ns"] <= figures["p99_ns"] <= figures["max_ns"]


def test_histograms_decode(peers: tuple[dict[str, Any], Path]) -> None:
    result, _ = peers
    for workload in ("w1", "rate"):
        for transport, encoded in result["histograms"][workload].items():
            hist = HdrHistogram.decode(encoded)
            assert hist.get_total_count() == result[workload][transport]["samples"]


def test_report_page_and_plots_written(peers: tuple[dict[str, Any], Path]) -> None:
    _, page = peers
    text = page.read_text()
    for heading in ("The zero-syscall claims, tested", "Where nanonet is not ahead",
                    "Method and caveats", "GIL"):
        assert heading in text
    for png in ("performance-w1-cdf.png", "performance-rate-cdf.png",
                "performance-w2-throughput.png"):
        path = page.parent / png
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"({png})" in text


# -- skipping, and the verdicts ------------------------------------------------

def test_missing_peer_is_skipped_with_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",  # the module avail.py calls
                        lambda name, *a: None if name == "zmq" else real(name, *a))
    monkeypatch.setenv("NANONET_NATS_SERVER", "/nonexistent/nats-server")
    suite = Suite(("w1",), ("zmq-ipc", "nats", "py-tcp"), quick=True)
    assert "pyzmq" in suite.result["skipped"]["zmq-ipc"]
    assert "nats-server" in suite.result["skipped"]["nats"]
    assert [s.transport for s in suite.steps()] == ["py-tcp"]
    console = Console(record=True, width=200)
    report.show(console, suite.result)
    assert "skipped zmq-ipc: Python package pyzmq is not installed" in console.export_text()


def test_claims_not_measured_without_figures() -> None:
    assert all(row["verdict"] == "not measured" for row in claims.rows({}))


def test_claim_verdicts_follow_the_numbers() -> None:
    assert claims.versus(3000, 2500, 2500) == "as claimed"
    assert claims.versus(50_000, 2500, 2500) == "20.0x higher than claimed"
    assert claims.versus(100, 2048, 5120) == "20.5x lower than claimed"
    fast = {"w1": {"c-tcp": {"p50_ns": 5000.0}, "nanonet": {"p50_ns": 10.0}}}
    slow = {"w1": {"c-tcp": {"p50_ns": 5000.0}, "nanonet": {"p50_ns": 10_000.0}}}
    assert "speed-up holds: 500x" in claims.latency(fast)["verdict"]
    assert "does not hold" in claims.latency(slow)["verdict"]


# -- the patterns workload: pub-sub, fan-in, request/reply, wait-any ----------

PATTERN_TRANSPORTS = ("nanonet", "iceoryx2", "zmq-inproc", "zmq-ipc", "nats")
STREAM_ROWS = ("pubsub_64", "fanin_64")


@pytest.fixture(scope="module")
def patterns_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if any(avail.missing(t) for t in PATTERN_TRANSPORTS):
        pytest.skip("the bench extra is not installed: pip install '.[bench]'")
    return _bench(tmp_path_factory.mktemp("patterns"), "--only", "patterns",
                  "--transports", ",".join(PATTERN_TRANSPORTS))


def _positive(figures: dict[str, Any], *stats: str) -> None:
    assert "error" not in figures, figures
    for stat in stats:
        assert _number(figures[stat]) and figures[stat] > 0, (stat, figures)


@pytest.mark.parametrize("row", STREAM_ROWS)
def test_pattern_streams_deliver_every_message(patterns_run: dict[str, Any], row: str) -> None:
    peers = patterns.PEERS[row][1]
    for peer in peers:
        figures = patterns_run[row][peer]
        _positive(figures, "msgs_per_s", "messages", "seconds")
        assert figures["lost"] == 0 and figures["received"] == figures["messages"], figures
    senders = patterns.PUBSUB_SUBSCRIBERS if row == "pubsub_64" else patterns.FANIN_WRITERS
    assert patterns_run[row][peers[0]]["messages"] == senders * patterns.count(
        patterns.PEERS[row][0], peers[0], quick=True)


def test_pattern_reqrep_peers(patterns_run: dict[str, Any]) -> None:
    for peer in patterns.PEERS["reqrep"][1]:
        figures = patterns_run["reqrep"][peer]
        _positive(figures, "p50_ns", "p99_ns", "calls_per_s")
        assert figures["p50_ns"] <= figures["p99_ns"] <= figures["max_ns"]
        assert figures["samples"] == patterns.count("reqrep", peer, quick=True)
        assert peer in patterns_run["histograms"]["reqrep"]


NANONET_STATS: dict[str, dict[str, tuple[str, ...]]] = {
    "pubsub_64": {"nanonet": ("msgs_per_s", "w2_single_msgs_per_s")},
    "fanin_64": {"nanonet": ("msgs_per_s",)},
    "waitany": {"nanonet": ("p50_ns", "p99_ns", "w1_p50_ns")},
    "reqrep": {"nanonet-wasm": ("p50_ns", "p99_ns", "calls_per_s", "w1_p50_ns"),
               "nanonet-host": ("p50_ns", "p99_ns", "calls_per_s")}}


@pytest.mark.parametrize("row", sorted(patterns.NANONET_ROWS))
def test_nanonet_pattern_rows_measured_or_not_built(patterns_run: dict[str, Any],
                                                    row: str) -> None:
    module, function = patterns.NANONET_ROWS[row]
    if importlib.util.find_spec(f"nanonet.bench.{module}") is None:
        why = patterns_run["skipped"][f"{row} nanonet"]
        assert why.startswith("not built") and f"{module}.{function}" in why
        return
    for transport, stats in NANONET_STATS[row].items():
        _positive(patterns_run[row][transport], *stats)


def test_pattern_rows_in_report_and_page(patterns_run: dict[str, Any]) -> None:
    console = Console(record=True, width=240)
    report.show(console, patterns_run)
    text = console.export_text()
    markdown = page.render(patterns_run, [])
    for row, (_, peers) in patterns.PEERS.items():
        for peer in peers:
            assert f"| {row} | {peer} |" in markdown
            assert any(row in line and peer in line for line in text.splitlines())


def test_pattern_targets_are_ratios_of_one_run() -> None:
    result = {"pubsub_64": {"nanonet": {"msgs_per_s": 8e6, "w2_single_msgs_per_s": 20e6},
                            "iceoryx2": {"msgs_per_s": 0.4e6}},
              "reqrep": {"nanonet-wasm": {"p50_ns": 900.0, "w1_p50_ns": 200.0}}}
    got = {t["target"]: (t["value"], t["met"]) for t in evaluate(result)}
    assert got["pub-sub 1 -> 4 nanonet >= 10x iceoryx2 (delivered msgs/s)"] == (20.0, True)
    assert got["pub-sub 1 -> 4 nanonet >= 0.5x its own single-stream W2"] == (0.4, False)
    assert got["request/reply nanonet-wasm p50 <= 3x its W1 p50"] == (4.5, False)


def test_the_tab_pipe_rows_come_over_both_transports_with_real_figures() -> None:
    """``bench/tabpipe.py``'s rows (``python -m nanonet.bench.browser_bench``),
    with few messages: each row over WebSocket and over WebTransport, in one
    run, with the keys docs/browser.md names and positive figures."""
    need_chromium()
    pytest.importorskip("aioquic")
    rows = pipe_rows(rounds=20, count=2000)
    assert list(rows) == [f"{prefix} {row}" for _, prefix in TAB_TRANSPORTS
                          for row in ("round trip 64 B", "pipe 64 B", "pipe 4096 B")]
    for name, row in rows.items():
        keys = ({"tab us p50", "tab us p99", "host us p50", "host us p99", "ratio"}
                if "round trip" in name else {"tab msgs/s", "host msgs/s", "ratio"})
        assert set(row) == keys, name
        assert all(_number(v) and v > 0 for v in row.values()), (name, row)
