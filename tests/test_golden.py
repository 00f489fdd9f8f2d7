"""The generated adapter WAT of a few shapes, pinned in tests/golden/.

Any change to the ring code shows up in review as the exact diff of these
files. After an intended change, regenerate them with

    NANONET_UPDATE_GOLDEN=1 .venv/bin/pytest -q -p no:cacheprovider tests/test_golden.py

and commit the new files with the change.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import wasmtime

from nanonet.host.engine import runtime
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry
from nanonet.ring.waitpolicy import WaitPolicy

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NANONET_UPDATE_GOLDEN") == "1"

SHAPES = {
    "write_only": ([EndSpec("w", Direction.WRITE, Geometry.for_payload(256, 120))], False),
    "read_only": ([EndSpec("r", Direction.READ, Geometry(4, 16))], False),
    "read_write_sampling": ([EndSpec("r", Direction.READ, Geometry(4, 16)),
                             EndSpec("w", Direction.WRITE, Geometry.for_payload(64, 1000))],
                            True),
    # the two wait policies besides the default (ring/waitpolicy.py): only $wait differs
    "read_write_spin": ([EndSpec("r", Direction.READ, Geometry(4, 16), wait=WaitPolicy.SPIN),
                         EndSpec("w", Direction.WRITE, Geometry(4, 16), wait=WaitPolicy.SPIN)],
                        False),
    "read_write_park": ([EndSpec("r", Direction.READ, Geometry(4, 16), wait=WaitPolicy.PARK),
                         EndSpec("w", Direction.WRITE, Geometry(4, 16), wait=WaitPolicy.PARK)],
                        False),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_generated_adapter_matches_its_golden_file(name: str) -> None:
    ends, sampling = SHAPES[name]
    wat = adapter_wat(ends, sampling)
    path = GOLDEN / f"{name}.wat"
    if UPDATE:
        path.write_text(wat)
    assert path.exists(), f"{path} is missing: run with NANONET_UPDATE_GOLDEN=1 to create it"
    assert wat == path.read_text(), (
        f"the adapter for {name!r} changed: review the diff, then regenerate with "
        "NANONET_UPDATE_GOLDEN=1")
    wasmtime.Module(runtime().engine, wat)  # the pinned text is valid Wasm
