"""The targets nanonet is held to, checked against one run's figures.

Each target compares figures from the same run (latency floors move by a
factor of ten within minutes on a VM, so nothing is compared across runs).
A target of a workload that runs only on request (``only``: components) is
listed when that workload ran, measured or not; the others always are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]


def _get(result: Result, workload: str, transport: str, stat: str) -> float | None:
    value = result.get(workload, {}).get(transport, {}).get(stat)
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Target:
    name: str
    measure: Callable[[Result], float | None]  # the figure shown
    met: Callable[[float], bool]
    unit: str
    only: str | None = None  # listed only when this on-request workload ran


def _ratio(result: Result, a: tuple[str, str, str], b: tuple[str, str, str]) -> float | None:
    x, y = _get(result, *a), _get(result, *b)
    return None if x is None or y is None or y == 0 else x / y


def _w2_vs_c_ring(workload: str) -> Callable[[Result], float | None]:
    """nanonet's W2 rate over c-ring's, both at one size of the same run."""
    return lambda r: _ratio(r, (workload, "nanonet", "msgs_per_s"),
                            (workload, "c-ring", "msgs_per_s"))


W1_NANO = ("w1", "nanonet", "p50_ns")
PUBSUB_NANO = ("pubsub_64", "nanonet", "msgs_per_s")
REQREP_WASM = ("reqrep", "nanonet-wasm", "p50_ns")
BRIDGE_64 = ("bridge_64", "nanonet", "msgs_per_s")
BRIDGE_RTT = ("bridge_rtt", "nanonet", "p50_ns")
C2C_P50 = ("components", "pair", "c2c_p50_ns")  # beside h2c_p50_ns of the same row
ASYNC_HOST = "nanonet-host-async"  # W2 only: the host end from an asyncio task
TARGETS = (
    Target("W1 nanonet p50 within 1.5x of c-ring",
           lambda r: _ratio(r, W1_NANO, ("w1", "c-ring", "p50_ns")), lambda v: v <= 1.5, "x"),
    Target("W1 nanonet p50 >= 100x faster than py-tcp",
           lambda r: _ratio(r, ("w1", "py-tcp", "p50_ns"), W1_NANO), lambda v: v >= 100, "x"),
    Target("W2 64 B nanonet >= 50 M msgs/s",
           lambda r: _div(_get(r, "w2_64", "nanonet", "msgs_per_s"), 1e6),
           lambda v: v >= 50, "M msgs/s"),
    Target("W3 nanonet <= 0.001 syscalls/msg",
           lambda r: _get(r, "w3", "nanonet", "syscalls_per_msg"), lambda v: v <= 0.001, ""),
    Target("W4 cold start p50 <= 100 us",
           lambda r: _get(r, "w4", "nanonet", "cold_start_p50_us"), lambda v: v <= 100, "us"),
    Target("W4 cold start <= 2x the engine floor of the same run",
           lambda r: _get(r, "w4", "nanonet", "cold_start_vs_floor"), lambda v: v <= 2, "x"),
    Target("W4 <= 1 MB RSS per idle service",
           lambda r: _get(r, "w4", "nanonet", "rss_per_service_kb"), lambda v: v <= 1024, "KB"),
    Target("pub-sub 1 -> 4 nanonet >= 10x iceoryx2 (delivered msgs/s)",
           lambda r: _ratio(r, PUBSUB_NANO, ("pubsub_64", "iceoryx2", "msgs_per_s")),
           lambda v: v >= 10, "x"),
    Target("pub-sub 1 -> 4 nanonet >= 0.5x its own single-stream W2",
           lambda r: _ratio(r, PUBSUB_NANO, ("pubsub_64", "nanonet", "w2_single_msgs_per_s")),
           lambda v: v >= 0.5, "x"),
    Target("request/reply nanonet-wasm p50 <= 3x its W1 p50",
           lambda r: _ratio(r, REQREP_WASM, ("reqrep", "nanonet-wasm", "w1_p50_ns")),
           lambda v: v <= 3, "x"),
    Target("bridge over NATS 64 B >= 1 M msgs/s, loss 0, in order",
           lambda r: _div(_lossless(r, *BRIDGE_64), 1e6), lambda v: v >= 1, "M msgs/s"),
    Target("bridge over NATS 64 B >= 5x raw nats-py (same server, same run)",
           lambda r: _over(_lossless(r, *BRIDGE_64), _get(r, "bridge_64", "nats", "msgs_per_s")),
           lambda v: v >= 5, "x"),
    Target("bridge round trip p50 <= 1.3x nats-py request/reply",
           lambda r: _ratio(r, BRIDGE_RTT, ("bridge_rtt", "nats", "p50_ns")),
           lambda v: v <= 1.3, "x"),
    Target("component -> component call p50 <= 2 us",
           lambda r: _div(_get(r, *C2C_P50), 1e3), lambda v: v <= 2, "us", "components"),
    Target("W2 64 B nanonet >= 1.0x c-ring", _w2_vs_c_ring("w2_64"), lambda v: v >= 1.0, "x"),
    Target("W2 4 KiB nanonet >= 1.0x c-ring", _w2_vs_c_ring("w2_4096"), lambda v: v >= 1.0, "x"),
    Target("W1 nanonet p50 <= 1.3x c-ring",
           lambda r: _ratio(r, W1_NANO, ("w1", "c-ring", "p50_ns")), lambda v: v <= 1.3, "x"),
    Target("1,000 idle services start in <= 0.2 s",
           lambda r: _div(_get(r, "scale", "idle-1000", "start_total_ms"), 1e3),
           lambda v: v <= 0.2, "s"),
    Target("<= 64 KB RSS per idle service (1,000 of them)",
           lambda r: _get(r, "scale", "idle-1000", "rss_per_service_kb"), lambda v: v <= 64, "KB"),
    Target("host end W1 p50 <= iceoryx2's",
           lambda r: _ratio(r, ("w1", "nanonet-host", "p50_ns"), ("w1", "iceoryx2", "p50_ns")),
           lambda v: v <= 1.0, "x"),
    Target("host end W2 64 B >= 5x iceoryx2",
           lambda r: _ratio(r, ("w2_64", "nanonet-host", "msgs_per_s"),
                            ("w2_64", "iceoryx2", "msgs_per_s")), lambda v: v >= 5, "x"),
    Target("a 1 ms ticker keeps >= 90 % of its ticks beside the async W2 64 B",
           lambda r: _pct(_get(r, "w2_64", ASYNC_HOST, "ticks_kept")), lambda v: v >= 90, "%"),
    Target("a sampled tap (1 in 100) costs <= 5 % of the throughput",
           lambda r: _get(r, "observe", "sampled-tap", "overhead_pct"), lambda v: v <= 5, "%"),
    Target("a lossless tap keeps >= 25 % of the untapped throughput",
           lambda r: _pct(_ratio(r, ("observe", "tap", "msgs_per_s"),
                                 ("observe", "off", "msgs_per_s"))), lambda v: v >= 25, "%"),
)


def _lossless(result: Result, workload: str, transport: str, stat: str) -> float | None:
    """A stream's rate, or 0 if the far end counted a message lost or out of order."""
    value = _get(result, workload, transport, stat)
    figures = result.get(workload, {}).get(transport, {})
    clean = not figures.get("lost") and not figures.get("out_of_order")
    return value if value is None or clean else 0.0


def _over(x: float | None, y: float | None) -> float | None:
    return None if x is None or not y else x / y


def _div(value: float | None, by: float) -> float | None:
    return None if value is None else value / by


def _pct(share: float | None) -> float | None:
    return None if share is None else share * 100


def evaluate(result: Result) -> list[dict[str, Any]]:
    """Each target with its measured figure and whether it is met (None: not measured)."""
    out = []
    for t in (t for t in TARGETS if t.only is None or t.only in result):
        value = t.measure(result)
        out.append({"target": t.name, "value": value, "unit": t.unit,
                    "met": None if value is None else t.met(value)})
    return out
