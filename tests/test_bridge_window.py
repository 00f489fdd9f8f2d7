"""A receiving bridge grants no more credit than its link's inbox holds:
a ring of large slots would otherwise invite more bytes in flight than the
inbox keeps, and what it drops would be sent again, and dropped again."""

from __future__ import annotations

import asyncio

from bridge_ends import TIMING, _seqs, close_nodes, consume, mem_pair, nodes
from nanonet.bridge.inbox import Inbox
from nanonet.bridge.pump import ReceivePump, SendPump
from nanonet.ring.packed import Packed

SIZE, SLOTS = 4096, 1024  # 4 MiB of messages in flight if the credit were the ring


def test_the_credit_fits_the_inbox_so_nothing_is_dropped() -> None:
    n = nodes(slots=SLOTS, max_payload=SIZE)
    send_link, recv_link = mem_pair()
    recv_link.inbox = Inbox(1 << 20)
    n.writer.send_many(Packed.fixed(_seqs(0, SLOTS, SIZE), SIZE), timeout=10)
    n.writer.close()

    async def go() -> SendPump:
        sender = SendPump(n.peeker(), send_link, "t", b"k", TIMING)
        receiver = ReceivePump(n.inlet, recv_link, "t", b"k", TIMING, linger=0.3)
        pumps = [sender.run(), receiver.run(),
                 asyncio.to_thread(consume, n.reader, SLOTS, n.got, SIZE)]
        await asyncio.wait_for(asyncio.gather(*pumps), 60)
        return sender
    try:
        sender = asyncio.run(go())
    finally:
        close_nodes(n)
    assert n.got[0] == SLOTS
    assert recv_link.inbox.dropped == 0
    assert sender.stats().retransmits == 0
