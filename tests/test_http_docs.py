"""docs/http.md is checked against web/forms.py: the tables are the encoder's offsets.

And the parsers that read untrusted bytes (the request head from a client,
the reply form from a guest) are fed arbitrary bytes: they answer or refuse,
never fail otherwise.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanonet.web.forms import (
    BadReply,
    Reply,
    Request,
    decode_reply,
    encode_reply,
    encode_request,
    encoded_size,
)
from nanonet.web.head import HttpError, parse_head

DOC = Path(__file__).resolve().parents[1] / "docs" / "http.md"
SIZES = {1: "<B", 2: "<H", 4: "<I"}


def _rows(section: str) -> list[tuple[str, int, int]]:
    """(field, offset, size) of each table row; a size given by another field is 0."""
    text = DOC.read_text().split(f"## {section}")[1].split("\n## ")[0]
    return [(name, int(off), int(size) if size.isdigit() else 0) for off, size, name in
            re.findall(r"^\| \+?(\d+) \| (\w+) \| (\w+) \|", text, flags=re.M)]


REQUEST = Request(b"PATCH", b"/a/b%20c", b"x=1&y", [(b"x-one", b"1"), (b"accept", b"*/*")],
                  b"\x00body\xff")


def test_the_request_heads_table_is_the_encoders() -> None:
    data = encode_request(REQUEST)
    want = {"version": 1, "method_len": 5, "path_len": 8, "query_len": 5, "header_count": 2,
            "body_len": 6}
    rows = _rows("The request form")
    head = [(n, o, s) for n, o, s in rows if n in want]
    assert [n for n, _, _ in head] == list(want)
    for name, off, size in head:
        assert struct.unpack_from(SIZES[size], data, off)[0] == want[name], name
    assert ("method", 12, 0) in rows
    assert data[12:17] == b"PATCH"


def test_the_header_field_table_is_the_encoders() -> None:
    data = encode_request(REQUEST)
    first = 12 + 5 + 8 + 5  # after method, path and query
    fields = {n: (o, s) for n, o, s in _rows("The request form") if n.startswith(("name",
                                                                                 "value"))}
    off, size = fields["name_len"]
    assert struct.unpack_from(SIZES[size], data, first + off)[0] == len(b"x-one")
    off, size = fields["value_len"]
    assert struct.unpack_from(SIZES[size], data, first + off)[0] == len(b"1")
    assert data[first + fields["name"][0]:][:5] == b"x-one"
    assert data.endswith(b"\x00body\xff")
    assert encoded_size(b"PATCH", b"/a/b%20c?x=1&y", REQUEST.headers, 6) == len(data)


def test_the_reply_table_is_the_decoders() -> None:
    rows = {n: (o, s) for n, o, s in _rows("The reply form")}
    data = bytearray(8)
    struct.pack_into(SIZES[rows["status"][1]], data, rows["status"][0], 201)
    struct.pack_into(SIZES[rows["header_count"][1]], data, rows["header_count"][0], 0)
    assert decode_reply(bytes(data[:4]) + b"made") == Reply(201, [], b"made")


def test_framing_headers_of_a_reply_are_dropped() -> None:
    data = encode_reply(Reply(200, [(b"Content-Length", b"999"), (b"X-Ok", b"1"),
                                    (b"connection", b"close")], b"hi"))
    assert decode_reply(data) == Reply(200, [(b"X-Ok", b"1")], b"hi")


@given(st.binary(max_size=200))
def test_any_reply_bytes_decode_or_are_refused(data: bytes) -> None:
    try:
        reply = decode_reply(data)
    except BadReply:
        return
    assert 200 <= reply.status <= 599


@given(st.lists(st.sampled_from([b"GET / HTTP/1.1", b"A: b", b"Content-Length: 5", b" x",
                                 b"Transfer-Encoding: chunked", b"\x00", b":", b"X:\x7f",
                                 b"GET /a?b HTTP/1.0", b"B : c"]), min_size=1, max_size=6),
       st.binary(max_size=20))
def test_any_head_parses_or_is_refused_with_a_status(lines: list[bytes], tail: bytes) -> None:
    try:
        head = parse_head(b"\r\n".join(lines) + tail)
        head.content_length()
    except HttpError as err:
        assert err.status in (400, 431, 501, 505)


@pytest.mark.parametrize(("data", "words"), [
    (b"\xc8", "fewer than its 4-byte head"),
    (struct.pack("<HH", 199, 0), "status 199 is not a final status"),
    (struct.pack("<HH", 600, 0), "status 600"),
    (struct.pack("<HH", 200, 1), "header 0 starts past the reply's end"),
    (struct.pack("<HHHH", 200, 1, 5, 5) + b"abc", "runs past the reply's end"),
    (struct.pack("<HHHH", 200, 1, 2, 1) + b"a b", "is not an HTTP token"),
    (struct.pack("<HHHH", 200, 1, 1, 2) + b"a\r\n", "holds a control character"),
    (struct.pack("<HH", 204, 0) + b"x", "status 204 carries no body"),
])
def test_a_malformed_reply_is_refused_saying_why(data: bytes, words: str) -> None:
    with pytest.raises(BadReply, match=re.escape(words)):
        decode_reply(data)


def test_a_head_keeps_its_headers_in_order_lowercased_and_trimmed() -> None:
    head = parse_head(b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nX-Two:  2 \t\r\nx-two: 3")
    assert (head.method, head.path, head.query) == (b"GET", b"/p", b"q=1")
    assert head.headers == [(b"host", b"a"), (b"x-two", b"2"), (b"x-two", b"3")]
    assert head.keep_alive and head.content_length() == 0
    assert not parse_head(b"GET / HTTP/1.0").keep_alive
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive").keep_alive
    many = b"GET / HTTP/1.1" + b"\r\nA: b" * 101
    with pytest.raises(HttpError, match="more than 100 header fields") as err:
        parse_head(many)
    assert err.value.status == 431
