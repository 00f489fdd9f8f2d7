"""The Wasm tunnel path: a component's tunnel import served on the ring, no Python.

C guests (examples/producer) write through ``Mesh.component`` to a host
reader; every message must arrive, in order, and no Python function may be
called per message (``TunnelWriter.send``, what the host path calls for
each, is counted). Components the path cannot serve keep the host path and
say why; that path still delivers.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import wasmtime

from list_export import LIST_EXPORT
from nanonet.component.graph import Unfit, read_graph
from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.errors import GuestTrap
from nanonet.examples.producer import build
from nanonet.examples.relay import build as build_relay
from nanonet.mesh import Mesh
from nanonet.ring.writer import TunnelWriter

COUNT = int(20_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
TYPED = "nanonet:tunnel/types.packet"

# forward(stream-id, text): run(n, k) sends n strings, the k-th of LINES (offset 16 k)
LINES = ["h\u00e9llo \u2603 \U0001f600".encode(), b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
         b"ab\xe2\x82"]
STRING_PRODUCER = """(component
  (import "forward" (func $f (param "stream-id" u32) (param "text" string)))
  (core module $mm (memory (export "mem") 1) DATA
    (func (export "len") (param $k i32) (result i32)
      (i32.load8_u (i32.add (i32.const 15) (i32.shl (local.get $k) (i32.const 4))))))
  (core instance $mi (instantiate $mm))
  (core func $fl (canon lower (func $f) (memory (core memory $mi "mem"))))
  (core module $m (import "h" "forward" (func $fw (param i32 i32 i32)))
    (import "h" "len" (func $len (param i32) (result i32)))
    (func (export "run") (param $n i32) (param $k i32) (result i32) (local $i i32)
      (block $done (loop $l (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $fw (local.get $i) (i32.shl (local.get $k) (i32.const 4)) (call $len (local.get $k)))
        (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $l)))
      (local.get $n)))
  (core instance $i (instantiate $m (with "h" (instance (export "forward" (func $fl))
                                                        (export "len" (func $mi "len"))))))
  (func (export "run") (param "count" u32) (param "k" u32) (result u32)
    (canon lift (core func $i "run"))))""".replace("DATA", " ".join(
    '(data (i32.const {}) "{}") (data (i32.const {}) "\\{:02x}")'.format(
        16 * k, "".join(f"\\{b:02x}" for b in line), 16 * k + 15, len(line))
    for k, line in enumerate(LINES)))


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts every message the host's write end sends (the host path's per-message call)."""
    counted: list[int] = []
    real: Callable[..., Any] = TunnelWriter.send

    def send(self: TunnelWriter, *args: Any, **kwargs: Any) -> Any:
        counted.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TunnelWriter, "send", send)
    return counted


def _drain(mesh: Mesh, tunnel: str, typed: bool) -> tuple[list[Any], threading.Thread]:
    """A thread reading ``tunnel`` until it closes (the ring is smaller than the stream)."""
    got: list[Any] = []
    end: Any = mesh.typed_reader(tunnel) if typed else mesh.reader(tunnel)
    thread = threading.Thread(target=lambda: got.extend(
        m if typed else bytes(m) for m in end), daemon=True)
    thread.start()
    return got, thread


@pytest.fixture
def mesh() -> Iterator[Mesh]:
    with Mesh() as m:
        yield m


def test_a_c_producer_streams_through_the_wasm_path_in_order(mesh: Mesh,
                                                             sends: list[int]) -> None:
    mesh.tunnel("out", slots=256, max_payload=64)
    comp = mesh.component("p", build("producer").path, imports={"forward": "tunnel:out"})
    assert isinstance(comp.loaded, RingLoaded)
    assert paths(mesh)["p"].wasm and "Wasm path" in paths(mesh)["p"].why
    got, reader = _drain(mesh, "out", typed=False)
    mesh.start()
    assert comp.call("run", COUNT, 16, timeout=120) == COUNT
    comp.close()
    reader.join(60)  # a watchdog: the reader ends once the component closed its end
    assert not reader.is_alive()
    assert len(got) == COUNT
    for i, msg in enumerate(got):
        assert struct.unpack_from("<III", msg) == (i, 16, i)
        assert msg[12:] == bytes(12)
    assert sends == []  # no host function sent anything


def test_a_typed_tunnel_gets_packets_through_the_wasm_path(mesh: Mesh, sends: list[int]) -> None:
    mesh.tunnel("packets", slots=128, max_payload=128, wit_type=TYPED)
    comp = mesh.component("p", build("packet-producer").path,
                          imports={"send": "tunnel:packets"})
    assert isinstance(comp.loaded, RingLoaded)
    got, reader = _drain(mesh, "packets", typed=True)
    mesh.start()
    assert comp.call("run", COUNT // 4, 24, timeout=120) == COUNT // 4
    comp.close()
    reader.join(60)
    assert [p["stream-id"] for p in got] == list(range(COUNT // 4))
    assert got[7] == {"stream-id": 7, "timestamp": 7000,
                      "payload": (7).to_bytes(4, "little") + bytes(20)}
    assert sends == []


def test_a_message_over_the_tunnels_size_traps_the_call(mesh: Mesh) -> None:
    mesh.tunnel("out", slots=16, max_payload=32)
    comp = mesh.component("p", build("producer").path, imports={"forward": "tunnel:out"})
    out = mesh.reader("out")
    mesh.start()
    assert comp.call("run", 2, 24, timeout=60) == 2  # 8 + 24 bytes: fits
    with pytest.raises(GuestTrap):
        comp.call("run", 1, 25, timeout=60)  # 33 bytes: refused before anything is written
    comp.close()
    assert [struct.unpack_from("<I", m)[0] for m in out] == [0, 1]


def test_a_closed_tunnel_traps_the_call_instead_of_losing_messages(mesh: Mesh) -> None:
    mesh.tunnel("out", slots=16, max_payload=64)
    comp = mesh.component("p", build("producer").path, imports={"forward": "tunnel:out"})
    mesh.start()
    comp.owned_ends[0].close()
    with pytest.raises(GuestTrap):
        comp.call("run", 1, 4, timeout=60)


def test_strings_are_checked_for_utf8_on_the_wasm_path(mesh: Mesh, sends: list[int]) -> None:
    mesh.tunnel("out", slots=64, max_payload=64)
    comp = mesh.component("s", STRING_PRODUCER, imports={"forward": "tunnel:out"})
    assert isinstance(comp.loaded, RingLoaded), paths(mesh)["s"].why
    out = mesh.reader("out")
    mesh.start()
    assert comp.call("run", 3, 0, timeout=60) == 3
    for k in range(1, len(LINES)):  # overlong, surrogate, above U+10FFFF, cut short
        with pytest.raises(GuestTrap):
            comp.call("run", 1, k, timeout=60)
    comp.close()
    line = LINES[0]
    assert [bytes(m) for m in out] == [struct.pack("<II", i, len(line)) + line
                                       for i in range(3)]
    assert sends == []


def test_the_bad_lines_are_bad_utf8() -> None:
    for line in LINES[1:]:
        with pytest.raises(UnicodeDecodeError):
            line.decode()


def test_the_c_relay_with_a_record_export_and_an_import_of_records_takes_the_wasm_path(
        mesh: Mesh, sends: list[int]) -> None:
    mesh.tunnel("out", slots=64, max_payload=64)
    comp = mesh.component("relay", build_relay("c").path, imports={
        "forward": "tunnel:out", "receive-stream": lambda: []})
    assert isinstance(comp.loaded, RingLoaded), paths(mesh)["relay"].why
    assert "'receive-stream' called in Python from Wasm" in paths(mesh)["relay"].why
    out = mesh.reader("out")
    mesh.start()
    packet = {"stream-id": 3, "timestamp": 0, "payload": b"abc"}
    assert comp.call("transmit-packet", packet, timeout=60).value == "stream 3: 3 bytes"
    comp.close()
    assert [bytes(m) for m in out] == [struct.pack("<II", 3, 3) + b"abc"]
    assert sends == []  # the message went through the generated Wasm, not the host's writer


def test_an_export_lifting_utf16_strings_keeps_the_host_path(mesh: Mesh) -> None:
    mesh.tunnel("out", slots=16, max_payload=64)
    mesh.component("p", LIST_EXPORT, imports={"forward": "tunnel:out"})
    assert "export 'tag' lifts its strings as utf16" in paths(mesh)["p"].why


def test_a_component_given_no_tunnel_is_not_considered(mesh: Mesh) -> None:
    mesh.component("idle", build("producer").path, imports={"forward": lambda *a: None})
    assert paths(mesh)["idle"].why == "no import is wired to a tunnel"


def test_a_composed_component_is_unfit_for_the_graph_reader() -> None:
    nested = bytes(wasmtime.wat2wasm("(component (component))"))
    with pytest.raises(Unfit, match="nested components"):
        read_graph(nested)


@pytest.mark.parametrize("wasm_path", [True, False])
def test_the_bench_streams_check_every_sequence_number(wasm_path: bool) -> None:
    from nanonet.bench.component_ring import stream

    assert stream(3000, 16, wasm_path) > 0  # BenchError unless the checker saw all, in order


# an interface import of one function, carrying a char: 0xD800 is not a scalar value
CHARS = """(component
  (import "nanonet:test/out" (instance $out
    (export "put" (func (param "c" char) (param "n" u16)))))
  (alias export $out "put" (func $put))
  (core func $pl (canon lower (func $put)))
  (core module $m (import "h" "put" (func $put (param i32 i32)))
    (func (export "run") (param $c i32) (result i32)
      (call $put (local.get $c) (i32.const 65535)) (i32.const 1)))
  (core instance $i (instantiate $m (with "h" (instance (export "put" (func $pl))))))
  (func (export "run") (param "c" u32) (result u32) (canon lift (core func $i "run"))))"""


def test_an_interface_import_is_served_and_a_bad_char_traps(mesh: Mesh, sends: list[int]) -> None:
    mesh.tunnel("out", slots=16, max_payload=16)
    comp = mesh.component("c", CHARS, imports={"out": "tunnel:out"})
    assert isinstance(comp.loaded, RingLoaded), paths(mesh)["c"].why
    out = mesh.reader("out")
    mesh.start()
    assert comp.call("run", ord("é"), timeout=60) == 1
    with pytest.raises(GuestTrap):
        comp.call("run", 0xD800, timeout=60)
    comp.close()
    assert [bytes(m) for m in out] == [struct.pack("<IH", ord("é"), 65535)]
    assert sends == []
