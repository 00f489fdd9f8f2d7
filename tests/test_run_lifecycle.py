"""``nanonet run`` from start to end as a user runs it, in a subprocess: under
``--top`` in a terminal, stopped by Ctrl-C or SIGTERM, piped into a reader that
leaves, refused before loading; and the control files ``top`` finds meshes by.

The mesh: ``talker`` sends COUNT messages to the host, then parks on a tunnel
nobody writes (as does ``mute``), so it runs, idle, until it is stopped."""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_until, waits_on

pytestmark = pytest.mark.timeout(180)
WATCHDOG = 60.0  # seconds any one subprocess may take: a hang fails, it never blocks the suite

TALKER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "out") (data (i32.const 8) "in") (data (i32.const 16) "tick")
  (func (export "run") (result i32)
    (local $h i32) (local $n i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 3)))
    (block $sent (loop $more
      (br_if $sent (i32.ge_u (local.get $n) (i32.const COUNT)))
      (drop (call $send (local.get $h) (i32.const 16) (i32.const 4)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $more)))
    (call $recv (call $tunnel (i32.const 8) (i32.const 2)) (i32.const 64) (i32.const 8))))
"""
MUTE = waits_on("back")
MANIFEST = """[tunnels.out]
writer = "talker"
reader = "host"
max_payload = 8
[tunnels.in]
writer = "mute"
reader = "talker"
max_payload = 8
[tunnels.back]
writer = "talker"
reader = "mute"
max_payload = 8
[services.talker]
wasm = "talker.wat"
[services.mute]
wasm = "mute.wat"
"""


def _manifest(directory: Path, count: int = 200) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "talker.wat").write_text(TALKER.replace("COUNT", str(count)))
    (directory / "mute.wat").write_text(MUTE)
    (directory / "nanonet.toml").write_text(MANIFEST)
    return directory / "nanonet.toml"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The user's environment with a cache directory of this test's own."""
    out = {k: v for k, v in os.environ.items() if k != "NANONET_CONTROL_FILE"}
    out["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return out


def _meshes(env: dict[str, str]) -> list[str]:
    directory = Path(env["XDG_CACHE_HOME"]) / "nanonet" / "meshes"
    return sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []


def _cli(*args: str, env: dict[str, str], cwd: Path | None = None,
         stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], env=env, cwd=cwd,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=WATCHDOG)


_STARTED: list[subprocess.Popen[str] | subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap() -> Iterator[None]:
    """Every command a test started is gone when it ends, even when it failed."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
        proc.wait(WATCHDOG)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _start(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _STARTED.append(proc)
    return proc


def _read_until(proc: subprocess.Popen[str], text: str) -> list[str]:
    """stdout's lines up to the first that holds ``text`` (EOF first fails)."""
    assert proc.stdout is not None
    lines: list[str] = []
    while not lines or text not in lines[-1]:
        line = proc.stdout.readline()
        assert line, f"stdout ended before {text!r}: {lines[-5:]}"
        lines.append(line)
    return lines


# -- --top in a terminal ------------------------------------------------------

class Terminal:
    """A pseudo-terminal of 100x30 that a command runs in; all it printed, read back."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", *args], env=env,
                                     stdin=slave, stdout=slave, stderr=slave)
        _STARTED.append(self.proc)
        os.close(slave)
        self.seen = b""

    def read_until(self, text: bytes | None, limit: float = WATCHDOG) -> bytes:
        """Read until ``text`` shows (or, with None, until the command closes the terminal)."""
        deadline = time.monotonic() + limit
        while text is None or text not in self.seen:
            assert time.monotonic() < deadline, f"no {text!r} in {self.seen[-2000:]!r}"
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the command has exited and closed its end
                chunk = b""
            if not chunk:
                assert text is None, f"the command ended before {text!r}: {self.seen[-2000:]!r}"
                break
            self.seen += chunk
        return self.seen

    def finish(self) -> tuple[int, str]:
        self.read_until(None)
        os.close(self.master)
        return self.proc.wait(WATCHDOG), self.seen.decode("utf-8", "replace")


def test_top_prints_what_the_host_receives_above_the_view_and_stops_at_the_timeout(
        tmp_path: Path, env: dict[str, str]) -> None:
    term = Terminal(["run", str(_manifest(tmp_path)), "--top", "--timeout", "1"], env)
    code, seen = term.finish()
    assert "Traceback" not in seen and "RecursionError" not in seen
    assert "\x1b[?1049h" not in seen  # the normal screen: what was printed stays visible
    assert "stopped at the timeout (1 s) after" in seen
    received = re.search(r"host received (\d+) message\(s\) on out", seen)
    assert received is not None, seen[-2000:]
    assert f"host ← out #{received[1]} (4 bytes): 'tick'" in seen  # every one was printed
    assert code == 0


@pytest.mark.parametrize(("sig", "why", "exit_code"), [
    (signal.SIGINT, "stopped by Ctrl-C", 130), (signal.SIGTERM, "stopped by SIGTERM", 0)])
def test_top_stops_on_ctrl_c_and_sigterm_with_the_right_summary(
        tmp_path: Path, env: dict[str, str], sig: signal.Signals, why: str,
        exit_code: int) -> None:
    manifest = _manifest(tmp_path / "nanonet-top")
    term = Terminal(["run", str(manifest), "--top", "--dashboard"], env)
    term.read_until("host ← out #200".encode())
    left = _meshes(env)  # written before the run began
    term.proc.send_signal(sig)
    code, seen = term.finish()
    assert "Traceback" not in seen
    assert f"{why} after" in seen and "host received 200 message(s) on out" in seen
    assert code == exit_code
    assert left == ["nanonet-top.json"] and _meshes(env) == []


# -- SIGTERM without --top ------------------------------------------------------

def test_sigterm_is_a_clean_stop_with_a_summary_and_no_control_file_left(
        tmp_path: Path, env: dict[str, str]) -> None:
    proc = _start("run", str(_manifest(tmp_path / "pipeline")), "--dashboard", env=env)
    _read_until(proc, "host ← out #200")
    left = _meshes(env)  # written before the run began
    proc.terminate()
    out, err = proc.communicate(timeout=WATCHDOG)
    assert "Traceback" not in err
    assert "stopped by SIGTERM after" in out
    assert "talker       stopped" in out and "host received 200 message(s) on out" in out
    assert proc.returncode == 0
    assert left == ["pipeline.json"] and _meshes(env) == []


# -- a reader that leaves (| head) ---------------------------------------------

@pytest.mark.parametrize("args", [["check", "M"], ["run", "M", "--timeout", "30"]])
def test_a_closed_stdout_ends_any_command_quietly(
        tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
    manifest = str(_manifest(tmp_path))
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write fails with EPIPE
    try:
        done = _cli(*[manifest if a == "M" else a for a in args], env=env, stdout=write)
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 141


@pytest.mark.parametrize("top", [[], ["--top"]])
def test_run_whose_reader_leaves_mid_run_stops_the_mesh_quietly(
        tmp_path: Path, env: dict[str, str], top: list[str]) -> None:
    proc = _start("run", str(_manifest(tmp_path, count=10_000_000)), "--timeout", "300",
                  "--dashboard", *top, env=env)
    _read_until(proc, "host ← out #3 ")
    left = _meshes(env)  # written before the run began
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as head does after its lines
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(WATCHDOG) == 141  # long before the timeout: the mesh stopped
    assert "Traceback" not in err and "Exception ignored" not in err
    assert len(left) == 1 and _meshes(env) == []


# -- refused before anything loads -----------------------------------------------

def test_a_busy_observe_port_is_one_line_before_loading(
        tmp_path: Path, env: dict[str, str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _cli("run", str(_manifest(tmp_path)), "--dashboard", "--observe-port",
                    str(port), env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"nanonet: invalid-value: cannot serve the control endpoint on 127.0.0.1:{port}: "
        "Address already in use; choose another port (--observe-port), or 0 for any free one"]
    assert "building and loading" not in done.stdout


@pytest.mark.skipif(importlib.util.find_spec("opentelemetry.exporter") is not None,
                    reason="the OTLP exporter is installed: nothing is missing")
def test_traces_otlp_without_the_exporter_is_one_line_before_loading(
        tmp_path: Path, env: dict[str, str]) -> None:
    done = _cli("run", str(_manifest(tmp_path)), "--traces", "otlp", "--timeout", "1", env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "nanonet: missing-tool: --traces otlp needs opentelemetry-exporter-otlp-proto-http: "
        "pip install it, or choose --traces console"]
    assert "building and loading" not in done.stdout


# -- finding the mesh -----------------------------------------------------------

@pytest.mark.parametrize("command", [["top", "--frames", "1"], ["tap", "out", "-w", "x.pcapng"]])
def test_with_no_running_mesh_top_and_tap_say_how_to_start_one(
        tmp_path: Path, env: dict[str, str], command: list[str]) -> None:
    meshes = Path(env["XDG_CACHE_HOME"]) / "nanonet" / "meshes"
    meshes.mkdir(parents=True, mode=0o700)
    ghost = meshes / "ghost.json"
    ghost.write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "t" * 16,
                                 "pid": str(_dead_pid()), "mesh": "ghost"}))
    done = _cli(*command, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "nanonet: control-file: no running mesh: start one with 'nanonet run MANIFEST "
        "--dashboard', or pass --connect HOST:PORT and --token"]
    assert not ghost.exists()  # stale: its process is gone, so it was removed
    assert not (tmp_path / "x.pcapng").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def two_meshes(tmp_path: Path, env: dict[str, str]) -> Iterator[list[subprocess.Popen[str]]]:
    """Two runs of one manifest: named by its directory, the second with a suffix."""
    manifest = str(_manifest(tmp_path / "shop", count=1))
    procs = [_start("run", manifest, "--dashboard", env=env)]
    wait_until(lambda: _meshes(env) == ["shop.json"], "the first mesh left its file")
    procs.append(_start("run", manifest, "--dashboard", env=env))
    wait_until(lambda: _meshes(env) == ["shop-2.json", "shop.json"], "the second one did")
    yield procs  # _reap ends them if the test did not


def test_with_several_meshes_top_lists_them_and_mesh_chooses(
        env: dict[str, str], two_meshes: list[subprocess.Popen[str]]) -> None:
    done = _cli("top", "--frames", "1", env=env)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("nanonet: control-file: 2 meshes are running: shop (http://127.0.0.1:")
    assert f"pid {two_meshes[0].pid}), shop-2 (http://127.0.0.1:" in line
    assert line.endswith(f"pid {two_meshes[1].pid}); choose one with --mesh NAME")
    done = _cli("top", "--frames", "1", "--mesh", "shop-2", env=env)
    assert done.returncode == 0, done.stderr
    assert "talker" in done.stdout and "mute" in done.stdout
    done = _cli("top", "--frames", "1", "--mesh", "cafe", env=env)
    assert done.returncode == 1
    assert "no running mesh named 'cafe'; choose one of shop, shop-2 with --mesh NAME" in \
        done.stderr
    for proc in two_meshes:
        proc.terminate()
        assert proc.wait(WATCHDOG) == 0
    assert _meshes(env) == []
