"""The access-control example as components: a JavaScript router composed with
a Python auth component, each reaching only what it was given.

Builds both once per cache, side by side (componentize-js ~5-25 s,
componentize-py ~15-30 s), and compiles their composition once (~1 min on a
loaded 2-core VM); skipped where componentize-py or node is not installed.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from builds import side_by_side
from nanonet import LoadError, Mesh
from nanonet.cli import main
from nanonet.component import load
from nanonet.examples.auth import composed
from nanonet.examples.auth.example import token
from nanonet.host.engine import runtime

pytestmark = [
    pytest.mark.skipif(
        not Path(sys.executable).with_name("componentize-py").exists()
        or not shutil.which("node"),
        reason="componentize-py or node is not installed (scripts/setup installs both)"),
    pytest.mark.timeout(900),  # two builds and a 31 MB compile on a loaded 2-core VM
]

TOML = Path(composed.__file__).with_name("composed.toml")


@pytest.fixture(scope="module")
def built() -> tuple[Path, Path]:
    makers = {"router": composed.build_router, "auth": composed.build_authenticator}
    with side_by_side(makers) as started:
        return started["router"].result().path, started["auth"].result().path


def test_the_router_asks_the_auth_component_and_every_attempt_is_logged(
        built: tuple[Path, Path]) -> None:
    requests = [("/admin", token(42, "admin")), ("/admin", token(42, "admin", b"forged")),
                ("/home", token(7, "user")), ("/home", "not-a-token")]
    answers, trail = composed.run(requests, *built)
    assert answers == ["allow /admin 42 admin", "deny /admin: bad signature",
                       "allow /home 7 user", "deny /home: malformed token"]
    assert trail == [(42, "ok"), (42, "bad signature"), (7, "ok"), (0, "malformed")]


def test_each_component_imports_only_its_own_capability(built: tuple[Path, Path]) -> None:
    """The router has no access-logs (and no WASI); the auth has no clock, no
    files, nothing but access-logs (its WASI is stubbed out at build)."""
    rt = runtime()
    router, auth = (load(rt, p) for p in built)
    assert set(router.imports) == {composed.AUTHENTICATOR, "nanonet:auth/types@0.1.0"}
    assert set(auth.imports) == {"nanonet:auth/access-logs@0.1.0", "nanonet:auth/types@0.1.0"}
    with Mesh() as mesh:
        mesh.tunnel("access-log")
        mesh.component("auth", built[1], imports={"access-logs": "tunnel:access-log"})
        with pytest.raises(LoadError, match="imports nothing named 'access-logs'"):
            mesh.component("router", built[0], imports={"authenticator": "component:auth",
                                                         "access-logs": print})
        both = mesh.component("router", built[0], imports={"authenticator": "component:auth"})
        assert set(both.loaded.imports) == set(auth.imports)  # the router adds nothing


def test_the_auth_component_without_its_grant_is_refused_by_name(
        built: tuple[Path, Path]) -> None:
    with Mesh() as mesh, pytest.raises(LoadError, match=re.escape(
            "component 'auth' imports 'nanonet:auth/access-logs@0.1.0', which was not "
            "granted")):
        mesh.component("auth", built[1])


def test_nanonet_run_calls_the_router_and_reports_the_rate(
        built: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(TOML), "--quiet", "--calls", "20", "--call",
                 f'router.handle("/admin", "{token(42, "admin")}")'])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"calls: 20 × router\.handle: [\d,]+ calls/s, p50 [\d.]+ µs, p99 "
                     r"[\d.]+ µs; last answer: 'allow /admin 42 admin'", out), out
    assert "host received 20 message(s) on audit" in out
