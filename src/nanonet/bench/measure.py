"""Running one job in a child process and turning its output into figures.

Every child is started with a timeout and reaped whatever happens. Latency
samples go into an HDR histogram (3 significant digits); a W1 figure is half
a round trip, the usual one-way estimate for a symmetric ping-pong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hdrh.histogram import HdrHistogram

from . import syscalls
from .plan import NATIVE, Job

CHILD_TIMEOUT = 300.0
HDR_MAX_NS = 60_000_000_000
Figures = dict[str, float]


def command(job: Job, peers: Path | None) -> list[str]:
    """The argv that runs ``job``: the native peers, or the Python child."""
    if job.transport in NATIVE:
        if peers is None:
            raise RuntimeError("the native peers are not built")
        return [str(peers), job.workload, NATIVE[job.transport], *job.args()[2:]]
    return [sys.executable, "-m", "nanonet.bench.child", *job.args()]


def run_child(argv: list[str], timeout: float = CHILD_TIMEOUT) -> tuple[Figures, list[int]]:
    """Run a child to the end (killed at ``timeout``); its summary and samples."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-1500:]
        raise RuntimeError(f"{Path(argv[0]).name} exited with {done.returncode}: {tail}")
    lines = done.stdout.splitlines()
    return json.loads(lines[0]), [int(x) for x in lines[1:]]


def _checked(summary: Figures) -> None:
    if summary.get("errors"):
        raise RuntimeError(f"{summary['errors']:.0f} messages out of sequence")
    if "received" in summary and summary["received"] != summary["count"]:
        raise RuntimeError(f"sent {summary['count']:.0f} but {summary['received']:.0f} checked")


def latency(samples: list[int], halve: bool) -> Figures:
    """p50/p99/p99.9/max/mean of ``samples`` (ns), halved for one-way figures."""
    hist = HdrHistogram(1, HDR_MAX_NS, 3)
    for s in samples:
        hist.record_value(max(1, min(s, HDR_MAX_NS)))
    div = 2 if halve else 1
    out = {f"p{name}_ns": hist.get_value_at_percentile(p) / div
           for name, p in (("50", 50.0), ("99", 99.0), ("999", 99.9))}
    out.update(max_ns=hist.get_max_value() / div, mean_ns=hist.get_mean_value() / div,
               samples=float(len(samples)))
    return out


def w1(job: Job, peers: Path | None) -> Figures:
    summary, samples = run_child(command(job, peers))
    _checked(summary)
    if len(samples) != job.count:
        raise RuntimeError(f"expected {job.count} round trips, got {len(samples)}")
    return {**latency(samples, halve=True), "rounds": float(job.count)}


def w2(job: Job, peers: Path | None) -> Figures:
    summary, _ = run_child(command(job, peers))
    _checked(summary)
    seconds = summary["seconds"]
    return {"msgs_per_s": job.count / seconds, "mb_per_s": job.count * job.size / seconds / 1e6,
            "messages": float(job.count), "seconds": seconds, "checked": summary["received"]}


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
    return {"cold_start_p50_us": lat["p50_ns"] / 1e3, "cold_start_p99_us": lat["p99_ns"] / 1e3,
            "cold_start_max_us": lat["max_ns"] / 1e3,
            "first_service_us": summary["first_service_ns"] / 1e3,
            "rss_per_service_kb": grown / services, "services": float(services)}
