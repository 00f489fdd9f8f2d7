"""docs/tutorial.md runs as written.

Every fenced block whose first line is ``file: NAME`` (after the comment
sign of its language) is written to an empty folder; every ``sh`` block is
then run there by bash, in order, with ``nanonet`` and ``python`` being this
checkout's (this interpreter, ``PYTHONPATH`` on ``src``). A block that fails
fails the test with its output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
FILE = re.compile(r"^(?:;;|#|//) file: (\S+)\n")


def blocks() -> list[tuple[str, str]]:
    """(language, text) of every fenced block, in page order."""
    return BLOCK.findall(TUTORIAL.read_text())


def _shims(bin_dir: Path) -> None:
    """``nanonet`` and ``python`` commands that run this checkout."""
    bin_dir.mkdir()
    for name, args in (("nanonet", "-m nanonet.cli"), ("python", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec {sys.executable} {args} "$@"\n')
        shim.chmod(0o755)


def test_the_tutorial_names_its_files_and_commands() -> None:
    langs = [lang for lang, _ in blocks()]
    files = [FILE.match(text) for _, text in blocks()]
    assert langs.count("sh") >= 4
    assert {m.group(1) for m in files if m} == {"hello.wat", "nanonet.toml", "hello.py"}


@pytest.mark.timeout(300)
def test_every_command_of_the_tutorial_runs(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _shims(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT / "src"), NANONET_CONTROL_FILE=str(tmp_path / "ctl.json"))
    for _, text in blocks():
        if m := FILE.match(text):
            (work / m.group(1)).write_text(text)
    outputs = []
    for lang, text in blocks():
        if lang != "sh":
            continue
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{text}\n{done.stdout}\n{done.stderr}"
        outputs.append(done.stdout)
    check, run, py, top, watched = outputs
    assert "the service loads: every import is granted" in check
    assert re.search(r"greetings +[\d,]+ +[\d,]+ ", run) and "hello        stopped        0" in run
    assert py.splitlines() == ["b'hello'"] * 3
    assert "greetings" in top
    assert "nanonet top" in watched and "hello" in watched
