"""Contract: a ring forged through its memory is CORRUPT for good, never a
crash or a hang; a receive buffer too small is TRUNCATED and the message stays.

The forgeries are what a hostile or broken peer could store: a counter more
than a ring ahead, a slot length larger than the slot (see docs/ring.md,
"Trusting nothing").
"""

from __future__ import annotations

import pytest

from nanonet import TunnelCorrupt
from nanonet.ring import layout as L

from .conftest import MAX_PAYLOAD, SLOTS, Link, MakeLink
from .ends import TRUNCATED
from .kinds import BUFFER, TRY, Kind, reader_pairs, writer_pairs

pytestmark = pytest.mark.timeout(120)


def assert_corrupt_for_good(lnk: Link, reader: Kind, reason: int) -> None:
    with pytest.raises(TunnelCorrupt):
        lnk.reader.recv()
    with pytest.raises(TunnelCorrupt):  # for good: every later call
        lnk.reader.recv_many(4)
    if TRY not in reader.lacks:
        with pytest.raises(TunnelCorrupt):
            lnk.reader.try_recv()
    assert lnk.ring.quarantine == reason
    with pytest.raises(TunnelCorrupt):  # the other end sees the quarantine too: a guest
        for _ in range(lnk.tunnel.geometry.slot_count + 1):  # writer on its slow path
            lnk.writer.try_send(b"after")
    lnk.reader.after_corrupt()


@pytest.mark.parametrize(("writer", "reader"), reader_pairs())
def test_a_head_forged_more_than_a_ring_ahead_is_corrupt(link: MakeLink, writer: Kind,
                                                         reader: Kind) -> None:
    lnk = link(writer, reader)
    lnk.ring.put_u64(L.OFF_HEAD, lnk.ring.u64(L.OFF_TAIL) + SLOTS + 5)
    assert_corrupt_for_good(lnk, reader, L.Quarantine.BAD_COUNTERS)


@pytest.mark.parametrize(("writer", "reader"), reader_pairs())
def test_a_slot_length_beyond_the_slot_is_corrupt(link: MakeLink, writer: Kind,
                                                  reader: Kind) -> None:
    lnk = link(writer, reader)
    lnk.writer.send(b"fine")
    assert lnk.reader.recv() == b"fine"
    lnk.forge_slot(lnk.tunnel.geometry.slot_size)
    assert_corrupt_for_good(lnk, reader, L.Quarantine.BAD_LENGTH)


@pytest.mark.parametrize(("writer", "reader"), reader_pairs())
def test_a_slot_length_past_max_payload_is_corrupt_even_inside_the_slot(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader, max_payload=20)  # 32-byte slots: 24 bytes of room
    lnk.writer.send(b"fine")
    assert lnk.reader.recv() == b"fine"
    lnk.forge_slot(21)
    assert_corrupt_for_good(lnk, reader, L.Quarantine.BAD_LENGTH)


@pytest.mark.parametrize(("writer", "reader"), writer_pairs())
def test_a_tail_forged_past_the_head_is_corrupt(link: MakeLink, writer: Kind,
                                                reader: Kind) -> None:
    lnk = link(writer, reader)
    assert lnk.writer.send_many([b"fill"] * SLOTS) == SLOTS  # full: the writer re-reads tail
    lnk.ring.put_u64(L.OFF_TAIL, SLOTS + 3)
    with pytest.raises(TunnelCorrupt):
        lnk.writer.try_send(b"more")
    with pytest.raises(TunnelCorrupt):  # for good, blocking form too
        lnk.writer.send(b"more")
    with pytest.raises(TunnelCorrupt):
        lnk.writer.send_many([b"a", b"b"])
    assert lnk.ring.quarantine == L.Quarantine.BAD_COUNTERS
    with pytest.raises(TunnelCorrupt):
        lnk.reader.recv()


@pytest.mark.parametrize(("writer", "reader"), reader_pairs(BUFFER))
def test_a_buffer_too_small_is_truncated_and_the_message_stays(link: MakeLink, writer: Kind,
                                                               reader: Kind) -> None:
    lnk = link(writer, reader)
    message = bytes(range(50))
    lnk.writer.send_many([message, b"next"])
    assert lnk.reader.recv_into(len(message) // 2) == TRUNCATED
    assert lnk.reader.recv_into(len(message) // 2) == TRUNCATED  # still there, still too big
    assert lnk.tunnel.statistics().received == 0
    assert lnk.reader.recv_into(MAX_PAYLOAD) == message
    assert lnk.reader.recv_many(4) == [b"next"]
    lnk.reader.commit()
    assert lnk.tunnel.statistics().received == 2
