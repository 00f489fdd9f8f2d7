"""Ports in nanonet.toml: declared, granted per service, checked with file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import GUESTS
from nanonet.cli import main
from nanonet.errors import ManifestError
from nanonet.manifest.manifest import load_manifest, parse

MANIFEST = """\
[ports.rpc]
server = "server"
clients = ["a"]
host_clients = 2

[services.server]
source = "port_server.wat"

[services.a]
source = "port_client.wat"

[services.b]
source = "port_client.wat"
calls = ["rpc"]

[services.c]
source = "port_client.wat"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("port_server.wat", "port_client.wat"):
        shutil.copy(GUESTS / name, tmp_path / name)
    return tmp_path


def test_check_prints_the_ports_each_service_serves_and_calls(
        folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "nanonet.toml").write_text(MANIFEST.replace('[services.c]\nsource = '
                                                          '"port_client.wat"\n', ""))
    assert main(["check", str(folder / "nanonet.toml")]) == 0
    out = capsys.readouterr().out
    assert "ports    serves rpc (max 256 B) to a, b, host" in out
    assert out.count("ports    calls rpc (max 256 B) served by server") == 2


def test_an_unknown_port_is_an_error_at_its_line_with_a_suggestion(folder: Path) -> None:
    text = MANIFEST.replace('calls = ["rpc"]', 'calls = ["rcp"]')
    with pytest.raises(ManifestError) as err:
        parse(folder / "nanonet.toml", text)
    assert (err.value.line, err.value.key) == (14, "services.b.calls[0]")
    assert "no port named 'rcp' (ports: rpc); did you mean 'rpc'?" in str(err.value)


def test_a_port_server_that_is_not_a_service_is_an_error(folder: Path) -> None:
    with pytest.raises(ManifestError, match="no service named 'sever'") as err:
        parse(folder / "nanonet.toml", MANIFEST.replace('server = "server"', 'server = "sever"'))
    assert (err.value.line, err.value.key) == (2, "ports.rpc.server")


def test_a_service_not_granted_the_port_does_not_load(folder: Path) -> None:
    path = folder / "nanonet.toml"
    path.write_text(MANIFEST.replace('[services.c]\nsource = "port_client.wat"\n',
                                     '[services.c]\nsource = "port_client.wat"\n'
                                     '[tunnels.t]\nwriter = "c"\nreader = "host"\n'))
    with pytest.raises(ManifestError, match=r"services\.c: cannot be loaded: .*neither serves "
                                            "nor calls a port"):
        load_manifest(path).build_mesh()


def test_a_mesh_from_the_manifest_answers_its_callers(folder: Path) -> None:
    path = folder / "nanonet.toml"
    path.write_text(MANIFEST.replace('[services.c]\nsource = "port_client.wat"\n', ""))
    mesh = load_manifest(path).build_mesh()
    with mesh:
        for name in ("a", "b"):
            mesh.services[name].call("configure", 100, 1, 0, -1)
        mesh.start()
        assert mesh.client("rpc").call(b"hi", timeout=30) == b"Rhi"
        for name in ("a", "b"):
            assert mesh.services[name].join(30)
            assert mesh.services[name].exit_code == 0
