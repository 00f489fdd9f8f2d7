"""One request on a stream route: its body and its response cross in parts.

The exchange holds one host mailbox from the request form to the last part,
so every part of a request goes to the same mailbox in order (docs/http.md,
"Streamed bodies"). The body is read part by part, each handed over only
after the guest answered the one before (``CONTINUE``): the guest's pace is
the client's. A reply flagged ``MORE_REPLY`` is written as a chunked
response (close-delimited for HTTP/1.0), each part fetched by a
``NEXT_PART`` call once the previous one is written. A client that leaves
mid-stream, or a part that goes wrong, ends the guest's side with an
``ABORT`` call, so the mailbox is free and clean for the next request; a
guest that missed a deadline needs none: the next request form starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from .answers import decode, decode_response_part, error_reply, flush, linger, response_bytes
from .body import BodySource
from .forms import (
    ABORT,
    NEXT_PART,
    Reply,
    Request,
    body_part,
    encode_request,
    encoded_size,
    is_continue,
)
from .head import Head, HttpError
from .routes import HttpRoute, allow
from .worker import Worker

if TYPE_CHECKING:
    from .server import HttpIngress

ABORT_S = 1.0  # the most an abort call waits for the guest's answer
CUT = (ConnectionError, asyncio.IncompleteReadError, TimeoutError)


class Exchange:
    """A stream route's request, from its head to its response's last byte."""

    def __init__(self, ingress: HttpIngress, route: HttpRoute, head: Head,
                 reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 t0: float) -> None:
        self.ingress, self.route, self.head = ingress, route, head
        self.reader, self.writer, self.t0 = reader, writer, t0
        self.payload = ingress.mesh.ports[route.port].geometry.max_payload
        self.source: BodySource | None = None
        self.client: Worker | None = None
        self.open = False  # the guest holds state for this request: end it if we stop

    async def run(self) -> bool:
        """Serve it; whether the connection stays open."""
        try:
            return await self._run()
        finally:
            if self.client is not None:
                self.ingress.release(self.route, self.client)

    async def _run(self) -> bool:
        keep = self.head.keep_alive
        try:
            reply = await self._request()
        except HttpError as err:
            await self._abort()
            done = self.source is not None and self.source.done
            return await self._refuse(err, keep and done)
        except CUT:
            await self._abort()
            return False
        assert self.source is not None
        # an early answer leaves the rest of the body unread: the connection closes
        return await self._respond(reply, keep and self.source.done)

    async def _request(self) -> Reply:
        """Head and body to the guest; its final reply (the mailbox stays held)."""
        self.source = BodySource(self.reader, self.head.stream_length(),
                                 self.ingress.limits.max_body_bytes, self.ingress.limits.idle_s)
        allow(self.route, self.head.method)  # a 405 without a body keeps the connection
        room = self.payload - encoded_size(self.head.method, self.head.target,
                                           self.head.headers, 0)
        if room < 0:
            raise HttpError(413, f"this request's head takes {self.payload - room} bytes in the "
                            f"request form, over port {self.route.port!r}'s max_payload "
                            f"({self.payload}); send fewer headers, or raise "
                            f"[ports.{self.route.port}] max_payload")
        if not self.source.done and (self.head.get(b"expect") or b"").lower() == b"100-continue":
            self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        first = await self.source.read(room)
        h = self.head
        form = encode_request(Request(h.method, h.path, h.query, h.headers, first),
                              more=not self.source.done)
        self.client = await self.ingress.acquire(self.route)
        self.open = True
        data = await self._call(form)
        while not self.source.done and is_continue(data):
            part = await self.source.read(self.payload - 1)
            self.ingress.stats.stream(self.route.pattern, len(part))
            data = await self._call(body_part(part, self.source.done))
        if is_continue(data):
            raise HttpError(502, "the service asked for another body part after the last")
        reply = decode(data, stream=True)
        self.open = reply.more
        return reply

    async def _respond(self, reply: Reply, keep: bool) -> bool:
        if not reply.more:
            await self.ingress.answer(self.writer, self.route, reply.status, reply, keep,
                                      self.t0, head_only=self.head.method == b"HEAD")
            return await self._linger(keep)
        chunked = self.head.version == b"HTTP/1.1"
        keep = keep and chunked
        self.ingress.stats.record(self.route.pattern, reply.status,
                                  time.perf_counter() - self.t0)
        self.writer.write(stream_head(reply, keep, chunked))
        if self.head.method == b"HEAD":
            await self._abort()
            return await self._linger(keep)
        try:
            await self._parts(reply.body, chunked)
        except (HttpError, *CUT):  # after the head, a failure can only cut the connection
            await self._abort()
            return False
        return await self._linger(keep)

    async def _parts(self, first: bytes, chunked: bool) -> None:
        data, more = first, True
        while True:
            if data:
                self.ingress.stats.stream(self.route.pattern, len(data))
                self.writer.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
            await flush(self.writer, self.ingress.limits.idle_s)
            if not more:
                break
            data, more = decode_response_part(await self._call(bytes([NEXT_PART])))
        self.open = False
        if chunked:
            self.writer.write(b"0\r\n\r\n")
            await flush(self.writer, self.ingress.limits.idle_s)

    async def _call(self, data: bytes) -> bytes:
        assert self.client is not None
        try:
            return await self.ingress.call_on(self.route, self.client, data,
                                              self.route.timeout_ms / 1000)
        except HttpError as err:
            if err.status in (503, 504):
                self.open = False  # a guest gone or late: its next request form starts over
            raise

    async def _abort(self) -> None:
        """End the guest's side of a request cut short (its answer is not awaited long)."""
        if not self.open or self.client is None:
            return
        self.open = False
        with contextlib.suppress(HttpError):
            await self.ingress.call_on(self.route, self.client, bytes([ABORT]),
                                       min(ABORT_S, self.route.timeout_ms / 1000))

    async def _refuse(self, err: HttpError, keep: bool) -> bool:
        with contextlib.suppress(*CUT):
            await self.ingress.answer(self.writer, self.route, err.status, error_reply(err),
                                      keep, self.t0)
            return await self._linger(keep)
        return False

    async def _linger(self, keep: bool) -> bool:
        if not keep:
            await linger(self.reader, self.writer)
        return keep


def stream_head(reply: Reply, keep: bool, chunked: bool) -> bytes:
    """A streamed response's head: chunked on HTTP/1.1, close-delimited on HTTP/1.0."""
    head = response_bytes(Reply(reply.status, reply.headers, b""), keep, head_only=True)
    lines = head[:-4].split(b"\r\n")
    lines = [x for x in lines if not x.startswith(b"content-length:")]
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    return b"\r\n".join(lines) + b"\r\n\r\n"
