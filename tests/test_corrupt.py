"""Hostile ring bytes: every outcome is a valid message, AGAIN, CLOSED or
CORRUPT (with the quarantine flag set); never a trap, an out-of-bounds
access, a hang or a crash. Hypothesis writes random bytes over the header
and the slots of a ring that holds some valid messages, then drives a Wasm
reader or writer (prober.wat, bounded loop) or a host endpoint."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import call, guest
from nanonet import Mesh, Packed, State, TunnelClosed, TunnelCorrupt
from nanonet.ring import layout as L
from nanonet.ring.memory import RingMemory

pytestmark = pytest.mark.timeout(120)
SLOTS, PAYLOAD = 8, 56  # slot size 64
RING_BYTES = L.HEADER_SIZE + SLOTS * (PAYLOAD + L.SLOT_HEADER)
GEOMETRY_FIELDS = (L.OFF_MAGIC, L.OFF_VERSION, L.OFF_SLOT_COUNT, L.OFF_SLOT_SIZE,
                   L.OFF_HEADER_SIZE)
HOT = [*GEOMETRY_FIELDS, L.OFF_CLOSED, L.OFF_QUARANTINE, L.OFF_HEAD, L.OFF_HEAD + 4,
       L.OFF_TAIL, L.OFF_TAIL + 4, L.OFF_READER_WAITING, L.OFF_WRITER_WAITING,
       *(L.HEADER_SIZE + i * (PAYLOAD + 8) for i in range(SLOTS))]  # slot lengths
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
READ_MODES = {"try_recv": 0, "try_recv_batch": 1, "recv": 2, "recv_batch": 3}
WRITE_MODES = {"try_send": 4, "try_send_batch": 5, "send": 6, "send_batch": 7}

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
write = st.one_of(
    st.tuples(st.sampled_from(HOT), st.one_of(u32, st.sampled_from([0, 1, 2**31, 2**32 - 1]))
              ).map(lambda t: (t[0], struct.pack("<I", t[1]))),
    st.tuples(st.sampled_from([L.OFF_HEAD, L.OFF_TAIL]), u64
              ).map(lambda t: (t[0], struct.pack("<Q", t[1]))),
    st.tuples(st.integers(0, RING_BYTES - 1), st.binary(min_size=1, max_size=64)),
)
Damage = tuple[int, int, list[tuple[int, bytes]]]  # counters' start, valid messages, writes
corruption = st.tuples(
    st.integers(0, 2**64 - 1),  # where the counters start (wrap-around included)
    st.integers(0, SLOTS),  # valid messages in the ring before the damage
    st.lists(write, min_size=1, max_size=6),
)


def _setup(mesh: Mesh, start: int, filled: int, writes: list[tuple[int, bytes]],
           closed: bool) -> RingMemory:
    """A ring holding ``filled`` valid messages from counter ``start``, then damaged."""
    t = mesh.tunnels["t"] if "t" in mesh.tunnels else mesh.tunnel("t", slots=SLOTS,
                                                                    max_payload=PAYLOAD)
    ring = t.ring
    for k in range(filled):
        off = t.geometry.slot_offset(start + k)
        ring.write_bytes(off, struct.pack("<IIQ", 8, 0, k))
    ring.put_u64(L.OFF_TAIL, start)
    ring.put_u64(L.OFF_HEAD, (start + filled) % 2**64)
    for off, data in writes:
        data = data[: RING_BYTES - off]
        ring.write_bytes(off, data)
    for flag in (L.OFF_READER_YIELD, L.OFF_WRITER_YIELD):  # requests, not ring state: a
        ring.put_u32(flag, 0)  # flag that reads 1 only asks the end to return YIELD
    if closed:  # blocking calls must end: with the flag set they can
        ring.put_u32(L.OFF_CLOSED, 1)
    return ring


def _geometry_damaged(ring: RingMemory) -> bool:
    want = {L.OFF_MAGIC: L.MAGIC, L.OFF_VERSION: L.VERSION, L.OFF_SLOT_COUNT: SLOTS,
            L.OFF_SLOT_SIZE: PAYLOAD + 8, L.OFF_HEADER_SIZE: L.HEADER_SIZE}
    return any(ring.u32(off) != v for off, v in want.items()) or ring.quarantine != 0


def _probe(mode: int, reads: bool, setup: Damage, closed: bool) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=SLOTS, max_payload=PAYLOAD)
        prober = mesh.service("prober", guest("prober", side="read" if reads else "write"),
                              reads=["t"] if reads else [], writes=[] if reads else ["t"])
        call(prober, "configure", mode, 3 * SLOTS)
        assert call(prober, "lookup") == 0  # before the damage: names live in the header
        ring = _setup(mesh, *setup, closed=closed)
        damaged = _geometry_damaged(ring)
        mesh.start()
        assert mesh.wait(30), "the prober hung"
        assert (prober.state, prober.exit_code, mesh.traps) == (State.STOPPED, 0, [])
        raw = prober.linked.memory.read(prober.store, 256, 256 + 44)
        tally = struct.unpack("<11I", raw)
        assert tally[7] == 0, f"an impossible result: {tally}"
        assert tally[3] == tally[5] == tally[6] == 0, tally  # TOO_BIG, BAD_HANDLE, TRUNCATED
        assert tally[8] <= PAYLOAD, "a message longer than the slot payload"
        assert tally[10] == 0, "CORRUPT is not for good"
        if tally[4]:
            assert ring.quarantine != 0, "CORRUPT without the quarantine flag"
        if damaged:
            assert tally[4] == 3 * SLOTS, f"a damaged header was used: {tally}"


@pytest.mark.parametrize("mode", sorted(READ_MODES), ids=sorted(READ_MODES))
@SETTINGS
@given(setup=corruption)
def test_wasm_reader_on_corrupt_ring(mode: str, setup: Damage) -> None:
    _probe(READ_MODES[mode], True, setup, closed=not mode.startswith("try"))


@pytest.mark.parametrize("mode", sorted(WRITE_MODES), ids=sorted(WRITE_MODES))
@SETTINGS
@given(setup=corruption)
def test_wasm_writer_on_corrupt_ring(mode: str, setup: Damage) -> None:
    _probe(WRITE_MODES[mode], False, setup, closed=not mode.startswith("try"))


@SETTINGS
@given(setup=corruption)
def test_host_reader_on_corrupt_ring(setup: Damage) -> None:
    with Mesh() as mesh:
        ring = _setup(mesh, *setup, closed=False)
        reader = mesh.reader("t")
        corrupt = False
        forms = (lambda: reader.try_recv_many(SLOTS), lambda: list(reader.try_recv_packed(SLOTS)),
                 lambda: [m] if (m := reader.try_recv()) is not None else [])
        for i in range(3 * SLOTS):
            try:
                msgs = forms[i % 3]()  # the batch, the packed and the one-message path
            except TunnelClosed:
                assert not corrupt
                continue
            except TunnelCorrupt:
                corrupt = True
                assert ring.quarantine != 0
                continue
            assert not corrupt, "CORRUPT is not for good"
            assert all(len(m) <= PAYLOAD for m in msgs)
        ring.put_u32(L.OFF_CLOSED, 1)
        try:
            assert all(len(m) <= PAYLOAD for m in reader)  # ends: closed and drained
        except TunnelCorrupt:
            assert ring.quarantine != 0


@SETTINGS
@given(setup=corruption)
def test_host_writer_on_corrupt_ring(setup: Damage) -> None:
    with Mesh() as mesh:
        ring = _setup(mesh, *setup, closed=False)
        writer = mesh.writer("t")
        forms = (lambda: writer.try_send_many([b"x" * 8] * 3),
                 lambda: writer.try_send_many(Packed.fixed(b"x" * 24, 8)),
                 lambda: int(writer.try_send(b"x" * 8)))
        for i in range(3 * SLOTS):
            try:
                assert forms[i % 3]() in (0, 1, 2, 3)
            except TunnelClosed:
                assert ring.closed
            except TunnelCorrupt:
                assert ring.quarantine != 0


@pytest.mark.parametrize("host", [False, True], ids=["wasm", "host"])
def test_valid_ring_near_counter_wrap(host: bool) -> None:
    """A healthy ring whose counters cross 2**64 still delivers in order."""
    with Mesh() as mesh:
        ring = _setup(mesh, 2**64 - 3, SLOTS, [], closed=False)
        ring.put_u32(L.OFF_CLOSED, 1)
        if host:
            got = [struct.unpack_from("<Q", m)[0] for m in mesh.reader("t")]
            assert got == list(range(SLOTS))
        else:
            prober = mesh.service("prober", guest("prober", side="read"), reads=["t"])
            call(prober, "configure", READ_MODES["recv"], SLOTS + 1)
            mesh.start()
            assert mesh.wait(30)
            tally = struct.unpack("<11I", prober.linked.memory.read(prober.store, 256, 300))
            assert (tally[0], tally[1], tally[4]) == (SLOTS, 1, 0)
        assert ring.u64(L.OFF_TAIL) == (2**64 - 3 + SLOTS) % 2**64
