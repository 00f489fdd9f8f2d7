"""A lossless tap's blocks, built in Wasm from the ring, are ``packet``'s bytes.

``tapbuild.BlockBuilder`` reads each slot's length once, checks it, and
writes the message's Enhanced Packet Block; these tests compare its output
byte for byte with ``pcapng.packet`` of each message timed by
``tapclock.message_times`` (mixed lengths, batches that wrap round the ring,
writer stamps inside a batch, a limit that cuts a batch, and calls split to
fit the output memory), and show a length over ``max_payload`` builds nothing.
"""

from __future__ import annotations

import random

import pytest

from nanonet import Mesh
from nanonet.observe.pcapng import packet
from nanonet.observe.tapbuild import BadLength, BlockBuilder
from nanonet.observe.tapclock import message_times

SLOTS, MAX = 16, 21
LO = 1_700_000_000_000_000_000


def _expected(msgs: list[bytes], first: int, lo: int, hi: int, stamped: dict[int, int],
              upto: int) -> bytes:
    times = message_times(first, len(msgs), lo, hi, stamped)
    return b"".join(packet(m, ts, 2, first + i)
                    for i, (m, ts) in enumerate(zip(msgs[:upto], times[:upto], strict=False)))


@pytest.mark.parametrize("per_call,spill", [(None, False), (3, False), (None, True)],
                         ids=["one-call", "split", "spill"])
def test_built_blocks_are_the_per_message_blocks_byte_for_byte(per_call: int | None,
                                                                spill: bool) -> None:
    rng = random.Random(7)
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        builder = BlockBuilder(mesh.rt, mesh.tunnels["t"].ring)
        if per_call is not None:
            builder._per_call = per_call  # a small output memory's worth per call
        if spill:  # an output memory of 5 blocks: a batch is copied out in parts
            builder._out = builder._out[: 5 * builder._block]
        first = 0
        for batch in range(24):
            msgs = [rng.randbytes(rng.randrange(MAX + 1)) for _ in range(rng.randrange(1, SLOTS))]
            writer.send_many(msgs, timeout=10)
            lo, hi = LO + batch * 10_000, LO + batch * 10_000 + rng.randrange(5_000)
            stamped = {first + len(msgs) // 2: lo + 7} if batch % 3 == 0 else {}
            for upto in (len(msgs), (len(msgs) + 1) // 2):
                want = _expected(msgs, first, lo, hi, stamped, upto)
                got = builder.build(first, len(msgs), 2, lo, hi, stamped, upto)
                assert got == want, (batch, upto)
                assert bytes(builder.build_view(first, len(msgs), 2, lo, hi, stamped,
                                                upto)) == want, (batch, upto)
            assert reader.recv_many(timeout=10) == msgs
            first += len(msgs)


def test_a_length_over_max_payload_builds_nothing_and_names_it() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=MAX)
        t = mesh.tunnels["t"]
        t.ring.write_slots(0, [b"x" * MAX] * 6)
        t.ring.put_slot_length(4, MAX + 3)  # still inside the slot, over the tunnel's bound
        t.control.publish_head(6)
        with pytest.raises(BadLength) as bad:
            BlockBuilder(mesh.rt, t.ring).build(0, 6, 0, LO, LO + 60, {}, 6)
        assert (bad.value.counter, bad.value.length) == (4, MAX + 3)
