"""Contract: what is sent arrives byte-exact, in order, once; counters agree.

Every writer kind against every reader kind for every size, and each kind
against a host end for a long stream whose every sequence number is checked
(``NANONET_STRESS_SCALE`` multiplies its length for longer runs).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

import pytest

from nanonet import TunnelClosed

from .conftest import MAX_PAYLOAD, Link, MakeLink
from .ends import Background
from .kinds import Kind, every_pair, sides

pytestmark = pytest.mark.timeout(120)
STREAM = int(20_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))


def sized(i: int, size: int) -> bytes:
    """Message ``i`` of ``size`` bytes: a different byte pattern for each (i, size)."""
    return bytes((i * 131 + k * 7) & 0xFF for k in range(size))


def numbered(i: int) -> bytes:
    """Message ``i`` of a stream: u32 i, then bytes (i & 0xff), 4 to MAX_PAYLOAD bytes."""
    return struct.pack("<I", i) + bytes([i & 0xFF]) * (i % (MAX_PAYLOAD - 3))


def send_then_close(lnk: Link, messages: Sequence[bytes], chunk: int) -> int:
    sent = sum(lnk.writer.send_many(messages[at: at + chunk])
               for at in range(0, len(messages), chunk))
    lnk.writer.close()
    return sent


def assert_counters(lnk: Link, messages: Sequence[bytes]) -> None:
    stats = lnk.tunnel.statistics()
    total = sum(map(len, messages))
    assert (stats.sent, stats.received, stats.fill) == (len(messages), len(messages), 0)
    assert (stats.bytes_in, stats.bytes_out) == (total, total)
    assert stats.closed and stats.quarantine == 0


@pytest.mark.parametrize(("writer", "reader"), every_pair())
def test_every_size_from_0_to_max_payload_arrives_byte_exact(link: MakeLink, writer: Kind,
                                                             reader: Kind) -> None:
    lnk = link(writer, reader)
    messages = [sized(i, size) for i in range(2) for size in range(MAX_PAYLOAD + 1)]
    sending = Background(lambda: send_then_close(lnk, messages, 50))
    got = lnk.reader.drain()
    assert sending.result() == len(messages)
    assert len(got) == len(messages)
    for i, (want, msg) in enumerate(zip(messages, got, strict=True)):
        assert msg == want, f"message {i} ({len(want)} bytes) arrived as {len(msg)} bytes"
    assert_counters(lnk, messages)


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_long_stream_keeps_every_sequence_number(link: MakeLink, writer: Kind,
                                                   reader: Kind) -> None:
    lnk = link(writer, reader, slots=16)
    messages = [numbered(i) for i in range(STREAM)]
    sending = Background(lambda: send_then_close(lnk, messages, 500))
    expect = 0
    while True:
        try:
            got = lnk.reader.recv_many(64)
        except TunnelClosed:
            break
        assert 1 <= len(got) <= 64
        for msg in got:
            (seq,) = struct.unpack_from("<I", msg)
            assert seq == expect, f"got message {seq} where {expect} was due (lost or repeated)"
            assert msg == messages[seq], f"message {seq} arrived changed"
            expect += 1
    assert sending.result() == STREAM
    assert expect == STREAM
    assert_counters(lnk, messages)


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_statistics_count_what_was_sent_and_received(link: MakeLink, writer: Kind,
                                                     reader: Kind) -> None:
    lnk = link(writer, reader)
    messages = [sized(i, 10 * i) for i in range(6)]
    assert lnk.writer.send_many(messages) == 6
    got: list[bytes] = []
    while len(got) < 4:
        got += lnk.reader.recv_many(4 - len(got))
    lnk.reader.commit()
    stats = lnk.tunnel.statistics()
    assert got == messages[:4]
    assert (stats.sent, stats.received, stats.fill, stats.slots) == (6, 4, 2, 8)
    assert (stats.bytes_in, stats.bytes_out) == (sum(map(len, messages)), sum(map(len, got)))
    assert not stats.closed and stats.quarantine == 0
    assert lnk.mesh.statistics()["t"] == stats
