"""The tap copies whole runs of slots at once: wrap-around and bad lengths.

A tap copies the waiting slots of a look in one ``bytes`` per contiguous run
(two when the run crosses the end of the ring) and reads lengths and
payloads from that copy; runs of one length become their pcapng blocks in
one go; a sampled tap copies only the slots it keeps. These tests send
batches that straddle the ring's end, of one length and of mixed lengths,
and check the capture packet by packet and byte for byte against the
per-message block; and a batch with one bad length inside
it must stop the tap before any of that batch is written or released.
"""

from __future__ import annotations

import io
from functools import partial

import pytest

from conftest import wait_until
from nanonet import Mesh
from nanonet.observe import Observer, Tap, TapFilter, read_packets
from nanonet.observe.pcapng import EPB, packet
from nanonet.ring import layout as L

SLOTS, MAX = 16, 20  # 32-byte slots: lengths 21 to 24 fit the slot but not the tunnel


def _tap_tail_at(mesh: Mesh, counter: int) -> bool:
    return mesh.tunnels["t"].ring.u64(L.OFF_TAP_TAIL) == counter


def _tap_past(tap: Tap, counter: int) -> bool:
    """A sampled tap stores no tap_tail (the writer ignores it): its own count."""
    return tap.seen + tap.missed == counter


def _batch(number: int, size: int) -> list[bytes]:
    """``size`` messages: all of ``MAX`` bytes in even batches, of mixed lengths in odd ones."""
    lengths = [MAX if number % 2 == 0 else 1 + (i * 7) % MAX for i in range(size)]
    return [bytes((number * 31 + i + j) % 256 for j in range(n)) for i, n in enumerate(lengths)]


def _first_block(capture: bytes) -> int:
    """Where the first Enhanced Packet Block starts (after the header blocks)."""
    at = 0
    while int.from_bytes(capture[at: at + 4], "little") != EPB:
        at += int.from_bytes(capture[at + 4: at + 8], "little")
    return at


@pytest.mark.parametrize("sample", [1, 3])
def test_a_tap_of_wrapped_batches_has_every_message_it_keeps_in_order(sample: int) -> None:
    sent: list[bytes] = []
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        writer, reader, buf = mesh.writer("t"), mesh.reader("t"), io.BytesIO()
        tap = obs.tap("t", buf, TapFilter(sample=sample))
        for number in range(12):  # 11 a batch on 16 slots: most batches cross the end
            batch = _batch(number, 11)
            writer.send_many(batch, timeout=10)  # one publish: the tap sees it in one look
            done = partial(_tap_tail_at, mesh) if sample == 1 else partial(_tap_past, tap)
            wait_until(partial(done, len(sent) + 11), "the tap copied it")
            assert reader.recv_many(timeout=10) == batch
            sent += batch
        obs.stop_tap(tap)
        assert tap.error is None and tap.missed == 0  # nothing was read before the tap
    capture = buf.getvalue()
    got = list(read_packets(io.BytesIO(capture)))
    kept = range(0, len(sent), sample)
    assert [p.packet_id for p in got] == list(kept)
    assert [p.data for p in got] == [sent[c] for c in kept]
    rebuilt = b"".join(packet(p.data, p.ts_ns, 0, p.packet_id) for p in got)
    assert capture[_first_block(capture):] == rebuilt  # the per-message block, byte for byte


def test_a_bad_length_inside_a_batch_stops_the_tap_before_the_batch() -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        t, writer, buf = mesh.tunnels["t"], mesh.writer("t"), io.BytesIO()
        tap = obs.tap("t", buf)
        writer.send_many([b"good"] * 5, timeout=10)
        wait_until(partial(_tap_tail_at, mesh, 5), "the tap copied the good batch")
        t.ring.write_slots(5, [b"x" * MAX] * 8)  # a broken writer: one length in the middle
        t.ring.put_slot_length(9, MAX + 2)  # still inside the 32-byte slot
        t.control.publish_head(13)
        assert tap.wait(20) and tap.error is not None
        assert f"slot length {MAX + 2} exceeds its max_payload of {MAX}" in str(tap.error)
        assert t.ring.u64(L.OFF_TAP_TAIL) == 5  # nothing of the bad batch was released
    got = list(read_packets(io.BytesIO(buf.getvalue())))
    assert [p.data for p in got] == [b"good"] * 5  # nor written
