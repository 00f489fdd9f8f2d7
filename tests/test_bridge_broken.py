"""A bridged tunnel whose writer service traps: the far reader gets every
message sent before the trap, then TunnelBroken naming the service and the
trap (a BROKEN frame), instead of a clean close or a wait for ever."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bridge_ends import TIMING, mem_pair
from nanonet import Mesh
from nanonet.bridge import frames as F
from nanonet.bridge.events import Ended
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.bridge.session import ReceiverSession
from nanonet.errors import TunnelBroken
from nanonet.ring.adapter import Direction
from nanonet.ring.endpoint import TunnelReader
from nanonet.ring.layout import Broken
from nanonet.ring.peek import PeekingReader

GUESTS = Path(__file__).resolve().parents[1] / "src" / "nanonet" / "guests"
COUNT = 5_000


def _trapping_producer() -> str:
    """The W2 producer, sending COUNT messages and then trapping instead of closing."""
    wat = (GUESTS / "producer.wat").read_text()
    wat = wat.replace("(i64.const 1000000)", f"(i64.const {COUNT})")
    return wat.replace("(drop (call $close (local.get $h)))", "unreachable")


def _drain(r: TunnelReader) -> tuple[int, TunnelBroken]:
    got = 0
    with pytest.raises(TunnelBroken) as info:
        for _ in range(COUNT + 10):  # each recv bounded: a hang fails the test
            r.recv(timeout=30)
            got += 1
    return got, info.value


def test_a_trapped_writer_breaks_the_far_tunnel() -> None:
    a, b = Mesh(), Mesh()
    try:
        a.tunnel("t", slots=256, max_payload=64)
        b.tunnel("t", slots=256, max_payload=64)
        a.service("producer", _trapping_producer(), writes=["t"], names={"stream": "t"})
        t = a.tunnels["t"]
        t.take(Direction.READ, "<bridge>")
        reader = b.reader("t")
        send_link, recv_link = mem_pair()
        sender = SendPump(PeekingReader(t.ring, t.control), send_link, "t", b"k", TIMING)
        receiver = ReceivePump(b.writer("t"), recv_link, "t", b"k", TIMING, linger=0.3)

        async def go() -> tuple[int, TunnelBroken]:
            tasks = [asyncio.create_task(sender.run()), asyncio.create_task(receiver.run())]
            a.start()
            got = await asyncio.to_thread(_drain, reader)
            await asyncio.wait_for(asyncio.gather(*tasks), 30)  # both pumps end
            return got
        got, err = asyncio.run(go())
    finally:
        for m in (a, b):
            m.stop()
            m.close()
    assert got == COUNT
    assert str(err) == ("tunnel 't' is broken: its writer 'producer (far node)' trapped "
                        "(unreachable executed) and will not restart")
    assert sender.session.done and sender.session.broken is not None


def test_the_broken_frame_round_trips_and_ends_the_stream() -> None:
    frame = F.broken(7, Broken.TRAPPED, "producer", "unreachable executed")
    (decoded,) = F.FrameDecoder().feed(frame)
    assert F.parse_broken(decoded) == (7, Broken.TRAPPED, "producer", "unreachable executed")
    s = ReceiverSession("t", 64, b"k", 7, 16, 0.0)
    s.receive_data(F.hello(1, 1, 64, 1, b"t", b"k"), 0.0)
    s.receive_data(frame, 0.0)
    events = []
    while (e := s.next_event()) is not None:
        events.append(e)
    last = events[-1]
    assert isinstance(last, Ended)
    assert last.broken == (Broken.TRAPPED, "producer", "unreachable executed")
