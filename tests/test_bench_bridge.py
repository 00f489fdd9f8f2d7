"""``nanonet bench --quick --only bridge``: every bridge row, side by side, in one run.

One quick run (module scope) with ``--json``: the NATS, QUIC and WebSocket
bridges, raw nats-py and ZeroMQ over TCP, at 64 B and 4 KiB, a stream and a
round trip each. Every stream of a bridge (and of ZeroMQ, lossless too)
arrives whole and in order by the far end's count; every round trip has
p50 <= p99 and no wrong answer; each row says where its ends ran (two
network namespaces as root, else loopback). Only structure, signs and
counts are checked: durations depend on the machine and its load.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from nanonet.bench import avail, bridge_hops, bridge_report, page, report
from nanonet.bench.bridge_check import SeqCheck
from nanonet.bench.bridge_wl import ROWS
from nanonet.bench.netpair import Placement, loopback
from nanonet.ring.packed import Packed

STREAMS, TRIPS = ("bridge_64", "bridge_4096"), ("bridge_rtt", "bridge_rtt_4096")
LOSSLESS = ("nanonet", "nanonet-quic", "nanonet-ws", "zmq-tcp")  # core NATS may drop


def _peers() -> set[str]:
    out = {"nanonet", "nanonet-ws", "nats", "zmq-tcp"}
    return out | ({"nanonet-quic"} if importlib.util.find_spec("aioquic") else set())


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for t in ("nats", "zmq-ipc"):
        if avail.missing(t):
            pytest.skip(f"no {t} here: {avail.missing(t)}")
    out = tmp_path_factory.mktemp("bridge") / "bench.json"
    cmd = [sys.executable, "-m", "nanonet.cli", "bench", "--quick", "--only", "bridge",
           "--transports", "nanonet,nats,zmq-ipc", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(Path(out).read_text())
    return result


def test_every_row_has_every_peer(run: dict[str, Any]) -> None:
    assert set(ROWS) == {*STREAMS, *TRIPS}
    for row in ROWS:
        assert set(run[row]) == _peers(), (row, run[row])
        for figures in run[row].values():
            assert "error" not in figures, figures
            assert figures["placement"] == "netns (veth)" or \
                figures["placement"].startswith("loopback ("), figures


@pytest.mark.parametrize("row", STREAMS)
def test_streams_are_counted_whole_and_in_order(run: dict[str, Any], row: str) -> None:
    for peer, f in run[row].items():
        assert f["msgs_per_s"] > 0 and f["seconds"] > 0, (peer, f)
        assert f["received"] + f["lost"] == f["messages"], (peer, f)
        assert f["near_cpu_s"] > 0 and f["far_cpu_s"] > 0 and f["far_udp_drops"] >= 0, (peer, f)
        if peer in LOSSLESS:
            assert f["lost"] == 0 and f["out_of_order"] == 0, (peer, f)


@pytest.mark.parametrize("row", TRIPS)
def test_round_trips_have_p50_and_p99(run: dict[str, Any], row: str) -> None:
    for peer, f in run[row].items():
        assert 0 < f["p50_ns"] <= f["p99_ns"], (peer, f)
        assert f["rounds"] > 0 and f["out_of_order"] == 0, (peer, f)


def test_the_table_the_page_and_the_targets(run: dict[str, Any], tmp_path: Path) -> None:
    console = Console(record=True, width=260)
    report.show(console, run)
    text = console.export_text()
    assert bridge_report.TITLE[:40] in text
    for peer in _peers():
        assert peer in text
    md = page.write(run, tmp_path / "performance.md")[0].read_text()
    assert f"## {bridge_report.TITLE}" in md
    assert md.count("| bridge_rtt_4096 |") == len(_peers())
    targets = {t["target"]: t for t in run["targets"]}
    for name in ("bridge over NATS 64 B >= 1 M msgs/s, loss 0, in order",
                 "bridge over NATS 64 B >= 5x raw nats-py (same server, same run)",
                 "bridge round trip p50 <= 1.3x nats-py request/reply"):
        value = targets[name]["value"]
        assert isinstance(value, float) and value > 0, targets[name]


def test_the_sequence_check_counts_what_is_out_of_order() -> None:
    seqs = array("q", bytes(4 * 64))
    seqs[0::8] = array("q", [0, 1, 3, 2])
    check = SeqCheck(64)
    check.packed(Packed.fixed(memoryview(seqs).cast("B"), 64))
    check.one(array("q", [4] + [0] * 7).tobytes())
    check.one(bytes(8))  # the wrong size, and the wrong number
    assert (check.received, check.errors) == (6, 3)


def test_a_placement_crosses_into_the_child_and_names_its_side() -> None:
    place = Placement("netns (veth)", "10.232.0.1", "10.232.0.2", "nb-n1", "nb-f1")
    assert Placement.from_json(place.to_json()) == place
    assert place.far(["python"]) == ["ip", "netns", "exec", "nb-f1", "python"]
    assert loopback("no root").near(["python"]) == ["python"]


def test_bridge_hops_cuts_a_round_trip_into_its_six_hops() -> None:
    """``python -m nanonet.bench.bridge_hops``: a few real rounds over the
    WebSocket bridge, each hop's median positive, the round trip's and raw
    nats-py's beside them."""
    pytest.importorskip("websockets")
    if avail.missing("nats"):
        pytest.skip(f"no NATS here: {avail.missing('nats')}")
    cmd = [sys.executable, "-m", "nanonet.bench.bridge_hops", "websocket", "30"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert [line[:30].strip() for line in lines[:6]] == list(bridge_hops.HOPS)
    assert "round trip, websocket bridge" in lines[6] and "raw nats-py" in lines[7]
    for line in lines:
        assert float(line[30:].split()[0]) > 0, line


def test_hops_take_the_first_stamp_after_each_step() -> None:
    near = {"sent": [110, 1110], "arrived": [190, 1190]}
    far = {"sent": [160, 1160], "arrived": [130, 1130]}
    cut = bridge_hops.hops([(100, 150, 200), (1100, 1150, 1200)], near, far)
    assert [cut[h] for h in bridge_hops.HOPS] == [[10, 10], [20, 20], [20, 20], [10, 10],
                                                  [30, 30], [10, 10]]
