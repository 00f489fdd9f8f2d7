"""Loading a component once per runtime, from the disk cache without copies in Python."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import wasmtime
from wasmtime import component as wc

from nanonet.capi.artifact import deserialize
from nanonet.component.host import RACY_NS, load
from nanonet.host.engine import Runtime


def _answer(value: int) -> str:
    return (f'(component (core module $m (func (export "f") (result i32) (i32.const {value}))) '
            '(core instance $i (instantiate $m)) '
            '(func (export "answer") (result u32) (canon lift (core func $i "f"))))')


def _call(rt: Runtime, loaded: object) -> int:
    inst = load(rt, loaded).instantiate(rt.new_store(), {})  # type: ignore[arg-type]
    out: int = inst.call("answer")
    return out


def test_a_file_is_loaded_once_per_runtime_until_it_changes(tmp_path: Path) -> None:
    rt = Runtime()
    path = tmp_path / "answer.wasm"
    path.write_bytes(wasmtime.wat2wasm(_answer(41)))
    old = time.time_ns() - 10 * RACY_NS
    os.utime(path, ns=(old, old))  # not racy: the stat memo applies
    first = load(rt, path)
    assert load(rt, path) is first and load(rt, str(path)) is first
    assert load(Runtime(), path) is not first  # another engine, another compilation
    path.write_bytes(wasmtime.wat2wasm(_answer(42)))  # same size, same inode, new mtime
    assert _call(rt, load(rt, path)) == 42 and _call(rt, first) == 41
    path.write_bytes(wasmtime.wat2wasm(_answer(43)))  # inside the same tick, maybe: racy,
    assert _call(rt, load(rt, path)) == 43            # so read and hashed again


def test_the_same_bytes_give_the_same_loaded() -> None:
    rt = Runtime()
    wasm = bytes(wasmtime.wat2wasm(_answer(7)))
    assert load(rt, wasm) is load(rt, bytes(bytearray(wasm)))  # equal, not identical
    assert load(rt, _answer(8)) is not load(rt, wasm)


def test_a_cached_component_deserializes_from_a_view() -> None:
    rt = Runtime()
    compiled = wc.Component(rt.engine, _answer(5)).serialize()
    entry = b"header--" + bytes(compiled)
    comp = deserialize(rt.engine, memoryview(entry)[8:])
    inst = wc.Linker(rt.engine).instantiate(store := rt.new_store(), comp)
    index = inst.get_export_index(store, "answer")
    assert index is not None
    func = inst.get_func(store, index)
    assert func is not None and func(store) == 5


def test_a_damaged_entry_is_an_error_not_a_crash() -> None:
    rt = Runtime()
    compiled = bytearray(wc.Component(rt.engine, _answer(5)).serialize())
    compiled[: len(compiled) // 2] = bytes(len(compiled) // 2)
    with pytest.raises(wasmtime.WasmtimeError):
        deserialize(rt.engine, memoryview(bytes(compiled)))
    with pytest.raises(TypeError):
        deserialize(rt.engine, memoryview(compiled))  # not a view into bytes


def test_the_cold_start_rows_have_their_keys() -> None:
    from nanonet.bench.component_coldstart import core
    row = core(samples=1)
    assert set(row) == {"load_ms", "first_ms", "again_ms", "reload_ms"}
    assert all(v >= 0 for v in row.values())


def test_the_cold_row_counts_what_a_start_from_nothing_compiled() -> None:
    """The C relay takes the Wasm path, and the cache is left as found."""
    from nanonet.bench.component_coldstart import cold
    from nanonet.host.engine import cache_dir

    before = cache_dir()
    row = cold("c")
    assert cache_dir() == before
    assert set(row) == {"cold_cpu_s", "cold_compiled_MB", "cold_wasm_path"}
    assert row["cold_wasm_path"] == 1.0 and row["cold_cpu_s"] >= 0
    assert row["cold_compiled_MB"] > 0  # its outline, core modules and generated glue
