"""The access-control example as two components composed into one.

    router (component, JavaScript) --authenticator--> auth (component, Python)
        auth --access-logs.log-attempt--> tunnel "access-log" --> logger --> "audit"

``composed.toml`` is the same mesh as a manifest. The router's one import,
``authenticator``, is ``"component:auth"``: the two are composed
(``component/compose.py``) and every ``authenticate`` call stays inside Wasm,
each component in its own linear memory. The auth component's one
capability is still ``access-logs``; neither imports WASI (the auth's
Python runtime is built with WASI stubbed out).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ...mesh import Mesh
from ...toolchain.build import Built
from ...toolchain.guestbuild import build_js
from ...toolchain.pybuild import build_python
from ...wit import PACKAGES
from .example import decode_attempt

HERE = Path(__file__).parent
AUTHENTICATOR = "nanonet:auth/authenticator@0.1.0"


def build_router() -> Built:
    """The router component, from guest_js/router.js (componentize-js, cached)."""
    return build_js(HERE / "guest_js" / "router.js", PACKAGES["auth"], "router")


def build_authenticator() -> Built:
    """The auth component exporting ``authenticator`` (componentize-py, no WASI, cached)."""
    return build_python(HERE / "guest_py_component", "authenticator", PACKAGES["auth"],
                        "auth-component", stub_wasi=True)


def run(requests: Iterable[tuple[str, str]], router: Path | None = None,
        auth: Path | None = None) -> tuple[list[str], list[tuple[int, str]]]:
    """The router's answer to each (path, token), and the audit trail."""
    with Mesh() as mesh:
        mesh.tunnel("access-log", slots=256, max_payload=120)
        mesh.tunnel("audit", slots=256, max_payload=120)
        mesh.service("logger", (HERE / "logger.wat").read_text(),
                     reads=["access-log"], writes=["audit"])
        mesh.component("auth", auth or build_authenticator().path,
                       imports={"access-logs": "tunnel:access-log"})
        both = mesh.component("router", router or build_router().path,
                              imports={"authenticator": "component:auth"})
        audit = mesh.reader("audit")
        mesh.start()
        answers = [both.call("handle", path, jwt) for path, jwt in requests]
        both.close()  # closes access-log (auth's end, now the router's): the logger drains
        trail = [decode_attempt(r) for r in audit]
    return answers, trail
