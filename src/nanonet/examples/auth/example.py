"""The access-control example: a router asks an auth component about each request.

    auth (component, Python)  --access-logs.log-attempt-->  tunnel "access-log"
        --> logger (core service)  --> tunnel "audit" --> the host's audit trail

The auth component's one capability is its ``access-logs`` import, wired to
the ``access-log`` tunnel (``"tunnel:access-log"``: each ``log-attempt`` call
is one message); the logger service forwards each record to ``audit``. The
router (``route``) calls ``authenticate`` once per request and lets through
only what it accepts. ``nanonet.toml`` here is the same mesh as a manifest.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...component import Err, Ok
from ...component.service import ComponentService
from ...mesh import Mesh
from ...toolchain.build import Built
from ...toolchain.pybuild import build_python
from ...wit import PACKAGES

HERE = Path(__file__).parent
KEY = b"nanonet-example-key"  # the key auth.py checks signatures with


def token(user_id: int, role: str, key: bytes = KEY) -> str:
    """A token the auth component accepts (``key=`` another key: one it refuses)."""
    body = f"{user_id}.{role}"
    return f"{body}.{hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:16]}"


def decode_attempt(record: bytes) -> tuple[int, str]:
    """One access-log record, as a tunnel import encodes ``log-attempt(user-id:
    u64, result: string)``: the u64, then the string's u32 length and bytes."""
    user_id, size = struct.unpack_from("<QI", record)
    return user_id, record[12:12 + size].decode()


def build_auth() -> Built:
    """The auth component, built from guest_py/auth.py (cached after the first build)."""
    return build_python(HERE / "guest_py", "auth", PACKAGES["auth"], "auth-service")


@dataclass(frozen=True)
class Decision:
    request: str
    allowed: bool
    who: dict[str, object] | None
    why: str


def route(auth: ComponentService, requests: Iterable[tuple[str, str]]) -> list[Decision]:
    """Call ``authenticate`` for each (path, token); admit what it accepts."""
    out = []
    for path, jwt in requests:
        answer = auth.call("authenticate", jwt)
        if isinstance(answer, Ok):
            out.append(Decision(path, True, answer.value, "ok"))
        else:
            assert isinstance(answer, Err)
            out.append(Decision(path, False, None, str(answer.value)))
    return out


def run(requests: Iterable[tuple[str, str]], wasm: Path | None = None,
        ) -> tuple[list[Decision], list[tuple[int, str]]]:
    """Route ``requests``; the decisions and the audit trail the logger wrote."""
    with Mesh() as mesh:
        mesh.tunnel("access-log", slots=256, max_payload=120)
        mesh.tunnel("audit", slots=256, max_payload=120)
        mesh.service("logger", (HERE / "logger.wat").read_text(),
                     reads=["access-log"], writes=["audit"])
        auth = mesh.component("auth", wasm or build_auth().path, wasi=True,
                              imports={"access-logs": "tunnel:access-log"})
        audit = mesh.reader("audit")
        mesh.start()
        decisions = route(auth, requests)
        auth.close()  # closes access-log: the logger drains it, then closes audit
        trail = [decode_attempt(r) for r in audit]
    return decisions, trail


def main() -> None:
    requests = [("/admin", token(42, "admin")), ("/admin", token(42, "admin", b"forged")),
                ("/home", token(7, "user")), ("/home", "not-a-token")]
    decisions, trail = run(requests)
    for d in decisions:
        print(f"{d.request:8} {'ALLOW' if d.allowed else 'DENY ':5} {d.who or ''} {d.why}")
    print("audit trail:", trail)


if __name__ == "__main__":
    main()
