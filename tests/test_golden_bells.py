"""The adapter of a service that waits on many ends, pinned like the others
(tests/golden/), and the promise that a service touching no bell keeps the
adapter it had, byte for byte. Regenerate with NANONET_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import wasmtime

from nanonet.host.engine import runtime
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.bell import BellPlan
from nanonet.ring.layout import Geometry

GOLDEN = Path(__file__).parent / "golden" / "fan_in_wait_any.wat"
G = Geometry(4, 16)
# a fan-in tunnel of three writers (ends 0-2), a plain read end, and a write
# end whose reader waits on many (its adapter rings line 128)
ENDS = [*[EndSpec("f", Direction.READ, G)] * 3, EndSpec("r", Direction.READ, G),
        EndSpec("w", Direction.WRITE, G)]
PLAN = BellPlan(own=64, peers=(None, None, None, None, 128), fanin=((0, 3),))


def test_the_fan_in_and_wait_any_adapter_matches_its_golden_file() -> None:
    wat = adapter_wat(ENDS, False, bells=PLAN)
    if os.environ.get("NANONET_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(wat)
    assert wat == GOLDEN.read_text(), "review the diff, then regenerate (module docstring)"
    wasmtime.Module(runtime().engine, wat)


def test_no_bell_no_change() -> None:
    for sampling in (False, True):
        plain = adapter_wat(ENDS, sampling)
        assert adapter_wat(ENDS, sampling, bells=BellPlan()) == plain
        assert adapter_wat(ENDS, sampling, bells=BellPlan(peers=(None,) * 5)) == plain
        assert "bell" not in plain and "wait_any" not in plain
