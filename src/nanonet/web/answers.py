"""The answers the ingress writes itself, and the response bytes of a reply.

Shared by the one-call exchange (``server.py``) and the streamed one
(``stream.py``): the error answers, the reply's framing, and the lingering
close that keeps an answer from being reset away.
"""

from __future__ import annotations

import asyncio
import contextlib
from http import HTTPStatus

from .forms import BadReply, Reply, decode_part, decode_reply
from .head import HttpError

LINGER_S = 1.0
LINGER_BYTES = 1 << 20


async def linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing on a request not read to its end: end our side, then read what
    the client still sends for a moment, so that the close does not reset the
    answer out of its receive buffer."""
    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
        writer.write_eof()
        async with asyncio.timeout(LINGER_S):
            seen = 0
            while seen < LINGER_BYTES and (chunk := await reader.read(65536)):
                seen += len(chunk)


async def flush(writer: asyncio.StreamWriter, idle_s: float) -> None:
    """Wait until what was written is taken by the client, at most ``idle_s``: a
    client that reads nothing would otherwise hold its connection, and on a
    stream route its host mailbox, for ever (``TimeoutError`` cuts it)."""
    async with asyncio.timeout(idle_s):
        await writer.drain()


def decode(data: bytes, stream: bool = False) -> Reply:
    """The guest's reply; 502 when it is not in the reply form."""
    try:
        return decode_reply(data, stream)
    except BadReply as err:
        raise HttpError(502, f"the service's reply is malformed: {err}") from None


def decode_response_part(data: bytes) -> tuple[bytes, bool]:
    """A response part's bytes and whether more follow; 502 when malformed."""
    try:
        return decode_part(data)
    except BadReply as err:
        raise HttpError(502, f"the service's response part is malformed: {err}") from None


def error_reply(err: HttpError) -> Reply:
    """The text/plain answer to an error, with the error's own headers (a 405's Allow)."""
    reply = text_reply(err.status, str(err))
    reply.headers.extend(err.headers)
    return reply


def text_reply(status: int, message: str) -> Reply:
    phrase = HTTPStatus(status).phrase
    return Reply(status, [(b"content-type", b"text/plain; charset=utf-8")],
                 f"{status} {phrase}: {message}\n".encode())


def response_bytes(reply: Reply, keep: bool, head_only: bool = False) -> bytes:
    """The status line, the reply's headers, the framing headers, then the body."""
    status = reply.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}".encode()]
    lines += [n + b": " + v for n, v in reply.headers]
    if status not in (204, 304):
        lines.append(b"content-length: %d" % len(reply.body))
    if not keep:
        lines.append(b"connection: close")
    body = b"" if head_only else reply.body
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
