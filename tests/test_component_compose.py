"""Component -> component calls: two components composed into one, no Python
between them, each with its own memory and its own grants."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet import LoadError, Mesh
from nanonet.component import Err, Instance, Ok, Some, Variant, load, pair
from nanonet.component.compose import Plug, compose, exports
from nanonet.component.echo_pair import INTERFACE, OUT, forwarder_wat, provider_wat
from nanonet.host.engine import runtime
from nanonet.policy.policy import Grants

PAD = tuple(range(16))

# a callee that reports each call through an import of its own
NOTING = pair.CALLEE.replace(
    "(core module $m", '(import "test:c/sink" (instance $sink (export "note" '
    '(func (param "x" u32)))))\n  (core func $note (canon lower (func $sink "note")))\n'
    '  (core module $m (import "h" "note" (func $note (param i32)))', 1).replace(
    '(func (export "scale") (param i32 i32) (result i32)',
    '(func (export "scale") (param i32 i32) (result i32) (call $note (local.get 0))', 1).replace(
    "(core instance $i (instantiate $m))",
    '(core instance $i (instantiate $m (with "h" (instance (export "note" (func $note))))))', 1)


def plugged(root: bytes, provider: bytes, name: str = pair.CALC) -> bytes:
    return compose(root, {name: Plug(provider, name, "component 'callee'")}, "component 'caller'")


@pytest.fixture(scope="module")
def echo() -> Instance:
    rt = runtime()
    provider = bytes(wasmtime.wat2wasm(provider_wat()))
    both = plugged(bytes(wasmtime.wat2wasm(forwarder_wat())), provider, INTERFACE)
    return load(rt, both).instantiate(rt.new_store(), {})


def test_a_call_goes_from_one_component_to_the_other_inside_wasm() -> None:
    rt = runtime()
    both = plugged(pair.caller(), pair.callee())
    inst = load(rt, both).instantiate(rt.new_store(), {}, wasi=Grants())
    # spin sums y + 1 of each result: the callee's answer, read by the caller
    assert inst.call("spin", 10) == 80
    assert len(inst.call("timed", 5)) == 5  # the caller checks each x * 2 itself
    assert set(load(rt, both).exports) == {"timed", "spin"}


def test_both_components_are_nested_unchanged() -> None:
    """Each keeps its own core instances, so its own linear memory."""
    callee, caller = pair.callee(), pair.caller()
    both = plugged(caller, callee)
    assert callee in both and caller in both
    assert exports(both) == [("timed", 1), ("spin", 1)]


def test_the_composite_imports_what_either_imports_each_wired_to_its_own_grant() -> None:
    rt = runtime()
    both = plugged(pair.caller(), bytes(wasmtime.wat2wasm(NOTING)))
    loaded = load(rt, both)
    assert set(loaded.imports) == {pair.CLOCK, "test:c/sink"}
    assert "test:c/sink" not in load(rt, pair.caller()).imports  # the caller cannot note
    seen: list[int] = []
    inst = loaded.instantiate(rt.new_store(), {"test:c/sink": {"note": seen.append}},
                              wasi=Grants())
    assert inst.call("spin", 3) == 24
    assert seen == [0, 1, 2]


def test_in_a_mesh_the_provider_runs_inside_the_caller() -> None:
    seen: list[int] = []
    with Mesh() as mesh:
        mesh.component("callee", NOTING, imports={"sink": {"note": seen.append}})
        caller = mesh.component("caller", pair.caller(), wasi=True,
                                imports={"calc": "component:callee"})
        assert list(mesh.components) == ["caller"]
        mesh.start()
        assert caller.call("spin", 4) == 32
    assert seen == [0, 1, 2, 3]


def test_an_ungranted_import_of_the_caller_names_the_caller() -> None:
    with Mesh() as mesh:
        mesh.component("callee", pair.callee())
        with pytest.raises(LoadError, match=re.escape(
                "component 'caller' imports 'wasi:clocks/monotonic-clock@0.2.0', which was "
                "not granted")):
            mesh.component("caller", pair.caller(), imports={"calc": "component:callee"})
        assert list(mesh.components) == ["callee"]  # left as it was


def test_an_ungranted_import_of_the_provider_names_the_provider() -> None:
    rt = runtime()
    both = plugged(pair.caller(), bytes(wasmtime.wat2wasm(NOTING)))
    with pytest.raises(LoadError, match="test:c/sink"):
        load(rt, both).instantiate(rt.new_store(), {}, wasi=Grants())
    with Mesh() as mesh, pytest.raises(LoadError, match="component 'callee' imports "
                                       "'test:c/sink', which was not granted"):
        mesh.component("callee", NOTING)


def test_both_importing_one_interface_given_different_things_is_refused() -> None:
    # the caller also imports test:c/sink: one import cannot carry two grants
    caller = pair.CALLER.replace("(core module $mm", '(import "test:c/sink" (instance '
                                 '(export "note" (func (param "x" u32)))))\n  (core module $mm', 1)
    with Mesh() as mesh:
        mesh.component("callee", NOTING, imports={"sink": {"note": print}})
        with pytest.raises(LoadError, match="both import 'sink', given different things"):
            mesh.component("caller", caller, wasi=True,
                           imports={"calc": "component:callee", "sink": {"note": repr}})


def test_plugging_names_what_is_missing() -> None:
    with Mesh() as mesh:
        with pytest.raises(LoadError, match="names component 'nobody', which is not a "
                           "component of this mesh"):
            mesh.component("caller", pair.caller(), wasi=True,
                           imports={"calc": "component:nobody"})
        mesh.component("other", pair.caller(), wasi=True,
                       imports={"calc": {"scale": lambda p: p}})
        with pytest.raises(LoadError, match="exports nothing of that name"):
            mesh.component("caller", pair.caller(), wasi=True,
                           imports={"calc": "component:other"})
    with pytest.raises(LoadError, match="does not import 'nanonet:bench/nothing'"):
        compose(pair.caller(), {"nanonet:bench/nothing": Plug(pair.callee(), pair.CALC)})
    with pytest.raises(LoadError, match="exports no 'x:y/z'"):
        compose(pair.caller(), {pair.CALC: Plug(pair.callee(), "x:y/z")})


def test_a_core_module_is_not_composed() -> None:
    with pytest.raises(LoadError, match="not a component binary"):
        compose(bytes(wasmtime.wat2wasm("(module)")), {})


CASES = [
    ("bool", True), ("s8", -128), ("u16", 65535), ("s32", -(2**31)), ("u64", 2**64 - 1),
    ("f32", 1.5), ("f64", -2.25e300), ("char", "🦀"), ("string", "héllo"),
    ("bytes", bytes(range(256))), ("strings", ["a", "", "ccc"]), ("tuple", (7, "x", 0.5)),
    ("rec", {"id": 1, "name": "n", "tags": ["t1", "t2"]}),
    ("var", Variant("a", "same type")), ("var", Variant("b", "same type")),
    ("var", Variant("none")), ("color", "green"), ("opt", None), ("opt", "x"),
    ("optopt", Some(None)), ("res", Ok("fine")), ("res", Err("broken")),
    ("unit-res", Err()), ("perm", frozenset({"read", "exec"})),
]


def across(echo: Instance, name: str, value: Any) -> Any:
    out, pad = echo.call(f"{OUT}#echo-{name}", value, PAD)
    assert pad == PAD
    return out


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(CASES)])
def test_every_kind_crosses_between_two_components(echo: Instance, name: str,
                                                   value: Any) -> None:
    assert across(echo, name, value) == value


def test_nan_crosses(echo: Instance) -> None:
    assert math.isnan(across(echo, "f64", math.nan))


VARIANTS = st.one_of(st.builds(Variant, st.sampled_from(["a", "b"]), st.text()),
                     st.just(Variant("none")),
                     st.builds(Variant, st.just("n"), st.integers(0, 2**32 - 1)))
KINDS = st.one_of(
    st.tuples(st.just("rec"), st.fixed_dictionaries({
        "id": st.integers(0, 2**64 - 1), "name": st.text(),
        "tags": st.lists(st.text(), max_size=4)})),
    st.tuples(st.just("vars"), st.lists(VARIANTS, max_size=6)),
    st.tuples(st.just("res"), st.one_of(st.builds(Ok, st.text()), st.builds(Err, st.text()))),
    st.tuples(st.just("optopt"), st.one_of(st.none(), st.just(Some(None)),
                                           st.builds(Some, st.integers(0, 255)))),
    st.tuples(st.just("perm"), st.frozensets(st.sampled_from(["read", "write", "exec"]))),
    st.tuples(st.just("strings"), st.lists(st.text(), max_size=6)),
    st.tuples(st.just("bytes"), st.binary(max_size=2048)),
    st.tuples(st.just("tuple"), st.tuples(st.integers(0, 2**32 - 1), st.text(),
                                          st.floats(allow_nan=False))),
    st.tuples(st.just("color"), st.sampled_from(["red", "green", "blue"])),
    st.tuples(st.just("char"), st.characters()),
)


@settings(max_examples=150, deadline=None)
@given(KINDS)
def test_any_value_round_trips_exactly(echo: Instance, case: tuple[str, Any]) -> None:
    name, value = case
    assert across(echo, name, value) == value


def test_nanonet_run_call_specs_parse_or_say_how_to_write_them() -> None:
    from nanonet.cli.calls import CallSpec
    spec = CallSpec.parse('router.handle("/admin", 3, [1, 2])')
    assert (spec.service, spec.export, spec.args) == ("router", "handle", ("/admin", 3, [1, 2]))
    assert CallSpec.parse("auth.nanonet:auth/authenticator#authenticate()").args == ()
    with pytest.raises(ValueError, match=r"is not SERVICE\.EXPORT"):
        CallSpec.parse("router")
    with pytest.raises(ValueError, match="not Python literals"):
        CallSpec.parse("router.handle(/admin)")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_damaged_component_is_a_load_error_never_a_crash(data: st.DataObject) -> None:
    """compose reads binaries it is handed: a flipped, cut or inserted byte
    anywhere is refused with a LoadError, never another exception (or, where
    the damage falls outside the prelude, composes and wasmtime judges it)."""
    caller = bytearray(pair.caller())
    at = data.draw(st.integers(8, len(caller) - 1))
    how = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    if how == "flip":
        caller[at] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        del caller[at:]
    else:
        caller[at:at] = bytes([data.draw(st.integers(0, 255))])
    try:
        both = plugged(bytes(caller), pair.callee())
    except LoadError as err:
        assert str(err)  # refused, saying why: what a damaged binary must get
        return
    assert both.startswith(b"\0asm\x0d\x00\x01\x00")  # composed: wasmtime judges the rest


def test_the_bench_rows_measure_both_paths_in_one_run() -> None:
    from nanonet.bench.component_pair import (
        bytes_speed,
        component_to_component,
        host_to_component,
        through_python,
    )
    rt = runtime()
    rows = {**component_to_component(rt, 50), **through_python(20),
            **host_to_component(rt, 20), **bytes_speed(rt, 4096)}
    assert set(rows) == {"c2c_p50_ns", "c2c_p99_ns", "c2c_calls_per_s", "py_link_p50_ns",
                         "py_link_p99_ns", "h2c_p50_ns", "h2c_p99_ns", "bytes_MBps",
                         "string_MBps"}
    assert rows["c2c_p50_ns"] <= rows["c2c_p99_ns"] and rows["h2c_p50_ns"] <= rows["h2c_p99_ns"]
    assert all(v > 0 for v in rows.values())
