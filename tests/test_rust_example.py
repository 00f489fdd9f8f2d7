"""examples/rust_counter: a Rust service between a C producer and the host,
checked and run through the command line as its README says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.toolchain import rustbuild

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rust_counter"
WORDS = ["tiny", "services", "talk", "through", "memory", "tunnels", "without", "syscalls"]
RUST_MISSING = rustbuild.available()
pytestmark = pytest.mark.skipif(RUST_MISSING is not None,
                                reason=f"Rust guests cannot be built here: {RUST_MISSING}")


def _nanonet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def test_check_accepts_the_rust_service() -> None:
    done = _nanonet("check", "nanonet.toml")
    assert done.returncode == 0, done.stderr
    assert ("service counter: source counter.rs, built by nanonet.toolchain.rustbuild "
            "(imports its memory)") in done.stdout
    assert "all 2 services load: every import is granted" in done.stdout


def test_run_upper_cases_every_word_and_sums_them_up() -> None:
    done = _nanonet("run", "nanonet.toml")
    assert done.returncode == 0, done.stderr
    upper = [line.rsplit(": ", 1)[1] for line in done.stdout.splitlines()
             if line.startswith("host ← upper")]
    assert upper == [repr(w.upper()) for w in WORDS]
    longest = max(WORDS, key=len)
    summary = f"'{len(WORDS)} words, {sum(map(len, WORDS))} bytes, longest: {longest}'"
    assert f"host ← summary #1 ({len(summary) - 2} bytes): {summary}" in done.stdout
    assert "  counter      stopped        0" in done.stdout
