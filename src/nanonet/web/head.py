"""A strict HTTP/1.1 request head parser (no I/O: bytes in, a ``Head`` out).

Only what a request/reply port needs: origin-form targets, HTTP/1.0 and 1.1,
``Content-Length`` bodies (and ``chunked`` ones on stream routes). Anything
ambiguous is refused rather than guessed at (obsolete line folding, a space
before a colon, two different lengths, a length beside a
``Transfer-Encoding``), because a proxy in front may read it otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from .forms import BAD_VALUE, TOKEN, Headers

MAX_HEADERS = 100  # fields in one head; more is 431
MAX_METHOD = 32


class HttpError(Exception):
    """A request the server answers itself, with ``status`` and this message."""

    def __init__(self, status: int, message: str, headers: Headers | None = None,
                 close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []  # e.g. a 405's Allow
        self.close = close  # the body was left unread: the connection must close


@dataclass(frozen=True)
class Head:
    method: bytes
    target: bytes
    version: bytes  # b"HTTP/1.1" or b"HTTP/1.0"
    headers: Headers  # names lowercased

    @property
    def path(self) -> bytes:
        return self.target.partition(b"?")[0]

    @property
    def query(self) -> bytes:
        return self.target.partition(b"?")[2]

    def get(self, name: bytes) -> bytes | None:
        return next((v for n, v in self.headers if n == name), None)

    @property
    def keep_alive(self) -> bool:
        conn = (self.get(b"connection") or b"").lower()
        if self.version == b"HTTP/1.0":
            return b"keep-alive" in conn
        return b"close" not in conn

    def content_length(self) -> int:
        """The body's length (0 when none is announced); 400/501 when it is unclear."""
        if self.get(b"transfer-encoding") is not None:
            raise HttpError(501, "Transfer-Encoding (chunked bodies) is accepted on stream "
                            "routes only; send the body with a Content-Length")
        return self._length()

    def stream_length(self) -> int | None:
        """A stream route's body length; None for ``Transfer-Encoding: chunked``."""
        coding = self.get(b"transfer-encoding")
        if coding is None:
            return self._length()
        times = len([n for n, _ in self.headers if n == b"transfer-encoding"])
        if times > 1:
            raise HttpError(501, f"Transfer-Encoding is sent {times} times: only one, "
                            "'chunked', is accepted; send it once")
        if coding.lower() != b"chunked":
            raise HttpError(501, f"Transfer-Encoding {coding[:40]!r}: only chunked is accepted; "
                            "send 'Transfer-Encoding: chunked' alone, or a Content-Length")
        if self.get(b"content-length") is not None:
            raise HttpError(400, "both Content-Length and Transfer-Encoding: the body's end "
                            "would be ambiguous; send one of them")
        return None

    def _length(self) -> int:
        values = {v for n, v in self.headers if n == b"content-length"}
        if not values:
            return 0
        if len(values) > 1:
            raise HttpError(400, "two different Content-Length headers; send one")
        value = values.pop()
        if not value.isdigit() or len(value) > 15:
            raise HttpError(400, f"Content-Length {value[:20]!r} is not a decimal length; "
                            "send the body's size in bytes as digits only")
        return int(value)


def parse_head(data: bytes) -> Head:
    """The head ``data`` holds (up to, not including, the blank line)."""
    lines = data.split(b"\r\n")
    method, target, version = _request_line(lines[0])
    headers: Headers = []
    for line in lines[1:]:
        if len(headers) >= MAX_HEADERS:
            raise HttpError(431, f"more than {MAX_HEADERS} header fields")
        headers.append(_field(line))
    return Head(method, target, version, headers)


def _request_line(line: bytes) -> tuple[bytes, bytes, bytes]:
    parts = line.split(b" ")
    if len(parts) != 3:
        raise HttpError(400, "the request line is not METHOD TARGET HTTP/1.1")
    method, target, version = parts
    if not TOKEN.fullmatch(method) or len(method) > MAX_METHOD:
        raise HttpError(400, f"the method {method[:40]!r} is not an HTTP token")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise HttpError(505 if version.startswith(b"HTTP/") else 400,
                        f"version {version[:20]!r}: only HTTP/1.0 and HTTP/1.1 are served")
    if not target.startswith(b"/") or any(c <= 0x20 or c >= 0x7F for c in target):
        raise HttpError(400, "the target must be a path starting with / (origin form), "
                        "printable ASCII with no spaces")
    return method, target, version


def _field(line: bytes) -> tuple[bytes, bytes]:
    if line[:1] in (b" ", b"\t"):
        raise HttpError(400, "obsolete line folding (a header line starting with a space)")
    name, colon, value = line.partition(b":")
    if not colon or not TOKEN.fullmatch(name):
        raise HttpError(400, f"the header line {line[:40]!r} is not NAME: VALUE")
    value = value.strip(b" \t")
    if BAD_VALUE.search(value):
        raise HttpError(400, f"the value of {name.decode()} holds a control character")
    return name.lower(), value
