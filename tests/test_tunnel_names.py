"""Names in the manifest: one guest binary under several tunnel names.

``named_relay.wat`` asks for ``tunnel("in")`` and ``tunnel("out")``. Mapped
with ``names``, the same compiled bytes serve twice in one mesh, chained
(host -> raw -> first -> mid -> second -> done -> host), and every message
comes out in order; a mapping to a tunnel the service does not hold, or an
ambiguous one, is refused with the fix, in Python and in ``nanonet check``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

import nanonet
from conftest import check_messages, guest, message
from nanonet import InvalidValue, ManifestError, Mesh

pytestmark = pytest.mark.timeout(120)
COUNT = 2_000
CHAIN = {"first": {"in": "raw", "out": "mid"}, "second": {"in": "mid", "out": "done"}}


def _binary(memory: str) -> bytes:
    return bytes(wasmtime.wat2wasm(guest("named_relay", memory=memory)))


def _chain(mesh: Mesh, code: bytes) -> None:
    for t in ("raw", "mid", "done"):
        mesh.tunnel(t, slots=64, max_payload=64)
    for name, names in CHAIN.items():
        mesh.service(name, code, reads=[names["in"]], writes=[names["out"]], names=names)


def _flow(mesh: Mesh) -> list[bytes]:
    writer, reader = mesh.writer("raw"), mesh.reader("done")
    mesh.start()
    got = []
    for i in range(COUNT):
        writer.send(message(i, 48))
        if i % 32 == 31:
            got += [reader.recv(timeout=10) for _ in range(32)]
    writer.close()
    got += list(reader)
    assert mesh.wait(10)
    return got


@pytest.mark.parametrize("memory", ["import", "export"])
def test_one_binary_serves_twice_under_other_names(memory: str) -> None:
    code = _binary(memory)
    with Mesh() as mesh:
        _chain(mesh, code)
        got = _flow(mesh)
        outcomes = {n: s.outcome for n, s in mesh.services.items()}
    assert check_messages(got, 0, 48) == COUNT
    assert all(o is not None and o.exit_code == -1 for o in outcomes.values()), outcomes


@pytest.mark.parametrize("memory", ["import", "export"])
def test_without_names_the_guest_finds_no_tunnel_and_its_exit_says_which(memory: str) -> None:
    with Mesh() as mesh:
        for t in ("raw", "mid"):
            mesh.tunnel(t)
        svc = mesh.service("first", _binary(memory), reads=["raw"], writes=["mid"])
        mesh.start()
        assert mesh.wait(10)
    assert svc.outcome is not None and svc.outcome.exit_code == -5  # BAD_HANDLE
    assert svc.outcome.detail == (
        "returned -5; the guest asked for tunnel 'out', which it does not hold (it answers "
        "to: 'raw', 'mid'): fix the name in the guest, or map it with names=")


def test_an_exit_after_every_name_was_found_says_nothing_more() -> None:
    with Mesh() as mesh:
        _chain(mesh, _binary("import"))
        mesh.writer("raw").close()
        mesh.start()
        assert mesh.wait(10)
        details = {s.outcome.detail for s in mesh.services.values() if s.outcome}
    assert details == {"returned -1"}


def _refused(names: dict[str, str], reads: tuple[str, ...] = ("raw",),
             writes: tuple[str, ...] = ("mid",)) -> str:
    with Mesh() as mesh:
        for t in ("raw", "mid", "other"):
            mesh.tunnel(t)
        with pytest.raises(InvalidValue) as info:
            mesh.service("first", _binary("import"), reads=reads, writes=writes, names=names)
        assert "first" not in mesh.services
        assert mesh.tunnels["raw"].reader is None  # no end was taken
    return str(info.value)


def test_a_name_mapped_to_a_tunnel_not_held_is_refused_with_the_fix() -> None:
    assert _refused({"in": "raw", "out": "other"}) == (
        "service 'first': names: maps 'out' to 'other', which is not a tunnel this service "
        "holds (it holds: raw, mid); map it to one of those, or give it 'other' in reads= "
        "or writes=")


def test_two_names_for_one_tunnel_are_refused() -> None:
    assert "maps both 'in' and 'out' to tunnel 'raw'" in _refused({"in": "raw", "out": "raw"})


def test_two_ends_under_one_guest_name_are_refused() -> None:
    said = _refused({"raw": "mid"})
    assert "would reach both tunnel 'raw' and tunnel 'mid' as 'raw'" in said


def test_a_guest_name_that_breaks_the_naming_rule_is_refused() -> None:
    assert "the guest's name 'a\\nb' cannot name a tunnel" in _refused({"a\nb": "raw"})


# -- the manifest ---------------------------------------------------------

MANIFEST = """\
[tunnels.raw]
slots = 64
writer = "host"
reader = "first"

[tunnels.mid]
slots = 64
writer = "first"
reader = "second"

[tunnels.done]
slots = 64
writer = "second"
reader = "host"

[services.first]
wasm = "relay.wasm"
names = { in = "raw", out = "mid" }

[services.second]
wasm = "relay.wasm"
names = { in = "mid", out = "done" }
"""


def _manifest(tmp: Path, text: str = MANIFEST) -> Path:
    (tmp / "relay.wasm").write_bytes(_binary("export"))
    path = tmp / "nanonet.toml"
    path.write_text(text)
    return path


def test_a_manifest_maps_one_file_twice(tmp_path: Path) -> None:
    m = nanonet.load_manifest(_manifest(tmp_path))
    mesh = m.build_mesh()
    try:
        got = _flow(mesh)
    finally:
        mesh.stop(grace=0)
        mesh.close()
    assert check_messages(got, 0, 48) == COUNT


def test_check_prints_each_map(tmp_path: Path) -> None:
    path = _manifest(tmp_path)
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "  names    tunnel('in') → raw (reads)\n           tunnel('out') → mid (writes)" \
        in done.stdout
    assert "tunnel('in') → mid (reads)" in done.stdout


def test_check_refuses_a_map_to_a_tunnel_not_held_at_its_line(tmp_path: Path) -> None:
    path = _manifest(tmp_path, MANIFEST.replace('out = "done"', 'out = "dnoe"'))
    with pytest.raises(ManifestError) as info:
        nanonet.load_manifest(path)
    err = info.value
    assert (err.line, err.key) == (22, "services.second.names.out")
    assert str(err).endswith(
        "services.second.names.out: maps 'out' to 'dnoe', which is not a tunnel this service "
        "holds (it holds: mid, done); map it to one of those, or add [tunnels.dnoe] with this "
        "service as its writer or reader")


def test_a_component_takes_no_names(tmp_path: Path) -> None:
    text = MANIFEST + '\n[services.auth]\ncomponent = "auth.wasm"\nnames = { in = "raw" }\n'
    with pytest.raises(ManifestError, match="is a component, so names does not apply"):
        nanonet.load_manifest(_manifest(tmp_path, text))


def test_check_says_when_the_module_never_spells_a_name_it_answers_to(tmp_path: Path) -> None:
    text = MANIFEST.replace('names = { in = "raw", out = "mid" }\n', "")
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "check", "--no-load",
                           str(_manifest(tmp_path, text))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first = done.stdout.split("service first:")[1].split("service second:")[0]
    assert ("its module never spells 'raw', 'mid': if the guest asks for its tunnels by other "
            "names, map them with names = { GUEST = \"TUNNEL\" }") in first
    assert "never spells" not in done.stdout.split("service second:")[1]
