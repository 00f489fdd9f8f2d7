"""Raw zero-copy read access: end to end, and every refusal at load."""

from __future__ import annotations

import re

import pytest
import wasmtime

from conftest import GUESTS, call, export_func, guest
from nanonet import LoadError, Mesh
from nanonet.host.engine import runtime
from nanonet.policy.policy import Grants
from nanonet.policy.verify import verify

RAW = Grants(raw=("t",))
SNEAK = (GUESTS / "raw_sneak.wat").read_text()
V = "(v128.const i64x2 0 0)"


def sneak(body: str = "", field: str = "") -> str:
    """raw_sneak.wat with ``body`` in $sneak and ``field`` at module level."""
    return SNEAK.replace(";; BODY", body).replace(";; FIELD", field)


def load(mesh: Mesh, wat: str, grants: Grants = RAW, reads: tuple[str, ...] = ("t",)) -> None:
    mesh.tunnel("t", slots=16, max_payload=64)
    mesh.service("guest", wat, reads=reads, grants=grants)


@pytest.mark.parametrize("style", ["export", "import"])
@pytest.mark.parametrize("mode", [0, 1], ids=["recv_raw", "try_recv_raw"])
def test_a_raw_reader_checks_every_message_in_place(mesh: Mesh, style: str, mode: int) -> None:
    mesh.tunnel("t", slots=16, max_payload=64)  # small: the ring wraps often
    sender = mesh.service("send", guest("sender", side="write"), writes=["t"])
    call(sender, "configure", 20_000, 0, 1, -1)
    reader = mesh.service("raw", guest("raw_reader", memory=style), reads=["t"], grants=RAW)
    call(reader, "configure", 0, mode)
    mesh.start()
    assert mesh.wait(30), "services did not end"
    assert mesh.traps == []
    assert (sender.exit_code, reader.exit_code) == (0, 20_000)
    stats = mesh.statistics()["t"]
    assert stats.sent == stats.received == 20_000  # every slot given back


def test_a_raw_reader_with_a_wasi_grant_links_through_the_linker(mesh: Mesh) -> None:
    clock = '(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) ' \
            '(result i32)))\n  (import "nanonet:raw"'
    text = guest("raw_reader").replace('(import "nanonet:raw"', clock)
    mesh.tunnel("t", slots=16, max_payload=64)
    sender = mesh.service("send", guest("sender", side="write"), writes=["t"])
    call(sender, "configure", 1000, 24, 0, -1)
    reader = mesh.service("raw", text, reads=["t"], grants=Grants(raw=("t",), clock=True))
    call(reader, "configure", 24, 0)
    mesh.start()
    assert mesh.wait(30)
    assert reader.exit_code == 1000


def test_a_plain_store_into_the_ring_is_refused_with_function_and_offset(mesh: Mesh) -> None:
    wat = sneak("(i32.store 0 (i32.const -4) (i32.const 1))")
    with pytest.raises(LoadError) as err:
        load(mesh, wat)
    text = str(err.value)
    assert "function 2 ($sneak) writes the ring memory of tunnel 't'" in text
    assert "with i32.store" in text and "drop the raw grant" in text
    where = re.search(r"byte (0x[0-9a-f]+)", text)
    assert where is not None, text
    offset = int(where.group(1), 16)
    assert offset == _trap_offset(wat), "the offset must be the store's, as wasmtime sees it"


def _trap_offset(wat: str) -> int:
    """Where wasmtime says $sneak traps (its store is out of bounds)."""
    rt = runtime()
    store = rt.new_store()
    ring = wasmtime.SharedMemory(rt.engine, wasmtime.MemoryType(wasmtime.Limits(1, 1),
                                                                   shared=True))
    lookup = wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()] * 2,
                                                    [wasmtime.ValType.i32()]), lambda a, b: 0)
    inst = wasmtime.Instance(store, rt.module(wat), [lookup, ring])
    with pytest.raises(wasmtime.Trap) as trap:
        export_func(inst.exports(store), "sneak")(store)
    frames = trap.value.frames or []
    return frames[0].module_offset


WRITES = {
    "atomic rmw": ("(drop (i32.atomic.rmw.add 0 (i32.const 64) (i32.const 1)))",
                   "i32.atomic.rmw.add"),
    "atomic store": ("(i64.atomic.store 0 (i32.const 64) (i64.const 1))", "i64.atomic.store"),
    "cmpxchg": ("(drop (i32.atomic.rmw8.cmpxchg_u 0 (i32.const 64) (i32.const 0) "
                "(i32.const 1)))", "i32.atomic.rmw8.cmpxchg_u"),
    "memory.copy dst": ("(memory.copy 0 1 (i32.const 0) (i32.const 0) (i32.const 8))",
                        "memory.copy"),
    "memory.fill": ("(memory.fill 0 (i32.const 0) (i32.const 0) (i32.const 8))",
                    "memory.fill"),
    "memory.init": ("(memory.init 0 $passive (i32.const 0) (i32.const 0) (i32.const 4))",
                    "memory.init"),
    "memory.grow": ("(drop (memory.grow 0 (i32.const 0)))", "memory.grow"),
    "simd store": (f"(v128.store 0 (i32.const 0) {V})", "v128.store"),
    "simd store lane": (f"(v128.store16_lane 0 3 (i32.const 0) {V})", "v128.store16_lane"),
    "i64.store8": ("(i64.store8 0 offset=300 (i32.const 0) (i64.const 1))", "i64.store8"),
}


@pytest.mark.parametrize("kind", WRITES)
def test_each_kind_of_write_into_the_ring_is_refused(mesh: Mesh, kind: str) -> None:
    body, name = WRITES[kind]
    with pytest.raises(LoadError, match=rf"function 2 \(\$sneak\) writes the ring memory of "
                                        rf"tunnel 't' \(memory 0\) with {re.escape(name)} "
                                        r"\(byte 0x[0-9a-f]+ of the module\)"):
        load(mesh, sneak(body))


def test_a_data_segment_into_the_ring_is_refused(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match="an active data segment initialises memory 0, the ring "
                                        "memory of tunnel 't'"):
        load(mesh, sneak(field='(data (memory 0) (i32.const 300) "x")'))


def test_re_exporting_the_ring_is_refused(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match="exports the ring memory of tunnel 't' as 'ring', which "
                                        "would hand write access"):
        load(mesh, sneak(field='(export "ring" (memory 0))'))


OWN_WRITES = [
    "(i32.store 1 (i32.const 64) (i32.const 1))",
    "(memory.copy 1 0 (i32.const 0) (i32.const 256) (i32.const 64))",
    "(memory.fill 1 (i32.const 0) (i32.const 0) (i32.const 8))",
    "(drop (memory.grow 1 (i32.const 0)))",
    "(v128.store 1 (i32.const 0) (v128.load 0 (i32.const 256)))",
    "(drop (i32.atomic.rmw.add 1 (i32.const 64) (i32.const 1)))",
    "(drop (memory.atomic.notify 0 (i32.const 64) (i32.const 1)))",
    "(drop (memory.atomic.wait32 0 (i32.const 64) (i32.const 0) (i64.const 0)))",
    "(i32.store 1 (i32.const 0) (i32.atomic.load 0 (i32.const 64)))",
]


@pytest.mark.parametrize("body", OWN_WRITES)
def test_writes_to_the_guests_own_memory_and_reads_of_the_ring_are_accepted(
        mesh: Mesh, body: str) -> None:
    load(mesh, sneak(body))


def test_a_raw_import_without_the_grant_is_refused_naming_the_grant(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match=r'without the raw grant for it: grant it with raw = '
                                        r'\["t"\] in the manifest, or Grants\(raw=\("t",\)\)'):
        load(mesh, sneak(), grants=Grants())


def test_a_raw_import_needs_the_read_end(mesh: Mesh) -> None:
    mesh.tunnel("u", slots=16, max_payload=64)
    with pytest.raises(LoadError, match="holds no read end of it: raw access is read access for "
                                        r"the tunnel's reader; give it reads=\['t'\]"):
        load(mesh, sneak(), reads=("u",))


def test_a_raw_import_must_fit_the_ring(mesh: Mesh) -> None:
    wat = sneak().replace('"t" (memory 1 1 shared)', '"t" (memory 2 2 shared)')
    with pytest.raises(LoadError, match=r"do not fit the ring's 1 page\(s\): import it as "
                                        r"\(memory 1 1 shared\)"):
        load(mesh, wat)


def test_an_unknown_instruction_cannot_be_verified() -> None:
    with pytest.raises(LoadError, match=r"function 2 \(\$sneak\) uses an instruction the "
                                        r"verifier does not know \(unknown instruction 0xfd "
                                        r"0x9a\)"):
        verify("guest", _with_unknown_opcode())


def _with_unknown_opcode() -> bytes:
    """raw_sneak whose $sneak runs 0xfd 0x9a (an unassigned SIMD opcode) in place of
    three nops: the same length, so every size around it stays right."""
    wasm = bytes(wasmtime.wat2wasm(sneak("(nop) (nop) (nop)")))
    at = wasm.rindex(bytes([0x00, 0x01, 0x01, 0x01, 0x0B])) + 1
    return wasm[:at] + bytes([0xFD, 0x9A, 0x01]) + wasm[at + 3:]
