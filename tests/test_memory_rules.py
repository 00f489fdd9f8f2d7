"""Which memories a guest may hold, and how much: one rule on both load paths."""

from __future__ import annotations

import hashlib

import pytest

from nanonet import Limits, LoadError, Mesh, Service
from nanonet.errors import Frame
from nanonet.host.engine import cache_dir
from nanonet.host.traps import OffsetMap
from nanonet.policy.policy import Grants
from nanonet.ring.layout import Geometry
from nanonet.runtime import growwatch
from nanonet.runtime.linking import OPS

TWO_IMPORTS = """(module
  {wasi}
  (import "env" "memory" (memory 1))
  (import "env" "scratch" (memory 1))
  (func (export "run") (result i32) (i32.const 0)))"""
CLOCK = ('(import "wasi_snapshot_preview1" "clock_time_get" '
         "(func (param i32 i64 i32) (result i32)))")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", ["fast", "wasi-linker"])
def test_two_memory_imports_are_refused_on_either_load_path(path: str) -> None:
    wat = TWO_IMPORTS.format(wasi=CLOCK if path == "wasi-linker" else "")
    with Mesh() as mesh, pytest.raises(
            LoadError, match=r"service 's' imports 2 memories \(env.memory, env.scratch\); "
                             r"nanonet gives a guest one memory of its own: import one"):
        mesh.service("s", wat, grants=["clock"])


CAP = 1 << 20
PAGE = 65536
TABLE_ELEMENT_BYTES = 8  # what wasmtime keeps per element: a pointer
CAPPED = Limits(memory_bytes=CAP)
GROW_TABLE = """(module (memory (export "memory") 1) (table {export} 10 funcref)
  (func (export "run") (result i32) (table.grow (ref.null func) (i32.const {n}))))"""


def _run(mesh: Mesh, name: str, wat: str, limits: Limits = CAPPED) -> Service:
    svc = mesh.service(name, wat, limits=limits)
    mesh.start()
    assert svc.join(30)
    return svc


@pytest.mark.timeout(30)
def test_a_table_cannot_grow_past_the_memory_cap() -> None:
    with Mesh() as mesh:  # a million elements would hold 8 MiB
        svc = _run(mesh, "s", GROW_TABLE.format(export="", n=1_000_000))
        assert svc.exit_code == -1 and svc.memory_bytes() <= CAP


@pytest.mark.timeout(30)
def test_memory_and_tables_grown_to_the_most_stay_under_the_cap_together() -> None:
    fill = """(module (memory (export "memory") 1) (table $t (export "t") 10 funcref)
      (func (export "run") (result i32)
        (loop $m (br_if $m (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
        (loop $e (br_if $e (i32.ne (table.grow $t (ref.null func) (i32.const 64))
                                   (i32.const -1))))
        (i32.const 0)))"""
    with Mesh() as mesh:
        svc = _run(mesh, "s", fill)
        assert svc.exit_code == 0
        held = svc.memory_bytes()
        assert CAP - 2 * PAGE < held <= CAP, held


@pytest.mark.timeout(30)
def test_memory_bytes_counts_the_tables_at_their_element_cost() -> None:
    with Mesh() as mesh:
        svc = _run(mesh, "s", GROW_TABLE.format(export='(export "t")', n=1_000))
        assert svc.exit_code == 10  # table.grow returns the old size
        shim = len(OPS) * TABLE_ELEMENT_BYTES  # the table the exported memory links through
        assert svc.memory_bytes() == PAGE + 1_010 * TABLE_ELEMENT_BYTES + shim


@pytest.mark.timeout(30)
def test_a_second_memory_under_a_cap_is_refused_at_load() -> None:
    wat = """(module (import "env" "memory" (memory 1)) (memory $b 1)
      (func (export "run") (result i32) (memory.grow $b (i32.const 15))))"""
    with Mesh() as mesh, pytest.raises(
            LoadError, match=r"service 's' has 2 linear memories and a memory cap \(memory_bytes\)"
                             r": under a cap a guest may have one memory of its own"):
        mesh.service("s", wat, limits=CAPPED)


BIG_GROW = """(module (memory (export "memory") 1)
  (func $alloc (export "run") (result i32)
    (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable))
    {after}
    (i32.const 0)))"""


@pytest.mark.timeout(30)
def test_a_refused_growth_of_many_pages_is_named_a_memory_cap_trap() -> None:
    with Mesh() as mesh:  # 100 pages at once, from 1: far below the cap when refused
        svc = _run(mesh, "s", BIG_GROW.format(after=""))
        (trap,) = svc.traps
        assert trap.cause == "memory cap reached (memory.grow refused past the limit)"
        assert svc.memory_bytes() == PAGE + len(OPS) * TABLE_ELEMENT_BYTES


@pytest.mark.timeout(30)
def test_frames_of_a_watched_guest_keep_the_offsets_of_the_module_as_given() -> None:
    wat = BIG_GROW.format(after="unreachable")  # it traps with or without a cap
    with Mesh() as mesh:
        free = _run(mesh, "free", wat, Limits())
    with Mesh() as mesh:  # 100 pages fit in this cap: the growth succeeds, then it traps
        capped = _run(mesh, "capped", wat, Limits(memory_bytes=8 << 20))
    (a,), (b,) = free.traps, capped.traps
    assert a.frames == b.frames and a.frames[0].function == "alloc"
    assert a.message == b.message and b.cause == "unreachable executed"


def test_the_rewrite_of_a_watched_guest_is_kept_on_disk_for_the_next_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    source = BIG_GROW.format(after="(nop)").encode()
    first = growwatch._cached(source)
    assert first is not None and list(cache_dir().parent.glob("watched/*.rewrite"))

    def no_rewrite(wasm: bytes) -> None:
        raise AssertionError("rewritten again instead of read from the disk cache")

    monkeypatch.setattr(growwatch, "watch", no_rewrite)
    again = growwatch._cached(source)
    assert again is not None and again[0] == first[0] and again[1] == first[1]


def test_a_planted_rewrite_is_not_used_in_place_of_the_guest(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The rewrite replaces the guest's code: an entry this user's key does not
    vouch for is made again, never run."""
    source = BIG_GROW.format(after="(nop)").encode()
    first = growwatch._cached(source)
    assert first is not None
    digest = hashlib.sha256(growwatch._FORMAT.encode() + source).hexdigest()
    entry = cache_dir().parent / "watched" / f"{digest[:32]}.rewrite"
    entry.write_bytes(entry.read_bytes()[:-1] + b"\0")  # forged: the MAC no longer holds
    made: list[bytes] = []
    real = growwatch.watch

    def recording(wasm: bytes) -> tuple[bytes, OffsetMap] | None:
        made.append(wasm)
        return real(wasm)

    monkeypatch.setattr(growwatch, "watch", recording)
    again = growwatch._cached(source)
    assert made and again is not None and again[0] == first[0]


@pytest.mark.timeout(30)
def test_memory_bytes_counts_every_memory_of_an_uncapped_guest() -> None:
    wat = """(module (import "env" "memory" (memory 1)) (memory $big (export "big") 1)
      (memory $private 3)
      (func (export "run") (result i32) (memory.grow $big (i32.const 10))))"""
    with Mesh() as mesh:
        svc = _run(mesh, "s", wat, Limits())
        assert svc.exit_code == 1  # the old size of $big
        assert svc.memory_bytes() == (1 + 11 + 3) * PAGE


@pytest.mark.timeout(30)
def test_a_refused_growth_of_a_memory_after_a_raw_ring_is_seen_too() -> None:
    pages = Geometry.for_payload(16, 64).pages
    wat = f"""(module (import "nanonet:raw" "t" (memory {pages} {pages} shared))
      (memory (export "memory") 1)
      (func (export "run") (result i32)
        (if (i32.eq (memory.grow 1 (i32.const 100)) (i32.const -1)) (then unreachable))
        (i32.const 0)))"""
    with Mesh() as mesh:  # the guest's own memory is memory 1 here
        mesh.tunnel("t", slots=16, max_payload=64)
        svc = mesh.service("s", wat, reads=["t"], grants=Grants(raw=("t",)), limits=CAPPED)
        mesh.start()
        assert svc.join(30)
        (trap,) = svc.traps
        assert trap.cause == "memory cap reached (memory.grow refused past the limit)"


@pytest.mark.timeout(60)
def test_a_deadline_trap_of_a_watched_guest_keeps_its_frames_too() -> None:
    spin = """(module (memory (export "memory") 1)
      (func $spin (export "run") (result i32)
        (drop (memory.grow (i32.const 1)))
        (loop $l (br $l)) (i32.const 0)))"""
    frames: list[tuple[tuple[Frame, ...], str]] = []
    for limits in (Limits(deadline_ms=50), Limits(deadline_ms=50, memory_bytes=CAP)):
        with Mesh() as mesh:
            (trap,) = _run(mesh, "s", spin, limits).traps
            assert trap.cause.startswith("deadline exceeded")
            frames.append((trap.frames, trap.message))
    assert frames[0] == frames[1] and frames[0][0][0].function == "spin"


@pytest.mark.timeout(30)
def test_a_capped_guest_is_watched_after_the_same_guest_ran_uncapped() -> None:
    """One source, two policies: the link plan of the uncapped load must not
    instantiate the unwatched module for the capped one."""
    wat = BIG_GROW.format(after="")
    with Mesh() as mesh:
        free = _run(mesh, "free", wat, Limits())
        assert not free.traps
        (trap,) = _run(mesh, "capped", wat).traps
        assert trap.cause == "memory cap reached (memory.grow refused past the limit)"
