"""A guest that defines and exports its memory is loaded with that memory
moved to an import the host fills (runtime/memimport.py): no shim, and
everything the guest could see stays as it was, trap offsets included."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

import nanonet
from conftest import EXPORTED, IMPORTED, message
from nanonet import GuestTrap, Limits, Mesh
from nanonet.host.engine import Runtime, runtime
from nanonet.runtime.memimport import importing
from nanonet.runtime.startfn import sections

TUNNEL = "t"
MEMORY, CODE = 5, 10  # section ids
# receives one message into memory past its data, traps with an offset
EXPORTER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (memory (export "memory") {limits})
  (data (i32.const 0) "t")
  {start}
  (func $init (i32.store (i32.const 8) (i32.const 77)))
  (func (export "seen") (result i32) (i32.load (i32.const 8)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func $fault (export "run") (result i32)
    (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (drop (call $recv (local.get $h) (i32.const 64) (i32.const 256)))
    (if (i32.eq (i32.load8_u (i32.const 64)) (i32.const 0xff)) (then unreachable))
    (i32.load (i32.const 64))))"""


def _wasm(limits: str = "1 3", start: str = "") -> bytes:
    return bytes(wasmtime.wat2wasm(EXPORTER.format(limits=limits, start=start)))


def _memory_import(module: wasmtime.Module) -> wasmtime.MemoryType | None:
    found = [i.type for i in module.imports if isinstance(i.type, wasmtime.MemoryType)]
    return found[0] if found else None


def test_the_defined_memory_becomes_an_import_of_the_same_limits() -> None:
    wasm = _wasm()
    moved = importing(wasm)
    assert moved != wasm and len(moved) == len(wasm)
    engine = wasmtime.Engine()
    ty = _memory_import(wasmtime.Module(engine, moved))
    assert ty is not None and (ty.limits.min, ty.limits.max) == (1, 3) and not ty.is_shared
    exports = {e.name: e.type for e in wasmtime.Module(engine, moved).exports}
    assert isinstance(exports["memory"], wasmtime.MemoryType)


def test_every_byte_from_the_memory_section_on_stays_where_it_was() -> None:
    wasm = _wasm()
    moved = importing(wasm)
    after = {sid: head for sid, head, _, _ in sections(wasm)}
    moved_after = {sid: head for sid, head, _, _ in sections(moved)}
    assert MEMORY not in moved_after and moved_after[CODE] == after[CODE]
    assert moved[after[CODE]:] == wasm[after[CODE]:]  # code, data and names
    assert importing(wasm) is moved  # rewritten once per source


@pytest.mark.parametrize("limits", ["1 3 shared", "i64 1", "1 (pagesize 1)"])
def test_a_shared_64_bit_or_custom_page_memory_is_left_as_it_is(limits: str) -> None:
    try:
        wasm = _wasm(limits)
    except wasmtime.WasmtimeError:
        pytest.skip(f"this wasmtime cannot assemble (memory {limits})")
    assert importing(wasm) is wasm


@pytest.mark.parametrize("wat", [
    '(module (memory (export "memory") 1))',  # no import section: offsets would move
    '(module (import "nanonet" "tunnel" (func (param i32 i32) (result i32)))'
    ' (memory (export "mem") 1))',  # exported under another name
    '(module (import "nanonet" "tunnel" (func (param i32 i32) (result i32)))'
    ' (memory (export "memory") 1) (memory 1))',  # one of two
    '(module (import "env" "memory" (memory 1)) (memory (export "memory") 1))',
])
def test_a_module_whose_memory_cannot_move_with_its_offsets_is_left_as_it_is(wat: str) -> None:
    wasm = bytes(wasmtime.wat2wasm(wat))
    assert importing(wasm) is wasm


def test_wat_text_is_moved_too_and_bad_text_is_left_to_the_compiler() -> None:
    text = EXPORTER.format(limits="1 3", start="").encode()
    assert importing(text) == importing(_wasm())
    bad = b"(module (func"
    assert importing(bad) is bad


@pytest.mark.timeout(30)
def test_an_exporting_guest_runs_without_a_shim_and_keeps_its_data_and_limits() -> None:
    with Mesh(Runtime()) as mesh:  # a runtime of its own: its only link plan is this guest's
        mesh.tunnel(TUNNEL, slots=16, max_payload=64)
        svc = mesh.service("s", _wasm(start="(start $init)"), reads=[TUNNEL])
        assert svc.linked.style == "exports-memory"  # as the guest declared it
        (plan,) = mesh.rt.plans.values()
        assert plan.memory_type is not None  # linked on a memory the host made
        assert svc.linked.memory.data_len(svc.store) == 65536
        assert bytes(svc.linked.memory.read(svc.store, 0, 1)) == b"t"  # its data segment
        assert svc.call("grow", 2) == 1 and svc.call("grow", 1) == -1  # max 3 pages
        mesh.writer(TUNNEL).send(message(41))
        mesh.start()
        assert svc.join(20)
        assert svc.call("seen") == 77  # the start function ran, on the service's thread
        assert svc.exit_code == 41


def _reference_frames(wasm: bytes) -> list[tuple[str | None, int]]:
    """The trap frames of the module as given, instantiated bare."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    module = wasmtime.Module(engine, wasm)
    linker = wasmtime.Linker(engine)
    tunnel_type, recv_type = (i.type for i in module.imports[:2])
    assert isinstance(tunnel_type, wasmtime.FuncType) and isinstance(recv_type, wasmtime.FuncType)
    linker.define_func("nanonet", "tunnel", tunnel_type, lambda *_: 0)

    def recv(caller: wasmtime.Caller, _h: int, at: int, _cap: int) -> int:
        memory = caller.get("memory")
        assert isinstance(memory, wasmtime.Memory)
        memory.write(caller, b"\xff", at)
        return 1
    linker.define_func("nanonet", "recv", recv_type, recv, access_caller=True)
    run = linker.instantiate(store, module).exports(store)["run"]
    assert isinstance(run, wasmtime.Func)
    with pytest.raises(wasmtime.Trap) as trap:
        run(store)
    return [(f.func_name, f.module_offset) for f in trap.value.frames or []]


@pytest.mark.timeout(30)
def test_trap_frames_keep_the_offsets_of_the_module_as_given() -> None:
    wasm = _wasm()
    with Mesh() as mesh:
        mesh.tunnel(TUNNEL, slots=16, max_payload=64)
        svc = mesh.service("s", wasm, reads=[TUNNEL])
        mesh.writer(TUNNEL).send(b"\xff")
        mesh.start()
        assert svc.join(20)
    (trap,) = svc.traps
    assert trap.cause == "unreachable executed"
    got = [(f.function, f.offset) for f in trap.frames if f.function == "fault"]
    assert got and got == [f for f in _reference_frames(wasm) if f[0] == "fault"]


# grows its memory past what a cap allows, then traps (a nanonet import keeps it rewritable)
GROWER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $alloc (export "run") (result i32)
    (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1)) (then unreachable))
    unreachable))"""
PAGE = 65536


def _trapped(limits: Limits) -> GuestTrap:
    with Mesh() as mesh:
        svc = mesh.service("s", GROWER, limits=limits)
        assert svc.linked.style == "exports-memory"
        mesh.start()
        assert svc.join(20)
    (trap,) = svc.traps
    return trap


@pytest.mark.timeout(30)
def test_a_capped_guest_is_watched_and_moved_and_its_frames_keep_their_offsets() -> None:
    free, capped = _trapped(Limits()), _trapped(Limits(memory_bytes=8 << 20))
    assert free.frames == capped.frames and free.frames[0].function == "alloc"
    refused = _trapped(Limits(memory_bytes=1 << 20))
    assert refused.cause == "memory cap reached (memory.grow refused past the limit)"


@pytest.mark.timeout(30)
def test_a_moved_memory_is_counted_once_and_no_shim_table_with_it() -> None:
    with Mesh() as mesh:
        mesh.tunnel(TUNNEL, slots=16, max_payload=64)
        svc = mesh.service("s", _wasm(), reads=[TUNNEL], limits=Limits(memory_bytes=1 << 20))
        assert svc.memory_bytes() == PAGE  # its one page: no shim, no second count
        assert svc.call("grow", 2) == 1
        assert svc.memory_bytes() == 3 * PAGE



GUEST_DIRS = (Path(__file__).parent / "guests", Path(nanonet.__file__).parent / "guests")


def _describe(ty: object) -> str:
    if isinstance(ty, wasmtime.MemoryType):
        return f"memory {ty.limits.min} {ty.limits.max} shared={ty.is_shared}"
    if isinstance(ty, wasmtime.FuncType):
        return f"func {list(map(str, ty.params))} -> {list(map(str, ty.results))}"
    return type(ty).__name__


def _types(module: wasmtime.Module) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    imports = [(i.module, i.name or "", _describe(i.type)) for i in module.imports]
    return imports, [(e.name, _describe(e.type)) for e in module.exports]


def _movable(imports: list[tuple[str, str, str]], exports: list[tuple[str, str]]) -> bool:
    """Imports something, no memory of its own among them, exports a plain memory."""
    own = [i for i in imports if i[2].startswith("memory") and i[0] != "nanonet:raw"]
    memory = dict(exports).get("memory", "")
    return bool(imports) and not own and memory.startswith("memory") and "shared=False" in memory


@pytest.mark.parametrize("style", ["as-given", "imported"])
@pytest.mark.parametrize("path", sorted(p for d in GUEST_DIRS for p in d.glob("*.wat")),
                         ids=lambda p: p.name)
def test_every_bundled_guest_that_can_move_does_and_keeps_its_imports_and_exports(
        path: Path, style: str) -> None:
    text = path.read_text()  # the placeholders of upgradable.wat and relay.wat filled
    for hole, value in (("MARK", "1"), ("FAULT_BODY", "(nop)"), ("TRIGGER", "1000000")):
        text = text.replace(hole, value)
    if style == "imported":
        if EXPORTED not in text:
            pytest.skip("it has no exported memory to turn into an imported one")
        text = text.replace(EXPORTED, IMPORTED)
    wasm = bytes(wasmtime.wat2wasm(text))
    moved = importing(wasm)
    engine = runtime().engine
    (imports, exports), (new_imports, new_exports) = (
        _types(wasmtime.Module(engine, w)) for w in (wasm, moved))
    assert (moved is not wasm) == _movable(imports, exports)
    if moved is not wasm:
        assert len(moved) == len(wasm) and new_exports == exports
        memory = dict(exports)["memory"]
        assert new_imports == [*imports, ("", "", memory)]
