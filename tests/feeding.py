"""What the feeding and inspector tests share: two small meshes, and ``nanonet`` run
as a user runs it, in subprocesses that are killed when the test ends.

- the relay mesh: the host writes ``in``, ``relay`` forwards every message to
  ``out``, which the host reads and prints; when ``in`` closes, ``relay``
  closes ``out`` and returns, so the run ends by itself;
- the holding mesh: the host writes ``hold``, whose reader (``sleeper``) never
  reads it, so what is sent waits in its ring; ``sleeper`` parks on ``nap``
  (written by the host, kept open) until the run is stopped. ``held`` is
  written by ``sleeper``: the host cannot send into it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import waits_on

WATCHDOG = 60.0  # seconds any one command may take: a hang fails, it never blocks the suite

RELAY = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv_batch" (func $recv_batch (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 2))
  (data (i32.const 0) "inout")
  (func (export "run") (result i32) (local $a i32) (local $b i32) (local $n i32)
    (local.set $a (call $tunnel (i32.const 0) (i32.const 2)))
    (local.set $b (call $tunnel (i32.const 2) (i32.const 3)))
    (loop $more
      (local.set $n (call $recv_batch (local.get $a) (i32.const 1024) (i32.const 32768)
                                      (i32.const 64)))
      (if (i32.lt_s (local.get $n) (i32.const 0)) (then
        (drop (call $close (local.get $b)))
        (return (i32.const 0))))
      (drop (call $send_batch (local.get $b) (i32.const 1024) (local.get $n)))
      (br $more))
    (i32.const 0)))
"""
RELAY_MANIFEST = """[tunnels.in]
writer = "host"
reader = "relay"
max_payload = 16
slots = 4
[tunnels.out]
writer = "relay"
reader = "host"
max_payload = 16
slots = 4
[services.relay]
wasm = "relay.wat"
"""
SLEEPER = waits_on("nap")
HOLDING_MANIFEST = """[tunnels.hold]
writer = "host"
reader = "sleeper"
max_payload = 32
slots = 16
[tunnels.nap]
writer = "host"
reader = "sleeper"
max_payload = 8
[tunnels.held]
writer = "sleeper"
reader = "host"
max_payload = 8
[services.sleeper]
wasm = "sleeper.wat"
"""


def relay_mesh(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "relay.wat").write_text(RELAY)
    (directory / "relay.toml").write_text(RELAY_MANIFEST)
    return directory / "relay.toml"


def holding_mesh(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sleeper.wat").write_text(SLEEPER)
    (directory / "holding.toml").write_text(HOLDING_MANIFEST)
    return directory / "holding.toml"


def user_env(tmp_path: Path) -> dict[str, str]:
    """The user's environment with a cache directory (and control files) of the test's own."""
    out = {k: v for k, v in os.environ.items() if k != "NANONET_CONTROL_FILE"}
    out["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return out


def cli(*args: str, env: dict[str, str], stdin: str | bytes | None = None,
        ) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", *args], env=env, input=data,
                          capture_output=True, timeout=WATCHDOG)
    return subprocess.CompletedProcess(done.args, done.returncode,
                                       done.stdout.decode("utf-8", "replace"),
                                       done.stderr.decode("utf-8", "replace"))


class Running:
    """``nanonet run ... --dashboard`` in the background, its endpoint read from stderr."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.said: list[str] = []
        assert proc.stderr is not None
        while not any("finds this mesh" in line for line in self.said):
            line = proc.stderr.readline()
            assert line, f"the run ended before it served its endpoint: {self.said}"
            self.said.append(line)
        found = re.search(r"dashboard: (http://127\.0\.0\.1:(\d+))/#token=([\w-]+)",
                          "".join(self.said))
        assert found is not None, self.said
        self.url, self.port, self.token = found[1], int(found[2]), found[3]

    @property
    def dashboard_url(self) -> str:
        return f"{self.url}/#token={self.token}"

    def stop(self) -> tuple[int, str, str]:
        """SIGTERM (a clean stop); the exit code, stdout and the rest of stderr."""
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=WATCHDOG)
        return self.proc.returncode, out, "".join(self.said) + err


@contextmanager
def running(*args: str, env: dict[str, str]) -> Iterator[Running]:
    """The run, killed (if still running) when the block ends, however it ends."""
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", *args], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield Running(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WATCHDOG)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
