"""The protocol model's rules as plain functions: counters wrap, the tap holds."""

from __future__ import annotations

import pytest

from nanonet.ring import layout as L
from nanonet.ring import protocol as P
from nanonet.ring.layout import Geometry, Quarantine, Status
from test_docs import FIELDS

G = Geometry(4, 16)


def test_every_field_of_the_model_is_a_documented_header_field() -> None:
    assert {f.name.lower(): int(f) for f in P.Field} == FIELDS


def test_counters_are_compared_modulo_two_to_the_64() -> None:
    assert P.used(2, P.U64) == 3 and P.counters_ok(2, P.U64 - 1, G)
    assert not P.counters_ok(P.U64, 0, G)  # tail ahead of head: refused
    assert P.counters_ok(4, 0, G) and not P.counters_ok(5, 0, G)


def test_the_tap_holds_the_writer_only_when_it_is_further_behind() -> None:
    assert P.tap_peer(10, 8, 1, 7) == (7, P.Field.TAP_TAIL)
    assert P.tap_peer(10, 8, 1, 9) == (8, P.Field.TAIL)
    assert P.tap_peer(10, 8, 0, 7) == (8, P.Field.TAIL)


def test_slot_and_record_arithmetic() -> None:
    assert P.slot_offset(G, 5) == L.HEADER_SIZE + 16
    assert P.payload_offset(G, 5) == L.HEADER_SIZE + 16 + L.SLOT_HEADER
    assert [P.record_size(n) for n in (0, 1, 4, 5)] == [4, 8, 8, 12]


def test_a_reader_drains_a_closed_ring_before_it_reports_closed() -> None:
    ring, writer, reader = P.RingState(G), P.WriterCursor(G), P.ReaderCursor(G)
    assert writer.send(ring, 3) == Status.OK
    assert writer.close(ring) == Status.OK
    assert writer.send(ring, 3) == Status.CLOSED
    assert reader.recv(ring, 8) == P.Received(3, (0,))
    assert ring.load(P.Field.TAIL) == 0  # received, not committed yet
    assert reader.recv(ring, 8) == P.Received(Status.CLOSED)
    assert ring.load(P.Field.TAIL) == 1


def test_a_bad_length_quarantines_and_a_blocking_wait_is_refused() -> None:
    ring, writer, reader = P.RingState(G), P.WriterCursor(G), P.ReaderCursor(G)
    with pytest.raises(P.WouldPark):
        reader.recv(ring, 8, block=True)
    writer.send(ring, 3)
    ring.put_slot_length(0, G.max_payload + 1)
    assert reader.recv(ring, 64) == P.Received(Status.CORRUPT)
    assert ring.load(P.Field.QUARANTINE) == Quarantine.BAD_LENGTH
    assert writer.send_batch(ring, [1] * 4) == 3  # the writer sees it only on a refresh
    assert writer.send(ring, 1) == Status.CORRUPT
