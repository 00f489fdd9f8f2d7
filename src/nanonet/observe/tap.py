"""The tap: a second read cursor that mirrors tunnels' messages to pcapng.

While a tap is attached (``tap_mode = 1``) the writer adapter treats a slot as
free only once both the reader and the tap are past it, so the tap sees every
message, and a slow tap slows the writer (never the reader). The tap thread
copies the slots in ``[tap_tail, head)`` out in one copy per contiguous run
(``tapbatch.py``), checks every length in the copy and every counter like a
reader does (a broken writer ends the tap with an error, never a bad read, and
nothing of that batch is written or released), then publishes its new cursor,
once per batch, before it writes the batch's pcapng: the writer refills those
slots while the tap builds and writes the blocks. After a batch that took a
quarter of its ring it yields its core between looks for a while (the writer
it held is refilling the ring; a nap oversleeps); else it naps, short naps
at first, as a writer fills a ring in less than a millisecond and then waits
on the tap. One tap may hold several tunnels: its thread looks at every
ring in turn and writes a round's messages sorted by time (``tapclock.py``:
the writer's stamp, else an estimate between two looks), so one capture
interleaves them. A lossless tap of one tunnel with no filter builds its
pcapng blocks in one Wasm call straight from the slots (``tapbuild.py``:
each length read once and checked; the builder is made before the tap
attaches), then publishes its cursor and writes them, to a file straight from
the builder's memory. A sampled tap (``sample > 1``) never holds the writer: its cursor
(``tapskip.py``) is one the writer does not know about, that skips and counts
(``missed``) what the reader consumed or the writer may have rewritten before
it was copied; it looks about once a millisecond, less often when a look
takes more than ``SKIP_SHARE`` of that (a loaded machine: its CPU is taken
from the tunnel's services). Of one tunnel with no stream filter, its look and
copies are one Wasm call and the blocks another (``tapgrab.py``): the copies
are made microseconds after the counters are read, before a reader that keeps
up takes them, and the look holds a core the tunnel's services spin on for a
fraction of what it did in Python; else it builds a run of copies of one length
a field at a time (``pcapng.packet_run``), never a message at a time. A tap is
opt-in and measured (``nanonet bench --only observe``).

A tap must never hold the writer for good: an output that refuses bytes for
longer than its bound raises ``TapStalled`` (the HTTP tap sets a send timeout),
which ends the tap; the observer's poll thread detaches a tap whose batch has
been in its output for longer than that bound (``check_stall``), whatever the
output; and ``stop`` detaches within its grace even when the output blocks,
aborting the output if it can and detaching from the caller's thread if it
must. One lock orders the tap thread's ``advance`` against such
a detach, so a detached tap never moves ``tap_tail`` again.

Each tunnel of a tap is a ``tapline.Line`` (its cursor, its copies, its
builder); when the thread looks again is ``tappace.Pace``'s call.
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
from .pcapng import PcapngWriter
from .tapbatch import Batch
from .tapline import Line
from .tappace import Pace
from .tapskip import SkipCursor

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
    """Mirrors one or more tunnels into a ``PcapngWriter`` on a thread of its own
    (lossless, holding the writer; or, with ``sample > 1``, sampled and holding nobody)."""

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
        holds = self.filter.sample == 1  # a sampled tap never holds the writer back
        self._lines = [Line(rt, t, i, holds) for i, t in enumerate(self.tunnels)]
        self._make = out if callable(out) else (lambda _firsts: out)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._looked = 0  # wall-clock ns of the last look at the rings
        self._fill = 0.0  # the largest share of a ring the last batch took
        self.writer: PcapngWriter | None = None

    @property
    def missed(self) -> int:
        """Messages a sampled tap skipped: consumed, or rewritten, before it copied them."""
        return sum(line.cur.missed for line in self._lines
                   if isinstance(line.cur, SkipCursor))

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.tunnels]

    def start(self) -> Tap:
        if self._every_message:
            self._lines[0].prepare()
        elif self._grabbed:
            self._lines[0].prepare_grab(self.filter.sample)
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
            held = [line for line in self._lines if line.attached and line.holds]
            for line in self._lines:
                line.attached = False
            for line in held:
                line.ctl.detach()
        for line in held:  # a writer parked on the tap re-reads tap_mode
            line.tunnel.control.notify_tail()
        return True

    def _loop(self) -> None:
        pace = Pace(self._lines[0].holds, self._stop)
        while self._attached and not self._full():
            spent = time.thread_time()
            if self._round():
                pace.batch(self._fill, time.thread_time() - spent)
                continue
            if self._stop.is_set() or all(line.ended() for line in self._lines):
                return
            pace.empty(time.thread_time() - spent)

    def _full(self) -> bool:
        return self.limit is not None and self.kept >= self.limit

    def _round(self) -> int:
        """One look at every ring, then their messages written in time order."""
        if not self._attached:  # detached by stop: the writer may reuse every slot now
            return 0
        if self._grabbed:
            return self._round_grabbed(self._lines[0])
        ready = [line for line in self._lines if line.look()]
        lo, hi = self._looked, time.time_ns()  # each message was published in (lo, hi]
        self._looked = max(lo, hi)
        if not ready:
            return 0
        self._fill = max(line.waiting / line.ring.geometry.slot_count for line in ready)
        if self._every_message and len(ready) == 1:
            return self._round_built(ready[0], lo, hi)
        batches = [line.snapshot(self.filter.sample) for line in ready]  # a bad length raises
        if not self._advance(ready):  # the copies are ours: the writers go on meanwhile
            return 0
        self._busy_since = time.monotonic()
        self._write(ready, batches, lo, hi)
        self._busy_since = None
        return sum(batch.count for batch in batches)

    @property
    def _every_message(self) -> bool:
        return len(self._lines) == 1 and self.filter == EVERY

    @property
    def _grabbed(self) -> bool:
        """A sampled tap of one tunnel with no stream filter: one Wasm call a look."""
        return len(self._lines) == 1 and self.filter.sample > 1 and self.filter.stream is None

    def _round_grabbed(self, line: Line) -> int:
        """A sampled tap of one tunnel: the look and its copies in one Wasm call
        (``tapgrab.py``), the blocks built from the copy in another, then the write."""
        waiting = line.grab()
        lo, hi = self._looked, time.time_ns()  # each message was published in (lo, hi]
        self._looked = max(lo, hi)
        if not waiting:
            return 0
        self._fill = waiting / line.ring.geometry.slot_count
        room = (1 << 64) if self.limit is None else max(0, self.limit - self.kept)
        blocks, took = line.grabbed_blocks(lo, hi, room)  # a bad length raises
        if not self._advance([line]):
            return 0
        assert self.writer is not None
        self._busy_since = time.monotonic()
        self.seen += line.count
        self.writer.write_run(blocks, took)
        self.kept += took
        self.writer.flush()
        self._busy_since = None
        return line.count

    def _round_built(self, line: Line, lo: int, hi: int) -> int:
        """A lossless tap of one tunnel: blocks built from the ring (a bad length
        raises before anything is released), the cursor published, then the write."""
        count = line.waiting
        take = count if self.limit is None else min(count, max(0, self.limit - self.kept))
        blocks = line.blocks(lo, hi, take)
        if not self._advance([line]):
            return 0
        assert self.writer is not None
        self._busy_since = time.monotonic()
        self.seen += count
        self.writer.write_run(blocks, take)
        self.kept += take
        self.writer.flush()
        self._busy_since = None
        return count

    def _write(self, ready: list[Line], batches: list[Batch], lo: int, hi: int) -> None:
        assert self.writer is not None
        room = None if self.limit is None else max(0, self.limit - self.kept)
        self.seen += sum(batch.count for batch in batches)
        flt = self.filter
        if len(batches) == 1 and flt.sample == 1 and flt.stream is None:  # every message
            take = batches[0].count if room is None else min(room, batches[0].count)
            self.writer.write_run(batches[0].blocks(ready[0].iface, lo, hi, take), take)
            self.kept += take
        elif len(batches) == 1 and flt.stream is None:  # every sample-th: the copies, all kept
            blocks, took = batches[0].sampled_blocks(ready[0].iface, lo, hi,
                                                     (1 << 64) if room is None else room)
            self.writer.write_run(blocks, took)
            self.kept += took
        else:
            timed = [rec for line, batch in zip(ready, batches, strict=True)
                     for rec in batch.records(line.iface, lo, hi, flt.sample, flt.keep)]
            if len(batches) > 1:
                timed.sort(key=lambda pair: pair[0])  # stable: each tunnel keeps its order
            if room is not None:
                timed = timed[:room]
            self.writer.write_blocks([block for _ts, block in timed])
            self.kept += len(timed)
        self.writer.flush()

    def _advance(self, ready: list[Line]) -> bool:
        """Publish every cursor past what was copied (once per batch); the
        writers may reuse those slots. False if the tap was detached meanwhile."""
        for line in ready:
            line.cur.take(line.waiting)
        with self._gate:
            if not self._attached:  # detached by stop: the copies may be torn, drop them
                return False
            for line in ready:
                if line.holds:
                    line.ctl.advance(line.cur.pos)  # wakes a writer parked on the tap too
        return True
