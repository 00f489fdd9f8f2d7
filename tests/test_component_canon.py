"""Exports taking and giving strings and ``list<u8>`` on the core-API path.

The same component is called through the wasmtime component runtime and
through ``RingInstance`` (its core modules in one Store, values copied by
``canon.py``); random values must round-trip exactly and both paths agree,
and what the runtime refuses (bad UTF-8, bounds, alignment) both refuse.
"""

from __future__ import annotations

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component.graph import read_graph
from nanonet.component.host import load
from nanonet.component.ringpath import RingInstance, RingLoaded
from nanonet.host.engine import Runtime

ECHO = """(component
  (core module $m (memory (export "mem") 40)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (local.get $at) (local.get 3))) (local.get $at))
    (func (export "echo") (param i32 i32) (result i32)
      (i32.store (i32.const 8) (local.get 0)) (i32.store (i32.const 12) (local.get 1))
      (i32.const 8))
    (func (export "reset") (param i32) (global.set $next (i32.const 1024)))
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "half") (param f64) (result f64) (f64.mul (local.get 0) (f64.const 0.5))))
  (core instance $i (instantiate $m))
  (func (export "echo-text") (param "t" string) (result string)
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset"))))
  (func (export "echo-bytes") (param "b" (list u8)) (result (list u8))
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset"))))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $i "add")))
  (func (export "half") (param "x" f64) (result f64) (canon lift (core func $i "half"))))"""

RT = Runtime()
LOADED = load(RT, ECHO.encode())
RING = RingLoaded(LOADED.types, LOADED.engine, binary=LOADED.binary,
                  graph=read_graph(LOADED.binary), rt=RT)
FAST = RingInstance(RING, RT.new_store())
SLOW = LOADED.instantiate(RT.new_store(), {})


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_strings_round_trip_on_both_paths(text: str) -> None:
    assert FAST.call("echo-text", text) == text
    assert SLOW.call("echo-text", text) == text


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000))
def test_bytes_round_trip_on_both_paths(data: bytes) -> None:
    assert FAST.call("echo-bytes", data) == data
    assert SLOW.call("echo-bytes", data) == data


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_numbers_agree_with_the_runtime(a: int, b: int) -> None:
    assert FAST.call("add", a, b) == SLOW.call("add", a, b) == (a + b) & 0xFFFF_FFFF


@settings(max_examples=60, deadline=None)
@given(st.floats(allow_nan=False))
def test_floats_take_wasmtimes_own_call_and_agree(x: float) -> None:
    assert FAST.call("half", x) == SLOW.call("half", x) == x * 0.5


def test_one_mebibyte_crosses_in_one_copy() -> None:
    data = bytes(range(256)) * 4096
    assert FAST.call("echo-bytes", data) == data


# results the canonical ABI refuses: bad UTF-8, bytes past the memory, a
# return area off its 4-byte alignment; and a realloc giving memory past the end
FAULTY = """(component
  (core module $m (memory (export "mem") 1)
    (data (i32.const 100) "\\c0\\af")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 65535))
    (func $at (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 8) (local.get $ptr)) (i32.store (i32.const 12) (local.get $len))
      (i32.const 8))
    (func (export "bad") (result i32) (call $at (i32.const 100) (i32.const 2)))
    (func (export "past") (result i32) (call $at (i32.const 65530) (i32.const 10)))
    (func (export "askew") (result i32) (i32.const 9))
    (func (export "take") (param i32 i32)))
  (core instance $i (instantiate $m))
  (func (export "bad") (result string) (canon lift (core func $i "bad")
    (memory (core memory $i "mem"))))
  (func (export "past") (result (list u8)) (canon lift (core func $i "past")
    (memory (core memory $i "mem"))))
  (func (export "askew") (result (list u8)) (canon lift (core func $i "askew")
    (memory (core memory $i "mem"))))
  (func (export "take") (param "b" (list u8)) (canon lift (core func $i "take")
    (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))"""

FAULTS = load(RT, FAULTY.encode())


@pytest.mark.parametrize("name, args, words", [
    ("bad", (), "invalid utf-8"), ("past", (), "list pointer/length out of bounds of memory"),
    ("askew", (), "return pointer not aligned"),
    ("take", (b"ab",), "realloc return: beyond end of memory"),
])
def test_what_the_runtime_refuses_fails_on_the_core_api_path_too(
        name: str, args: tuple[bytes, ...], words: str) -> None:
    ring = RingLoaded(FAULTS.types, FAULTS.engine, binary=FAULTS.binary,
                      graph=read_graph(FAULTS.binary), rt=RT)
    fast = RingInstance(ring, RT.new_store())
    slow = FAULTS.instantiate(RT.new_store(), {})
    for instance in (fast, slow):
        with pytest.raises(wasmtime.WasmtimeError, match=words):
            instance.call(name, *args)


def test_the_bulk_bench_gives_every_row_and_checks_what_comes_back() -> None:
    from nanonet.bench.component_bulk import KINDS, SIZES, figures

    got = figures(RT)  # BenchError if an echo handed back something else
    assert set(got) == {f"{path}_{kind}_{size}_MBps" for path in ("canon", "values")
                        for kind in KINDS for size in SIZES}
    assert all(value > 0 for value in got.values())
