"""Contract: a broken tunnel (the service at one end is gone for good).

A reader gets every message published before the break, then BROKEN /
TunnelBroken, never CLOSED; a writer gets BROKEN at once, with room left; a
break wakes a blocked reader and a blocked writer. The break is made as a
dead service's thread makes it, through the tunnel's control module.
"""

from __future__ import annotations

import pytest

from nanonet import TunnelBroken
from nanonet.ring import layout as L
from nanonet.ring.control import BreakInfo

from .conftest import SLOTS, Link, MakeLink
from .ends import Background
from .kinds import Kind, sides
from .test_flow import msgs, receive

pytestmark = pytest.mark.timeout(120)


def _break(lnk: Link) -> None:
    lnk.tunnel.control.break_(BreakInfo("writer", "gone", L.Broken.TRAPPED, "unreachable"))


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_reader_drains_what_was_sent_before_a_break_then_gets_broken(
        link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    lnk.writer.send_many(msgs(SLOTS // 2))
    _break(lnk)
    with pytest.raises(TunnelBroken):
        lnk.writer.send(b"late")  # there is room: a writer is told at once
    assert receive(lnk.reader, SLOTS // 2, SLOTS) == msgs(SLOTS // 2)
    with pytest.raises(TunnelBroken):
        lnk.reader.recv()
    assert lnk.tunnel.statistics().sent == SLOTS // 2


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_break_wakes_a_blocked_reader(link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    receiving = Background(lnk.reader.recv)
    lnk.wait_reader_parked()
    _break(lnk)
    with pytest.raises(TunnelBroken):
        receiving.result()


@pytest.mark.parametrize(("writer", "reader"), sides())
def test_a_break_wakes_a_blocked_writer(link: MakeLink, writer: Kind, reader: Kind) -> None:
    lnk = link(writer, reader)
    assert lnk.writer.send_many(msgs(SLOTS)) == SLOTS
    sending = Background(lambda: lnk.writer.send(b"blocked"))
    lnk.wait_writer_parked()
    _break(lnk)
    with pytest.raises(TunnelBroken):
        sending.result()
    assert receive(lnk.reader, SLOTS, SLOTS) == msgs(SLOTS)
