"""The adapter's per-message paths (ring/hotpath.py): no call per message in
the batch loops, and every length copied exactly, with no byte past it.

Both adapters are instantiated in one store over one real ring and their
exports called directly (as tests/test_protocol_model.py does).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import wasmtime

from nanonet.host.engine import runtime
from nanonet.ring import layout as L
from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
from nanonet.ring.layout import Geometry
from nanonet.ring.memory import RingMemory

pytestmark = pytest.mark.timeout(60)

MAX = 300  # over INLINE_COPY: the memory.copy path is crossed too
# the copies unroll up to an end's max_payload: below every width, on a width, between
MAXES = (MAX, 64, 47, 16, 9, 5, 2)
IN, OUT = 1024, 65536  # where records are built and received in the guests' memories
GUARD = 0xEE  # what the reader's memory holds where nothing may be written
HANG_TICKS = 50
# the functions a batch loop may call: only on its slow path (out of room,
# nothing cached, a bad length) or a lossy subscriber's per-message check
SLOW = {"room", "ready", "publish", "refresh", "quarantine", "fresh"}


def payload(n: int, length: int) -> bytes:
    return bytes((n * 31 + i * 7 + 1) & 0xFF for i in range(length))


def record(n: int, length: int) -> bytes:
    """A batch record: [len u32][payload, padded to 4]."""
    body = struct.pack("<I", length) + payload(n, length)
    return body + bytes(-len(body) % 4)


class End:
    """One adapter over the ring, with its own guest memory."""

    def __init__(self, store: wasmtime.Store, ring: RingMemory, direction: Direction) -> None:
        module = runtime().module(adapter_wat([EndSpec("t", direction, ring.geometry)]))
        self.memory = wasmtime.Memory(store, wasmtime.MemoryType(wasmtime.Limits(4, 4)))
        self.exports = wasmtime.Instance(store, module, [self.memory, ring.shared]).exports(store)
        self.store = store

    def call(self, op: str, *args: int) -> int:
        self.store.set_epoch_deadline(HANG_TICKS)
        func: Any = self.exports[op]
        return int(func(self.store, 0, *args))


Ends = tuple[End, End, RingMemory]


@pytest.fixture(params=MAXES, ids=lambda m: f"max{m}")
def ends(request: pytest.FixtureRequest) -> Iterator[Ends]:
    rt = runtime()
    rt.ticker.hold()
    ring = RingMemory(rt.engine, Geometry.for_payload(64, int(request.param)), "t")
    store = wasmtime.Store(rt.engine)
    try:
        yield End(store, ring, Direction.WRITE), End(store, ring, Direction.READ), ring
    finally:
        del store
        ring.close()
        rt.ticker.release()


def test_every_length_crosses_a_batch_whole_and_nothing_past_it(ends: Ends) -> None:
    writer, reader, ring = ends
    lengths = list(range(ring.geometry.max_payload + 1))
    for first in range(0, len(lengths), 40):  # 40 per batch: the ring of 64 wraps
        batch = lengths[first:first + 40]
        data = b"".join(record(first + i, n) for i, n in enumerate(batch))
        writer.memory.write(writer.store, data, IN)
        assert writer.call("try_send_batch", IN, len(batch)) == len(batch)
        reader.memory.write(reader.store, bytes([GUARD]) * len(data), OUT)
        assert reader.call("try_recv_batch", OUT, len(data), 64) == len(batch)
        assert reader.call("commit") == 0  # the slots go back before the next batch
        got = bytes(reader.memory.read(reader.store, OUT, OUT + len(data)))
        want = b"".join(r[:4 + n] + bytes([GUARD]) * (len(r) - 4 - n)
                        for r, n in ((record(first + i, n), n) for i, n in enumerate(batch)))
        assert got == want, f"a batch from length {batch[0]} differs"


def test_every_length_crosses_one_send_whole_and_nothing_past_it(ends: Ends) -> None:
    writer, reader, ring = ends
    for n in range(ring.geometry.max_payload + 1):
        writer.memory.write(writer.store, payload(n, n), IN)
        assert writer.call("try_send", IN, n) == 0
        reader.memory.write(reader.store, bytes([GUARD]) * (n + 16), OUT)
        assert reader.call("try_recv", OUT, n) == n
        got = bytes(reader.memory.read(reader.store, OUT, OUT + n + 16))
        assert got == payload(n, n) + bytes([GUARD]) * 16, f"length {n} differs"


def test_a_hostile_length_in_a_batch_quarantines_after_the_good_ones(ends: Ends) -> None:
    """Inlining the length check keeps its order: the message before the bad
    one is delivered, then the ring is quarantined and nothing more is read."""
    writer, reader, ring = ends
    first = record(0, min(10, ring.geometry.max_payload))
    writer.memory.write(writer.store, first * 3, IN)
    assert writer.call("try_send_batch", IN, 3) == 3
    ring.put_u32(L.HEADER_SIZE + ring.geometry.slot_size, ring.geometry.max_payload + 1)
    assert reader.call("try_recv_batch", OUT, 4096, 64) == 1
    assert bytes(reader.memory.read(reader.store, OUT, OUT + len(first))) == first
    assert ring.u32(L.OFF_QUARANTINE) == L.Quarantine.BAD_LENGTH
    assert reader.call("try_recv_batch", OUT, 4096, 64) == L.Status.CORRUPT


def _loop_calls(wat: str, func: str) -> set[str]:
    """The functions called inside ``func``'s per-message loop ``$next``."""
    body = wat[wat.index(f"(func ${func}1 "):]
    body = body[body.index("(loop $next"):]
    body = body[:body.index("\n  (func ") if "\n  (func " in body else len(body)]
    return {re.sub(r"1$", "", name) for name in re.findall(r"\(call \$(\w+)", body)}


@pytest.mark.parametrize("direction,func", [(Direction.WRITE, "send_batch"),
                                            (Direction.READ, "recv_batch")])
def test_the_batch_loops_call_nothing_per_message(direction: Direction, func: str) -> None:
    wat = adapter_wat([EndSpec("t", direction, Geometry.for_payload(64, 64))])
    assert _loop_calls(wat, func) <= SLOW, _loop_calls(wat, func) - SLOW


def test_a_guest_range_past_its_memory_traps_and_copies_nothing(ends: Ends) -> None:
    """The unrolled moves use the guest's address as given: a range running
    off the end of the guest's memory traps, in either direction."""
    writer, reader, ring = ends
    n = ring.geometry.max_payload
    end = writer.memory.data_len(writer.store)
    with pytest.raises(wasmtime.Trap):
        writer.call("try_send", end - n // 2, n)
    writer.memory.write(writer.store, payload(1, n), IN)
    assert writer.call("try_send", IN, n) == 0
    with pytest.raises(wasmtime.Trap):
        reader.call("try_recv", end - n // 2, n)
