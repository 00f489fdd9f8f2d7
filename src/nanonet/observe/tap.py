"""The tap: a second read cursor that mirrors a tunnel's messages to pcapng.

While a tap is attached (``tap_mode = 1``) the writer adapter treats a slot as
free only once both the reader and the tap are past it, so the tap sees every
message, and a slow tap slows the writer (never the reader). The tap thread
copies the slots in ``[tap_tail, head)``, checks every length and counter like
a reader does (a broken writer ends the tap with an error, never a bad read),
filters, writes pcapng records, and publishes its new cursor once per batch.
Python touches each message here, which is why a tap is opt-in and measured
(``nanonet bench --only observe``).

A tap must never hold the writer for good: an output that refuses bytes for
longer than its bound raises ``TapStalled`` (the HTTP tap sets a send timeout),
which ends the tap; the observer's poll thread detaches a tap whose batch has
been in its output for longer than that bound (``check_stall``), whatever the
output; and ``stop`` detaches within its grace even when the output blocks,
aborting the output if it can and detaching from the caller's thread if it
must. One lock orders the tap thread's ``advance`` against such
a detach, so a detached tap never moves ``tap_tail`` again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import TapError as TapError  # re-exported from its first home
from ..errors import TapStalled as TapStalled
from ..host.engine import Runtime
from ..mesh import Tunnel
from ..ring import layout as L
from ..ring.protocol import Field, TapCursor, fitting
from .pcapng import PcapngWriter
from .tapctl import TapControl

IDLE_SPINS = 2  # empty polls before sleeping: spinning would take a core from the mesh
IDLE_SLEEP = 0.001
STOP_GRACE = 1.0  # seconds ``stop`` waits for the output before it aborts it
log = logging.getLogger("nanonet.observe")


@dataclass(frozen=True)
class TapFilter:
    """Which messages to keep: every ``sample``-th, and/or one stream id."""

    sample: int = 1
    stream: int | None = None

    def keep(self, counter: int, data: bytes) -> bool:
        if self.sample > 1 and counter % self.sample:
            return False
        if self.stream is None:
            return True
        return len(data) >= 4 and int.from_bytes(data[:4], "little") == self.stream


EVERY = TapFilter()


class Tap:
    """Mirrors one tunnel into a ``PcapngWriter`` on a thread of its own."""

    def __init__(self, rt: Runtime, tunnel: Tunnel,
                 out: PcapngWriter | Callable[[int], PcapngWriter], flt: TapFilter | None = None,
                 limit: int | None = None, on_end: Callable[[], object] | None = None,
                 abort: Callable[[], object] | None = None) -> None:
        self.tunnel = tunnel
        self.filter = flt or EVERY
        self.limit = limit
        self._on_end = on_end  # closes the file the tap owns
        self._abort = abort  # unblocks an output stuck in a write (an HTTP client's socket)
        self._gate = threading.Lock()  # orders advance against a detach from another thread
        self._attached = False
        self._busy_since: float | None = None  # when the batch being written began
        self.seen = self.kept = 0
        self.error: BaseException | None = None
        self._ring = tunnel.ring
        self._ctl = TapControl(rt, tunnel.ring)
        self._make = out if callable(out) else (lambda _first: out)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cur = TapCursor(tunnel.geometry)  # the model's tap: a second read cursor
        self.writer: PcapngWriter | None = None

    def start(self) -> Tap:
        if self._ring.u32(L.OFF_TAP_MODE):
            raise TapError(f"tunnel {self.tunnel.name!r} already has a tap attached")
        self._cur.start_at(self._ctl.attach())
        self._attached = True
        try:
            self.writer = self._make(self._cur.pos)
        except BaseException:
            self._release()
            raise
        self._thread = threading.Thread(target=self._run, name=f"nanonet-tap:{self.tunnel.name}",
                                        daemon=True)
        self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    @property
    def attached(self) -> bool:
        """The writer still honours this tap's cursor."""
        return self._attached

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Copy what is already published, then detach (the writer runs free).

        An output still blocked after ``grace`` seconds is aborted, and the tap
        is detached whatever the output does: on return the writer is free.
        """
        self._stop.set()
        if self._thread is None:
            return
        self._thread.join(grace)
        if self._thread.is_alive() and self._abort is not None:
            self._abort()
            self._thread.join(grace)
        if self._release():
            log.warning("tap on tunnel %r detached while its output was still blocked",
                        self.tunnel.name)

    def check_stall(self, bound: float) -> bool:
        """Detach (``TapStalled``) if one batch's output has taken over ``bound``
        seconds; the observer's poll thread asks, so any output is bounded."""
        since = self._busy_since
        if since is None or not self._attached or time.monotonic() - since <= bound:
            return False
        self.error = TapStalled(f"its output took over {bound:g} s for one batch")
        self._stop.set()
        if self._abort is not None:
            self._abort()
        if not self._release():
            return False
        log.warning("tap on tunnel %r detached: %s", self.tunnel.name, self.error)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the tap ends by itself (its limit, or the tunnel closed)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.done

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as err:  # kept for the owner: a thread must not die silently
            self.error = err
            if isinstance(err, TapStalled):
                log.warning("tap on tunnel %r detached: %s", self.tunnel.name, err)
        finally:
            self._release()
            if self._on_end is not None:
                self._on_end()

    def _release(self) -> bool:
        """Detach once, from whichever thread comes first; False if already done."""
        with self._gate:
            if not self._attached:
                return False
            self._attached = False
            self._ctl.detach()
        self.tunnel.control.notify_tail()  # a writer parked on the tap re-reads tap_mode
        return True

    def _loop(self) -> None:
        idle = 0
        while self._attached and not self._full():
            if self._batch():
                idle = 0
                continue
            if self._stop.is_set() or self._ended():
                return
            idle += 1
            if idle > IDLE_SPINS:
                time.sleep(IDLE_SLEEP)

    def _full(self) -> bool:
        return self.limit is not None and self.kept >= self.limit

    def _ended(self) -> bool:
        """Closed, and nothing published past the cursor (closed is stored last)."""
        # SYNC POINT with $close in ring/adapter.py and close in ring/control.py:
        # closed is read before head, as closed is stored after the last publish
        return self._cur.ended(self._ring)

    def _batch(self) -> int:
        if not self._attached:  # detached by stop: the writer may reuse every slot now
            return 0
        cur = self._cur
        n = cur.available(self._ring)
        if n < 0:
            raise TapError(f"tunnel {self.tunnel.name!r}: head={self._ring.load(Field.HEAD)} "
                           f"is more than a ring ahead of the tap at {cur.pos}; the writer "
                           "ignored the tap")
        if n == 0:
            return 0
        self._busy_since = time.monotonic()
        self._copy(cur.pos, n)
        self._busy_since = None
        cur.take(n)
        with self._gate:
            if not self._attached:  # detached by stop while the output blocked
                return 0
            self._ctl.advance(cur.pos)
        self.tunnel.control.notify_tail()
        return n

    def _copy(self, first: int, n: int) -> None:
        geo = self._ring.geometry
        assert self.writer is not None
        ts = time.time_ns()
        lengths = self._ring.slot_lengths(first, n)
        if not self._cur.check_lengths(lengths):
            size = lengths[fitting(lengths, geo)]
            raise TapError(f"tunnel {self.tunnel.name!r}: slot length {size} exceeds its "
                           f"max_payload of {geo.max_payload} bytes")
        for counter, data in enumerate(self._ring.read_payloads(first, lengths), first):
            self.seen += 1
            if self.filter.keep(counter, data) and not self._full():
                self.writer.write(data, ts)
                self.kept += 1
        self.writer.flush()
