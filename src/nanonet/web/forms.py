"""The binary forms an HTTP request and its reply take on a port (docs/http.md).

A guest written against the core module ABI has no HTTP parser: the host
hands it one length-prefixed little-endian record per request and reads one
back. Everything here is pure (bytes in, bytes out), so a test can check the
documented offsets against ``encode_request`` and feed ``decode_reply``
anything a hostile guest might write.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

FORM_VERSION = 1
MORE_BODY = 0x80  # or-ed into the request form's version: body parts follow
# the first byte of the calls that follow a request form on a stream route
BODY_PART, BODY_END, NEXT_PART, ABORT = 0x10, 0x11, 0x12, 0x13
CONTINUE = 100  # the reply status that takes the next body part
MORE_REPLY = 0x8000  # or-ed into a reply's status: response parts follow
# version, method_len, path_len, query_len, header_count, body_len
REQUEST_HEAD = struct.Struct("<BBHHHI")
REPLY_HEAD = struct.Struct("<HH")  # status, headers
FIELD_HEAD = struct.Struct("<HH")  # name_len, value_len
MAX_FIELD = 0xFFFF
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # controls but tab
# the server frames the response itself: a guest's copy of these is dropped
FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Request:
    method: bytes
    path: bytes  # as sent, not percent-decoded
    query: bytes  # after the "?", without it; b"" when none
    headers: Headers  # names lowercased, in the order sent
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Headers
    body: bytes
    more: bool = False  # response parts follow (a stream route's reply only)


class BadReply(ValueError):
    """The guest's reply does not follow the reply form (the client gets 502)."""


def encode_request(r: Request, more: bool = False) -> bytes:
    """The request form: a 12-byte head, method, path, query, headers, body (its first
    part when ``more``: body-part calls carry the rest)."""
    version = FORM_VERSION | (MORE_BODY if more else 0)
    head = REQUEST_HEAD.pack(version, len(r.method), len(r.path), len(r.query),
                             len(r.headers), len(r.body))
    return b"".join([head, r.method, r.path, r.query, encode_fields(r.headers), r.body])


def encode_fields(headers: Headers) -> bytes:
    return b"".join(FIELD_HEAD.pack(len(n), len(v)) + n + v for n, v in headers)


def encoded_size(method: bytes, target: bytes, headers: Headers, body_len: int) -> int:
    """How long the request form of these parts is (the target holds path and query)."""
    fields = sum(FIELD_HEAD.size + len(n) + len(v) for n, v in headers)
    return REQUEST_HEAD.size + len(method) + len(target.replace(b"?", b"", 1)) + fields \
        + body_len


def encode_reply(r: Reply) -> bytes:
    """The reply form (what a guest writes; the tests' and Python servers' helper)."""
    status = r.status | (MORE_REPLY if r.more else 0)
    return REPLY_HEAD.pack(status, len(r.headers)) + encode_fields(r.headers) + r.body


def body_part(data: bytes, last: bool) -> bytes:
    """A body-part call: its kind (BODY_PART, or BODY_END for the last), then the bytes."""
    return bytes([BODY_END if last else BODY_PART]) + data


def is_continue(data: bytes) -> bool:
    """Whether a reply to a body part asks for the next one (status 100)."""
    return len(data) >= 2 and REPLY_HEAD.unpack_from(data + b"\0\0")[0] == CONTINUE


def decode_part(data: bytes) -> tuple[bytes, bool]:
    """A reply to a NEXT_PART call: the bytes, and whether more follow."""
    if not data or data[0] > 1:
        raise BadReply("a response part starts with 0 (the last part) or 1 (more follow), "
                       f"not {data[:1]!r}")
    return data[1:], data[0] == 1


def decode_reply(data: bytes, stream: bool = False) -> Reply:
    """The reply a guest wrote, every length and byte checked; BadReply says what is wrong.
    Only a ``stream`` route's reply may flag response parts to follow."""
    if len(data) < REPLY_HEAD.size:
        raise BadReply(f"the reply has {len(data)} bytes, fewer than its {REPLY_HEAD.size}-"
                       "byte head (status u16, header count u16)")
    status, count = REPLY_HEAD.unpack_from(data)
    more = stream and bool(status & MORE_REPLY)
    if more:
        status &= ~MORE_REPLY
    if not 200 <= status <= 599:
        raise BadReply(f"status {status} is not a final status (200 to 599)")
    at, headers = REPLY_HEAD.size, []
    for i in range(count):
        name, value, at = _field(data, at, i)
        if name.lower() not in FRAMING:
            headers.append((name, value))
    body = data[at:]
    if status in (204, 304) and (body or more):
        raise BadReply(f"status {status} carries no body, and the reply has one")
    return Reply(status, headers, body, more)


def _field(data: bytes, at: int, i: int) -> tuple[bytes, bytes, int]:
    if at + FIELD_HEAD.size > len(data):
        raise BadReply(f"header {i} starts past the reply's end ({len(data)} bytes)")
    n, v = FIELD_HEAD.unpack_from(data, at)
    at += FIELD_HEAD.size
    if at + n + v > len(data):
        raise BadReply(f"header {i} ({n} + {v} bytes) runs past the reply's end")
    name, value = data[at:at + n], data[at + n:at + n + v]
    if not TOKEN.fullmatch(name):
        raise BadReply(f"header {i}'s name {name[:40]!r} is not an HTTP token")
    if BAD_VALUE.search(value):
        raise BadReply(f"header {i} ({name.decode()})'s value holds a control character")
    return name, value, at + n + v
