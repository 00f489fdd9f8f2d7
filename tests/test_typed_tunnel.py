"""Typed tunnels: WIT records in the canonical ABI's layout, from a component to the host."""

from __future__ import annotations

import struct
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component.shapes import Shape
from nanonet.component.typed import RecordLayout, wit_record
from nanonet.errors import InvalidValue, LoadError
from nanonet.mesh import Mesh

PACKET = "nanonet:tunnel/types.packet"

# transmit(p: packet) calls send(p: packet): the record is lowered into the
# component's memory, lifted by the host and written to the tunnel
RELAY = """(component
  (type $rec (record (field "stream-id" u32) (field "timestamp" u64) (field "payload" (list u8))))
  (import "packet" (type $packet (eq $rec)))
  (import "send" (func $send (param "p" $packet)))
  (core module $mm
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 16))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $at i32)
      (local.set $at (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                              (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $at) (local.get 3)))
      (if (i32.gt_u (global.get $next) (i32.const 60000)) (then (global.set $next (i32.const 16))
        (local.set $at (i32.const 16)) (global.set $next (i32.add (i32.const 16) (local.get 3)))))
      (local.get $at)))
  (core instance $mi (instantiate $mm))
  (core func $sendl (canon lower (func $send) (memory (core memory $mi "memory"))))
  (core module $m
    (import "h" "send" (func $send (param i32 i64 i32 i32)))
    (func (export "transmit") (param i32 i64 i32 i32)
      (call $send (local.get 0) (local.get 1) (local.get 2) (local.get 3))))
  (core instance $i (instantiate $m (with "h" (instance (export "send" (func $sendl))))))
  (func (export "transmit") (param "p" $packet)
    (canon lift (core func $i "transmit") (memory (core memory $mi "memory"))
                (realloc (core func $mi "realloc")))))"""

# the relay world's forward: the packet's fields as two parameters, not the record
FLAT = """(component
  (import "send" (func (param "stream-id" u32) (param "payload" (list u8)))))"""

# a core guest reading the documented layout: stream-id at 0, the payload's
# (ptr, len) at 16, ptr counted from the message; it sends stream-id ++ payload
CORE_READER = """(module
  (import "env" "memory" (memory 1))
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (data (i32.const 0) "packetsout")
  (func (export "run") (result i32)
    (local $in i32) (local $out i32) (local $n i32) (local $len i32)
    (local.set $in (call $tunnel (i32.const 0) (i32.const 7)))
    (local.set $out (call $tunnel (i32.const 7) (i32.const 3)))
    (loop $more
      (local.set $n (call $recv (local.get $in) (i32.const 1024) (i32.const 2048)))
      (if (i32.ge_s (local.get $n) (i32.const 24)) (then
        (local.set $len (i32.load (i32.const 1044)))
        (i32.store (i32.const 4096) (i32.load (i32.const 1024)))
        (memory.copy (i32.const 4100) (i32.add (i32.const 1024) (i32.load (i32.const 1040)))
                     (local.get $len))
        (drop (call $send (local.get $out) (i32.const 4096)
                          (i32.add (i32.const 4) (local.get $len))))
        (br $more))))
    (drop (call $close (local.get $out)))
    (i32.const 0)))"""

packets = st.fixed_dictionaries({
    "stream-id": st.integers(0, 2**32 - 1), "timestamp": st.integers(0, 2**64 - 1),
    "payload": st.binary(max_size=400)})


def test_the_packet_layout_is_the_canonical_abis() -> None:
    layout = wit_record(PACKET)
    assert [(f.name, f.kind, f.offset) for f in layout.fields] == [
        ("stream-id", "u32", 0), ("timestamp", "u64", 8), ("payload", "bytes", 16)]
    assert layout.size == 24  # aligned to the u64
    msg = layout.encode({"stream-id": 5, "timestamp": 7, "payload": b"abc"})
    assert msg == struct.pack("<I4xQII", 5, 7, 24, 3) + b"abc"


def test_records_cross_host_to_component_to_host_unchanged() -> None:
    with Mesh() as mesh:
        mesh.tunnel("packets", wit_type=PACKET, max_payload=512)
        reader = mesh.typed_reader("packets")
        relay = mesh.component("relay", RELAY, imports={"send": "tunnel:packets"})
        mesh.start()

        @settings(max_examples=40, deadline=None)
        @given(packets)
        def one(packet: dict[str, object]) -> None:
            relay.call("transmit", packet, timeout=30)
            assert reader.recv_value(timeout=30) == packet

        one()


@pytest.mark.parametrize("writer", ["host", "component"])
def test_a_core_guest_reads_the_documented_layout(writer: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("packets", wit_type=PACKET, max_payload=512)
        mesh.tunnel("out", max_payload=512)
        mesh.service("reader", CORE_READER, reads=["packets"], writes=["out"])
        send: Callable[[dict[str, object]], object]
        if writer == "host":
            send = mesh.typed_writer("packets").send_value
        else:
            relay = mesh.component("relay", RELAY, imports={"send": "tunnel:packets"})
            send = partial(relay.call, "transmit", timeout=30)
        out = mesh.reader("out")
        mesh.start()

        @settings(max_examples=40, deadline=None)
        @given(packets)
        def one(packet: dict[str, object]) -> None:
            send(packet)
            want = struct.pack("<I", packet["stream-id"]) + packet["payload"]  # type: ignore
            assert out.recv(timeout=30) == want

        one()


def test_a_component_whose_import_is_another_type_is_refused() -> None:
    with Mesh() as mesh:
        mesh.tunnel("packets", wit_type=PACKET)
        with pytest.raises(LoadError, match=r"takes func\(stream-id: u32, payload: list<u8>\), "
                           r"but tunnel 'packets' carries nanonet:tunnel/types.packet "
                           r"\{stream-id: u32, timestamp: u64, payload: list<u8>\}"):
            mesh.component("relay", FLAT, imports={"send": "tunnel:packets"})


every = Shape("record", ("a", "b", "c", "d", "e", "f", "g", "h"), (
    Shape("bool"), Shape("s8"), Shape("u16"), Shape("string"), Shape("s64"), Shape("f32"),
    Shape("char"), Shape("list", items=(Shape("u8"),))))
values = st.fixed_dictionaries({
    "a": st.booleans(), "b": st.integers(-128, 127), "c": st.integers(0, 65535),
    "d": st.text(max_size=40), "e": st.integers(-2**63, 2**63 - 1),
    "f": st.floats(width=32, allow_nan=False), "g": st.characters(), "h": st.binary(max_size=40)})


@given(values)
def test_every_field_kind_round_trips(value: dict[str, object]) -> None:
    layout = RecordLayout.of("t:t/t.every", every)
    assert [f.offset for f in layout.fields] == [0, 1, 2, 4, 16, 24, 28, 32]
    assert layout.size == 40 and layout.decode(layout.encode(value)) == value


@given(st.binary(max_size=64))
def test_a_hostile_message_is_refused_never_read_out_of_bounds(msg: bytes) -> None:
    layout = RecordLayout.of("t:t/t.every", every)
    try:
        got = layout.decode(msg)
    except InvalidValue:
        return
    assert layout.decode(layout.encode(got)) == got


def test_a_span_past_the_message_is_named() -> None:
    layout = wit_record(PACKET)
    msg = bytearray(layout.encode({"stream-id": 1, "timestamp": 2, "payload": b"xy"}))
    struct.pack_into("<II", msg, 16, 24, 3)
    with pytest.raises(InvalidValue, match=r"a nanonet:tunnel/types.packet message points at "
                       r"bytes 24\.\.27, outside its 26 bytes"):
        layout.decode(bytes(msg))


def test_an_unknown_type_is_named() -> None:
    with pytest.raises(InvalidValue, match="no type parcel in nanonet:tunnel/types"):
        wit_record("nanonet:tunnel/types.parcel")
    with pytest.raises(InvalidValue, match=r"written package/interface\.record"):
        wit_record("packet")


def test_check_refuses_a_mesh_whose_ends_disagree_on_the_type(tmp_path: Path) -> None:
    (tmp_path / "flat.wat").write_text(FLAT)
    (tmp_path / "nanonet.toml").write_text(
        f'[tunnels.packets]\ntype = "{PACKET}"\nwriter = "relay"\nreader = "host"\n\n'
        '[services.relay]\ncomponent = "flat.wat"\nimports = { send = "tunnel:packets" }\n')
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "nanonet.toml:6" in out.stderr
    assert "but tunnel 'packets' carries nanonet:tunnel/types.packet" in out.stderr
