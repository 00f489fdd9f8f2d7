"""The raw-access verifier's decoder, against wasmtime's own assembler.

For valid modules (``wasmtime.wat2wasm``), the decoder must walk every
function body to its exact last byte: one immediate read wrong would shift
every later instruction and could hide a store. On arbitrary bytes it must
only ever accept or refuse, never crash.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import GUESTS
from nanonet import LoadError
from nanonet.caps.verify import inspect, verify
from nanonet.caps.wasmbin import Instr, Reader, skip_valtype, walk
from nanonet.caps.wasmmod import scan
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry
from nanonet.runtime.engine import runtime
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
             for p in WAT_FILES}
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
