"""Capability tokens for browser tabs: which services a tab may run.

A tab's URL carries its token in the fragment (``#token=...``), so it never
reaches a server log or a Referer header. The token is
``base64url(json grant) "." base64url(HMAC-SHA256(secret, grant)[:16])``:
the grant names the browser node, the services it may run and when it
expires. The host signs it with a secret it drew at start and never
prints; whoever holds a token may run what it names, and nothing else: a
tunnel belongs to a grant only if one of its granted services writes it.
The token also travels in the bridge's HELLO (at most 255 bytes), where the
host checks it again for the tunnel named there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import ClassVar

from ..errors import BridgeRefused, InvalidValue
from .frames import MAX_TOKEN

SIG_BYTES = 16


class TokenRefused(BridgeRefused):
    """A tab's token that is malformed, forged or expired; the text says which."""

    code: ClassVar[str] = "token-refused"


@dataclass(frozen=True)
class Grant:
    """What a token allows: a node's services, until ``expires`` (Unix seconds)."""

    node: str
    services: tuple[str, ...]
    expires: float

    def as_json(self) -> dict[str, object]:
        return {"node": self.node, "services": list(self.services), "expires": self.expires}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, body: str) -> str:
    return _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest()[:SIG_BYTES])


def mint(secret: bytes, grant: Grant) -> str:
    """A token for ``grant``; an ``InvalidValue`` if it would not fit a HELLO."""
    body = _b64(json.dumps({"n": grant.node, "s": list(grant.services), "e": grant.expires},
                           separators=(",", ":")).encode())
    token = f"{body}.{_sign(secret, body)}"
    if len(token) > MAX_TOKEN:
        raise InvalidValue(f"a token for {len(grant.services)} service(s) of node "
                           f"{grant.node!r} is {len(token)} bytes, over {MAX_TOKEN}: "
                           "grant fewer services per tab, or shorter names")
    return token


def verify(secret: bytes, token: str, now: float | None = None) -> Grant:
    """The grant a genuine, unexpired token carries; ``TokenRefused`` saying why not."""
    body, dot, sig = token.partition(".")
    if not dot or not body or not sig:
        raise TokenRefused("the token is malformed (expected BODY.SIGNATURE): open the URL "
                           "exactly as the host printed it")
    if not hmac.compare_digest(_sign(secret, body), sig):
        raise TokenRefused("the token's signature does not match: it was not issued by "
                           "this host (or this run of it); open the URL this run printed")
    try:
        raw = json.loads(_unb64(body))
        grant = Grant(str(raw["n"]), tuple(str(s) for s in raw["s"]), float(raw["e"]))
    except (ValueError, KeyError, TypeError) as err:
        raise TokenRefused(f"the token's grant cannot be read ({err})") from None
    if (time.time() if now is None else now) >= grant.expires:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(grant.expires))
        raise TokenRefused(f"the token expired at {when}; open a new link from the host (a "
                           "new run prints one; [web] token_ttl sets how long they last)")
    return grant
