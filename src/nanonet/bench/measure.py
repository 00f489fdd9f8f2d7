"""Running one job in a child process and turning its output into figures.

Every child is started with a timeout and reaped whatever happens. Latency
samples go into an HDR histogram (3 significant digits), kept encoded with
the figures so the report can draw its CDF; a closed-loop W1 figure is half a
round trip, the usual one-way estimate for a symmetric ping-pong, and a
fixed-rate one the whole round trip counted from its intended send time.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from ..errors import BenchError
from . import syscalls
from .plan import NATIVE, Job

CHILD_TIMEOUT = 300.0
HDR_MAX_NS = 60_000_000_000
Figures = dict[str, Any]  # numbers, and "hdr": an encoded histogram


def command(job: Job, peers: Path | None) -> list[str]:
    """The argv that runs ``job``: the native peers, or the Python child."""
    if job.transport in NATIVE:
        if peers is None:
            raise BenchError("the native peers are not built")
        return [str(peers), job.workload, NATIVE[job.transport], *job.args()[2:]]
    return [sys.executable, "-m", "nanonet.bench.child", *job.args()]


def run_child(argv: list[str],
              timeout: float = CHILD_TIMEOUT) -> tuple[dict[str, float], list[int]]:
    """Run a child to the end (killed at ``timeout``); its summary and samples."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-1500:]
        raise BenchError(f"{Path(argv[0]).name} exited with {done.returncode}: {tail}")
    lines = done.stdout.splitlines()
    return json.loads(lines[0]), [int(x) for x in lines[1:]]


def _checked(summary: dict[str, float]) -> None:
    if summary.get("errors"):
        raise BenchError(f"{summary['errors']:.0f} messages out of sequence")
    if "received" in summary and summary["received"] != summary["count"]:
        raise BenchError(f"sent {summary['count']:.0f} but {summary['received']:.0f} checked")


def histogram(samples: list[int], halve: bool) -> HdrHistogram:
    """An HDR histogram of ``samples`` (ns), halved first for one-way figures."""
    hist = HdrHistogram(1, HDR_MAX_NS, 3)
    div = 2 if halve else 1
    for s in samples:
        hist.record_value(max(1, min(s // div, HDR_MAX_NS)))
    return hist


def latency(samples: list[int], halve: bool) -> Figures:
    """p50/p99/p99.9/max/mean of ``samples`` (ns), and the histogram, encoded."""
    hist = histogram(samples, halve)
    out: Figures = {f"p{name}_ns": float(hist.get_value_at_percentile(p))
                    for name, p in (("50", 50.0), ("99", 99.0), ("999", 99.9))}
    out.update(max_ns=float(hist.get_max_value()), mean_ns=hist.get_mean_value(),
               samples=float(len(samples)), hdr=hist.encode().decode("ascii"))
    return out


def w1(job: Job, peers: Path | None) -> Figures:
    """Closed loop: one-way = RTT/2. Paced: the whole round trip from its intended start."""
    summary, samples = run_child(command(job, peers))
    _checked(summary)
    if len(samples) != job.count:
        raise BenchError(f"expected {job.count} round trips, got {len(samples)}")
    out = {**latency(samples, halve=job.interval_ns == 0), "rounds": float(job.count)}
    if job.interval_ns:
        out.update(offered_per_s=1e9 / job.interval_ns,
                   achieved_per_s=job.count / summary["seconds"])
    if "cpu_s" in summary:  # CPU seconds over the run's wall seconds: cores kept busy
        out["cpu_per_wall"] = summary["cpu_s"] / summary["seconds"]
    return out


def w2(job: Job, peers: Path | None) -> Figures:
    summary, _ = run_child(command(job, peers))
    _checked(summary)
    seconds = summary["seconds"]
    out = {"msgs_per_s": job.count / seconds, "mb_per_s": job.count * job.size / seconds / 1e6,
           "messages": float(job.count), "seconds": seconds, "checked": summary["received"]}
    if "ticks_kept" in summary:  # an asyncio row: the share of a 1 ms ticker's ticks kept
        out["ticks_kept"] = summary["ticks_kept"]
    return out


def w3(job: Job, peers: Path | None) -> Figures:
    """System calls per message: a loaded run minus the same run with no message."""
    empty = Job(job.workload, job.transport, 0, job.size)
    idle = syscalls.count(command(empty, peers), CHILD_TIMEOUT)
    loaded = syscalls.count(command(job, peers), CHILD_TIMEOUT)
    return {"syscalls_per_msg": max(0, loaded - idle) / job.count,
            "syscalls_loaded": float(loaded), "syscalls_empty": float(idle),
            "messages": float(job.count)}


def w4(services: int) -> Figures:
    argv = [sys.executable, "-m", "nanonet.bench.child", "w4", "nanonet", str(services), "0", "0"]
    summary, samples = run_child(argv)
    lat = latency(samples, halve=False)
    grown = summary["rss_after_kb"] - summary["rss_before_kb"]
    floor = summary["engine_floor_p50_ns"]
    return {"cold_start_p50_us": lat["p50_ns"] / 1e3, "cold_start_p99_us": lat["p99_ns"] / 1e3,
            "cold_start_max_us": lat["max_ns"] / 1e3,
            "engine_floor_p50_us": floor / 1e3, "cold_start_vs_floor": lat["p50_ns"] / floor,
            "first_service_us": summary["first_service_ns"] / 1e3,
            "rss_per_service_kb": grown / services, "services": float(services)}


def _child(*args: object) -> dict[str, float]:
    argv = [sys.executable, "-m", "nanonet.bench.child", *map(str, args)]
    summary, _ = run_child(argv)
    return summary


def idle(services: int, window_ms: int) -> Figures:
    """N idle services in one process: total time to have them parked, RSS
    each, CPU seconds burnt per wall second while they sit parked ``window_ms``."""
    s = _child("idle", "nanonet", services, window_ms, 0)
    return {"services": float(services), "start_total_ms": s["seconds"] * 1e3,
            "rss_per_service_kb": (s["rss_after_kb"] - s["rss_before_kb"]) / services,
            "idle_cpu_per_s": s["idle_cpu_per_s"]}


def pipelines(lanes: int, per_lane: int, size: int) -> Figures:
    """``lanes`` producer -> consumer Wasm pairs at once: total messages/s."""
    s = _child("pipelines", "nanonet", per_lane, size, lanes)
    _checked(s)
    return {"pipelines": float(lanes), "messages": s["count"],
            "msgs_per_s": s["count"] / s["seconds"], "seconds": s["seconds"]}


def observe(count: int, rounds: int, repeats: int) -> list[tuple[str, Any]]:
    """The cost of observing: one child runs every mode; each mode is one row."""
    cache: dict[str, Any] = {}

    def row(mode: str) -> Figures:
        if not cache:
            argv = [sys.executable, "-m", "nanonet.bench.observe_cost", str(count), str(rounds),
                    str(repeats)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT * 3)
            if done.returncode != 0:
                raise BenchError(f"observe bench exited {done.returncode}: "
                                 f"{done.stderr[-1500:]}")
            cache.update(json.loads(done.stdout.splitlines()[-1]))
        figures: Figures = {**cache[mode], "repeats": float(cache["repeats"])}
        return figures

    modes = ("off", "counters", "tap", "sampled-tap")
    return [(mode, functools.partial(row, mode)) for mode in modes]


def python_process(samples: int = 5) -> Figures:
    """A bare Python process: median start time and RSS, the floor under one per service."""
    code = "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')))"
    times, rss = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=30, check=True)
        times.append((time.perf_counter() - t0) * 1e3)
        rss.append(float(out.stdout.strip()))
    return {"start_ms": sorted(times)[samples // 2], "rss_kb": sorted(rss)[samples // 2]}
