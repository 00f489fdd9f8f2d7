"""The documents against the repository and the runtime: every Markdown file they point
to exists, what docs/runtime.md says a fuel budget does is what it does, and the
snapshot fields and metric families docs/observability.md lists are the ones there are."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nanonet import Mesh, PortStats
from nanonet.bridge.linkstats import FAR_END_FIELDS, LinkStats
from nanonet.bridge.webstate import FIELDS as WEB_FIELDS
from nanonet.observe.latency import LatencySampler
from nanonet.observe.metrics import registry
from nanonet.observe.portcalls import EXTRA_FIELDS
from nanonet.observe.snapshot import MeshSnapshot, ServiceSnapshot, TunnelSnapshot, take
from nanonet.policy.policy import Limits
from nanonet.ring import layout as L
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
                if name[:-3].isupper():  # a placeholder of a usage line: PATH.md
                    continue
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


def _section(doc: str, title: str) -> str:
    text = (ROOT / "docs" / doc).read_text()
    start = text.index(title)
    return text[start:text.index("\n## ", start + len(title))]


def _first_cells(section: str) -> list[str]:
    """The backticked names in each table row's first cell, ``.x`` completed with
    the row's first prefix (``services[].name``, ``.kind``)."""
    names = []
    for row in re.findall(r"^\| (.+?) \|", section, flags=re.M):
        first = ""
        for name in re.findall(r"`([^`]+)`", row):
            if name.startswith(".") and first:
                name = first[:first.rindex(".")] + name
            first = first or name
            names.append(name)
    return names


def test_the_snapshot_fields_are_the_documented_ones() -> None:
    want = {f.name for f in fields(MeshSnapshot)} - {"services", "tunnels", "ports", "links"}
    want |= {f"links[].{f.name}" for f in fields(LinkStats)}
    want |= {f"links[].{name}" for name in FAR_END_FIELDS}
    want |= {f"services[].{f.name}" for f in fields(ServiceSnapshot)}
    want |= {f"tunnels[].{f.name}" for f in fields(TunnelSnapshot)}
    want |= {f"ports[].{f.name}" for f in fields(PortStats)}
    want |= {f"ports[].{name}" for name in EXTRA_FIELDS}
    want |= {f"web.{name}" for name in WEB_FIELDS}
    assert set(_first_cells(_section("observability.md", "### Snapshot JSON"))) == want


def test_the_metric_families_are_the_documented_ones() -> None:
    with Mesh(fuel=True) as mesh:
        ring = mesh.tunnel("t", slots=4, max_payload=8).ring
        mesh.service("spin", SPIN, reads=["t"], limits=Limits(fuel_per_tick=10**7))
        ring.put_u64(L.OFF_LATENCIES + 8, 1_000)  # one latency sample in entry 0
        ring.put_u64(L.OFF_LATENCIES, 0)
        sampler = LatencySampler(ring)
        sampler.poll()
        text = generate_latest(registry(lambda: take(mesh, {"t": sampler}))).decode()
    emitted = {f.name + ("_total" if f.type == "counter" else "")
               for f in text_string_to_metric_families(text)}
    documented = set()
    for name in _first_cells(_section("observability.md", "## Metrics")):
        stem, _, rest = name.partition("{")
        if not rest:
            documented.add(name)
            continue
        alternatives, _, tail = rest.partition("}")
        documented |= {stem + a + tail for a in alternatives.split(",")}
    assert documented == emitted
