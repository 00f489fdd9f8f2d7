"""``nanonet run --watch``: a real run (subprocess) whose guest's .wat source is
edited while it runs. A broken edit is reported and the old module runs on; a
good one is rebuilt and hot-upgraded, and the new module's end ends the run."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from feeding import WATCHDOG, user_env

pytestmark = pytest.mark.timeout(120)

PRODUCER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "o")
  (data (i32.const 8) "v1")
  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (loop $more
      (local.set $r (call $send (local.get $h) (i32.const 8) (i32.const 2)))
      (if (i32.eq (local.get $r) (i32.const -8)) (then (return (i32.const 0))))
      (br_if $more (i32.ge_s (local.get $r) (i32.const 0))))
    (local.get $r)))
"""
# the new version says so once, closes its tunnel and returns: the run ends
FINAL = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "o")
  (data (i32.const 8) "v2 is here")
  (func (export "run") (result i32) (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (drop (call $send (local.get $h) (i32.const 8) (i32.const 10)))
    (drop (call $close (local.get $h)))
    (i32.const 0)))
"""
MANIFEST = """[tunnels.o]
writer = "producer"
reader = "host"
max_payload = 16
slots = 8
[services.producer]
wasm = "producer.wat"
"""


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    """Every line it prints (stdout and stderr), on a queue (a thread of the test's
    reads them)."""
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put("")  # the end

    threading.Thread(target=pump, daemon=True).start()
    return out


def _until(lines: queue.Queue[str], text: str, said: list[str]) -> str:
    """The first line holding ``text`` (every line read goes to ``said``)."""
    for _ in range(1_000_000):  # bounded: the watchdog ends a hang first
        line = lines.get(timeout=WATCHDOG)
        said.append(line)
        if text in line:
            return line
        assert line, f"the run ended before it said {text!r}: {''.join(said[-20:])}"
    raise AssertionError(text)


def _edit(path: Path, text: str, step: int) -> None:
    """Rewrite the source with a modification time that surely differs."""
    path.write_text(text)
    stamp = path.stat().st_mtime + step
    os.utime(path, (stamp, stamp))


def test_run_watch_upgrades_a_service_after_its_source_changes(tmp_path: Path) -> None:
    source = tmp_path / "producer.wat"
    source.write_text(PRODUCER)
    (tmp_path / "mesh.toml").write_text(MANIFEST)
    proc = subprocess.Popen([sys.executable, "-m", "nanonet.cli", "run", "mesh.toml", "--watch",
                             "--quiet", "--timeout", "60"], cwd=tmp_path, env=user_env(tmp_path),
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    said: list[str] = []
    try:
        lines = _lines(proc)
        _until(lines, "watching producer (producer.wat)", said)
        _edit(source, PRODUCER.replace("(local.get $r)))", "(local.get $r))"), 1)  # broken
        refused = _until(lines, "watch: ", said)
        refused += _until(lines, "watch: ", said)
        assert "rebuilding producer" in refused and "does not compile" in refused, refused
        _edit(source, FINAL, 2)
        _until(lines, "rebuilding producer", said)
        done = _until(lines, "watch: ", said)
        assert "service 'producer' upgraded; the old module stopped" in done, done
        for _ in range(1_000):  # to the end: the new module ended the run
            said.append(lines.get(timeout=WATCHDOG))
            if not said[-1]:
                break
        assert proc.wait(WATCHDOG) == 0, "".join(said)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(WATCHDOG)
        assert proc.stdout is not None
        proc.stdout.close()
    text = "".join(said)
    assert "every service ended" in text, text
    assert "host received 1 message(s) on o" not in text  # v1 sent many before v2's one
    assert "producer     stopped        0" in text, text
