"""The telemetry example end to end, and the checks the demo relies on."""

from __future__ import annotations

import dataclasses

import pytest

from nanonet.demo import DemoConfig, report, run_demo
from nanonet.errors import NanonetError
from nanonet.telemetry import (
    HEAD,
    SENSOR,
    SUMMARY_MAGIC,
    SensorStats,
    differences,
    expected,
    parse_summary,
)


def test_demo_end_to_end_matches_the_model() -> None:
    cfg = DemoConfig(count=20_000, sensors=8, seed=7, slots=256, timeout=60)
    lines: list[str] = []
    result = run_demo(cfg, progress=lines.append)
    assert result.problems == []
    want = expected(cfg.count, cfg.sensors, cfg.seed)
    assert result.summary.readings == want.readings
    assert result.summary.sensors == want.sensors
    assert result.dropped == cfg.count - want.readings > 0
    assert result.summary.samples == want.readings
    assert 0 < result.summary.p50_ns <= result.summary.p99_ns
    assert any("ingress.c" in line for line in lines)
    assert "M readings/s" in report(cfg, result)


def test_filter_range_comes_from_the_host() -> None:
    cfg = DemoConfig(count=5_000, sensors=3, lo=0, hi=99, slots=64, timeout=60)
    result = run_demo(cfg, progress=lambda _: None)
    assert result.ok, result.problems
    assert all(0 <= s.low <= s.high <= 99 for s in result.summary.sensors)


def test_too_many_sensors_is_refused() -> None:
    with pytest.raises(NanonetError, match="--sensors 99"):
        run_demo(DemoConfig(count=10, sensors=99), progress=lambda _: None)


def _encode(readings: int, stats: list[SensorStats]) -> bytes:
    head = HEAD.pack(SUMMARY_MAGIC, len(stats), readings, 1, 2, 3, readings)
    return head + b"".join(SENSOR.pack(s.total, s.count, s.low, s.high, 0) for s in stats)


def test_summary_round_trip_and_differences() -> None:
    want = expected(1_000, 4, 1)
    got = parse_summary(_encode(want.readings, list(want.sensors)))
    assert differences(got, want) == []
    off = dataclasses.replace(want.sensors[2], high=want.sensors[2].high + 1)
    wrong = parse_summary(_encode(want.readings, [*want.sensors[:2], off, want.sensors[3]]))
    assert differences(wrong, want) == [f"sensor 2: got {off}, expected {want.sensors[2]}"]


def test_malformed_summary_is_rejected() -> None:
    with pytest.raises(ValueError, match="shorter than its header"):
        parse_summary(b"xx")
    with pytest.raises(ValueError, match="malformed summary"):
        parse_summary(_encode(0, [SensorStats()])[:-1])
