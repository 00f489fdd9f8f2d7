"""A sampled tap never holds the writer: it skips what it missed and counts it.

A lossless tap is a cursor the writer waits for; a sampled one (``sample >
1``) must cost the tunnel nothing, so the writer never learns of it
(``tap_mode`` stays 0). These tests stall a sampled tap's output and show the
writer streams many rings past it; check that whatever it captured is whole
(each payload names its own ring counter); and drive its cursor on a forged
ring: what the reader consumed is skipped, a copy the writer may have come
round to is dropped, and counters no writer could show end the tap.
"""

from __future__ import annotations

import io
import struct
import threading

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer, TapError, TapFilter, read_packets
from nanonet.observe.tapskip import SkipCursor, trim_run
from nanonet.ring import layout as L
from nanonet.ring.protocol import Field

pytestmark = pytest.mark.timeout(60)
SLOTS, SIZE, SAMPLE = 64, 16, 4
ROUNDS = 40  # rings' worth streamed past a stalled tap


class StallingSink:
    """A pcapng sink whose writes after the header wait for ``go``."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.entered = threading.Event()
        self.buf = io.BytesIO()

    def write(self, data: bytes, /) -> int:
        if self.buf.tell():
            self.entered.set()
            self.go.wait(30)
        return self.buf.write(data)

    def flush(self) -> None:
        pass


def _message(counter: int) -> bytes:
    return struct.pack("<Q", counter) + bytes((counter * 7 + j) % 256 for j in range(SIZE - 8))


def test_a_stalled_sampled_tap_lets_the_writer_stream_many_rings_past_it() -> None:
    total = SLOTS * ROUNDS
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t", slots=SLOTS, max_payload=SIZE)
        writer, reader, sink = mesh.writer("t"), mesh.reader("t"), StallingSink()
        tap = obs.tap("t", sink, TapFilter(sample=SAMPLE))
        assert mesh.tunnels["t"].ring.u32(L.OFF_TAP_MODE) == 0  # the writer ignores it
        writer.send_many([_message(c) for c in range(SLOTS // 2)], timeout=10)
        assert sink.entered.wait(20), "the tap never wrote its first batch"
        got: list[bytes] = []
        for first in range(SLOTS // 2, total, SLOTS // 2):  # the tap is stuck in its write
            got += reader.recv_many(timeout=10)
            writer.send_many([_message(c) for c in range(first, first + SLOTS // 2)],
                             timeout=10)
        writer.close()
        while len(got) < total:
            got += reader.recv_many(timeout=10)
        sink.go.set()
        wait_until(lambda: tap.seen + tap.missed == total, "the tap passed every message")
        obs.stop_tap(tap)
        assert tap.error is None
    assert got == [_message(c) for c in range(total)]
    assert tap.missed > 0 and tap.seen >= SLOTS // 2  # the first batch, then what it skipped
    packets = list(read_packets(io.BytesIO(sink.buf.getvalue())))
    assert packets, "the tap kept nothing"
    for p in packets:  # each capture is whole: its payload is its counter's message
        assert p.packet_id is not None and p.packet_id % SAMPLE == 0
        assert p.data == _message(p.packet_id)


def _forged(mesh: Mesh) -> tuple[SkipCursor, Mesh]:
    mesh.tunnel("f", slots=SLOTS, max_payload=SIZE)
    return SkipCursor(mesh.tunnels["f"].ring), mesh


def _set(mesh: Mesh, head: int, tail: int) -> None:
    ring = mesh.tunnels["f"].ring
    ring.store(Field.HEAD, head)
    ring.store(Field.TAIL, tail)


def test_the_cursor_skips_what_the_reader_consumed_and_drops_what_it_may_have_reused() -> None:
    with Mesh() as mesh:
        cur, _ = _forged(mesh)
        _set(mesh, 40, 10)
        assert cur.available(cur.ring) == 30 and (cur.pos, cur.missed) == (10, 10)
        _set(mesh, 50, 25)  # the reader took 15 more while the tap copied 30
        assert cur.stale(30) == 15 and cur.missed == 25
        cur.take(40)
        _set(mesh, 50 + SLOTS * 3, 50 + SLOTS * 3)  # lapped three times over, all consumed
        assert cur.available(cur.ring) == 0 and cur.missed == 25 + SLOTS * 3


@pytest.mark.parametrize(("head", "tail", "why"), [
    (5, 5, "went back"),  # head behind the cursor at 10
    (20, 30, "ahead of head"),  # the reader consumed what was never published
])
def test_counters_no_writer_could_show_end_the_tap(head: int, tail: int, why: str) -> None:
    with Mesh() as mesh:
        cur, _ = _forged(mesh)
        cur.start_at(10)
        _set(mesh, head, tail)
        with pytest.raises(TapError, match=why):
            cur.available(cur.ring)


def test_a_tail_far_behind_head_reads_at_most_one_ring() -> None:
    """A reader's tail more than a ring behind (torn, or hostile) never takes
    the cursor's window off the ring: at most ``slots`` back from head."""
    with Mesh() as mesh:
        cur, _ = _forged(mesh)
        _set(mesh, 10 * SLOTS, 0)
        assert cur.available(cur.ring) == SLOTS and cur.pos == 9 * SLOTS


def test_trim_run_drops_the_kept_slots_before_the_bound() -> None:
    slots = bytes(range(6)) * 2  # four 3-byte slots of counters 0, 4, 8, 12
    assert trim_run(0, slots, 4, 3, 5) == (8, slots[6:])
    assert trim_run(0, slots, 4, 3, 0) == (0, slots)
    assert trim_run(0, slots, 4, 3, 99) == (16, b"")


def test_in_a_pub_sub_ring_the_bound_is_the_lossy_window_behind_head() -> None:
    """A pub-sub writer heeds no single tail: a slot is whole while head is at
    most the lossy window past it (it publishes at least every publish_every)."""
    with Mesh() as mesh:
        mesh.tunnel("p", slots=SLOTS, max_payload=SIZE, max_subscribers=2)
        ring = mesh.tunnels["p"].ring
        window = ring.geometry.lossy_window
        cur = SkipCursor(ring)
        ring.store(Field.HEAD, 1000)
        assert cur.available(ring) == window and cur.missed == 1000 - window
        ring.store(Field.HEAD, 1010)  # the writer went on while the tap copied
        assert cur.stale(window) == 10
