"""WIT values round-trip through wasmtime's canonical ABI with their names intact."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component import Err, Instance, Ok, Some, Variant, load
from nanonet.component.echo import PAD, echo_wat
from nanonet.host.engine import runtime

PADDING = tuple(range(16))


@pytest.fixture(scope="module")
def echo() -> Instance:
    rt = runtime()
    return load(rt, echo_wat()).instantiate(rt.new_store(), {})


def roundtrip(echo: Instance, name: str, value: Any) -> Any:
    out, pad = echo.call(f"echo-{name}", value, PADDING)
    assert pad == PADDING
    return out


CASES = [
    ("bool", True), ("bool", False), ("s8", -128), ("u8", 255), ("s16", -32768),
    ("u16", 65535), ("s32", -(2**31)), ("u32", 2**32 - 1), ("s64", -(2**63)),
    ("u64", 2**64 - 1), ("f32", 1.5), ("f64", -2.25e300), ("char", "λ"), ("char", "🦀"),
    ("string", ""), ("string", "héllo wörld"), ("bytes", b""), ("bytes", bytes(range(256))),
    ("strings", ["a", "", "ccc"]), ("tuple", (7, "x", 0.5)),
    ("rec", {"id": 1, "name": "n", "tags": ["t1", "t2"]}),
    ("var", Variant("a", "same type")), ("var", Variant("b", "same type")),
    ("var", Variant("none")), ("var", Variant("n", 9)),
    ("color", "green"), ("opt", None), ("opt", "x"), ("optopt", None),
    ("optopt", Some(None)), ("optopt", Some(3)),
    ("res", Ok("fine")), ("res", Err("broken")), ("unit-res", Ok()), ("unit-res", Err()),
    ("perm", frozenset()), ("perm", frozenset({"read", "exec"})),
    ("vars", [Variant("a", "1"), Variant("b", "1"), Variant("none")]),
]


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}-{i}" for i, (n, _) in
                                                         enumerate(CASES)])
def test_roundtrip(echo: Instance, name: str, value: Any) -> None:
    assert roundtrip(echo, name, value) == value


def test_nan_roundtrips(echo: Instance) -> None:
    assert math.isnan(roundtrip(echo, "f64", math.nan))


def test_record_accepts_attributes(echo: Instance) -> None:
    class Rec:
        id, name, tags = 5, "obj", ["t"]

    assert roundtrip(echo, "rec", Rec()) == {"id": 5, "name": "obj", "tags": ["t"]}


def test_error_result_is_not_a_plain_string(echo: Instance) -> None:
    """wasmtime-py alone returns both cases of result<string, string> as str."""
    out = roundtrip(echo, "res", Err("nope"))
    assert isinstance(out, Err) and out.value == "nope"


@pytest.mark.parametrize(("name", "value", "words"), [
    ("var", Variant("zz"), "case in"), ("res", "bare", "Ok(...) or Err(...)"),
    ("color", "mauve", "one of"), ("perm", {"sudo"}, "unknown flag"),
    ("bytes", [1, 2], "expected bytes"), ("optopt", 3, "Some(value)"),
])
def test_wrong_values_are_refused_by_name(echo: Instance, name: str, value: Any,
                                          words: str) -> None:
    with pytest.raises(TypeError, match=words.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.")):
        roundtrip(echo, name, value)


def test_signatures_read_from_the_component(echo: Instance) -> None:
    sig = echo.loaded.exports["echo-res"]
    assert sig.wit() == f"func(x: result<string, string>, pad: tuple<{', '.join(['u8'] * 16)}>)" \
        f" -> tuple<result<string, string>, tuple<{', '.join(['u8'] * 16)}>>"
    assert PAD.count("u8") == 16


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(
    st.builds(Variant, st.sampled_from(["a", "b"]), st.text()),
    st.just(Variant("none")),
    st.builds(Variant, st.just("n"), st.integers(0, 2**32 - 1)))))
def test_list_of_variants_any(echo: Instance, value: list[Variant]) -> None:
    assert roundtrip(echo, "vars", value) == value


@settings(max_examples=60, deadline=None)
@given(st.fixed_dictionaries({"id": st.integers(0, 2**64 - 1), "name": st.text(),
                              "tags": st.lists(st.text(), max_size=4)}))
def test_records_any(echo: Instance, value: dict[str, Any]) -> None:
    assert roundtrip(echo, "rec", value) == value
