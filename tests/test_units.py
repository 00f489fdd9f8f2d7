"""Unit tests: geometry, the generated adapter, the SharedMemory fix, the
module cache, load errors, endpoint ownership, the lifecycle table, the
public API."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import wasmtime
from hypothesis import given
from hypothesis import strategies as st

import nanonet
from conftest import export_func, guest
from nanonet import EndpointTaken, LoadError, Mesh, NanonetError
from nanonet.capi import wasmfix
from nanonet.errors import LifecycleError
from nanonet.host.engine import Runtime, runtime
from nanonet.ring import layout as L
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry
from nanonet.ring.memory import RingMemory
from nanonet.runtime.lifecycle import TRANSITIONS, Event, State, next_state

pytestmark = pytest.mark.timeout(60)


# -- layout.Geometry ---------------------------------------------------------

@pytest.mark.parametrize(("slots", "size", "words"), [
    (0, 64, "power of two"), (1, 64, "power of two"), (3, 64, "power of two"),
    (1 << 25, 64, "power of two"), (8, 8, "multiple of 8"), (8, 60, "multiple of 8"),
    (1 << 24, 1 << 10, "exceeds"),
])
def test_geometry_rejects(slots: int, size: int, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Geometry(slots, size)


def test_geometry_for_payload() -> None:
    g = Geometry.for_payload(64, 40)
    assert (g.slot_size, g.max_payload, g.mask) == (48, 40, 63)
    assert g.ring_bytes == L.HEADER_SIZE + 64 * 48 and g.pages == 1
    assert g.slot_offset(64 + 3) == L.HEADER_SIZE + 3 * 48
    assert Geometry.for_payload(2, 1).slot_size == L.MIN_SLOT_SIZE


def test_geometry_keeps_the_max_payload_asked_for_not_the_rounded_slot() -> None:
    g = Geometry.for_payload(8, 20)
    assert (g.slot_size, g.max_payload) == (32, 20)
    assert Geometry.for_payload(2, 1).max_payload == 1
    assert Geometry(8, 32).max_payload == 24  # a slot size alone: the whole slot
    assert Geometry(8, 32) == Geometry(8, 32, 24) != g
    with pytest.raises(ValueError, match="carries at most 24"):
        Geometry(8, 32, 25)


# -- the adapter -------------------------------------------------------------

G1, G2, G3 = Geometry(4, 16), Geometry.for_payload(256, 120), Geometry.for_payload(1024, 1000)
MIXES = [[], [("a", Direction.READ, G1)], [("a", Direction.WRITE, G2)],
         [("a", Direction.READ, G1), ("ab", Direction.WRITE, G2), ("b", Direction.READ, G3)],
         [(f"t{i}", Direction(d), G2) for i, d in enumerate(["read", "write"] * 3)]]


@pytest.mark.parametrize("mix", MIXES, ids=lambda m: "+".join(f"{d.value}" for _, d, _g in m))
def test_adapter_compiles_for_each_shape(mix: list[tuple[str, Direction, Geometry]]) -> None:
    wat = adapter_wat([EndSpec(*end) for end in mix])
    wasmtime.Module(runtime().engine, wat)  # valid Wasm
    for offset in (L.OFF_HEAD, L.OFF_TAIL, L.OFF_CLOSED, L.OFF_QUARANTINE):
        assert (f"offset={offset} " in wat) == bool(mix)
    for _, _, g in mix:
        assert f"(i32.const {g.slot_size})" in wat and f"(i32.const {g.mask})" in wat


def _bare_adapter(names: list[tuple[str, Direction]],
                  ) -> tuple[wasmtime.Store, wasmtime.Memory, dict[str, wasmtime.Func]]:
    """The adapter alone in a store, on a plain memory and fresh rings; its functions."""
    rt = runtime()
    geometry = Geometry(4, 16)
    rings = [RingMemory(rt.engine, geometry, name) for name, _ in names]
    store = wasmtime.Store(rt.engine)
    store.set_epoch_deadline(1 << 62)
    memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(1, 1)))
    module = rt.module(adapter_wat([EndSpec(n, d, geometry) for n, d in names]))
    inst = wasmtime.Instance(store, module, [memory, *(r.shared for r in rings)])
    return store, memory, {k: v for k, v in inst.exports(store).items()
                           if isinstance(v, wasmtime.Func)}


def test_adapter_name_lookup_and_bad_handles() -> None:
    store, memory, ex = _bare_adapter([("a", Direction.READ), ("ab", Direction.WRITE),
                                       ("b", Direction.READ)])

    def lookup(name: bytes, at: int = 100) -> int:
        memory.write(store, name, at)
        return int(ex["tunnel"](store, at, len(name)))

    assert [lookup(b"a"), lookup(b"ab"), lookup(b"b")] == [0, 1, 2]
    for other in (b"", b"abc", b"ba", b"A", b"c"):
        assert lookup(other) == L.Status.BAD_HANDLE
    assert lookup(b"b", at=65535) == 2  # a name on the last byte of memory
    bad = L.Status.BAD_HANDLE
    assert ex["send"](store, 0, 0, 8) == bad  # a read end
    assert ex["try_send_batch"](store, 2, 0, 1) == bad
    assert ex["recv"](store, 1, 0, 64) == bad  # a write end
    assert ex["recv_batch"](store, 1, 0, 64, 4) == bad
    for handle in (3, 99, -1):
        assert ex["try_recv"](store, handle, 0, 64) == bad
        assert ex["close"](store, handle) == bad
    assert ex["try_send"](store, 1, 0, 8) == 0
    assert ex["try_send"](store, 1, 0, 9) == L.Status.TOO_BIG


def test_adapter_with_no_tunnels_answers_bad_handle() -> None:
    store, _memory, ex = _bare_adapter([])
    assert ex["tunnel"](store, 0, 1) == L.Status.BAD_HANDLE
    assert ex["close"](store, 0) == L.Status.BAD_HANDLE
    # no end held in either direction: no send or recv function at all
    assert "recv" not in ex and "send" not in ex and "commit" not in ex


def test_adapter_exports_only_the_functions_of_the_directions_held() -> None:
    _s, _m, reader = _bare_adapter([("r", Direction.READ)])
    _s, _m, writer = _bare_adapter([("w", Direction.WRITE)])
    reads = {"recv", "try_recv", "recv_batch", "try_recv_batch", "commit"}
    writes = {"send", "try_send", "send_batch", "try_send_batch"}
    assert reads <= set(reader) and not writes & set(reader)
    assert writes <= set(writer) and not reads & set(writer)


def test_a_guest_importing_functions_of_a_direction_it_does_not_hold_is_refused() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=8)
        with pytest.raises(LoadError, match=r"imports nanonet.recv but holds no read end"):
            mesh.service("s", guest("until_status"), writes=["t"])


# -- wasmfix -----------------------------------------------------------------

def test_wasmfix_is_idempotent_and_shared_memory_imports_work() -> None:
    engine = runtime().engine
    assert wasmfix.is_broken(engine) is False  # the runtime applied it (or it was not needed)
    assert wasmfix.apply(engine) is False
    assert wasmfix.apply(engine) is False
    mem = wasmtime.SharedMemory(engine, wasmtime.MemoryType(wasmtime.Limits(1, 1), shared=True))
    assert mem.size() == 1
    module = wasmtime.Module(engine, """(module (import "m" "m" (memory 1 1 shared))
        (func (export "poke") (i32.atomic.store (i32.const 8) (i32.const 7))))""")
    store = wasmtime.Store(engine)
    store.set_epoch_deadline(1 << 62)
    export_func(wasmtime.Instance(store, module, [mem]).exports(store), "poke")(store)
    assert mem.data_ptr()[8] == 7


# -- the module cache --------------------------------------------------------

WAT = '(module (func (export "f") (result i32) (i32.const 42)))'


def _f(rt: Runtime, module: wasmtime.Module) -> int:
    store = wasmtime.Store(rt.engine)
    store.set_epoch_deadline(1 << 62)
    return int(export_func(wasmtime.Instance(store, module, []).exports(store), "f")(store))


def test_cache_key_depends_on_the_bytes_only() -> None:
    rt = runtime()
    assert rt.key(b"abc") == rt.key(b"abc") == Runtime().key(b"abc")
    assert rt.key(b"abc") != rt.key(b"abd")


def test_cached_module_is_deserialized_from_disk(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path))
    first = Runtime()
    assert _f(first, first.module(WAT)) == 42
    [path] = (tmp_path / "modules").glob("*.cwasm")
    stamp = os.stat(path).st_ino, os.stat(path).st_mtime_ns
    fresh = Runtime()  # a new engine, an empty in-memory cache
    assert _f(fresh, fresh.module(WAT)) == 42
    assert (os.stat(path).st_ino, os.stat(path).st_mtime_ns) == stamp  # read, not rewritten
    assert fresh.module(WAT) is fresh.module(WAT)


def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path))
    Runtime().module(WAT)
    [path] = (tmp_path / "modules").glob("*.cwasm")
    path.write_bytes(b"\x7fELF not really a module")
    rt = Runtime()
    assert _f(rt, rt.module(WAT)) == 42
    assert path.read_bytes() != b"\x7fELF not really a module"
    again = Runtime()
    assert _f(again, again.module(WAT)) == 42


# -- load errors -------------------------------------------------------------

def _guest_importing(module: str, name: str) -> str:
    return (f'(module (import "{module}" "{name}" (func (param i32) (result i32)))'
            '(memory (export "memory") 1) (func (export "run") (result i32) (i32.const 0)))')


@pytest.mark.parametrize(("module", "name"), [("wasi_snapshot_preview1", "fd_write"),
                                              ("env", "foo"), ("nanonet", "teleport")])
def test_ungranted_import_is_a_load_error(mesh: Mesh, module: str, name: str) -> None:
    with pytest.raises(LoadError, match=f"'svc' imports {module}.{name}"):
        mesh.service("svc", _guest_importing(module, name))


def test_clock_import_needs_the_clock_grant(mesh: Mesh) -> None:
    wat = (guest("spin").replace("(memory", '(import "wasi_snapshot_preview1" "clock_time_get" '
                                 "(func (param i32 i64 i32) (result i32)))\n  (memory", 1))
    with pytest.raises(LoadError, match=r"clock_time_get, which needs the 'clock' grant"):
        mesh.service("svc", wat)
    assert mesh.service("ok", wat, grants=["clock"]).state is State.CREATED


def test_no_entry_export_is_a_load_error(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match="exports no entry function"):
        mesh.service("svc", '(module (memory (export "memory") 1))')
    with pytest.raises(LoadError, match="main"):
        mesh.service("svc2", guest("spin"), entry="main")


def test_other_load_errors(mesh: Mesh) -> None:
    with pytest.raises(LoadError, match="not a valid Wasm module"):
        mesh.service("svc", b"\0asm\x01\0\0\0garbage")
    with pytest.raises(NanonetError, match="unknown grant"):
        mesh.service("svc", guest("spin"), grants=["telepathy"])
    with pytest.raises(NanonetError, match="no tunnel named 'nope'"):
        mesh.service("svc", guest("spin"), reads=["nope"])


# -- endpoint ownership ------------------------------------------------------

def test_each_tunnel_end_is_handed_out_once(mesh: Mesh) -> None:
    mesh.tunnel("t", slots=4, max_payload=8)
    mesh.writer("t")
    with pytest.raises(EndpointTaken, match="write end of tunnel 't' is already held"):
        mesh.writer("t")
    with pytest.raises(EndpointTaken):
        mesh.service("p", guest("sender", side="write"), writes=["t"])
    mesh.service("c", guest("receiver"), reads=["t"])
    with pytest.raises(EndpointTaken, match="read end of tunnel 't' is already held by 'c'"):
        mesh.reader("t")
    with pytest.raises(NanonetError, match="already exists"):
        mesh.tunnel("t")


# -- the lifecycle table -----------------------------------------------------

@given(st.sampled_from(State), st.sampled_from(Event))
def test_lifecycle_table(state: State, event: Event) -> None:
    if (state, event) in TRANSITIONS:
        assert next_state(state, event) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(LifecycleError, match=f"no transition from {state.value} on"):
            next_state(state, event)


def test_lifecycle_table_shape() -> None:
    assert next_state(State.CREATED, Event.START) is State.RUNNING
    assert next_state(State.RUNNING, Event.TRAP) is State.TRAPPED
    assert next_state(State.RUNNING, Event.STOP) is State.STOPPED
    assert next_state(State.TRAPPED, Event.RESTART) is State.RESTARTING
    assert next_state(State.RESTARTING, Event.RESUME) is State.RUNNING
    assert next_state(State.TRAPPED, Event.GIVE_UP) is State.FAILED
    assert next_state(State.RESTARTING, Event.FAIL) is State.FAILED
    assert all(State.FAILED not in pair for pair in TRANSITIONS)
    assert all(State.PARKED not in (a, b) for (a, _), b in TRANSITIONS.items())  # observed only


# -- the public API ----------------------------------------------------------

def test_public_api_is_pinned() -> None:
    assert sorted(nanonet.__all__) == sorted([
        "EndpointTaken", "FanIn", "Frame", "Geometry", "GuestTrap", "InvalidValue", "LoadError",
        "Mesh",
        "MessageTooBig", "NanonetError", "Service", "State", "Status", "Tunnel",
        "TunnelBroken", "TunnelClosed", "TunnelCorrupt", "TunnelReader", "TunnelStats",
        "TunnelWriter", "Grants", "Limits", "Preopen", "Restart", "RestartPolicy", "__version__",
        "Manifest", "ManifestError", "load_manifest",
        "CallTimeout", "NotFound", "Packed", "PcapngError", "TapError", "TapStalled",
        "TunnelTimeout",
        "WrongType", "Port", "PortClient", "PortServer", "PortStats",
        "BridgeProtocolError", "BridgeRefused", "BridgeUnreachable",
        "TunnelSubscriber", "SubscriberStats",
        "HttpIngress", "HttpLimits", "HttpRoute", "WaitPolicy",
    ])
    for name in nanonet.__all__:
        assert getattr(nanonet, name) is not None


# -- two-phase receive ---------------------------------------------------------

TAKE_THEN_TRAP = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "t")
  (func (export "run") (result i32) (local $h i32) (local $i i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (loop $more
      (drop (call $recv (local.get $h) (i32.const 64) (i32.const 64)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 5))))
    unreachable))"""


def test_a_reader_that_traps_leaves_its_last_receive_uncommitted() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=8)
        writer = mesh.writer("t")
        writer.send_many([bytes([i]) for i in range(10)])
        svc = mesh.service("r", TAKE_THEN_TRAP, reads=["t"])
        mesh.start()
        assert mesh.wait(10)
        assert svc.state is State.TRAPPED
        stats = mesh.tunnels["t"].statistics()
        # five received; the first four were committed by the receives after them
        assert (stats.sent, stats.received) == (10, 4)


def test_closing_rings_nobody_waits_on_makes_no_control_store() -> None:
    """A mesh's stop closes every ring: a ring with no parked side is closed
    from the host without a Wasm call (so without a store of its own)."""
    with Mesh() as mesh:
        tunnels = [mesh.tunnel(f"t{i}", slots=16, max_payload=56) for i in range(50)]
        mesh.stop()
        assert all(t.ring.closed for t in tunnels)
        assert not any(t.control._stores for t in tunnels)
