"""Who may talk to the control endpoint: the checks made before any route runs.

A browser lets any page it shows open a WebSocket to any address and sends
along the page's ``Origin``; it also lets any page ``fetch`` 127.0.0.1. So:

- ``Host`` must name the address served (a page cannot reach us by DNS rebinding);
- a request that carries an ``Origin`` must come from the server's own origin
  (or one configured), whatever the route; a request with no ``Origin`` is not
  a browser's cross-site request (Prometheus, curl, the CLI) and passes;
- the WebSocket and every request that changes the mesh need the token: as
  ``Authorization: Bearer <token>``, or, from a page (which cannot set headers
  on a WebSocket), as the subprotocol ``nanonet.token.<token>`` beside
  ``nanonet.v1``. The dashboard reads the token from its URL's fragment,
  which a browser never sends to a server.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from ..errors import InvalidValue, NanonetError

SUBPROTOCOL = "nanonet.v1"
TOKEN_PREFIX = "nanonet.token."
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]{8,}")
_ORIGIN = re.compile(r"(https?)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d+))?")


def new_token() -> str:
    """A fresh control token that never starts with ``-``: pasted after
    ``--token`` as the server prints it, it must not read as an option."""
    while (token := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return token


def check_token(token: str) -> str:
    """A token must fit in a WebSocket subprotocol name and not be guessable at once."""
    if not _TOKEN_CHARS.fullmatch(token):
        raise InvalidValue(f"unusable control token {token!r}: use at least 8 letters, digits, "
                           "'-' or '_' (or pass none and let the server make one)")
    return token


def normal_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, the default port left out, as browsers send it."""
    m = _ORIGIN.fullmatch(origin.strip().rstrip("/"))
    if m is None:
        raise InvalidValue(f"not an origin: {origin!r}: write it as scheme://host[:port], "
                           "e.g. http://127.0.0.1:9000")
    scheme, host, port = m.group(1).lower(), m.group(2).lower(), m.group(3)
    default = "80" if scheme == "http" else "443"
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def _host_of(value: str) -> str:
    """The host of a ``Host`` header: ``[::1]:80`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Refusal:
    """Why a request is turned away: the status and a message naming the fix."""

    status: int
    message: str


def header_map(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Request headers by lower-case name; a repeated header's values joined by commas."""
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


class Gate:
    """The Host, Origin and token checks of one server (headers as ``header_map`` gives)."""

    def __init__(self, hosts: Iterable[str], port: int, token: str,
                 origins: Iterable[str] = ()) -> None:
        self.hosts = frozenset(h.lower() for h in hosts)
        own = {normal_origin(f"http://{_url_host(h)}:{port}") for h in self.hosts}
        self.origins = frozenset(own | {normal_origin(o) for o in origins})
        self.token = check_token(token)

    def refuse_request(self, headers: Mapping[str, str]) -> Refusal | None:
        """Checked on every request: a foreign Host or Origin is refused (403)."""
        host = _host_of(headers.get("host") or "")
        if host not in self.hosts:
            return Refusal(HTTPStatus.FORBIDDEN, f"unexpected Host header {host!r}: use one "
                           f"of {', '.join(sorted(self.hosts))}")
        origin = headers.get("origin")
        if origin is not None and not self._origin_ok(origin):
            return Refusal(HTTPStatus.FORBIDDEN, f"requests from pages of origin {origin!r} "
                           "are refused: open the dashboard from this server's own URL, or "
                           "add the origin with serve(origins=[...])")
        return None

    def refuse_unauthorised(self, headers: Mapping[str, str], websocket: bool) -> Refusal | None:
        """Checked where the token is needed: without it the answer is 401."""
        if self._bearer_ok(headers) or (websocket and self._subprotocol_ok(headers)):
            return None
        how = ("open the dashboard at the URL the server printed (…/#token=…), or send "
               f"'Authorization: Bearer <token>' or the subprotocol '{TOKEN_PREFIX}<token>'"
               if websocket else "send 'Authorization: Bearer <token>' (the token the "
               "server printed)")
        return Refusal(HTTPStatus.UNAUTHORIZED, f"this needs the control token: {how}")

    def _origin_ok(self, origin: str) -> bool:
        try:
            return normal_origin(origin) in self.origins
        except NanonetError:
            return False  # "null" (a sandboxed frame, a file:// page) or garbage

    def _bearer_ok(self, headers: Mapping[str, str]) -> bool:
        return self._same(headers.get("authorization", ""), f"Bearer {self.token}")

    def _subprotocol_ok(self, headers: Mapping[str, str]) -> bool:
        offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
        return any(self._same(p, TOKEN_PREFIX + self.token) for p in offered)

    @staticmethod
    def _same(got: str, want: str) -> bool:
        return hmac.compare_digest(got.encode(), want.encode())
