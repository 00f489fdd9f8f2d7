"""Contract: blocking and try forms, batch counts, commit points, close.

A full ring blocks a writer until the reader gives slots back; an empty one
blocks a reader until a message or a close; try forms never block. Every
wait here is on a condition (a side's ``*_waiting`` flag, a thread's end),
bounded by the watchdog; nothing is timed.
"""

from __future__ import annotations

import pytest

from nanonet import MessageTooBig, TunnelClosed

from .conftest import MAX_PAYLOAD, SLOTS, MakeLink
from .ends import Background, Reader
from .kinds import CLOSE, TRY, Kind, reader_pairs, sides, writer_pairs

pytestmark = pytest.mark.timeout(120)


def msgs(n: int, tag: bytes = b"m") -> list[bytes]:
    return [tag + b"-%d" % i for i in range(n)]


def receive(reader_end: Reader, n: int, limit: int) -> list[bytes]:
    """``n`` messages through recv_many calls of at most ``limit``, each checked."""
    got: list[bytes] = []
    while len(got) < n:
        part = reader_end.recv_many(min(limit, n - len(got)))
        assert 1 <= len(part) <= limit, f"recv_many({limit}) returned {len(part)}"
        got += part
    return got


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_blocking_send_waits_for_room_and_completes_when_the_reader_drains(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader, slots=4)
    first = msgs(4)
    assert lnk.writer.send_many(first) == 4
    sending = Background(lambda: lnk.writer.send(b"one more"))
    lnk.wait_writer_parked()
    assert not sending.done, "a send into a full ring returned before any slot was free"
    assert lnk.tunnel.statistics().sent == 4
    assert receive(lnk.reader, 4, 4) == first
    lnk.reader.commit()  # two-phase readers give the slots back here
    sending.result()
    assert lnk.reader.recv() == b"one more"
    stats = lnk.tunnel.statistics()  # every kind keeps the counters of its side
    assert stats.times_full >= 1 and stats.writer_parks >= 1, stats


@pytest.mark.parametrize(("writer", "reader"), reader_pairs())
def test_a_receive_commits_at_once_or_at_the_next_receive(link: MakeLink, writer: Kind,
                                                          reader: Kind) -> None:
    lnk = link(writer, reader)
    lnk.writer.send_many(msgs(5))
    assert lnk.reader.recv_many(3) == msgs(5)[:3]  # the host writer published them at once
    assert lnk.tunnel.statistics().received == 3 - reader.held(3)
    assert lnk.reader.recv_many(1) == [b"m-3"]
    assert lnk.tunnel.statistics().received == 4 - reader.held(1)
    lnk.reader.commit()
    assert lnk.tunnel.statistics().received == 4


@pytest.mark.parametrize(("writer", "reader"), sides(TRY))
def test_try_forms_return_at_once(link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    assert lnk.reader.try_recv() is None
    assert lnk.reader.try_recv_many(5) == []
    assert lnk.writer.try_send_many(msgs(SLOTS + 3)) == SLOTS
    assert lnk.writer.try_send(b"no room") is False
    assert lnk.writer.try_send_many(msgs(2, b"x")) == 0
    got = lnk.reader.try_recv_many(3)
    assert got == msgs(SLOTS)[:3]  # all three were there
    lnk.reader.commit()
    assert lnk.writer.try_send(b"room again") is True
    rest: list[bytes] = []
    while part := lnk.reader.try_recv_many(100):  # each call returns at least one, in order
        rest += part
    assert rest == [*msgs(SLOTS)[3:], b"room again"]
    assert lnk.reader.try_recv() is None


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_batch_forms_keep_order_and_report_counts(link: MakeLink, writer: Kind,
                                                  reader: Kind) -> None:
    lnk = link(writer, reader)
    sent = msgs(SLOTS + 4)
    assert lnk.writer.send_many(sent[:5]) == 5
    assert lnk.writer.try_send_many(sent[5:]) == SLOTS - 5  # as many as fitted
    assert receive(lnk.reader, SLOTS, 3) == sent[:SLOTS]
    lnk.reader.commit()
    assert lnk.writer.send_many(sent[SLOTS:]) == 4
    assert receive(lnk.reader, 4, 10) == sent[SLOTS:]


@pytest.mark.parametrize(("writer", "reader"), writer_pairs())
def test_a_message_over_max_payload_is_refused_and_the_ring_stays_usable(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    too_big = b"x" * (MAX_PAYLOAD + 1)
    with pytest.raises(MessageTooBig):
        lnk.writer.send(too_big)
    with pytest.raises(MessageTooBig):
        lnk.writer.try_send(too_big)
    assert lnk.tunnel.statistics().sent == 0
    assert lnk.writer.send_many([b"", b"y" * MAX_PAYLOAD]) == 2
    assert receive(lnk.reader, 2, 2) == [b"", b"y" * MAX_PAYLOAD]
    assert lnk.tunnel.statistics().quarantine == 0


@pytest.mark.parametrize(("writer", "reader"), writer_pairs())
def test_max_payload_is_the_largest_message_even_where_the_slot_has_room(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    """max_payload = 20 makes 32-byte slots (24 bytes of room): 21 to 24 are refused."""
    lnk = link(writer, reader, max_payload=20)
    assert lnk.tunnel.geometry.slot_size - 8 == 24
    for size in range(21, 25):
        with pytest.raises(MessageTooBig):
            lnk.writer.send(b"x" * size)
        with pytest.raises(MessageTooBig):
            lnk.writer.try_send(b"x" * size)
        with pytest.raises(MessageTooBig):
            lnk.writer.send_many([b"x" * size])
    assert lnk.tunnel.statistics().sent == 0
    lnk.writer.send(b"y" * 20)
    assert receive(lnk.reader, 1, 1) == [b"y" * 20]
    assert lnk.tunnel.statistics().quarantine == 0


@pytest.mark.parametrize("form", ["send_many", "try_send_many"])
@pytest.mark.parametrize(("writer", "reader"), writer_pairs())
def test_a_batch_sends_what_precedes_an_oversized_message_and_refuses_the_rest(
        link: MakeLink, writer: Kind, reader: Kind, form: str) -> None:
    lnk = link(writer, reader)
    batch = [b"before", b"x" * (MAX_PAYLOAD + 1), b"after"]
    with pytest.raises(MessageTooBig):
        getattr(lnk.writer, form)(batch)
    assert lnk.tunnel.statistics().sent == 1
    assert lnk.reader.try_recv_many(10) == [b"before"]  # published at once, not later
    lnk.writer.send(b"next")
    assert lnk.reader.recv_many(10) == [b"next"]


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_reader_gets_every_message_sent_before_close_then_closed(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    lnk.writer.send_many(msgs(SLOTS - 1))
    lnk.writer.close()
    with pytest.raises(TunnelClosed):
        lnk.writer.send(b"late")
    assert lnk.reader.drain() == msgs(SLOTS - 1)
    with pytest.raises(TunnelClosed):
        lnk.reader.recv()
    if TRY not in reader.lacks:
        with pytest.raises(TunnelClosed):
            lnk.reader.try_recv()
    assert lnk.reader.drain() == []  # iteration over a closed, drained tunnel ends at once
    assert lnk.tunnel.statistics().sent == SLOTS - 1


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_close_wakes_a_blocked_reader(link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    receiving = Background(lnk.reader.recv)
    lnk.wait_reader_parked()
    lnk.writer.close()
    with pytest.raises(TunnelClosed):
        receiving.result()
    stats = lnk.tunnel.statistics()  # every kind keeps the counters of its side
    assert stats.times_empty >= 1 and stats.reader_parks >= 1, stats


@pytest.mark.parametrize(("writer", "reader"), sides(CLOSE))
def test_close_wakes_a_blocked_writer(link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    assert lnk.writer.send_many(msgs(SLOTS)) == SLOTS
    sending = Background(lambda: lnk.writer.send(b"blocked"))
    lnk.wait_writer_parked()
    lnk.reader.close()
    with pytest.raises(TunnelClosed):
        sending.result()
    assert lnk.reader.drain() == msgs(SLOTS)  # what was sent before the close still drains
    assert lnk.tunnel.statistics().writer_parks >= 1

