"""Which memories a guest may hold, and how much: one rule on both load paths."""

from __future__ import annotations

import pytest

from nanonet import LoadError, Mesh

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
