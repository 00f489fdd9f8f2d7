"""promtool's lint of a scrape (``promtool check metrics`` reads it on stdin), for
every test that checks /metrics as Prometheus would read it; the test is
skipped where promtool is not installed (scripts/setup puts Debian's into .venv/bin)."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig

import pytest


def promtool_check(body: bytes) -> None:
    """Fail the test unless promtool finds ``body`` a valid exposition."""
    venv_bin = sysconfig.get_path("scripts")
    promtool = shutil.which("promtool") or shutil.which("promtool", path=venv_bin)
    if promtool is None:
        pytest.skip("promtool is not installed (scripts/setup puts Debian's into .venv/bin)")
    out = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                         timeout=60, check=False)
    assert out.returncode == 0, (out.stdout + out.stderr).decode()
