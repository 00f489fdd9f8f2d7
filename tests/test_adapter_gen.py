"""The adapter generator: strict templates, named offsets, internal errors.

The generated WAT is nanonet's own text: a placeholder left unfilled or code
that does not compile is an ``InternalError`` naming the template it came
from, never a raw wasmtime error pointing into text nobody wrote.
"""

from __future__ import annotations

import re

import pytest
import wasmtime

from nanonet import Mesh
from nanonet.errors import InternalError
from nanonet.host.engine import runtime
from nanonet.ring import adapter
from nanonet.ring import layout as L
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat, compile_adapter
from nanonet.ring.layout import Geometry
from nanonet.ring.template import fill

pytestmark = pytest.mark.timeout(60)

G = Geometry(8, 32)
BOTH = [EndSpec("r", Direction.READ, G), EndSpec("w", Direction.WRITE, G)]


def _strip(wat: str) -> str:
    return " ".join(re.sub(r";;[^\n]*", "", wat).split())


@pytest.fixture
def fresh_generator():  # type: ignore[no-untyped-def]
    """Templates patched by a test are not served from the generator's cache."""
    adapter._adapter_parts.cache_clear()
    yield
    adapter._adapter_parts.cache_clear()


def test_a_placeholder_without_a_value_is_an_internal_error_naming_its_template() -> None:
    with pytest.raises(InternalError, match=r"template 'reader'.*\{NOPE\} has no value"):
        fill("reader", "(i32.const {NOPE})", {})
    with pytest.raises(InternalError, match=r"template 'reader'.*brace"):
        fill("reader", "(i32.const { N})", {"N": 1})
    with pytest.raises(InternalError, match=r"no helper named 'nope'"):
        fill("reader", "{@nope}", {})


def test_an_unfilled_placeholder_in_the_adapter_names_the_template(
        monkeypatch: pytest.MonkeyPatch, fresh_generator: None) -> None:
    monkeypatch.setattr(adapter, "_WRITER", adapter._WRITER + "  ;; {UNKNOWN_KEY}\n")
    with pytest.raises(InternalError, match=r"'writer \(tunnel end 2\)'.*\{UNKNOWN_KEY\}"):
        adapter_wat(BOTH)


@pytest.mark.parametrize(("broken", "words"), [
    ("  (func $oops{m} (i32.bogus))\n", r"template 'reader \(tunnel end 1\)' at its line"),
    ("  (func $oops{m} (result i32) (i64.const 0))\n", "does not compile"),
])
def test_an_adapter_that_does_not_compile_is_an_internal_error(
        monkeypatch: pytest.MonkeyPatch, fresh_generator: None, broken: str, words: str) -> None:
    monkeypatch.setattr(adapter, "_READER", adapter._READER + broken)
    with pytest.raises(InternalError, match=words) as caught:
        compile_adapter(runtime(), BOTH)
    assert "ring/adapter.py" in str(caught.value)
    assert isinstance(caught.value.__cause__, wasmtime.WasmtimeError)


def test_a_service_whose_adapter_fails_to_build_gets_an_internal_error(
        monkeypatch: pytest.MonkeyPatch, fresh_generator: None) -> None:
    monkeypatch.setattr(adapter, "_WRITER", adapter._WRITER + "  (func (i32.bogus))\n")
    sender = '(module (memory (export "memory") 1) (func (export "run") (result i32) i32.const 0))'
    with Mesh() as mesh:
        mesh.tunnel("odd", slots=512, max_payload=92)  # a shape no other test compiled
        with pytest.raises(InternalError, match="template 'writer"):
            mesh.service("s", sender, writes=["odd"])


def test_every_header_offset_carries_its_field_name() -> None:
    wat = adapter_wat(BOTH, sampling=True)
    named = {L.OFF_HEAD: "head", L.OFF_TAIL: "tail", L.OFF_CLOSED: "closed",
             L.OFF_QUARANTINE: "quarantine", L.OFF_TAP_MODE: "tap_mode",
             L.OFF_TAP_TAIL: "tap_tail", L.OFF_READER_WAITING: "reader_waiting",
             L.OFF_WRITER_WAITING: "writer_waiting", L.OFF_FULL: "full_count",
             L.OFF_BYTES_OUT: "bytes_out", L.OFF_STAMPS: "stamps"}
    for offset, name in named.items():
        lines = [ln for ln in wat.splitlines() if f"offset={offset} " in ln]
        assert lines, offset
        for line in lines:
            assert name in line.partition(";;")[2], line
    assert "offset=64 (i32.const 0) (global.get $pos2)) ;; head" in wat


@pytest.mark.parametrize("sampling", [False, True])
@pytest.mark.parametrize("ends", [BOTH[:1], BOTH[1:], BOTH], ids=["read", "write", "both"])
def test_the_names_are_comments_only(ends: list[EndSpec], sampling: bool) -> None:
    wat = adapter_wat(ends, sampling)
    bare = re.sub(r";;[^\n]*", "", wat)
    assert bytes(wasmtime.wat2wasm(wat)) == bytes(wasmtime.wat2wasm(bare))
    assert "{" not in wat and "}" not in wat
    assert _strip(wat) == _strip(bare)
