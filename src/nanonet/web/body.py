"""A request body read from the socket part by part, for a stream route.

A stream route's body may be far larger than a port call: the ingress reads
one part, hands it to the guest, and reads the next only once the guest took
it, so a slow guest slows the client down (TCP backpressure) instead of the
body piling up in memory. ``Content-Length`` and ``Transfer-Encoding:
chunked`` bodies read the same way; the chunk framing never reaches the guest.
"""

from __future__ import annotations

import asyncio

from .head import HttpError

MAX_TRAILERS = 100


class BodySource:
    """Reads up to ``limit`` body bytes: ``length`` of them, or chunked when None."""

    def __init__(self, reader: asyncio.StreamReader, length: int | None, limit: int,
                 idle_s: float) -> None:
        if length is not None and length > limit:
            raise HttpError(413, f"a body of {length} bytes is over max_body_bytes ({limit}); "
                            "send less, or raise [ingress] max_body_bytes")
        self._reader = reader
        self._left = length  # None: chunked
        self._chunk_left = 0
        self._limit = limit
        self._idle_s = idle_s
        self.total = 0  # body bytes read so far
        self.done = length == 0

    async def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end); ``done`` once the body ended."""
        async with asyncio.timeout(self._idle_s):
            if self._left is not None:
                return await self._sized(n)
            return await self._chunked(n)

    async def _sized(self, n: int) -> bytes:
        assert self._left is not None
        k = min(n, self._left)
        data = await self._reader.readexactly(k) if k else b""
        self._left -= k
        self.total += k
        self.done = self._left == 0
        return data

    async def _chunked(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n and not self.done:
            if self._chunk_left == 0 and not await self._next_chunk():
                break
            k = min(n - got, self._chunk_left)
            parts.append(await self._reader.readexactly(k))
            got += k
            self._chunk_left -= k
            if self._chunk_left == 0 and await self._reader.readexactly(2) != b"\r\n":
                raise HttpError(400, "a chunk's data is not followed by CRLF: a chunk "
                                "is SIZE CRLF, SIZE bytes, CRLF")
        return b"".join(parts)

    async def _next_chunk(self) -> bool:
        """Read a chunk-size line; False (and done) at the last chunk."""
        size = _chunk_size(await self._line())
        if size == 0:
            await self._trailers()
            self.done = True
            return False
        self.total += size
        if self.total > self._limit:
            raise HttpError(413, f"the chunked body is over max_body_bytes ({self._limit}); "
                            "send less, or raise [ingress] max_body_bytes")
        self._chunk_left = size
        return True

    async def _trailers(self) -> None:
        for _ in range(MAX_TRAILERS):
            if not await self._line():
                return
        raise HttpError(431, f"more than {MAX_TRAILERS} trailer fields")

    async def _line(self) -> bytes:
        try:
            return (await self._reader.readuntil(b"\r\n"))[:-2]
        except asyncio.LimitOverrunError:
            raise HttpError(400, "a chunk-size or trailer line is too long") from None


def _chunk_size(line: bytes) -> int:
    text = line.partition(b";")[0].strip(b" \t")  # chunk extensions are ignored
    if not text or len(text) > 15 or any(c not in b"0123456789abcdefABCDEF" for c in text):
        raise HttpError(400, f"the chunk-size line {line[:40]!r} is not a hex length "
                        "(at most 15 hex digits, then CRLF)")
    return int(text, 16)
