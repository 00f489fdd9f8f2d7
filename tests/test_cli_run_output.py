"""What ``nanonet run`` shows: guests' lines labelled with their service,
``-v`` logging, traps grouped by cause and place, exit codes with their
meaning, and the final summary as JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

# writes "line one\nline " then "two\n" (two fd_write calls, one line split
# across them), then closes its tunnel, whose name is data at offset 0
TALKER = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "{tunnel}")
  (data (i32.const 16) "line one\\nline ")
  (data (i32.const 40) "two\\n")
  (func $write (param i32 i32)
    (i32.store (i32.const 64) (local.get 0)) (i32.store (i32.const 68) (local.get 1))
    (drop (call $fd_write (i32.const {fd}) (i32.const 64) (i32.const 1) (i32.const 80))))
  (func (export "run") (result i32)
    (call $write (i32.const 16) (i32.const 14))
    (call $write (i32.const 40) (i32.const 4))
    (call $close (call $tunnel (i32.const 0) (i32.const 1)))))
"""

BOOM = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $explode (result i32) unreachable)
  (func (export "run") (result i32) (call $explode)))
"""

# asks for tunnel "nope", which it does not hold, and returns the status (-5)
ASKER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "nope")
  (func (export "run") (result i32) (call $tunnel (i32.const 0) (i32.const 4))))
"""

MANIFEST = """\
[tunnels.a]
writer = "alpha"
reader = "host"

[tunnels.b]
writer = "beta"
reader = "host"

[services.alpha]
source = "alpha.wat"
grants.stdout = true

[services.beta]
source = "beta.wat"
grants.stderr = true
"""

FAILING = """\
[tunnels.c]
writer = "boom"
reader = "host"

[tunnels.d]
writer = "asker"
reader = "host"

[services.boom]
source = "boom.wat"
restart = { policy = "on-failure", max_restarts = 3, initial_ms = 0 }

[services.asker]
source = "asker.wat"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.fixture
def talkers(tmp_path: Path) -> Path:
    (tmp_path / "alpha.wat").write_text(TALKER.format(tunnel="a", fd=1))
    (tmp_path / "beta.wat").write_text(TALKER.format(tunnel="b", fd=2))
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    return tmp_path


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    (tmp_path / "boom.wat").write_text(BOOM)
    (tmp_path / "asker.wat").write_text(ASKER)
    (tmp_path / "nanonet.toml").write_text(FAILING)
    return tmp_path


def test_several_services_lines_are_labelled_whole(talkers: Path) -> None:
    done = cli("run", cwd=talkers)
    assert done.returncode == 0, done.stderr
    out = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert out == ["[alpha] line one", "[alpha] line two"]
    err = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert err == ["[beta] line one", "[beta] line two"]


def test_one_service_writes_straight_to_the_host_stdout(talkers: Path) -> None:
    (talkers / "nanonet.toml").write_text(MANIFEST.split("[services.alpha]")[0].split(
        "[tunnels.b]")[0] + "[services.alpha]\nsource = \"alpha.wat\"\ngrants.stdout = true\n")
    done = cli("run", cwd=talkers)
    assert done.returncode == 0, done.stderr
    assert "line one\nline two\n" in done.stdout and "[alpha]" not in done.stdout


def test_verbose_logs_load_start_and_end_of_each_service(talkers: Path) -> None:
    quiet = cli("run", cwd=talkers)
    assert "nanonet INFO" not in quiet.stderr
    done = cli("run", "-v", cwd=talkers)
    assert done.returncode == 0, done.stderr
    log = [line for line in done.stderr.splitlines() if line.startswith("nanonet INFO")]
    assert "nanonet INFO nanonet.manifest.manifest: loading service alpha (0 read(s), " \
        "1 write(s))" in log
    assert "nanonet INFO nanonet.runtime.supervisor: service beta: start (created -> " \
        "running)" in log
    assert "nanonet INFO nanonet.runtime.supervisor: service alpha: return (running -> " \
        "stopped)" in log
    assert any(line.startswith("nanonet INFO nanonet.mesh: stopping") for line in log)
    for switches in (["-vv", "run"], ["-v", "run", "-v"], ["run", "-vv"]):
        debug = cli(*switches, cwd=talkers)
        assert "nanonet DEBUG nanonet.manifest.manifest: tunnel a: 1024 slots of 248 bytes" in (
            debug.stderr), switches


def test_traps_are_grouped_and_exit_codes_named(failing: Path) -> None:
    done = cli("run", cwd=failing)
    assert done.returncode == 1
    rows = {line.split()[0]: line for line in done.stdout.splitlines()
            if line.startswith("  ") and len(line.split()) > 1}
    assert "4 × unreachable executed at explode+0x" in rows["boom"]
    assert "failed: out of restarts" in rows["boom"]
    assert "wasm backtrace" not in done.stdout
    assert rows["asker"].split()[:3] == ["asker", "stopped", "-5"]
    assert ("  exit -5 NN_BAD_HANDLE: asked for a tunnel it does not hold (or used an end in "
            "the wrong direction)") in done.stdout
    assert ("  the guest asked for tunnel 'nope', which it does not hold (it answers to: "
            "'d'): fix the name in the guest, or map it with names=") in done.stdout


def test_run_json_is_the_summary_alone_on_stdout(failing: Path) -> None:
    done = cli("run", "--json", cwd=failing)
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert (doc["ended"], doc["exit_status"]) == ("every service ended", 1)
    services = {s["name"]: s for s in doc["services"]}
    boom, asker = services["boom"], services["asker"]
    assert (boom["state"], boom["restarts"]) == ("failed", 3)
    [group] = boom["traps"]
    assert (group["cause"], group["count"]) == ("unreachable executed", 4)
    assert group["places"][0]["at"].startswith("explode+0x")
    assert (asker["exit_code"], asker["exit_meaning"].split(":")[0]) == (-5, "-5 NN_BAD_HANDLE")
    assert {t["name"] for t in doc["tunnels"]} == {"c", "d"}
    assert "building and loading 2 services" in done.stderr


def test_run_json_keeps_guest_output_off_stdout(talkers: Path) -> None:
    done = cli("run", "--json", cwd=talkers)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_status"] == 0
    assert "[alpha] line one" in done.stderr
