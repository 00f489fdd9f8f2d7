"""``nanonet debug adapter`` prints exactly the WAT a service of that shape gets."""

from __future__ import annotations

import subprocess
import sys

import pytest
import wasmtime

from nanonet.cli import main
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry

pytestmark = pytest.mark.timeout(60)


def test_debug_adapter_prints_the_generated_wat(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["debug", "adapter", "--reads", "a,b", "--writes", "c", "--slots", "8",
                 "--max-payload", "40", "--sampling"])
    out = capsys.readouterr().out
    g = Geometry.for_payload(8, 40)
    ends = [EndSpec("a", Direction.READ, g), EndSpec("b", Direction.READ, g),
            EndSpec("c", Direction.WRITE, g)]
    assert code == 0
    banner, _, wat = out.partition("(module\n")
    assert "(module\n" + wat == adapter_wat(ends, sampling=True)
    assert "handle 2: write 'c', memory 3, 8 slots of 48 bytes (40 payload)" in banner
    wasmtime.wat2wasm(out)  # the banner is a comment: the output assembles as it is


def test_debug_adapter_refuses_a_bad_shape_in_one_line() -> None:
    run = subprocess.run([sys.executable, "-m", "nanonet.cli", "debug", "adapter", "--reads",
                          "a", "--slots", "3"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.strip() == ("debug adapter: slot_count=3: must be a power of two "
                                  "between 2 and 16777216")
