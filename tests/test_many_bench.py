"""The bench rows of waiting on many ends and of fan-in run and count
everything (the figures themselves go in the report, never in a test)."""

from __future__ import annotations

import pytest

from nanonet.bench.many_bench import fanin_row, waitany_row

pytestmark = pytest.mark.timeout(300)


def test_the_fan_in_row_counts_every_message_of_four_writers() -> None:
    row = fanin_row(quick=True)
    assert row["messages"] == 200_000 and row["writers"] == 4
    assert row["msgs_per_s"] > 0


def test_the_wait_any_row_gives_its_percentiles_and_w1_beside_them() -> None:
    row = waitany_row(quick=True)
    assert set(row) >= {"p50_ns", "p99_ns", "w1_p50_ns"}
    assert 0 < row["p50_ns"] <= row["p99_ns"] and row["w1_p50_ns"] > 0
    assert row["ends"] == 8
