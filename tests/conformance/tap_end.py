"""The tap as a reader-side observer: a host reader drains the tunnel while a
lossless tap (a second read cursor that holds the writer back) captures it.

A receive hands out a message only once both have it, and checks that the
tap captured exactly what the reader got: same bytes, same order. The tap has
no receive call, no buffer and no close of its own, so those items of the
contract do not apply to it.
"""

from __future__ import annotations

import io
import queue
import time
from collections import deque

from nanonet import Mesh, Tunnel, TunnelClosed, TunnelReader
from nanonet.observe import PcapngWriter, Tap, TapError, read_packets

from .ends import WATCHDOG

POLL = 0.05  # one bounded wait of the loop below; the loop itself is bounded by WATCHDOG


class CaptureSink:
    """A pcapng sink in memory: the header first, then one block per message."""

    def __init__(self) -> None:
        self.header = b""
        self.blocks: queue.Queue[bytes] = queue.Queue()

    def write(self, data: bytes, /) -> int:
        if self.header:
            self.blocks.put(data)
        else:
            self.header = data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self, timeout: float) -> list[bytes]:
        """The messages captured since the last call (waiting up to ``timeout`` for one)."""
        try:
            blocks = [self.blocks.get(timeout=timeout)]
        except queue.Empty:
            return []
        while not self.blocks.empty():
            blocks.append(self.blocks.get_nowait())
        capture = io.BytesIO(self.header + b"".join(blocks))
        return [p.data for p in read_packets(capture)]


class TapReader:
    """A host reader observed by a lossless tap."""

    def __init__(self, mesh: Mesh, tunnel: Tunnel) -> None:
        self.end: TunnelReader = mesh.reader(tunnel.name)
        self.sink = CaptureSink()
        self.tap = Tap(mesh.rt, tunnel, PcapngWriter(self.sink, tunnel.name)).start()
        self._read: deque[bytes] = deque()
        self._tapped: deque[bytes] = deque()
        self._closed = False

    def _pull_reader(self, limit: int) -> None:
        """Receive no more than asked for, so the reader's counters mean what they say."""
        if self._closed or len(self._read) >= limit:
            return
        try:
            self._read.extend(self.end.recv_many(limit - len(self._read), timeout=POLL))
        except TimeoutError:
            pass
        except TunnelClosed:
            self._closed = True

    def _tap_over(self) -> bool:
        return self.tap.done and self.sink.blocks.empty()

    def _step(self, limit: int) -> None:
        """One bounded wait: on the tap while it is behind the reader, else on the reader."""
        if (self._read or self._closed) and not self._tap_over():
            self._tapped.extend(self.sink.take(POLL))
        else:
            self._pull_reader(limit)

    def recv_many(self, limit: int) -> list[bytes]:
        deadline = time.monotonic() + WATCHDOG
        while time.monotonic() < deadline:
            n = min(len(self._read), limit)
            if n and len(self._tapped) >= n:  # the tap has caught up with what the reader got
                return [self._pair() for _ in range(n)]
            if self._tap_over() and (self._closed or len(self._read) > len(self._tapped)):
                self._check_end()
                raise TunnelClosed("tunnel is closed and drained (and the tap ended)")
            self._step(limit)
        raise AssertionError("watchdog: neither the reader nor the tap got a message")

    def _pair(self) -> bytes:
        got, tapped = self._read.popleft(), self._tapped.popleft()
        assert got == tapped, f"the tap captured {tapped[:16]!r}, the reader got {got[:16]!r}"
        return got

    def _check_end(self) -> None:
        assert self.tap.error is None, f"the tap failed: {self.tap.error!r}"
        assert not self._read and not self._tapped, \
            f"reader and tap disagree: {len(self._read)} vs {len(self._tapped)} left"

    def recv(self) -> bytes:
        return self.recv_many(1)[0]

    def try_recv(self) -> bytes | None:
        raise AssertionError("a tap has no receive call of its own")

    def try_recv_many(self, limit: int) -> list[bytes]:
        raise AssertionError("a tap has no receive call of its own")

    def drain(self) -> list[bytes]:
        out: list[bytes] = []
        while True:
            try:
                out += self.recv_many(4096)
            except TunnelClosed:
                return out

    def commit(self) -> None:
        pass  # the host reader commits at once, the tap publishes its cursor per batch

    def recv_into(self, capacity: int) -> bytes | int:
        raise AssertionError("a tap has no receive buffer")

    def close(self) -> None:
        raise AssertionError("a tap does not close the tunnel")

    def after_corrupt(self) -> None:
        """The tap, too, refuses the ring: it ends with a TapError, never a bad read."""
        assert self.tap.wait(WATCHDOG), "the tap did not end on a corrupt ring"
        assert isinstance(self.tap.error, TapError), self.tap.error

    def shutdown(self) -> None:
        self.tap.stop(WATCHDOG)
