"""Every WIT value kind across the core API, against wasmtime's component runtime.

For each type T a component exports ``call-h(x: T) -> T``, whose core code
hands its core arguments, unchanged, to the host import ``h(x: T) -> T``
(with a return area when T flattens to more than one value) and returns
what it got back. The host's ``h`` is a Python function answering its
argument. Run by the component runtime (values converted by the value
layer) and by ``RingInstance`` (the core modules in one Store, ``h`` a core
host function, values by ``canon_flat`` / ``canon_mem``), random values must
come back equal to what was sent on both, and the host must see the same
Python value on both. The core types of ``call-h`` are written from
``canon_layout.flatten``; wasmtime's validator checks them against T.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component.canon_layout import MAX_FLAT_PARAMS, MAX_FLAT_RESULTS, flatten
from nanonet.component.graph import read_graph
from nanonet.component.host import load
from nanonet.component.ringpath import RingInstance, RingLoaded
from nanonet.component.ringplan import HostRoute
from nanonet.component.shapes import Shape
from nanonet.component.values import Err, Ok, Some, Variant
from nanonet.host.engine import Runtime

FLAGS32 = " ".join(f'"f{i}"' for i in range(32))

# name -> (named types as (name, definition), the type T); a definition and T
# refer to earlier named types as $name
KINDS: dict[str, tuple[list[tuple[str, str]], str]] = {
    "records-of-options-and-results": (
        [("entry", '(record (field "a" (option string)) (field "b" (result u32 (error string))))')],
        "(list $entry)"),
    "variant": ([("shape", '(variant (case "none") (case "num" u32) (case "text" string) '
                  '(case "pair" (tuple f32 u64)) (case "real" f64) (case "small" s8) '
                  '(case "flo" f32))')], "$shape"),
    "list-of-variants": ([("v", '(variant (case "a") (case "b" f32) (case "c" s64))')],
                         "(list $v)"),
    "enum": ([("colour", '(enum "red" "green" "blue" "cyan")')], "$colour"),
    "flags-32": ([("many", f"(flags {FLAGS32})")], "$many"),
    "flags-in-a-tuple": ([("few", '(flags "x" "y" "z")')], "(tuple $few u16 $few)"),
    "tuple": ([], "(tuple u8 s16 char bool s64 f32 f64 string)"),
    "nested-options": ([], "(option (option u8))"),
    "results-without-payloads": ([], "(tuple (result) (result string) (result (error u8)))"),
    "list-f32": ([], "(list f32)"), "list-f64": ([], "(list f64)"),
    "list-s8": ([], "(list s8)"), "list-u64": ([], "(list u64)"),
    "list-char": ([], "(list char)"), "list-bool": ([], "(list bool)"),
    "list-of-lists": ([], "(list (list string))"),
    "past-16-flat-params": ([], "(tuple " + "string " * 9 + ")"),
    "char": ([], "char"),
}

RT = Runtime()


def _component(named: list[tuple[str, str]], ty: str, shape: Shape) -> str:
    """The component of ``call-h(x: T) -> T`` forwarding to the import ``h``."""
    params = flatten(Shape("tuple", items=(shape,)))
    results = flatten(shape)
    by_memory = len(params) > MAX_FLAT_PARAMS
    core_params = ["i32"] if by_memory else list(params)
    retptr = len(results) > MAX_FLAT_RESULTS
    core_results = ["i32"] if retptr else list(results)
    lowered = core_params + (["i32"] if retptr else [])
    args = " ".join(f"(local.get {i})" for i in range(len(core_params)))
    body = f"(call $h {args} (i32.const 16)) (i32.const 16)" if retptr else f"(call $h {args})"
    return f"""(component
  {_types(named)}
  (import "h" (func $hf (param "x" {ty}) (result {ty})))
  (core module $mm (memory (export "mem") 4)
    (global $next (mut i32) (i32.const 65536))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3))) (local.get $at))
    (func (export "reset") (param {' '.join(core_results)}) (global.set $next (i32.const 65536))))
  (core instance $mi (instantiate $mm))
  (core func $hl (canon lower (func $hf) (memory (core memory $mi "mem"))
    (realloc (core func $mi "realloc"))))
  (core module $m (import "h" "h" (func $h (param {' '.join(lowered)})
      (result {' '.join([] if retptr else core_results)})))
    (func (export "call-h") (param {' '.join(core_params)}) (result {' '.join(core_results)})
      {body}))
  (core instance $i (instantiate $m (with "h" (instance (export "h" (func $hl))))))
  (func (export "call-h") (param "x" {ty}) (result {ty}) (canon lift (core func $i "call-h")
    (memory (core memory $mi "mem")) (realloc (core func $mi "realloc"))
    (post-return (core func $mi "reset")))))"""


def _types(named: list[tuple[str, str]]) -> str:
    return "\n  ".join(f'(type $d-{n} {d}) (import "{n}" (type ${n} (eq $d-{n})))'
                       for n, d in named)


def _shape_of(named: list[tuple[str, str]], ty: str) -> Shape:
    """T's shape as wasmtime reads it, from a component that only imports ``h``."""
    bare = f'(component {_types(named)} (import "h" (func (param "x" {ty}) (result {ty}))))'
    sig = load(RT, bare.encode()).imports["h"]
    assert not isinstance(sig, dict) and sig.result is not None
    return sig.result


_INTS = {"u8": (0, 2**8 - 1), "u16": (0, 2**16 - 1), "u32": (0, 2**32 - 1),
         "u64": (0, 2**64 - 1), "s8": (-2**7, 2**7 - 1), "s16": (-2**15, 2**15 - 1),
         "s32": (-2**31, 2**31 - 1), "s64": (-2**63, 2**63 - 1)}


def values(shape: Shape | None) -> st.SearchStrategy[Any]:
    """Python values of ``shape`` as the value layer writes them (values.py's table)."""
    assert shape is not None
    kind, items = shape.kind, shape.items
    if kind in _INTS:
        return st.integers(*_INTS[kind])
    simple: dict[str, st.SearchStrategy[Any]] = {
        "bool": st.booleans(), "char": st.characters(exclude_categories=["Cs"]),
        "string": st.text(max_size=20),
        "f32": st.floats(width=32, allow_nan=False), "f64": st.floats(allow_nan=False),
        "enum": st.sampled_from(shape.names), "flags": st.frozensets(st.sampled_from(shape.names))}
    if kind in simple:
        return simple[kind]
    if kind == "list":
        return st.binary(max_size=40) if shape.is_bytes else st.lists(values(items[0]), max_size=12)
    if kind == "tuple":
        return st.tuples(*map(values, items))
    if kind == "record":
        return st.fixed_dictionaries({n: values(s) for n, s in zip(shape.names, items,
                                                                    strict=True)})
    if kind == "option":
        inner = values(items[0])
        nested = items[0] is not None and items[0].kind == "option"
        return st.none() | (inner.map(Some) if nested else inner)
    if kind == "result":
        return st.one_of(*(_payload(s).map(w) for s, w in zip(items, (Ok, Err), strict=True)))
    assert kind == "variant"
    return st.one_of(*(_payload(s).map(_named(n)) for n, s in zip(shape.names, items,
                                                                   strict=True)))


def _named(case: str) -> Any:
    return lambda payload: Variant(case, payload)


def _payload(shape: Shape | None) -> st.SearchStrategy[Any]:
    return st.none() if shape is None else values(shape)


class Both:
    """The component on the core-API path and in the component runtime, with what ``h`` saw."""

    def __init__(self, named: list[tuple[str, str]], ty: str) -> None:
        self.shape = _shape_of(named, ty)
        loaded = load(RT, _component(named, ty, self.shape).encode())
        sig = loaded.imports["h"]
        assert not isinstance(sig, dict)
        ring = RingLoaded(loaded.types, loaded.engine, binary=loaded.binary,
                          graph=read_graph(loaded.binary), rt=RT,
                          hosts=(HostRoute("h", sig),))
        self.seen: list[Any] = []
        self.fast = RingInstance(ring, RT.new_store(), {"h": self._answer})
        self.slow = loaded.instantiate(RT.new_store(), {"h": self._answer})

    def _answer(self, x: Any) -> Any:
        self.seen.append(x)
        return x


BOTH = {name: Both(*spec) for name, spec in KINDS.items()}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_round_trips_as_on_the_component_runtime(name: str) -> None:
    both = BOTH[name]

    @settings(max_examples=40, deadline=None)
    @given(values(both.shape))
    def round_trip(value: Any) -> None:
        both.seen.clear()
        assert both.fast.call("call-h", value) == value
        assert both.slow.call("call-h", value) == value
        assert both.seen == [value, value]  # the host saw the same on both paths

    round_trip()


def test_a_long_list_of_u64_crosses_both_ways() -> None:
    both = BOTH["list-u64"]
    data = list(range(0, 2**64 - 1, 2**52))  # 4096 values, 32 KiB each way
    assert both.fast.call("call-h", data) == data == both.slow.call("call-h", data)


# results and arguments the canonical ABI refuses, each as the runtime words it
FAULTY = r"""(component
  (type $e (enum "a" "b")) (export $ee "e" (type $e))
  (core module $m (memory (export "mem") 1)
    (data (i32.const 64) "\05\00\00\00\07\00\00\00")
    (data (i32.const 80) "\02\00\00\00\01\00\00\00")
    (data (i32.const 88) "\f8\ff\00\00\04\00\00\00")
    (data (i32.const 96) "\68\00\00\00\02\00\00\00\00\d8\00\00")
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 2))
    (func (export "bad-disc") (result i32) (i32.const 64))
    (func (export "bad-enum") (result i32) (i32.const 7))
    (func (export "bad-char") (result i32) (i32.const 0xD800))
    (func (export "askew") (result i32) (i32.const 80))
    (func (export "past") (result i32) (i32.const 88))
    (func (export "chars") (result i32) (i32.const 96))
    (func (export "take") (param i32 i32)))
  (core instance $i (instantiate $m))
  (func (export "bad-disc") (result (option u32)) (canon lift (core func $i "bad-disc")
    (memory (core memory $i "mem"))))
  (func (export "bad-enum") (result $ee) (canon lift (core func $i "bad-enum")))
  (func (export "bad-char") (result char) (canon lift (core func $i "bad-char")))
  (func (export "askew") (result (list u32)) (canon lift (core func $i "askew")
    (memory (core memory $i "mem"))))
  (func (export "past") (result (list u64)) (canon lift (core func $i "past")
    (memory (core memory $i "mem"))))
  (func (export "chars") (result (list char)) (canon lift (core func $i "chars")
    (memory (core memory $i "mem"))))
  (func (export "take") (param "b" (list u32)) (canon lift (core func $i "take")
    (memory (core memory $i "mem")) (realloc (core func $i "realloc")))))"""

FAULTS = load(RT, FAULTY.encode())


@pytest.mark.parametrize("name, args, words", [
    ("bad-disc", (), r"discriminant 5 out of range \[0\.\.2\)"),
    ("bad-enum", (), r"discriminant 7 out of range \[0\.\.2\)"),
    ("bad-char", (), "converted integer out of range for `char`"),
    ("chars", (), "converted integer out of range for `char`"),
    ("askew", (), "list pointer is not aligned"),
    ("past", (), "list pointer/length out of bounds of memory"),
    ("take", ([1, 2],), "realloc return: result not aligned"),
])
def test_what_the_runtime_refuses_the_core_api_path_refuses_in_its_words(
        name: str, args: tuple[Any, ...], words: str) -> None:
    ring = RingLoaded(FAULTS.types, FAULTS.engine, binary=FAULTS.binary,
                      graph=read_graph(FAULTS.binary), rt=RT)
    for instance in (RingInstance(ring, RT.new_store()),
                     FAULTS.instantiate(RT.new_store(), {})):
        with pytest.raises(wasmtime.WasmtimeError, match=words):
            instance.call(name, *args)


# the core values themselves: an s8 or s16 is sign-extended in its i32, and a
# variant's s8 payload in an i64 slot is that i32 zero-extended
WIDEN = """(component
  (type $v (variant (case "small" s8) (case "big" s64))) (export $ve "v" (type $v))
  (core module $m
    (func (export "same") (param i32) (result i32) (local.get 0))
    (func (export "slot") (param i32 i64) (result i64) (local.get 1)))
  (core instance $i (instantiate $m))
  (func (export "s8-as-s32") (param "x" s8) (result s32) (canon lift (core func $i "same")))
  (func (export "s16-as-s32") (param "x" s16) (result s32) (canon lift (core func $i "same")))
  (func (export "slot") (param "x" $ve) (result u64) (canon lift (core func $i "slot"))))"""

WIDENS = load(RT, WIDEN.encode())


@settings(max_examples=40, deadline=None)
@given(st.integers(-2**7, 2**7 - 1), st.integers(-2**15, 2**15 - 1))
def test_signed_flat_values_are_the_runtimes(small: int, mid: int) -> None:
    ring = RingLoaded(WIDENS.types, WIDENS.engine, binary=WIDENS.binary,
                      graph=read_graph(WIDENS.binary), rt=RT)
    fast, slow = RingInstance(ring, RT.new_store()), WIDENS.instantiate(RT.new_store(), {})
    for instance in (fast, slow):
        assert instance.call("s8-as-s32", small) == small
        assert instance.call("s16-as-s32", mid) == mid
    value = Variant("small", small)
    assert fast.call("slot", value) == slow.call("slot", value) == small & 0xFFFF_FFFF
