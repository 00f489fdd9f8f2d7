"""An HTTP request and its response as ``nanonet:http`` records, for component routes.

A component guest speaks WIT, not the binary request form: the ingress hands
its ``handle`` export a ``request`` record (method, path, query, headers,
body) and reads a ``response`` record back (docs/http.md, "Component
routes"). The response gets the checks a reply form gets (a final status, a
token for each header name, no control character in a value), so a hostile
guest's answer is a 502 here too, never a malformed response on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .forms import BAD_VALUE, FRAMING, TOKEN, Headers, Reply
from .head import Head, HttpError

EXPORT = "nanonet:http/handler@0.1.0#handle"
MAX_FIELD = 0xFFFF  # a header's name or value, as in the reply form


def request_record(head: Head, body: bytes) -> dict[str, Any]:
    """The ``request`` record of a request read whole; 400 when a header value is
    not UTF-8 (a WIT string must be)."""
    headers = []
    for name, value in head.headers:
        try:
            headers.append((name.decode("ascii"), value.decode("utf-8")))
        except UnicodeDecodeError:
            raise HttpError(400, f"the value of {name.decode('ascii', 'replace')} is not "
                            "UTF-8, and a component route carries headers as WIT strings; "
                            "send it UTF-8 (or percent-encoded)") from None
    return {"method": head.method.decode("ascii"), "path": head.path.decode("ascii"),
            "query": head.query.decode("ascii"), "headers": headers, "body": body}


def response_reply(value: Any, who: str) -> Reply:
    """The reply a ``response`` record makes; 502 naming ``who`` when it breaks a rule."""
    if not isinstance(value, Mapping):
        raise _bad(who, f"handle returned {type(value).__name__}, not a response record")
    status = value["status"]
    if not 200 <= status <= 599:
        raise _bad(who, f"status {status} is not a final status (200 to 599)")
    headers: Headers = []
    for i, (name, text) in enumerate(value["headers"]):
        n, v = name.encode(), text.encode()
        if not TOKEN.fullmatch(n) or len(n) > MAX_FIELD:
            raise _bad(who, f"header {i}'s name {name[:40]!r} is not an HTTP token")
        if BAD_VALUE.search(v) or len(v) > MAX_FIELD:
            raise _bad(who, f"header {i} ({name})'s value holds a control character, or "
                       f"is over {MAX_FIELD} bytes")
        if n.lower() not in FRAMING:
            headers.append((n, v))
    body = bytes(value["body"])
    if status in (204, 304) and body:
        raise _bad(who, f"status {status} carries no body, and the response has one")
    return Reply(status, headers, body)


def _bad(who: str, why: str) -> HttpError:
    return HttpError(502, f"{who}'s response is malformed: {why}")
