"""The CPU time one thread has used, read from outside it (Linux ``/proc``).

Each service runs on a thread of its own named ``nanonet:NAME``, so its CPU
time is that thread's: ``/proc/self/task/TID/schedstat`` (nanoseconds on a
CPU, where the kernel keeps scheduler statistics), else ``utime + stime`` of
``/proc/self/task/TID/stat`` in clock ticks. ``time.thread_time`` would only
answer on the thread itself, which is inside Wasm. A thread that has ended
answers None: its id may already belong to another thread.
"""

from __future__ import annotations

import os
import threading

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read()
    except OSError:  # the thread ended meanwhile, or no /proc here
        return None


def task_cpu_seconds(tid: int) -> float | None:
    """Seconds on a CPU of thread ``tid`` of this process; None if it is gone."""
    sched = _read(f"/proc/self/task/{tid}/schedstat")
    if sched and sched.split()[0].isdigit():
        return int(sched.split()[0]) / 1e9
    stat = _read(f"/proc/self/task/{tid}/stat")
    if stat is None:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def thread_cpu_seconds(thread: threading.Thread | None) -> float | None:
    """Seconds on a CPU of a live ``thread``; None before it starts or once it ended."""
    if thread is None or thread.native_id is None or not thread.is_alive():
        return None
    return task_cpu_seconds(thread.native_id)
