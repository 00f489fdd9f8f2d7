"""The access-control example: a Python auth component, a logger service, a router.

Builds the auth component with componentize-py once per cache (~20 s from
clean); skipped where componentize-py is not installed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from nanonet.component import load
from nanonet.component.service import ComponentService
from nanonet.errors import LoadError
from nanonet.examples.auth.example import build_auth, run, token
from nanonet.host.engine import runtime

pytestmark = pytest.mark.skipif(
    not Path(sys.executable).with_name("componentize-py").exists(),
    reason="componentize-py is not installed (pip install 'nanonet[components]')")


@pytest.fixture(scope="module")
def auth_wasm() -> Path:
    return build_auth().path


def test_router_admits_only_valid_tokens_and_every_attempt_is_logged(auth_wasm: Path) -> None:
    requests = [("/admin", token(42, "admin")), ("/admin", token(42, "admin", b"forged")),
                ("/home", token(7, "user")), ("/home", "not-a-token")]
    decisions, trail = run(requests, auth_wasm)
    assert [d.allowed for d in decisions] == [True, False, True, False]
    assert decisions[0].who == {"user-id": 42, "role": "admin"}
    assert [d.why for d in decisions[1:4:2]] == ["bad signature", "malformed token"]
    assert trail == [(42, "ok"), (42, "bad signature"), (7, "ok"), (0, "malformed")]


def test_auth_reaches_nothing_but_access_logs(auth_wasm: Path) -> None:
    """Its imports are access-logs plus the WASI its Python runtime links
    (given an empty context); without the access-logs grant it cannot load."""
    loaded = load(runtime(), auth_wasm)
    own = {n for n in loaded.imports if not n.startswith("wasi:")}
    assert own == {"nanonet:auth/access-logs@0.1.0", "nanonet:auth/types@0.1.0"}
    with pytest.raises(LoadError, match=re.escape("imports 'nanonet:auth/access-logs@0.1.0', "
                                                        "which was not granted")):
        ComponentService("auth", auth_wasm, wasi=True)


def test_auth_without_wasi_is_refused_naming_the_first_wasi_import(auth_wasm: Path) -> None:
    with pytest.raises(LoadError, match=r"imports 'wasi:[a-z/-]+@[0-9.]+', which was not granted"):
        ComponentService("auth", auth_wasm, imports={"access-logs": {"log-attempt": print}})


def test_build_is_cached(auth_wasm: Path) -> None:
    again = build_auth()
    assert again.cached and again.path == auth_wasm


MANIFEST = Path(__file__).parents[1] / "src/nanonet/examples/auth/nanonet.toml"


def test_the_manifest_checks_and_says_what_auth_reaches(
        auth_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nanonet.cli import main as cli_main

    assert cli_main(["check", str(MANIFEST)]) == 0  # auth_wasm: the build is cached
    out = capsys.readouterr().out
    assert ("imports  access-logs → writes access-log (256 slots × 120 bytes) to logger, "
            "one message per call") in out
    assert "all 2 services load: every import is granted" in out


def test_the_manifest_runs_and_its_mesh_routes_requests(
        auth_wasm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nanonet.cli import main as cli_main
    from nanonet.examples.auth.example import decode_attempt, route
    from nanonet.manifest.manifest import load_manifest

    assert cli_main(["run", str(MANIFEST), "--timeout", "0.2"]) == 0
    assert "(component: answers calls)" in capsys.readouterr().out
    with load_manifest(MANIFEST).build_mesh() as mesh:
        audit = mesh.reader("audit")
        mesh.start()
        decisions = route(mesh.components["auth"], [("/a", token(1, "user")), ("/b", "x")])
        mesh.components["auth"].close()
        assert [decode_attempt(r) for r in audit] == [(1, "ok"), (0, "malformed")]
    assert [d.allowed for d in decisions] == [True, False]


def test_a_component_table_refuses_core_keys_and_ungranted_tunnels(tmp_path: Path) -> None:
    from nanonet.errors import ManifestError
    from nanonet.manifest.manifest import parse

    head = ('[tunnels.log]\nwriter = "auth"\nreader = "host"\n\n'
            '[services.auth]\ncomponent = "a.wasm"\n')
    with pytest.raises(ManifestError, match=r"x.toml:5:1: services.auth: is a component, so "
                                            r"entry does not apply; remove it"):
        parse(tmp_path / "x.toml", head + 'entry = "run"\n')
    with pytest.raises(ManifestError, match=r"x.toml:2:1: tunnels.log.writer: component "
                                            r"'auth' writes 'log' only through an import"):
        parse(tmp_path / "x.toml", head)
    with pytest.raises(ManifestError, match=r"x.toml:7: services.auth.imports.logs: 'nope' "
                                            r"is not a tunnel 'auth' writes"):
        parse(tmp_path / "x.toml", head + 'imports = { logs = "tunnel:nope", l = "tunnel:log" }\n')
