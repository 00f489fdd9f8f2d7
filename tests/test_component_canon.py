"""Exports taking and giving strings and ``list<u8>`` on the core-API path.

The same component is called through the wasmtime component runtime and
through ``RingInstance`` (its core modules in one Store, values copied by
``canon.py``); random values must round-trip exactly and both paths agree.
"""

from __future__ import annotations

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
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $i (instantiate $m))
  (func (export "echo-text") (param "t" string) (result string)
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset"))))
  (func (export "echo-bytes") (param "b" (list u8)) (result (list u8))
    (canon lift (core func $i "echo") (memory (core memory $i "mem"))
      (realloc (core func $i "realloc")) (post-return (core func $i "reset"))))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $i "add"))))"""

RT = Runtime()
LOADED = load(RT, ECHO.encode())
RING = RingLoaded(LOADED.component, LOADED.engine, binary=LOADED.binary,
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


def test_one_mebibyte_crosses_in_one_copy() -> None:
    data = bytes(range(256)) * 4096
    assert FAST.call("echo-bytes", data) == data
