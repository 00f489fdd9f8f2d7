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
from nanonet.runtime.engine import runtime

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
