"""What a tap writes besides the payload: each message's ring counter as its
packet id, and a time per message that never goes back (the writer's stamp
where the ring holds one, else spread across the batch)."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import call, wait_until
from nanonet import Mesh
from nanonet.observe import Observer, PcapngWriter, read_packets
from nanonet.observe.pcapng import EPB_PACKETID
from nanonet.observe.tapclock import message_times, times_at, times_every
from nanonet.ring import layout as L
from test_observe import SIZE, SRC_GUESTS, _expected

pytestmark = pytest.mark.timeout(120)


def test_packet_ids_and_interfaces_round_trip() -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf, ["a", "b"])
    w.write_many([(b"x", 10, 0, 7), (b"yz", 11, 1, 2**64 - 1), (b"", 12, 0, 8)])
    w.write(b"old", 13)  # no packet id: the option is left out
    got = list(read_packets(io.BytesIO(buf.getvalue())))
    assert [(p.interface, p.data, p.ts_ns, p.packet_id) for p in got] == [
        ("a", b"x", 10, 7), ("b", b"yz", 11, 2**64 - 1), ("a", b"", 12, 8), ("a", b"old", 13, None)]
    assert EPB_PACKETID == 5  # the pcapng spec's epb_packetid


@given(first=st.integers(0, 1 << 40), count=st.integers(1, 3000),
       lo=st.integers(0, 1 << 62), width=st.integers(-(1 << 20), 1 << 30),
       marks=st.dictionaries(st.integers(0, 3000), st.integers(0, 1 << 63), max_size=5))
def test_message_times_never_go_back_and_stay_between_the_looks(
        first: int, count: int, lo: int, width: int, marks: dict[int, int]) -> None:
    hi = lo + width  # a negative width: the wall clock stepped back between the looks
    stamped = {first + k: v for k, v in marks.items()}
    times = message_times(first, count, lo, hi, stamped)
    assert len(times) == count and times == sorted(times)
    assert lo <= times[0] and times[-1] <= max(lo, hi)
    for counter, stamp in stamped.items():  # a stamp inside the bounds is used as is
        if first <= counter < first + count and lo <= stamp <= hi and \
                all(s <= stamp for c, s in stamped.items() if first <= c < counter):
            assert times[counter - first] == stamp


@given(first=st.integers(0, 1 << 40), count=st.integers(1, 3000), step=st.integers(1, 200),
       skip=st.integers(0, 3000), lo=st.integers(0, 1 << 62),
       width=st.integers(-(1 << 20), 1 << 30),
       marks=st.dictionaries(st.integers(0, 3000), st.integers(0, 1 << 63), max_size=5))
def test_a_sampled_run_is_timed_as_each_of_its_counters_alone(
        first: int, count: int, step: int, skip: int, lo: int, width: int,
        marks: dict[int, int]) -> None:
    stamped = {first + k: v for k, v in marks.items()}
    counters = range(first + min(skip, count - 1), first + count, step)
    assert times_every(first, count, lo, lo + width, stamped, counters) == \
        times_at(first, count, lo, lo + width, stamped, counters)


def test_a_batch_without_stamps_is_spread_between_the_looks() -> None:
    assert message_times(10, 4, 100, 200) == [125, 150, 175, 200]
    assert message_times(0, 3, 100, 200, {1: 190, 2: 10**30}) == [145, 190, 200]


def _stamps(mesh: Mesh) -> dict[int, int]:
    """The writer's stamp entries as the run left them: counter -> send time."""
    ring = mesh.tunnels["stream"].ring
    entries = [(ring.u64(L.OFF_STAMPS + i * L.SAMPLE_ENTRY),
                ring.u64(L.OFF_STAMPS + i * L.SAMPLE_ENTRY + 8)) for i in range(L.SAMPLE_ENTRIES)]
    return {c: ns for c, ns in entries if ns}


def test_a_tap_uses_the_writers_stamps_and_numbers_every_message(tmp_path: Path) -> None:
    count, out = 20_000, tmp_path / "stream.pcapng"
    with Mesh(latency=True) as mesh, Observer(mesh) as obs:
        mesh.tunnel("stream", slots=64, max_payload=SIZE)
        prod = mesh.service("producer", SRC_GUESTS / "producer.wat", writes=["stream"])
        check = mesh.service("checker", SRC_GUESTS / "checker.wat", reads=["stream"])
        call(prod, "configure", count, SIZE)
        call(check, "configure", SIZE)
        before = time.time_ns()
        tap = obs.tap("stream", out)
        mesh.start()
        assert mesh.wait(60) and tap.wait(30) and tap.error is None
        after = time.time_ns()
        stamped = _stamps(mesh)
    with open(out, "rb") as f:
        got = list(read_packets(f))
    assert [p.packet_id for p in got] == list(range(count))
    assert all(p.data == _expected(i) for i, p in enumerate(got))
    times = [p.ts_ns for p in got]
    assert times == sorted(times) and before <= times[0] and times[-1] <= after
    assert len(stamped) == L.SAMPLE_ENTRIES  # the last 16 sampled messages
    assert sum(times[c] == ns for c, ns in stamped.items()) >= 1  # the writer's own clock
    tshark = shutil.which("tshark")
    if tshark is not None:
        ids = subprocess.run([tshark, "-r", str(out), "-c", "100", "-T", "fields", "-e",
                              "frame.packet_id"], capture_output=True, text=True, timeout=60,
                             check=True).stdout.split()
        assert ids == [str(i) for i in range(100)]


def _tap_tail_at(mesh: Mesh, counter: int) -> bool:
    return mesh.tunnels["t"].ring.u64(L.OFF_TAP_TAIL) == counter


def test_a_batch_gets_times_spread_across_it() -> None:
    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("t", slots=256, max_payload=16)
        writer, buf = mesh.writer("t"), io.BytesIO()
        before = time.time_ns()
        tap = obs.tap("t", buf, limit=200)
        for batch in range(2):
            writer.send_many([bytes([batch, i]) for i in range(100)], timeout=10)  # one publish
            wait_until(partial(_tap_tail_at, mesh, 100 * (batch + 1)), "the tap copied it")
        assert tap.wait(30) and tap.error is None
        after = time.time_ns()
    got = list(read_packets(io.BytesIO(buf.getvalue())))
    times = [p.ts_ns for p in got]
    assert len(got) == 200 and times == sorted(times)
    assert before <= times[0] and times[-1] <= after
    assert len(set(times[:100])) > 1 and len(set(times[100:])) > 1  # not one copy time
    assert times[99] <= times[100]
