"""A sampled tap's look in Wasm (``tapgrab.py``) writes what the Python look wrote.

One call copies every ``step``-th slot of the window, a second builds their
blocks from that copy. These tests compare the blocks byte for byte with
``pcapng.packet`` of each kept message timed by ``tapclock.times_every``
(mixed lengths, windows that wrap round the ring, a writer's stamp inside
the window, a limit that cuts the copies), and show that counters no writer
could show, or a length over ``max_payload``, end the look with an error.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nanonet import Mesh
from nanonet.errors import TapError
from nanonet.observe.pcapng import packet
from nanonet.observe.tapclock import stretches_every, times_every
from nanonet.observe.tapline import Line
from nanonet.ring import layout as L
from nanonet.ring.protocol import Field

SLOTS, MAX, STEP = 32, 21, 3
LO = 1_700_000_000_000_000_000


def _line(mesh: Mesh) -> Line:
    line = Line(mesh.rt, mesh.tunnels["t"], 1, holds=False)
    line.prepare_grab(STEP)
    line.attach()
    return line


def _stamp(mesh: Mesh, counter: int, ns: int) -> None:
    """A writer's stamp entry for ``counter`` (a sampled counter), as the adapter stores it."""
    ring = mesh.tunnels["t"].ring
    off = L.OFF_STAMPS + ((counter >> L.SAMPLE_SHIFT) % L.SAMPLE_ENTRIES) * L.SAMPLE_ENTRY
    ring.write_bytes(off, counter.to_bytes(8, "little") + ns.to_bytes(8, "little"))


def test_grabbed_blocks_are_the_per_message_blocks_byte_for_byte() -> None:
    rng = random.Random(11)
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        line, sent = _line(mesh), 0
        for look in range(30):
            msgs = [rng.randbytes(rng.randrange(MAX + 1)) for _ in range(rng.randrange(1, SLOTS))]
            writer.send_many(msgs, timeout=10)
            lo, hi = LO + look * 10_000, LO + look * 10_000 + rng.randrange(5_000)
            assert line.grab() == len(msgs) and (line.first, line.count) == (sent, len(msgs))
            room = len(msgs) if look % 3 else 2  # a limit cuts the copies
            blocks, took = line.grabbed_blocks(lo, hi, room)
            kept = range(sent + (-sent % STEP), sent + len(msgs), STEP)[:room]
            times = times_every(sent, len(msgs), lo, hi, {}, kept)
            assert took == len(kept)
            assert bytes(blocks) == b"".join(packet(msgs[c - sent], ts, 1, c)
                                             for c, ts in zip(kept, times, strict=True))
            line.cur.take(len(msgs))
            assert reader.recv_many(timeout=10) == msgs
            sent += len(msgs)


def test_a_stamp_in_the_window_times_its_message() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=2048, max_payload=MAX)
        writer, line = mesh.writer("t"), _line(mesh)
        msgs = [bytes([c % 256]) * (c % MAX) for c in range(1500)]
        writer.send_many(msgs, timeout=10)
        _stamp(mesh, 1024, LO + 500)  # a sampled counter the tap does not keep: an anchor
        assert line.grab() == len(msgs)
        blocks, took = line.grabbed_blocks(LO, LO + 3000, 1 << 64)
        kept = range(0, len(msgs), STEP)
        times = times_every(0, len(msgs), LO, LO + 3000, {1024: LO + 500}, kept)
        assert took == len(kept)
        assert bytes(blocks) == b"".join(packet(msgs[c], ts, 1, c)
                                         for c, ts in zip(kept, times, strict=True))


@pytest.mark.parametrize(("head", "tail", "why"), [
    (5, 5, "went back"),  # head behind the cursor at 10
    (20, 30, "ahead of head"),  # the reader consumed what was never published
])
def test_counters_no_writer_could_show_end_the_look(head: int, tail: int, why: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        line = _line(mesh)
        line.cur.start_at(10)
        ring = mesh.tunnels["t"].ring
        ring.store(Field.HEAD, head)
        ring.store(Field.TAIL, tail)
        with pytest.raises(TapError, match=why):
            line.grab()


def test_a_length_over_max_payload_builds_nothing() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        line, ring = _line(mesh), mesh.tunnels["t"].ring
        mesh.writer("t").send_many([b"ok"] * 7, timeout=10)
        ring.write_bytes(L.HEADER_SIZE + 3 * ring.geometry.slot_size,
                         (MAX + 1).to_bytes(4, "little"))  # message 3, a kept one
        assert line.grab() == 7
        with pytest.raises(TapError, match=f"slot length {MAX + 1} exceeds"):
            line.grabbed_blocks(LO, LO + 100, 1 << 64)


@given(first=st.integers(0, 1 << 40), count=st.integers(1, 3000), step=st.integers(1, 200),
       skip=st.integers(0, 3000), lo=st.integers(0, 1 << 62),
       width=st.integers(-(1 << 20), 1 << 30),
       marks=st.dictionaries(st.integers(0, 3000), st.integers(0, 1 << 63), max_size=5))
def test_stretches_time_a_sampled_run_as_times_every_does(
        first: int, count: int, step: int, skip: int, lo: int, width: int,
        marks: dict[int, int]) -> None:
    stamped = {first + k: v for k, v in marks.items()}
    counters = range(first + min(skip, count - 1), first + count, step)
    times: list[int] = [0] * len(counters)
    for at, n, t0, tstep, last in stretches_every(first, count, lo, lo + width, stamped,
                                                  counters):
        times[at: at + n] = [t0 + tstep * i for i in range(n - 1)] + [last]
    assert times == times_every(first, count, lo, lo + width, stamped, counters)
