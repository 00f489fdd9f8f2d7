"""A component reading a typed tunnel (component/typedread.py, world ``event-reader``).

The C guest's ``receive: func() -> option<event>`` and ``receive-all:
func() -> list<event>`` are wired to a tunnel of ``nanonet:tunnel/types.event``
that the host writes; its ``take`` and ``take-all`` exports return what the
imports gave. On the Wasm path a core host function lowers each decoded
message through the guest's ``cabi_realloc``; granted WASI, the component
runtime lowers it. Either way the events come back exactly, a message that
is not an event is refused before anything is lowered, and a reader of
another type is refused at load and by ``nanonet check``.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nanonet.component.ringmesh import paths
from nanonet.component.ringpath import RingLoaded
from nanonet.component.typed import RecordLayout, wit_record
from nanonet.component.typedcopy import relocate
from nanonet.component.values import Ok, Variant
from nanonet.errors import InvalidValue, LoadError, TunnelClosed
from nanonet.examples.relay import build_event
from nanonet.mesh import Mesh
from typed_kinds import S, values

EVENT = "nanonet:tunnel/types.event"
LAYOUT = wit_record(EVENT)
READS = {"receive": "tunnel:ev", "receive-all": "tunnel:ev"}
FINE = {"id": 7, "source": "src", "level": "warn", "tags": ["a", "bc"],
        "body": Variant("point", (-1, 2)), "reply-to": None, "outcome": Ok(5),
        "marks": frozenset({"urgent", "replayed"}), "samples": [{"at": 1, "value": 0.5}]}


@pytest.fixture(scope="module")
def reader_wasm() -> Path:
    return build_event("c", "event-reader").path


@pytest.fixture(params=["wasm", "host"])
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _reader(mesh: Mesh, wasm: Path, path: str, wit_type: str | None = EVENT) -> Any:
    mesh.tunnel("ev", wit_type=wit_type, max_payload=4096, slots=16)
    comp = mesh.component("rd", wasm, imports=READS, wasi=path == "host")
    assert isinstance(comp.loaded, RingLoaded) == (path == "wasm"), paths(mesh)["rd"].why
    return comp


def test_random_events_written_by_the_host_are_read_back_exactly(
        reader_wasm: Path, path: str) -> None:
    with Mesh() as mesh:
        comp = _reader(mesh, reader_wasm, path)
        writer = mesh.typed_writer("ev")
        mesh.start()
        assert comp.call("take", timeout=30) is None  # nothing waiting: none
        assert comp.call("take-all", timeout=30) == []

        @settings(max_examples=40, deadline=None)
        @given(st.lists(values(LAYOUT.shape), min_size=1, max_size=4))
        def one(events: list[dict[str, Any]]) -> None:
            for event in events:
                writer.send_value(event)
            assert comp.call("take", timeout=30) == events[0]
            assert comp.call("take-all", timeout=30) == events[1:]

        one()


HOSTILE = {
    "shorter than the fixed part": bytes(10),
    "a string past the message": LAYOUT.encode(FINE)[:8] + (1000).to_bytes(4, "little")
    + LAYOUT.encode(FINE)[12:],
    "a case index out of range": LAYOUT.encode(FINE)[:16] + b"\x09"
    + LAYOUT.encode(FINE)[17:],
}


@pytest.mark.parametrize("fault", list(HOSTILE))
def test_a_hostile_message_is_refused_and_the_next_one_read(
        reader_wasm: Path, path: str, fault: str) -> None:
    with Mesh() as mesh:
        comp = _reader(mesh, reader_wasm, path)
        raw = mesh.writer("ev")
        mesh.start()
        raw.send(HOSTILE[fault])
        raw.send(LAYOUT.encode(FINE))
        with pytest.raises(InvalidValue, match="message"):
            comp.call("take", timeout=30)
        if path == "host":  # wasmtime enters no instance again after a failed call
            return
        assert comp.call("take", timeout=30) == FINE


def test_a_reader_of_another_type_or_of_no_type_is_refused_by_name(reader_wasm: Path) -> None:
    packet = r"u64.*but tunnel 'ev' carries nanonet:tunnel/types.packet \{stream-id: u32"
    with Mesh() as mesh, pytest.raises(LoadError, match=r"import 'receive' takes func\(\) -> "
                                       r"option<\{id: " + packet):
        _reader(mesh, reader_wasm, "wasm", "nanonet:tunnel/types.packet")
    with Mesh() as mesh, pytest.raises(LoadError, match="tunnel 'ev', which has no WIT type"):
        _reader(mesh, reader_wasm, "wasm", None)


MANIFEST = """[tunnels.ev]
type = "{type}"
writer = "host"
reader = "rd"

[services.rd]
component = "rd.wasm"
imports = {{ receive = "tunnel:ev", receive-all = "tunnel:ev" }}
"""


@pytest.mark.parametrize("agree", [True, False])
def test_check_shows_the_reader_ends_type_and_refuses_a_mismatch(
        tmp_path: Path, reader_wasm: Path, agree: bool) -> None:
    shutil.copy(reader_wasm, tmp_path / "rd.wasm")
    kind = EVENT if agree else "nanonet:tunnel/types.packet"
    (tmp_path / "nanonet.toml").write_text(MANIFEST.format(type=kind))
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    if agree:
        assert out.returncode == 0, out.stderr
        assert ("'receive', 'receive-all' <- read tunnel 'ev' (nanonet:tunnel/types.event "
                "{id: u64, source: string") in out.stdout
        assert "receive → reads ev (" in out.stdout  # what the service reaches
    else:
        assert out.returncode == 1
        assert "nanonet.toml:6" in out.stderr  # the service that disagrees
        assert "but tunnel 'ev' carries nanonet:tunnel/types.packet {stream-id" in out.stderr


def test_strings_sharing_bytes_are_lowered_right(reader_wasm: Path) -> None:
    """A writer may point two strings at the same bytes: the copy lowers both."""
    event = {**FINE, "source": "ab", "tags": ["ab", "ab", "cd"]}
    msg = bytearray(LAYOUT.encode(event))
    source_ptr = struct.unpack_from("<I", msg, 8)[0]
    tags_ptr = struct.unpack_from("<I", msg, 20)[0]
    for i in range(2):  # both "ab" tags at the source's bytes
        struct.pack_into("<I", msg, tags_ptr + 8 * i, source_ptr)
    assert LAYOUT.decode(bytes(msg)) == event
    with Mesh() as mesh:
        comp = _reader(mesh, reader_wasm, "wasm")
        raw = mesh.writer("ev")
        mesh.start()
        raw.send(bytes(msg))
        raw.send(bytes(msg))
        assert comp.call("take", timeout=30) == event
        assert comp.call("take-all", timeout=30) == [event]


def test_lists_sharing_one_buffer_have_its_pointers_moved_once() -> None:
    """Two lists naming one buffer of (ptr, len) pairs: each pair is moved by
    the base once, not once per list naming it (pointers are read from the
    checked message, written into the copy)."""
    strings = S("list", (), S("string"))
    layout = RecordLayout.of("t:t/t.two", S("record", ("a", "b"), strings, strings))
    msg = bytearray(layout.encode({"a": ["xy", "z"], "b": []}))
    struct.pack_into("<II", msg, 8, *struct.unpack_from("<II", msg, 0))  # b is a
    assert layout.decode(bytes(msg)) == {"a": ["xy", "z"], "b": ["xy", "z"]}
    moved = relocate(layout, bytes(msg), 1000)
    array = struct.unpack_from("<I", msg, 0)[0]
    assert struct.unpack_from("<IIII", moved, 0) == (array + 1000, 2, array + 1000, 2)
    pairs = struct.unpack_from("<IIII", msg, array)
    assert struct.unpack_from("<IIII", moved, array) == (
        pairs[0] + 1000, 2, pairs[2] + 1000, 1)


@pytest.mark.parametrize(("wasm_path", "copy"), [(True, True), (True, False), (False, True)])
def test_the_read_bench_compares_every_event(wasm_path: bool, copy: bool) -> None:
    from nanonet.bench.typed_read import read
    assert read(1, wasm_path, copy) > 0  # BenchError unless every event came back


def test_a_closed_and_drained_tunnel_fails_the_read(reader_wasm: Path, path: str) -> None:
    with Mesh() as mesh:
        comp = _reader(mesh, reader_wasm, path)
        writer = mesh.typed_writer("ev")
        mesh.start()
        writer.send_value(FINE)
        writer.close()
        assert comp.call("take", timeout=30) == FINE  # what was sent before the close
        with pytest.raises(TunnelClosed, match="closed and drained"):
            comp.call("take", timeout=30)


def test_check_refuses_a_component_reader_with_no_import_reading(
        tmp_path: Path, reader_wasm: Path) -> None:
    shutil.copy(reader_wasm, tmp_path / "rd.wasm")
    manifest = MANIFEST.format(type=EVENT).replace('receive-all = "tunnel:ev"',
                                                   'receive-all = "tunnel:other"')
    manifest = manifest.replace('receive = "tunnel:ev", ', "") + (
        '\n[tunnels.other]\ntype = "nanonet:tunnel/types.event"\nwriter = "host"\n'
        'reader = "rd"\n')
    (tmp_path / "nanonet.toml").write_text(manifest)
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "component 'rd' reads 'ev' only through an import" in out.stderr


def test_a_bool_byte_is_copied_in_as_0_or_1() -> None:
    layout = RecordLayout.of("t:t/t.flag", S("record", ("on", "name"), S("bool"), S("string")))
    msg = bytearray(layout.encode({"on": True, "name": "x"}))
    msg[0] = 7  # any non-zero byte reads as true
    assert layout.decode(bytes(msg)) == {"on": True, "name": "x"}
    moved = relocate(layout, bytes(msg), 64)
    assert moved[0] == 1
    assert struct.unpack_from("<II", moved, 4) == (struct.unpack_from("<I", msg, 4)[0] + 64, 1)
