"""The request/reply bench rows (bench/rpc_bench.py), on a short run: shapes, not speed."""

from __future__ import annotations

import pytest

from nanonet.bench import rpc_bench


def test_reqrep_rows_measure_both_rows_beside_w1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rpc_bench, "_rounds", lambda quick: (300, 30))
    rows = rpc_bench.reqrep_rows(quick=True)
    assert set(rows) == {"nanonet-wasm", "nanonet-host"}
    for row in rows.values():
        assert row["calls"] == 300
        assert 0 < row["p50_ns"] <= row["p99_ns"]
        assert row["calls_per_s"] > 0
    wasm = rows["nanonet-wasm"]
    assert wasm["p50_over_w1"] == wasm["p50_ns"] / wasm["w1_p50_ns"]
