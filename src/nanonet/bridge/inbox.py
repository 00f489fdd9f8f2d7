"""Wire messages that arrived and wait for the pump: a queue bounded in bytes.

A transport puts what arrives here and drops what does not fit (the bridge
protocol sends a lost frame again), so a peer that floods a link costs at
most ``most`` bytes of memory. A ``Datagram`` item came alone in one QUIC
datagram: it is one whole frame, read apart from the stream's bytes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

INBOX_BYTES = 8 << 20


class Datagram(bytes):
    """A wire message that arrived as one QUIC datagram (one DGRAM frame)."""


class Inbox:
    def __init__(self, most: int = INBOX_BYTES) -> None:
        self.most = most
        self.queued = 0
        self.dropped = 0
        self._items: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, data: bytes) -> bool:
        """Queue ``data``; False (counted in ``dropped``) if it does not fit."""
        if self.queued + len(data) > self.most:
            self.dropped += 1
            return False
        self.queued += len(data)
        self._items.append(data)
        _wake(self._waiter)
        return True

    def empty(self) -> bool:
        return not self._items

    def take(self) -> bytes:
        data = self._items.popleft()
        self.queued -= len(data)
        return data

    async def wait(self, timeout: float, also: asyncio.Future[Any] | None = None) -> None:
        """Until something is queued, ``timeout`` seconds, or ``also`` is done.

        One waiter at a time (the link's one pump; a newer wait takes over
        from an older one, which then ends by its timer). One future that
        ``put`` or a timer resolves: a pump waits here on
        every idle turn, and a task plus ``asyncio.wait`` per turn cost more
        than the turn's work. A plain ``await`` of it is cancelled with the
        pump (Python 3.11's ``wait_for`` could return instead, leaving a
        cancelled pump running beside its replacement)."""
        if self._items or (also is not None and also.done()):
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout, _wake, waiter)

        def done(_: asyncio.Future[Any]) -> None:
            _wake(waiter)
        if also is not None:
            also.add_done_callback(done)
        try:
            await waiter
        finally:
            timer.cancel()
            if also is not None:
                also.remove_done_callback(done)
            if self._waiter is waiter:
                self._waiter = None


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
