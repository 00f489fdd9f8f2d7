"""What machine and which versions a result came from: figures mean little without."""

from __future__ import annotations

import os
import platform
import time
from importlib.metadata import PackageNotFoundError, version


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cpu_times() -> tuple[int, int]:
    """(idle, total) jiffies over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def busy_cpus(window: float = 0.3) -> float:
    """How many CPUs other work kept busy during ``window`` seconds."""
    try:
        idle0, total0 = _cpu_times()
        time.sleep(window)
        idle1, total1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return 0.0
    spent = max(1, total1 - total0)
    return (1 - (idle1 - idle0) / spent) * (os.cpu_count() or 1)


def machine() -> dict[str, object]:
    """Cores, CPU, kernel, and how busy the machine was as the run began.

    Spinning peers (c-ring, nanonet) lose most when another process holds a
    core, so a reader of the figures needs to know.
    """
    return {"cores": os.cpu_count() or 0, "cpu_model": cpu_model(),
            "kernel": platform.release(), "arch": platform.machine(),
            "load_avg_1m": os.getloadavg()[0], "busy_cpus_at_start": busy_cpus()}


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def versions(zig: str) -> dict[str, str]:
    out = {name: _version(name) for name in ("nanonet", "wasmtime", "hdrhistogram", "rich")}
    out.update(python=platform.python_version(), zig=zig)
    return out
