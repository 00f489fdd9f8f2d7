"""Typed tunnels of records holding every WIT kind, from a component end.

A WAT relay (``typed_kinds.relay_wat``) forwards what the host gives its
``transmit`` to its ``send`` import, wired to a typed tunnel. On the Wasm
path the generated glue (component/typedglue.py) lays the record out in the
ring; on the host path the host encodes what wasmtime lifted. Either way the
message must be byte for byte what ``RecordLayout.encode`` documents, and
decode to the value sent.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component import canon_layout as lay
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.component.shapes import Shape
from nanonet.component.typed import RecordLayout, wit_record
from nanonet.component.values import Err, Ok, Variant
from nanonet.errors import GuestTrap, InvalidValue, LoadError
from nanonet.mesh import Mesh
from nanonet.ring.writer import TunnelWriter
from typed_kinds import S, hostile_wat, relay_wat, values

U8 = S("u8")
STRING = S("string")
NUMBER = S("variant", ("none", "num", "pt", "wide", "text"), None, S("u64"), S("f32"),
           S("f64"), STRING)
# ten core values: the record arrives flat, its variant's payload in joined slots
SMALL = S("record", ("on", "letter", "number", "pair", "perms", "level"),
          S("bool"), S("char"), NUMBER, S("option", (), S("tuple", (), S("u16"), STRING)),
          S("flags", ("r", "w", "x")), S("enum", ("low", "mid", "high")))
ITEM = S("record", ("n", "label", "tags"), S("u32"), S("option", (), STRING),
         S("list", (), STRING))
# more than sixteen: the record arrives as a pointer into the component's memory
BIG = S("record", ("id", "name", "items", "outcome", "inner", "chars", "bits", "k", "ok"),
        S("u64"), STRING, S("list", (), ITEM),
        S("result", ("ok", "err"), S("list", (), U8), S("enum", ("x", "y", "z"))),
        SMALL, S("list", (), S("option", (), S("char"))), S("list", (), S("bool")), S("s16"),
        S("result", ("ok", "err"), None, STRING))


@pytest.fixture(params=["wasm", "host"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _relay(mesh: Mesh, shape: Shape, path: str) -> Any:
    """The relay on ``path`` (WASI forces the host-function path)."""
    layout = RecordLayout.of("t:t/t.rec", shape)
    mesh.tunnel("t", wit_type=layout, max_payload=4096, slots=8)
    relay = mesh.component("relay", relay_wat(shape), imports={"send": "tunnel:t"},
                           wasi=path == "host")
    assert isinstance(relay.loaded, RingLoaded) == (path == "wasm"), paths(mesh)["relay"].why
    return layout, relay


@pytest.mark.parametrize("shape", [SMALL, BIG], ids=["flat", "in-memory"])
def test_every_kind_crosses_a_typed_tunnel_in_the_documented_layout(
        shape: Shape, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (len(lay.flatten(shape)) > lay.MAX_FLAT_PARAMS) == (shape is BIG)
    sent: list[bytes] = []
    real = TunnelWriter.send

    def send(self: TunnelWriter, data: bytes, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(data))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(TunnelWriter, "send", send)
    with Mesh() as mesh:
        layout, relay = _relay(mesh, shape, path)
        reader = mesh.reader("t")
        mesh.start()

        @settings(max_examples=60, deadline=None)
        @given(values(shape))
        def one(value: dict[str, Any]) -> None:
            relay.call("transmit", value, timeout=30)
            msg = bytes(reader.recv(timeout=30))
            assert msg == layout.encode(value)
            assert layout.decode(msg) == value

        one()
        assert (sent == []) == (path == "wasm")  # the Wasm path sends with no host call


def test_the_layout_is_the_canonical_abis_with_offsets_from_the_message() -> None:
    layout = RecordLayout.of("t:t/t.item", ITEM)
    msg = layout.encode({"n": 9, "label": "ab", "tags": ["c", "de"]})
    # n at 0; label: option case at 4, (ptr, len) at 8; tags (ptr, len) at 16; 24 bytes
    assert struct.unpack_from("<IIIIII", msg) == (9, 1, 24, 2, 28, 2)
    assert msg[24:28] == b"ab\0\0"  # the label, then zeros up to the list's alignment
    # the list's two (ptr, len) pairs, then each string's bytes in order
    assert struct.unpack_from("<IIII", msg, 28) == (44, 1, 45, 2)
    assert msg[44:] == b"cde"


def test_a_record_over_max_payload_traps_on_the_wasm_path_and_sends_nothing() -> None:
    with Mesh() as mesh:
        layout, relay = _relay(mesh, SMALL, "wasm")
        reader = mesh.reader("t")
        mesh.start()
        good = {"on": True, "letter": "x", "number": Variant("text", "h\u00e9"), "pair": None,
                "perms": frozenset({"w"}), "level": "mid"}
        with pytest.raises(GuestTrap):
            relay.call("transmit", {**good, "number": Variant("text", "x" * 5000)}, timeout=30)
        relay.call("transmit", good, timeout=30)  # the one too big sent nothing
        assert layout.decode(bytes(reader.recv(timeout=30))) == good


# SMALL's core values: on, letter, number (case, i64 slot, i32 slot), pair (case,
# u16, ptr, len), perms, level
FINE = [1, ord("x"), 0, 0, 0, 0, 0, 0, 0, 5, 2]
BAD = {"a char that is a surrogate": {1: 0xD800}, "a char past U+10FFFF": {1: 0x110000},
       "a variant case out of range": {2: 5}, "an option case out of range": {5: 2},
       "an enum case out of range": {10: 3},
       "a string past the memory": {2: 4, 3: 65530, 4: 100},
       "a string that is not UTF-8": {2: 4, 3: 0, 4: 1}}  # byte 0 of the memory: 0xFF


@pytest.mark.parametrize("fault", list(BAD))
def test_what_the_canonical_abi_refuses_traps_and_sends_nothing(fault: str, path: str) -> None:
    core = list(FINE)
    for i, v in BAD[fault].items():
        core[i] = v
    wat = hostile_wat(SMALL, core).replace(
        '(memory (export "memory") 1)', '(memory (export "memory") 1) (data (i32.const 0) "\\ff")')
    fine = hostile_wat(SMALL, FINE).replace('"bad"', '"fine"')
    with Mesh() as mesh:
        mesh.tunnel("t", wit_type=RecordLayout.of("t:t/t.small", SMALL), max_payload=256)
        mesh.tunnel("u", wit_type=RecordLayout.of("t:t/t.small", SMALL), max_payload=256)
        bad = mesh.component("bad", wat, imports={"send": "tunnel:t"}, wasi=path == "host")
        ok = mesh.component("fine", fine, imports={"send": "tunnel:u"}, wasi=path == "host")
        assert isinstance(bad.loaded, RingLoaded) == (path == "wasm")
        reader, control = mesh.reader("t"), mesh.typed_reader("u")
        mesh.start()
        with pytest.raises(GuestTrap):
            bad.call("bad", timeout=30)
        ok.call("fine", timeout=30)
        assert control.recv_value(timeout=30) == {
            "on": True, "letter": "x", "number": Variant("none"), "pair": None,
            "perms": frozenset({"r", "x"}), "level": "high"}
        bad.close()
        assert list(reader) == []


WIT = """package my:app@0.1.0;

interface base {
    enum colour { red, green }
}

interface types {
    use base.{colour as tint};
    type tags = list<string>;
    flags perms { read, write }
    variant shape { circle(f32), none, named(string) }
    /// An order: every kind a typed tunnel carries.
    record order {
        id: u64,
        tags: tags,
        tint: tint,
        shape: shape,
        extra: option<tuple<u8, string>>,
        done: result<_, string>,
        perms: perms,
    }
    place: func(o: order) -> result<order>;
    resource cart { constructor(); }
    record held { c: borrow<cart> }
}
"""


def test_a_record_of_every_kind_is_read_from_a_wit_file(tmp_path: Path) -> None:
    (tmp_path / "app.wit").write_text(WIT)
    layout = wit_record("my:app/types.order", tmp_path)
    assert layout.describe() == (
        "my:app/types.order {id: u64, tags: list<string>, tint: enum {red, green}, "
        "shape: variant {circle(f32), none, named(string)}, extra: option<tuple<u8, string>>, "
        "done: result<_, string>, perms: flags {read, write}}")
    order = {"id": 1, "tags": ["a"], "tint": "green", "shape": Variant("circle", 0.5),
             "extra": (3, "x"), "done": Err("late"), "perms": frozenset({"read"})}
    assert layout.decode(layout.encode(order)) == order
    with pytest.raises(InvalidValue, match="no resources, futures or streams"):
        wit_record("my:app/types.held", tmp_path / "app.wit")
    with pytest.raises(InvalidValue, match="no type cart2 in my:app/types"):
        wit_record("my:app/types.cart2", tmp_path)
    with pytest.raises(InvalidValue, match=r"no WIT package 'other:app' in .* \(packages: "
                       r"my:app\)"):
        wit_record("other:app/types.order", tmp_path)


def test_a_mesh_tunnel_takes_a_users_wit(tmp_path: Path) -> None:
    (tmp_path / "app.wit").write_text(WIT)
    with Mesh() as mesh:
        mesh.tunnel("orders", wit_type="my:app/types.order", wit=tmp_path / "app.wit")
        writer, reader = mesh.typed_writer("orders"), mesh.typed_reader("orders")
        order = {"id": 2, "tags": [], "tint": "red", "shape": Variant("none"),
                 "extra": None, "done": Ok(), "perms": frozenset()}
        writer.send_value(order)
        assert reader.recv_value(timeout=10) == order


@given(st.binary(max_size=200))
def test_a_hostile_message_of_any_kind_is_refused_never_read_out_of_bounds(msg: bytes) -> None:
    layout = RecordLayout.of("t:t/t.big", BIG)
    try:
        got = layout.decode(msg)
    except InvalidValue:
        return
    assert layout.decode(layout.encode(got)) == got


def test_a_component_import_of_another_record_is_refused_by_name() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", wit_type=RecordLayout.of("t:t/t.small", SMALL))
        with pytest.raises(LoadError, match=r"takes func\(r: \{n: u32, label: option<string>, "
                           r"tags: list<string>\}\), but tunnel 't' carries "
                           r"t:t/t.small \{on: bool"):
            mesh.component("relay", relay_wat(ITEM), imports={"send": "tunnel:t"})


MANIFEST = """[tunnels.orders]
type = "my:app/types.order"
wit = "app.wit"
writer = "relay"
reader = "host"

[services.relay]
component = "relay.wat"
imports = { send = "tunnel:orders" }
"""


@pytest.mark.parametrize("agree", [True, False])
def test_check_reads_the_tunnel_type_from_the_manifests_wit(tmp_path: Path, agree: bool) -> None:
    (tmp_path / "app.wit").write_text(WIT)
    order = wit_record("my:app/types.order", tmp_path / "app.wit").shape
    (tmp_path / "relay.wat").write_text(relay_wat(order if agree else ITEM))
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    if agree:
        assert out.returncode == 0, out.stderr
        assert "'send' -> tunnel 'orders' served by generated Wasm on the ring" in out.stdout
    else:
        assert out.returncode == 1
        assert "nanonet.toml:7" in out.stderr  # the service that disagrees
        assert "but tunnel 'orders' carries my:app/types.order {id: u64" in out.stderr


# an interface export written as an instance of exports (no shim component)
IFACE = """(component
  (import "send" (func $send (param "stream-id" u32)))
  (core module $m (import "h" "send" (func $send (param i32)))
    (func (export "go") (param i32) (call $send (local.get 0))))
  (core func $sendl (canon lower (func $send)))
  (core instance $i (instantiate $m (with "h" (instance (export "send" (func $sendl))))))
  (func $go (param "n" u32) (canon lift (core func $i "go")))
  (instance $api (export "go" (func $go)))
  (export "my:app/api@0.1.0" (instance $api)))"""


def test_an_interface_export_is_called_on_the_wasm_path() -> None:
    with Mesh() as mesh:
        mesh.tunnel("out", max_payload=64)
        comp = mesh.component("c", IFACE, imports={"send": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded), paths(mesh)["c"].why
        reader = mesh.reader("out")
        mesh.start()
        comp.call("my:app/api@0.1.0#go", 7, timeout=30)
        assert bytes(reader.recv(timeout=30)) == struct.pack("<I", 7)


@pytest.mark.parametrize("wasm_path", [True, False])
def test_the_typed_bench_counts_every_event(wasm_path: bool) -> None:
    from nanonet.bench.typed_ring import stream
    assert stream(500, wasm_path) > 0  # BenchError unless the counter saw every event
