"""The tap: a second read cursor that mirrors tunnels' messages to pcapng.

While a tap is attached (``tap_mode = 1``) the writer adapter treats a slot as
free only once both the reader and the tap are past it, so the tap sees every
message, and a slow tap slows the writer (never the reader). The tap thread
copies the slots in ``[tap_tail, head)``, checks every length and counter like
a reader does (a broken writer ends the tap with an error, never a bad read),
filters, writes pcapng records, and publishes its new cursor once per batch.
One tap may hold several tunnels: its thread looks at every ring in turn
and writes a round's messages sorted by time (``tapclock.py``: the writer's
stamp, else an estimate between two looks), so one capture interleaves them.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..errors import TapError as TapError  # re-exported from its first home
from ..errors import TapStalled as TapStalled
from ..host.engine import Runtime
from ..mesh import Tunnel
from ..ring import layout as L
from ..ring.protocol import Field, TapCursor, fitting
from .pcapng import PcapngWriter, packet
from .tapclock import message_times, stamps
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


class _Line:
    """One tunnel of a tap: its ring, the tap's hands on it and its cursor."""

    def __init__(self, rt: Runtime, tunnel: Tunnel, iface: int) -> None:
        self.tunnel, self.ring, self.iface = tunnel, tunnel.ring, iface
        self.ctl = TapControl(rt, tunnel.ring)
        self.cur = TapCursor(tunnel.geometry)  # the model's tap: a second read cursor
        self.attached = False
        self.waiting = 0  # messages past the cursor at the round's look

    def attach(self) -> None:
        if self.ring.u32(L.OFF_TAP_MODE):
            raise TapError(f"tunnel {self.tunnel.name!r} already has a tap attached")
        self.cur.start_at(self.ctl.attach())
        self.attached = True

    def look(self) -> int:
        """Messages published past the cursor; a writer that ran over it is an error."""
        n = self.cur.available(self.ring)
        if n < 0:
            raise TapError(f"tunnel {self.tunnel.name!r}: head={self.ring.load(Field.HEAD)} "
                           f"is more than a ring ahead of the tap at {self.cur.pos}; the "
                           "writer ignored the tap")
        self.waiting = n
        return n

    def ended(self) -> bool:
        """Closed, and nothing published past the cursor (closed is stored last)."""
        # SYNC POINT with $close in ring/adapter.py and close in ring/control.py:
        # closed is read before head, as closed is stored after the last publish
        return self.cur.ended(self.ring)

    def payloads(self) -> list[bytes]:
        """The waiting messages, every length checked first."""
        geo, first = self.ring.geometry, self.cur.pos
        lengths = self.ring.slot_lengths(first, self.waiting)
        if not self.cur.check_lengths(lengths):
            size = lengths[fitting(lengths, geo)]
            raise TapError(f"tunnel {self.tunnel.name!r}: slot length {size} exceeds its "
                           f"max_payload of {geo.max_payload} bytes")
        return self.ring.read_payloads(first, lengths)

    def times(self, lo: int, hi: int) -> list[int]:
        first, n = self.cur.pos, self.waiting
        return message_times(first, n, lo, hi, stamps(self.ring, first, n))


class Tap:
    """Mirrors one or more tunnels into a ``PcapngWriter`` on a thread of its own."""

    def __init__(self, rt: Runtime, tunnel: Tunnel | Sequence[Tunnel],
                 out: PcapngWriter | Callable[[list[int]], PcapngWriter],
                 flt: TapFilter | None = None, limit: int | None = None,
                 on_end: Callable[[], object] | None = None,
                 abort: Callable[[], object] | None = None) -> None:
        self.tunnels = (tunnel,) if isinstance(tunnel, Tunnel) else tuple(tunnel)
        self.tunnel = self.tunnels[0]
        self.filter = flt or EVERY
        self.limit = limit
        self._on_end = on_end  # closes the file the tap owns
        self._abort = abort  # unblocks an output stuck in a write (an HTTP client's socket)
        self._gate = threading.Lock()  # orders advance against a detach from another thread
        self._attached = False
        self._busy_since: float | None = None  # when the batch being written began
        self.seen = self.kept = 0
        self.error: BaseException | None = None
        self._lines = [_Line(rt, t, i) for i, t in enumerate(self.tunnels)]
        self._make = out if callable(out) else (lambda _firsts: out)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._looked = 0  # wall-clock ns of the last look at the rings
        self.writer: PcapngWriter | None = None

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tunnels]

    def start(self) -> Tap:
        self._looked = time.time_ns()  # nothing the tap copies was published before
        try:
            for line in self._lines:
                line.attach()
                self._attached = True
            self.writer = self._make([line.cur.pos for line in self._lines])
        except BaseException:
            self._release()
            raise
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"nanonet-tap:{','.join(self.names)}")
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
                        self._label)

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
        log.warning("tap on tunnel %r detached: %s", self._label, self.error)
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
                log.warning("tap on tunnel %r detached: %s", self._label, err)
        finally:
            self._release()
            if self._on_end is not None:
                self._on_end()

    @property
    def _label(self) -> str:
        return ", ".join(self.names)

    def _release(self) -> bool:
        """Detach once, from whichever thread comes first; False if already done."""
        with self._gate:
            if not self._attached:
                return False
            self._attached = False
            held = [line for line in self._lines if line.attached]
            for line in held:
                line.attached = False
                line.ctl.detach()
        for line in held:  # a writer parked on the tap re-reads tap_mode
            line.tunnel.control.notify_tail()
        return True

    def _loop(self) -> None:
        idle = 0
        while self._attached and not self._full():
            if self._round():
                idle = 0
                continue
            if self._stop.is_set() or all(line.ended() for line in self._lines):
                return
            idle += 1
            if idle > IDLE_SPINS:
                time.sleep(IDLE_SLEEP)

    def _full(self) -> bool:
        return self.limit is not None and self.kept >= self.limit

    def _round(self) -> int:
        """One look at every ring, then their messages written in time order."""
        if not self._attached:  # detached by stop: the writer may reuse every slot now
            return 0
        ready = [line for line in self._lines if line.look()]
        lo, hi = self._looked, time.time_ns()  # each message was published in (lo, hi]
        self._looked = max(lo, hi)
        if not ready:
            return 0
        self._busy_since = time.monotonic()
        self._write([rec for line in ready for rec in self._records(line, lo, hi)])
        self._busy_since = None
        return self._advance(ready)

    def _records(self, line: _Line, lo: int, hi: int) -> list[tuple[int, bytes]]:
        """(time, Enhanced Packet Block) of each message of ``line`` the filter keeps."""
        first, iface, flt = line.cur.pos, line.iface, self.filter
        self.seen += line.waiting
        msgs = zip(range(first, first + line.waiting), line.payloads(), line.times(lo, hi),
                   strict=True)
        keep = flt.keep if flt.sample > 1 or flt.stream is not None else None
        return [(ts, packet(data, ts, iface, c)) for c, data, ts in msgs
                if keep is None or keep(c, data)]

    def _write(self, timed: list[tuple[int, bytes]]) -> None:
        assert self.writer is not None
        if len(self._lines) > 1:
            timed.sort(key=lambda pair: pair[0])  # stable: each tunnel keeps its order
        if self.limit is not None:
            timed = timed[: max(0, self.limit - self.kept)]
        self.writer.write_blocks([block for _ts, block in timed])
        self.kept += len(timed)
        self.writer.flush()

    def _advance(self, ready: list[_Line]) -> int:
        """Publish every cursor past what was copied; the writers may reuse those slots."""
        for line in ready:
            line.cur.take(line.waiting)
        with self._gate:
            if not self._attached:  # detached by stop while the output blocked
                return 0
            for line in ready:
                line.ctl.advance(line.cur.pos)
        for line in ready:
            line.tunnel.control.notify_tail()
        return sum(line.waiting for line in ready)
