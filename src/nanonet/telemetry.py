"""The telemetry example's formats and its reference model, in Python.

The guests of ``examples/telemetry`` compute a summary in Wasm; this module
computes what that summary must be from the same deterministic generator
(``reading.h``), so ``nanonet demo`` and the tests can check every number.
The layouts here mirror the C structs of ``reading.h`` byte for byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidValue

READING = struct.Struct("<IIiIQ")  # sensor, seq, value, reserved, t_ns
HEAD = struct.Struct("<IIQIIII")  # magic, sensors, readings, p50, p99, max, samples
SENSOR = struct.Struct("<qIiiI")  # sum, count, min, max, reserved
SUMMARY_MAGIC = 0x4D4D5553  # b"SUMM"
MAX_SENSORS = 32
SUMMARY_MAX = HEAD.size + MAX_SENSORS * SENSOR.size
DEFAULT_LO, DEFAULT_HI = -400, 1250  # tenths of a degree: -40.0 to 125.0
_U32 = 0xFFFFFFFF


def sources() -> Path:
    """The directory holding the example's guest sources."""
    packaged = Path(__file__).parent / "examples" / "telemetry"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "examples" / "telemetry"


@dataclass(frozen=True)
class SensorStats:
    """Count, sum, min and max of one sensor's kept readings (all 0 if none)."""

    count: int = 0
    total: int = 0
    low: int = 0
    high: int = 0

    def add(self, value: int) -> SensorStats:
        if not self.count:
            return SensorStats(1, value, value, value)
        return SensorStats(self.count + 1, self.total + value, min(self.low, value),
                           max(self.high, value))


@dataclass(frozen=True)
class Summary:
    """What aggregate reports: per-sensor statistics and latency percentiles."""

    readings: int
    sensors: tuple[SensorStats, ...]
    p50_ns: int = 0
    p99_ns: int = 0
    max_ns: int = 0
    samples: int = 0


def readings(count: int, sensors: int, seed: int) -> list[tuple[int, int]]:
    """(sensor, value) of each reading, exactly as ingress.c makes them."""
    out = []
    state = seed & _U32
    for _ in range(count):
        state = (state * 1664525 + 1013904223) & _U32
        out.append(((state >> 24) % sensors, ((state >> 8) & 0xFFFF) % 2000 - 500))
    return out


def expected(count: int, sensors: int, seed: int, lo: int = DEFAULT_LO,
             hi: int = DEFAULT_HI) -> Summary:
    """The summary aggregate must send: the readings filter keeps, folded per sensor."""
    stats: dict[int, SensorStats] = {}
    kept = 0
    for sensor, value in readings(count, sensors, seed):
        if lo <= value <= hi:
            kept += 1
            stats[sensor] = stats.get(sensor, SensorStats()).add(value)
    width = max(stats, default=-1) + 1
    return Summary(kept, tuple(stats.get(i, SensorStats()) for i in range(width)))


def parse_summary(data: bytes) -> Summary:
    """Decode the summary message; ValueError if it is malformed."""
    if len(data) < HEAD.size:
        raise InvalidValue(f"summary of {len(data)} bytes is shorter than its header")
    magic, width, total, p50, p99, top, samples = HEAD.unpack_from(data)
    if magic != SUMMARY_MAGIC or len(data) != HEAD.size + width * SENSOR.size:
        raise InvalidValue(f"malformed summary: magic {magic:#x}, {width} sensors, "
                           f"{len(data)} bytes")
    stats = []
    for i in range(width):
        total_i, count, low, high, _ = SENSOR.unpack_from(data, HEAD.size + i * SENSOR.size)
        stats.append(SensorStats(count, total_i, low, high))
    return Summary(total, tuple(stats), p50, p99, top, samples)


def differences(got: Summary, want: Summary) -> list[str]:
    """Every way ``got`` differs from ``want`` in counts and statistics."""
    problems = []
    if got.readings != want.readings:
        problems.append(f"aggregate saw {got.readings} readings, expected {want.readings}")
    if len(got.sensors) != len(want.sensors):
        problems.append(f"{len(got.sensors)} sensors reported, expected {len(want.sensors)}")
    for i, (g, w) in enumerate(zip(got.sensors, want.sensors, strict=False)):
        if g != w:
            problems.append(f"sensor {i}: got {g}, expected {w}")
    if got.samples != got.readings:
        problems.append(f"{got.samples} latency samples for {got.readings} readings")
    return problems
