"""The documents against the repository and the runtime: every Markdown file they point
to exists, and what docs/runtime.md says a fuel budget does is what it does."""

from __future__ import annotations

import re
from pathlib import Path

from nanonet import Mesh
from nanonet.policy.policy import Limits
from nanonet.runtime.lifecycle import State

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# a loop that calls nothing: wasmtime keeps its fuel count in the running code
SPIN = '(module (memory (export "memory") 1) (func (export "run") (loop br 0)))'


def test_documents_point_only_to_files_the_repository_has() -> None:
    missing = []
    for doc in DOCS:
        for line_no, line in enumerate(doc.read_text().splitlines(), 1):
            for name in re.findall(r"[\w./-]+\.md\b", line):
                if not ((doc.parent / name).exists() or (ROOT / name).exists()):
                    missing.append(f"{doc.relative_to(ROOT)}:{line_no}: {name}")
    assert missing == []


def test_a_fuel_budget_is_not_refilled_inside_a_loop_that_calls_nothing() -> None:
    """docs/runtime.md, "What a fuel budget does": the per-tick refill does not reach
    such a loop, so it traps once it has burnt one budget in all, and its fuel burnt
    reads 0. If wasmtime starts to refill it, this fails (the join times out) and the
    document must change with it."""
    with Mesh(fuel=True) as mesh:
        mesh.tunnel("t", slots=4, max_payload=8)
        svc = mesh.service("spin", SPIN, reads=["t"], limits=Limits(fuel_per_tick=10**7))
        mesh.start()
        ended = svc.join(60)
        if not ended:
            mesh.stop(grace=0.1)
    assert ended and svc.state is State.TRAPPED and svc.cause == "fuel exhausted"
    assert svc.watchdog.fuel_used == 0
