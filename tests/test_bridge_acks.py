"""When a receiving bridge acknowledges: a lone message's ACK waits (up to
``ACK_DELAY``, so a request and its reply are not four wire messages), a
large batch's goes at once. The pump's clock is frozen, so "not yet" is
exact: the held ACK goes only once the test moves the clock."""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable

from bridge_ends import TIMING, close_nodes, mem_pair, nodes
from nanonet.bridge import frames as F
from nanonet.bridge.events import Accepted
from nanonet.bridge.pump import ACK_DELAY, ReceivePump
from nanonet.bridge.session import SenderSession

SLOTS = 1024
TURNS = 20_000  # bounded waits: turns of the loop before a test gives up


def _acks(inbox_items: list[bytes]) -> list[tuple[int, ...]]:
    """(next_seq, credit, flags) of every ACK frame in these wire messages."""
    out = []
    for wire in inbox_items:
        for frame in F.FrameDecoder().feed(wire):
            if frame.kind is F.Kind.ACK:
                out.append(frame.fields)
    return out


async def _until(cond: Callable[[], object]) -> None:
    for _ in range(TURNS):
        if cond():
            return
        await asyncio.sleep(0.0005)
    raise AssertionError("the pump never got there")


def test_a_lone_message_is_acknowledged_late_a_large_batch_at_once() -> None:
    n = nodes(slots=SLOTS)
    now = [0.0]
    ours, theirs = mem_pair()
    heard: list[bytes] = []

    def take() -> list[bytes]:
        while not ours.inbox.empty():
            heard.append(ours.inbox.take())
        return heard

    async def go() -> None:
        pump = ReceivePump(n.inlet, theirs, "t", b"k", TIMING, clock=lambda: now[0])
        task = asyncio.create_task(pump.run())
        s = SenderSession("t", 64, b"k", 0, 0.0, TIMING)
        s.handle_timer(0.0)
        try:
            for f in s.data_to_send(0.0):
                await ours.send(bytes(f))
            await _until(lambda: any(F.HEADER.unpack_from(w)[1] == F.Kind.WELCOME
                                     for w in take()))
            for w in heard:
                s.receive_data(w, 0.0)
            assert isinstance(s.next_event(), Accepted)
            heard.clear()
            s.send_data(0, array("I", [8]), bytes(8))
            for f in s.data_to_send(0.0):
                await ours.send(bytes(f))
            await _until(lambda: n.inlet.ring.head() == 1)
            assert _acks(take()) == []  # held: the clock has not moved
            now[0] = ACK_DELAY
            await _until(lambda: _acks(take()))
            assert _acks(heard)[0][0] == 1
            heard.clear()
            big = SLOTS // 16
            s.send_data(1, array("I", [8] * big), bytes(8 * big))
            for f in s.data_to_send(now[0]):
                await ours.send(bytes(f))
            await _until(lambda: n.inlet.ring.head() == 1 + big)
            assert [a[0] for a in _acks(take())] == [1 + big]  # at once, same clock
        finally:
            task.cancel()
    try:
        asyncio.run(go())
    finally:
        close_nodes(n)
