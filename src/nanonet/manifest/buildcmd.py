"""Running a manifest's ``build`` command: bounded in time, killed as a group.

A build command is whatever the manifest says (``make``, ``cargo build``, a
shell script), and it may start children of its own. It runs in a session of
its own, so that on its timeout (``build_timeout`` seconds, ``DEFAULT_TIMEOUT``
unless the manifest says otherwise) or on Ctrl-C the whole process group is
killed, not only the command nanonet started. While it runs, a progress line
says so every ``PROGRESS_EVERY`` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BuildTimeout as BuildTimeout  # re-exported from its first home

DEFAULT_TIMEOUT = 600.0  # seconds: generous for a compiler, finite for a hung script
PROGRESS_EVERY = 10.0
Progress = Callable[[str], None]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """What a build command left: its exit status and its last words."""

    returncode: int
    output: str
    seconds: float


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the command's whole process group (its own session), then reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=5)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C that arrives while the command is being started (inside
    Popen, which would lose the child) until Popen has returned."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread gets KeyboardInterrupt
        return
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: seen.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if seen and callable(previous):
            previous(signal.SIGINT, None)  # the default handler raises KeyboardInterrupt


def run_build(cmd: list[str], cwd: Path, timeout: float, progress: Progress,
              who: str) -> Finished:
    """Run ``cmd`` in ``cwd`` for at most ``timeout`` s; BuildTimeout past it.

    Raises OSError if the command cannot be started at all.
    """
    t0 = time.monotonic()
    log.debug("%s: running %s in %s, timeout %g s", who, cmd, cwd, timeout)
    proc: subprocess.Popen[str] | None = None
    try:
        with _ctrl_c_deferred():  # so that a Ctrl-C always finds ``proc`` to kill
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    text=True, start_new_session=True)
        while True:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                _kill_group(proc)
                raise BuildTimeout(f"ran past its timeout of {timeout:g} s")
            try:
                out, _ = proc.communicate(timeout=min(PROGRESS_EVERY, left))
                break
            except subprocess.TimeoutExpired:
                progress(f"  {who}: still building after {time.monotonic() - t0:.0f} s "
                         f"(timeout {timeout:g} s)")
    except BaseException:  # Ctrl-C and the timeout alike: nothing of it survives
        if proc is not None:
            _kill_group(proc)
        raise
    return Finished(proc.returncode, out or "", time.monotonic() - t0)
