"""Counting the system calls of a command: perf if it works here, else strace.

``strace -f -c`` stops the traced process at every system call (tens of us
each here), which changes how blocking transports behave; ``perf stat -e
raw_syscalls:sys_enter`` counts in the kernel without stopping anything, and
follows child processes and threads too. So perf is tried first, by counting
the calls of ``true``; strace is the fallback.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile

from ..errors import BenchError, MissingTool

PERF_EVENT = "raw_syscalls:sys_enter"
PROBE_TIMEOUT = 30


def _perf_argv(out: str) -> list[str]:
    return ["perf", "stat", "-x", ",", "-e", PERF_EVENT, "-o", out, "--"]


def _strace_argv(out: str) -> list[str]:
    return ["strace", "-f", "-c", "-o", out]


def _parse_perf(text: str) -> int:
    for line in text.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == PERF_EVENT and fields[0].isdigit():
            return int(fields[0])
    raise BenchError(f"perf stat printed no {PERF_EVENT} count:\n{text}")


def _parse_strace(text: str) -> int:
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[-1] == "total":
            return int(fields[3])  # % time, seconds, usecs/call, calls, [errors,] total
    raise BenchError(f"strace -c printed no total line:\n{text}")


def _run(tool: str, argv: list[str], timeout: float) -> int:
    with tempfile.TemporaryDirectory(prefix="nanonet-w3-") as tmp:
        out = os.path.join(tmp, "count.txt")
        wrap = _perf_argv(out) if tool == "perf" else _strace_argv(out)
        done = subprocess.run(wrap + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, timeout=timeout)
        if done.returncode != 0:
            raise BenchError(f"{argv[0]} failed under {tool}: {done.stderr[-2000:]}")
        with open(out) as f:
            text = f.read()
    return _parse_perf(text) if tool == "perf" else _parse_strace(text)


@functools.cache
def counter() -> str:
    """'perf' or 'strace', whichever counts here; '' if neither does."""
    for tool in ("perf", "strace"):
        if shutil.which(tool) is None:
            continue
        try:
            if _run(tool, ["true"], PROBE_TIMEOUT) > 0:
                return tool
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            continue
    return ""


def describe(tool: str) -> str:
    return {"perf": f"perf stat -e {PERF_EVENT}", "strace": "strace -f -c"}.get(tool, "none")


def count(argv: list[str], timeout: float) -> int:
    """System calls made by ``argv`` and everything it starts."""
    tool = counter()
    if not tool:
        raise MissingTool("neither perf nor strace can count system calls here: install "
                          "linux-perf (or strace) and allow perf_event_paranoid <= 1")
    return _run(tool, argv, timeout)
