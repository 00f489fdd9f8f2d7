"""The raw-access verifier's decoder, against wasmtime's own assembler.

For valid modules (``wasmtime.wat2wasm``), the decoder must walk every
function body to its exact last byte: one immediate read wrong would shift
every later instruction and could hide a store. On arbitrary bytes it must
only ever accept or refuse, never crash.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import GUESTS
from nanonet import LoadError
from nanonet.host.engine import runtime
from nanonet.policy.verify import inspect, verify
from nanonet.policy.wasmbin import Instr, Reader, WasmFormatError, skip_valtype, walk
from nanonet.policy.wasmmod import scan
from nanonet.policy.wasmscan import writes
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry
from nanonet.runtime.linking import shim_wat

SRC = Path(__file__).resolve().parents[1] / "src" / "nanonet"
WAT_FILES = sorted([*GUESTS.glob("*.wat"), *SRC.glob("**/*.wat")])


def _adapters() -> dict[str, str]:
    g, h = Geometry(16, 72), Geometry(1024, 256)
    shapes = {"read": [(Direction.READ, g)], "write+read": [(Direction.WRITE, h),
                                                           (Direction.READ, g)]}
    out = {name: adapter_wat([EndSpec("", d, geo) for d, geo in ends])
           for name, ends in shapes.items()}
    out["shim"] = shim_wat()
    return out


def _sources() -> dict[str, str]:
    """Every WAT module of the project (templates filled with a no-op) and adapters."""
    files = {p.name: p.read_text().replace("FAULT_BODY", "(nop)").replace("TRIGGER", "1")
             .replace("MARK", "1") for p in WAT_FILES}
    files["raw_sneak.wat"] = files["raw_sneak.wat"].replace(";; BODY", "(i32.store 1 "
                                                            "(i32.const 0) (i32.const 1))")
    return {**files, **_adapters()}


def bodies(wasm: bytes) -> list[list[Instr]]:
    """Every function body decoded; asserts each ends exactly at its end."""
    out = []
    for start, end in scan(wasm).bodies:
        r = Reader(wasm, start, end)
        for _ in range(r.u32()):
            r.u32()
            skip_valtype(r)
        out.append(list(walk(r)))
        assert r.pos == end, f"body at {start:#x} decoded to {r.pos:#x}, ends at {end:#x}"
        assert out[-1][-1].name == "end" and out[-1][-1].depth == -1
    return out


@pytest.mark.parametrize("name", sorted(_sources()))
def test_the_decoder_walks_every_body_to_its_exact_end(name: str) -> None:
    wasm = bytes(wasmtime.wat2wasm(_sources()[name]))
    runtime().module(wasm)  # valid for the engine nanonet runs
    assert bodies(wasm)


def test_every_op_decodes_its_writes_to_the_right_memory() -> None:
    wasm = bytes(wasmtime.wat2wasm((GUESTS / "every_op.wat").read_text()))
    shape = scan(wasm)
    assert shape.names[5] == "memory" and shape.imported_funcs == 1
    writes = {ins.name: ins.writes for body in bodies(wasm) for ins in body
              if ins.writes is not None}
    assert writes == {
        "i32.store": 0, "i64.store32": 1, "f64.store": 1, "memory.grow": 1, "memory.copy": 1,
        "memory.fill": 1, "memory.init": 1, "i64.atomic.store": 0, "i32.atomic.rmw8.add_u": 0,
        "i64.atomic.rmw32.cmpxchg_u": 0, "i32.atomic.rmw.xchg": 0, "v128.store": 1,
        "v128.store64_lane": 1}


def test_a_module_without_raw_imports_is_not_decoded_further() -> None:
    assert inspect(bytes(wasmtime.wat2wasm("(module (memory 1))"))) == ((), None)


def _valid() -> bytes:
    return bytes(wasmtime.wat2wasm((GUESTS / "raw_reader.wat").read_text()))


VALID = _valid()


def _verdict(wasm: bytes) -> None:
    try:
        verify("fuzz", wasm)
    except LoadError as err:
        assert "fuzz" in str(err)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash_the_verifier(data: bytes) -> None:
    _verdict(data)
    _verdict(VALID[:8] + data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255),
                          st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=6))
def test_mutations_of_a_valid_module_only_accept_or_refuse(
        edits: list[tuple[int, int, str]]) -> None:
    wasm = bytearray(VALID)
    for at, value, how in edits:
        at %= max(len(wasm), 1)
        if how == "set":
            wasm[at] = value
        elif how == "insert":
            wasm.insert(at, value)
        else:
            del wasm[at]
    _verdict(bytes(wasm))


def test_the_valid_raw_reader_is_accepted() -> None:
    assert verify("raw", VALID) == ("t",)


# -- the fast scan against the full decoder ------------------------------------

Write = tuple[int, str, int]


def _reference(wasm: bytes, start: int, end: int) -> list[Write]:
    """Every write of one body, by the full decoder one instruction at a time."""
    r = Reader(wasm, start, end)
    for _ in range(r.u32()):
        r.u32()
        skip_valtype(r)
    out = [(i.offset, i.name, i.writes) for i in walk(r) if i.writes is not None]
    if r.pos != end:
        raise WasmFormatError(r.pos, "bytes after the final end")
    return out


def _fast(wasm: bytes, start: int, end: int, watch: frozenset[int] | None = None,
          ) -> list[Write]:
    return [(i.offset, i.name, i.writes or 0) for i in writes(wasm, start, end, watch)]


def _same_writes(wasm: bytes) -> None:
    """The fast scan and the full decoder agree on every body: the same writes
    at the same offsets, or both refuse; and watching one memory finds exactly
    the writes into that memory."""
    try:
        bodies_ = scan(wasm).bodies
    except WasmFormatError:
        return
    for start, end in bodies_:
        try:
            want = _reference(wasm, start, end)
        except WasmFormatError:
            with pytest.raises(WasmFormatError):
                _fast(wasm, start, end)
            continue
        assert _fast(wasm, start, end) == want
        for mem in {w[2] for w in want} | {0, 1, 2}:
            assert _fast(wasm, start, end, frozenset({mem})) == [w for w in want
                                                                 if w[2] == mem]


@pytest.mark.parametrize("name", sorted(_sources()))
def test_the_fast_scan_sees_what_the_full_decoder_sees(name: str) -> None:
    _same_writes(bytes(wasmtime.wat2wasm(_sources()[name])))


EVERY_OP = bytes(wasmtime.wat2wasm((GUESTS / "every_op.wat").read_text()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([EVERY_OP, VALID]),
       st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255),
                          st.sampled_from(["set", "insert", "delete"])), min_size=1, max_size=4))
def test_the_fast_scan_agrees_with_the_full_decoder_on_mutations(
        base: bytes, edits: list[tuple[int, int, str]]) -> None:
    wasm = bytearray(base)
    for at, value, how in edits:
        at %= len(wasm)
        if how == "set":
            wasm[at] = value
        elif how == "insert":
            wasm.insert(at, value)
        else:
            del wasm[at]
    _same_writes(bytes(wasm))


@lru_cache(maxsize=1)
def _large_module() -> bytes:
    """4 MB of function bodies; only the last body stores into the ring."""
    body = "(i32.store 1 (local.get 0) (i32.load 0 offset=8 (local.get 0)))" * 400
    funcs = "".join(f"(func (param i32) (block (br_if 0 (local.get 0))) {body})"
                    for _ in range(910))
    last = "(func $last (i32.store 0 (i32.const 4) (i32.const 1)))"
    wat = (f'(module (import "nanonet:raw" "t" (memory 1 1 shared)) (memory 1) {funcs} '
           f'{last})')
    return bytes(wasmtime.wat2wasm(wat))


def test_a_large_module_is_verified_to_its_last_store() -> None:
    """The one store into the ring, in the last body, is found at the byte
    wasmtime's own assembler put it."""
    wasm = _large_module()
    assert len(wasm) > 4_000_000
    raw, refusal = inspect(wasm)
    assert raw == ("t",) and refusal is not None
    assert refusal.what.startswith("function 910 ($last) writes the ring memory")
    assert wasm[refusal.offset:refusal.offset + 2] == b"\x36\x02"
    start, end = scan(wasm).bodies[-1]
    assert start < refusal.offset < end


def test_verifying_costs_python_work_per_body_not_per_instruction() -> None:
    """Counted, not timed: the Python and C calls made while verifying 4 MB
    (2.5 million instructions) stay a bounded number per function body."""
    wasm = _large_module()
    calls = 0

    def count(frame: object, event: str, arg: object) -> None:
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        inspect.__wrapped__(wasm)  # past the cache of verdicts
    finally:
        sys.setprofile(None)
    assert calls < 100 * len(scan(wasm).bodies)  # the full decoder: millions
