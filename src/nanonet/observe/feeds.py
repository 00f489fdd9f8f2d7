"""Host write ends a running mesh keeps open for whoever feeds it from outside.

``nanonet run`` closes the host's write ends at the start, unless it is told
to feed them (``--send TUNNEL=FILE``, ``--feed TUNNEL``): those it keeps, each
wrapped in one ``SharedWriter`` and offered to the observer, so that a file,
the control endpoint's write path (``POST /api/send``, ``/api/replay``) and
the inspector can all send into the same tunnel. A tunnel has one writer, so
every sender goes through the same ``TunnelWriter`` under one lock, one batch
at a time; a sender blocked on a full ring holds the lock, and the others wait
their turn behind it (nothing is ever dropped). ``retire`` ends all of that
before the mesh releases its rings: a sender that comes later (a feeder that
was blocked reading its standard input) is told the tunnel is closed and
never touches the released memory.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..errors import TunnelClosed, TunnelTimeout
from ..ring.endpoint import TunnelWriter


class SharedWriter:
    """One host write end, taken in turn by every sender of the process."""

    def __init__(self, name: str, writer: TunnelWriter) -> None:
        self.name = name
        self.writer = writer
        self.max_payload = writer.geometry.max_payload
        self._lock = threading.Lock()
        self.retired = False

    def send_many(self, messages: Sequence[bytes], timeout: float | None = None) -> int:
        """Every message, in order, waiting for room (``TunnelWriter.send_many``);
        ``timeout`` bounds the wait for another sender's turn too."""
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            raise TunnelTimeout(f"another sender kept tunnel {self.name!r} busy for "
                                f"{timeout:g} s (its reader is not keeping up); try again "
                                "later, or give the tunnel more slots")
        try:
            self._check()
            return self.writer.send_many(messages, timeout)
        finally:
            self._lock.release()

    @property
    def closed(self) -> bool:
        with self._lock:
            return self.retired or self.writer.ring.closed

    def close(self) -> None:
        """Close the tunnel: its reader drains what was sent, then sees CLOSED."""
        with self._lock:
            if not self.retired:
                self.writer.close()

    def retire(self) -> None:
        """No sending from now on (the tunnel is closed first: a sender blocked on a
        full ring returns); call it before the mesh releases its rings."""
        self.writer.close()  # wakes a send parked on a full ring, which drops the lock
        with self._lock:
            self.retired = True

    def _check(self) -> None:
        if self.retired:
            raise TunnelClosed(f"tunnel {self.name!r} is closed: the mesh has stopped")
