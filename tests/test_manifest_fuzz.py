"""Fuzzing the manifest loader: whatever the text, the only failure is a
ManifestError whose line lies inside the file.

Three generators: tables shaped like the schema with arbitrary values
(written as TOML, so every schema and cross-check path is reached), the
example manifest mutated at random, and raw bytes."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nanonet import ManifestError
from nanonet.manifest.manifest import load_manifest, parse
from nanonet.telemetry import sources

EXAMPLE = sources() / "nanonet.toml"
FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# keys of the schema, plus a few it does not know
KEYS = ["mesh", "fuel", "max_stack_kb", "tunnels", "slots", "max_payload", "slot_size",
        "writer", "reader", "services", "wasm", "source", "build", "memory", "entry",
        "exports", "grants", "clock", "random", "stdout", "stderr", "network", "args",
        "env", "dirs", "host", "guest", "write", "raw", "limits", "fuel_per_tick",
        "deadline_ms", "memory_mb", "memory_bytes", "instances", "restart", "policy",
        "max_restarts", "initial_ms", "factor", "max_ms", "bogus", "a", "ingress", "raw"]
NAMES = st.sampled_from(["ingress", "filter", "host", "raw", "a", "", "x" * 40, "é", "<host>",
                         "a\0b", "\x1b[2J", "two\nlines", "del\x7f", "zero\u200bwidth"])
SCALARS = st.one_of(
    st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.sampled_from([0, 1, 2, 16, 1024, -1]),
    st.floats(allow_nan=True, allow_infinity=True), NAMES,
    st.sampled_from(["host", "never", "on-failure", "import", "export", "x.c", "x.wat",
                     "ingress.c", "/data", "."]),
    st.text(max_size=8))
VALUES = st.recursive(
    SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), NAMES), inner, max_size=4)),
    max_leaves=20)
TABLES = st.dictionaries(st.sampled_from(["mesh", "tunnels", "services", "bogus"]),
                         st.dictionaries(st.one_of(st.sampled_from(KEYS), NAMES), VALUES,
                                         max_size=4), max_size=3)

# near-valid manifests: the right tables with arbitrary keys and values from the schema
SUB = st.dictionaries(st.sampled_from(KEYS[16:]), st.one_of(SCALARS, st.lists(SCALARS, max_size=2)),
                      max_size=4)
NEAR = st.fixed_dictionaries({
    "mesh": st.dictionaries(st.sampled_from(KEYS[:3]), SCALARS, max_size=2),
    "tunnels": st.dictionaries(NAMES, st.dictionaries(st.sampled_from(KEYS[4:9]), SCALARS,
                                                      max_size=5), max_size=2),
    "services": st.dictionaries(NAMES, st.dictionaries(st.sampled_from(KEYS[10:]),
                                                       st.one_of(SCALARS, SUB), max_size=5),
                                max_size=2)})


def _string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_string(k)} = {_value(x)}" for k, x in v.items()) + " }"
    return str(v)


def toml(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> str:
    """TOML for ``table``: sub-tables as [headers] (to exercise the locator)."""
    plain = {k: v for k, v in table.items() if not isinstance(v, dict) or not v}
    nested = {k: v for k, v in table.items() if k not in plain}
    lines = [f"[{'.'.join(_string(p) for p in prefix)}]"] if prefix else []
    lines += [f"{_string(k)} = {_value(v)}" for k, v in plain.items()]
    for k, v in nested.items():
        lines.append(toml(v, (*prefix, k)))
    return "\n".join(lines) + "\n"


def _only_manifest_errors(path: Path, text: str) -> None:
    try:
        parse(path, text)
    except ManifestError as err:
        assert 1 <= err.line <= max(1, len(text.splitlines()))
        assert str(err).startswith(f"{path}:{err.line}")


@FUZZ
@given(st.one_of(TABLES, NEAR))
def test_schema_shaped_tables_fail_only_with_manifest_errors(table: dict[str, Any]) -> None:
    _only_manifest_errors(EXAMPLE, toml(table))


MUTATION = st.tuples(st.sampled_from(["delete", "insert", "swap", "duplicate"]),
                     st.integers(0, 10 ** 6), st.integers(0, 40), st.text(max_size=12))


def _mutate(text: str, how: tuple[str, int, int, str]) -> str:
    kind, at, size, junk = how
    at %= max(1, len(text))
    if kind == "delete":
        return text[:at] + text[at + size:]
    if kind == "insert":
        return text[:at] + junk + text[at:]
    lines = text.splitlines(keepends=True)
    i, j = at % len(lines), (at + size) % len(lines)
    if kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines.insert(j, lines[i])
    return "".join(lines)


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_example_fails_only_with_manifest_errors(
        mutations: list[tuple[str, int, int, str]]) -> None:
    text = EXAMPLE.read_text()
    for how in mutations:
        text = _mutate(text, how)
    _only_manifest_errors(EXAMPLE, text)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_fail_only_with_manifest_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nanonet.toml"
        path.write_bytes(data)
        try:
            load_manifest(path)
        except ManifestError as err:
            assert err.line >= 1


NESTS: dict[str, Callable[[int], str]] = {
    "arrays": lambda n: "x = " + "[" * n + "]" * n,
    "inline tables": lambda n: "x = " + "{ a = " * n + "1" + " }" * n,
    "dotted keys": lambda n: ".".join(["k"] * n) + " = 1",
    "a header": lambda n: "[" + ".".join(["k"] * n) + "]"}


@FUZZ
@given(st.sampled_from(sorted(NESTS)), st.integers(33, 4000), st.integers(0, 30))
def test_deep_nesting_fails_with_a_manifest_error_at_its_line(
        how: str, depth: int, above: int) -> None:
    lines = EXAMPLE.read_text().splitlines()[:above]
    text = "\n".join([*lines, "[deep]", NESTS[how](depth)]) + "\n"
    with pytest.raises(ManifestError) as info:
        parse(EXAMPLE, text)
    assert "flatten it" in str(info.value)
    assert info.value.line == len(lines) + 2


def test_the_generators_reach_deep_errors() -> None:
    """The schema generator's TOML is valid TOML: errors come from the schema."""
    text = toml({"services": {"ingress": {"limits": {"fuel_per_tick": -5}}}})
    with pytest.raises(ManifestError) as info:
        parse(EXAMPLE, text)
    assert (info.value.key, info.value.line) == ("services.ingress.limits.fuel_per_tick", 4)
