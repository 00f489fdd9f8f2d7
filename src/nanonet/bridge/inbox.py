"""Wire messages that arrived and wait for the pump: a queue bounded in bytes.

A transport puts what arrives here and drops what does not fit (the bridge
protocol sends a lost frame again), so a peer that floods a link costs at
most ``most`` bytes of memory.
"""

from __future__ import annotations

import asyncio
from collections import deque

INBOX_BYTES = 8 << 20


class Inbox:
    def __init__(self, most: int = INBOX_BYTES) -> None:
        self.most = most
        self.queued = 0
        self.dropped = 0
        self._items: deque[bytes] = deque()
        self._ready = asyncio.Event()

    def put(self, data: bytes) -> bool:
        """Queue ``data``; False (counted in ``dropped``) if it does not fit."""
        if self.queued + len(data) > self.most:
            self.dropped += 1
            return False
        self.queued += len(data)
        self._items.append(data)
        self._ready.set()
        return True

    def empty(self) -> bool:
        return not self._items

    def take(self) -> bytes:
        data = self._items.popleft()
        self.queued -= len(data)
        if not self._items:
            self._ready.clear()
        return data

    async def wait(self, timeout: float) -> None:
        """Until something is queued, or ``timeout`` seconds."""
        if self._items:
            return
        # asyncio.wait, not wait_for: Python 3.11's wait_for returns the result
        # of an inner wait that finished as the outer task was cancelled, so a
        # cancelled pump could go on running beside its replacement
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait({ready}, timeout=timeout)
        finally:
            ready.cancel()
