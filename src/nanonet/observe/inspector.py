"""The inspector: the recent messages of a tunnel, kept only while someone looks.

A lossless tap holds the writer to its pace; the inspector must never do
that, so it reads with a cursor the writer does not know about (``Peek``).
Each look copies the messages published and not yet consumed, then reads the
reader's ``tail`` again and keeps only the messages at or past it: the writer
reuses the slot of message ``c`` only when it writes ``c + slots``, which it
may do only once ``tail > c``, so a message at or past the tail read after the
copy was still whole while it was copied. What a reader consumed before the
look is missed: the inspector is lossy by design, it sees what waits in the
ring (a slow reader's backlog, a stuck tunnel) and samples the rest.

Each tunnel's messages go into a bounded ring (``DEPTH``), with the ring
counter (the sequence number the tap's pcapng also carries) and a time: the
host's wall clock, spread by ``tapclock.message_times`` between the look that
found the messages and the one before, as the tap does (a tunnel's first look
finds what was already waiting, and gives it that look's time). A
tunnel is inspected from the first request that asks for it until ``LEASE``
seconds after the last: then its ring is dropped and its look stops; with no
tunnel inspected, the thread is gone too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..mesh import Tunnel
from ..ring.protocol import Field
from .tapclock import message_times

DEPTH = 256  # messages kept per tunnel
LEASE = 60.0  # seconds a tunnel stays inspected after the last request that asked
LOOK = 0.002  # seconds between two looks at the inspected rings


@dataclass(frozen=True)
class Seen:
    """One message the inspector copied: its ring counter, when, and its bytes."""

    seq: int
    time_ns: int
    data: bytes

    def to_json(self) -> dict[str, object]:
        text = self.data.decode("utf-8", "replace")
        return {"seq": self.seq, "time_ns": self.time_ns, "length": len(self.data),
                "hex": self.data.hex(), "text": text}


class Peek:
    """A read cursor of one ring that holds nobody back (see the module's docstring)."""

    def __init__(self, tunnel: Tunnel) -> None:
        self.ring = tunnel.ring
        self.geometry = tunnel.geometry
        self.pos = self.ring.load(Field.TAIL)  # what waits in the ring is the first look's
        self.lost = 0  # messages published that a look found already consumed

    def look(self) -> list[tuple[int, bytes]]:
        """The messages published since the last look that were whole when copied."""
        ring, slots = self.ring, self.geometry.slot_count
        head, tail = ring.load(Field.HEAD), ring.load(Field.TAIL)
        first = max(self.pos, tail, head - slots)
        if head <= first:
            self.lost += max(0, head - self.pos)
            self.pos = max(self.pos, head)
            return []
        lengths = ring.slot_lengths(first, head - first)
        limit = self.geometry.max_payload
        payloads = ring.read_payloads(first, [min(n, limit) for n in lengths])
        after = ring.load(Field.TAIL)  # read after the copy: see the docstring
        self.lost += max(after, first) - self.pos
        self.pos = head
        return [(c, data) for c, data, n in zip(range(first, head), payloads, lengths,
                                                 strict=True) if c >= after and n <= limit]


class _Inspected:
    def __init__(self, tunnel: Tunnel, now: float) -> None:
        self.peek = Peek(tunnel)
        self.recent: deque[Seen] = deque(maxlen=DEPTH)
        self.until = now + LEASE
        self.looked = 0  # the wall-clock ns of this tunnel's last look: times never go back

    def take(self, lo: int, hi: int) -> None:
        lo = max(lo, self.looked)
        self.looked = hi = max(lo, hi)
        found = self.peek.look()
        if found:
            times = message_times(found[0][0], found[-1][0] - found[0][0] + 1, lo, hi)
            first = found[0][0]
            self.recent.extend(Seen(c, times[c - first], data) for c, data in found)


class Inspector:
    """The inspected tunnels of one mesh and the one thread that looks at them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tunnels: dict[str, _Inspected] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def recent(self, tunnel: Tunnel, last: int) -> list[Seen]:
        """The last ``last`` messages of ``tunnel``; starts (or renews) its inspection."""
        with self._lock:
            now = self._clock()
            seen = self._tunnels.get(tunnel.name)
            if seen is None:  # its first look now: what waits in the ring is there at once
                seen = self._tunnels[tunnel.name] = _Inspected(tunnel, now)
                ns = time.time_ns()
                seen.take(ns, ns)
            seen.until = now + LEASE
            self._ensure_thread()
            kept = list(seen.recent)
        return kept[-last:] if last > 0 else []

    @property
    def inspected(self) -> list[str]:
        with self._lock:
            return sorted(self._tunnels)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="nanonet-inspector",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        looked = time.time_ns()
        while not self._stop.wait(LOOK):
            lo, looked = looked, max(looked, time.time_ns())
            with self._lock:
                now = self._clock()
                for name in [n for n, s in self._tunnels.items() if s.until < now]:
                    del self._tunnels[name]  # nobody asked for LEASE seconds: no cost again
                if not self._tunnels:
                    self._thread = None
                    return
                for seen in self._tunnels.values():
                    seen.take(lo, looked)

    def close(self) -> None:
        """Stop looking and drop every ring (the observer is closing)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(5.0)
        with self._lock:
            self._tunnels.clear()
            self._thread = None
