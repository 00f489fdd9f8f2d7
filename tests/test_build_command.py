"""A manifest's build command: run by `nanonet check` only with --build, and
bounded by its timeout, after which its whole process group is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import wait_until
from nanonet import ManifestError, load_manifest
from nanonet.cli import main

GUEST = """(module
  (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 0)))
"""


def _manifest(tmp_path: Path, build: str, extra: str = "") -> Path:
    (tmp_path / "guest.src").write_text(GUEST)
    path = tmp_path / "nanonet.toml"
    path.write_text('[tunnels.out]\nwriter = "guest"\nreader = "host"\n\n'
                    f'[services.guest]\nwasm = "guest.wat"\nbuild = {build}\n{extra}')
    return path


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie left for init counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_check_runs_the_build_command_only_with_build(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _manifest(tmp_path, '["sh", "-c", "touch ran && cp guest.src guest.wat"]')
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "services.guest.wasm: guest.wat is not built" in err
    assert "run `nanonet build` (or `nanonet check --build`" in err
    assert not (tmp_path / "ran").exists()
    assert main(["check", str(path), "--build"]) == 0
    assert (tmp_path / "ran").exists()
    assert "the service loads" in capsys.readouterr().out


def test_check_loads_what_is_built_without_running_the_command(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _manifest(tmp_path, '["sh", "-c", "touch ran"]')
    (tmp_path / "guest.wat").write_text(GUEST)
    assert main(["check", str(path)]) == 0
    assert "guest.wat (" in capsys.readouterr().out and not (tmp_path / "ran").exists()


def test_a_build_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    build = '["sh", "-c", "sleep 600 & echo $! > child.pid; wait"]'
    m = load_manifest(_manifest(tmp_path, build, "build_timeout = 1\n"))
    lines: list[str] = []
    with pytest.raises(ManifestError) as caught:
        m.build_mesh(lines.append)
    text = str(caught.value)
    assert "services.guest.build: ran past its timeout of 1 s, so it was stopped" in text
    assert "raise build_timeout = <seconds> in [services.guest]" in text
    assert lines[0] == "  guest: running sh -c sleep 600 & echo $! > child.pid; wait (timeout 1 s)"
    wait_until(lambda: (tmp_path / "child.pid").is_file(), "the build wrote its child's pid")
    child = int((tmp_path / "child.pid").read_text())
    wait_until(lambda: _gone(child), "the build's child is gone", timeout=30)


def test_build_timeout_belongs_to_a_build_command(tmp_path: Path) -> None:
    (tmp_path / "guest.wat").write_text(GUEST)
    path = tmp_path / "nanonet.toml"
    path.write_text('[tunnels.out]\nwriter = "guest"\nreader = "host"\n\n'
                    '[services.guest]\nwasm = "guest.wat"\nbuild_timeout = 5\n')
    with pytest.raises(ManifestError, match="build_timeout applies only to a build command"):
        load_manifest(path)


def test_ctrl_c_during_a_build_kills_the_build_and_its_children(tmp_path: Path) -> None:
    build = '["sh", "-c", "sleep 600 & echo $! > child.pid; wait"]'
    cmd = [sys.executable, "-m", "nanonet.cli", "check", "--build", str(_manifest(tmp_path, build))]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True) as proc:
        try:
            wait_until(lambda: (tmp_path / "child.pid").is_file() and
                       (tmp_path / "child.pid").read_text().strip() != "",
                       "the build wrote its child's pid", timeout=60)
            os.kill(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=60) == 130
        finally:
            proc.kill()
    child = int((tmp_path / "child.pid").read_text())
    wait_until(lambda: _gone(child), "the build's child is gone", timeout=30)
