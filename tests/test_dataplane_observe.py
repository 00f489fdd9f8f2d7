"""The data plane's part of observability: latency samples and the tap cursor."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import call, guest, wait_until
from nanonet import Mesh
from nanonet.observe.latency import LatencySampler
from nanonet.ring import layout as L

COUNT = 50_000


def _latencies(u64: Callable[[int], int]) -> list[tuple[int, int]]:
    """The latency sample table, read through ``RingMemory.u64``."""
    out = []
    for i in range(L.SAMPLE_ENTRIES):
        base = L.OFF_LATENCIES + i * L.SAMPLE_ENTRY
        out.append((u64(base), u64(base + 8)))
    return out


@pytest.mark.timeout(60)
def test_sampling_adapters_record_latencies_of_sampled_messages() -> None:
    with Mesh(latency=True) as mesh:
        mesh.tunnel("t", slots=256, max_payload=32)
        producer = mesh.service("p", guest("sender", side="write"), writes=["t"])
        call(producer, "configure", COUNT, 16, 1, -1)
        checker = mesh.service("c", guest("receiver"), reads=["t"])
        call(checker, "configure", 16, 1)
        mesh.start()
        assert mesh.wait(30)
        assert checker.exit_code == COUNT  # sampling changes nothing that is delivered
        samples = [(n, ns) for n, ns in _latencies(mesh.tunnels["t"].ring.u64) if ns]
        assert samples, "no latency sample was recorded"
        for n, ns in samples:
            assert n % (L.SAMPLE_MASK + 1) == 0 and n < COUNT
            assert 0 < ns < 60 * 10**9  # a latency, in nanoseconds
        sampler = LatencySampler(mesh.tunnels["t"].ring)  # what observers read
        assert sampler.poll() and (sampler.percentile(50) or 0) > 0


def test_adapters_without_sampling_leave_the_sample_lines_alone() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=256, max_payload=32)
        producer = mesh.service("p", guest("sender", side="write"), writes=["t"])
        call(producer, "configure", 5000, 16, 1, -1)
        checker = mesh.service("c", guest("receiver"), reads=["t"])
        call(checker, "configure", 16, 1)
        mesh.start()
        assert mesh.wait(30)
        ring = mesh.tunnels["t"].ring
        assert all(ring.u64(off) == 0 for off in range(L.OFF_STAMPS, L.OFF_LATENCIES + 256, 8))


@pytest.mark.timeout(60)
def test_a_lossless_tap_holds_the_writer_back_until_it_moves() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=16, max_payload=32)
        ring = tunnel.ring
        ring.put_u64(L.OFF_TAP_TAIL, 0)
        ring.put_u32(L.OFF_TAP_MODE, 1)
        producer = mesh.service("p", guest("sender", side="write"), writes=["t"])
        call(producer, "configure", 100, 16, 0, -1)
        reader = mesh.reader("t")
        mesh.start()
        got: list[bytes] = []
        while len(got) < 16:  # the reader drains; the tap has not moved
            got += reader.recv_many(timeout=10)
        wait_until(lambda: ring.u64(L.OFF_HEAD) == 16, "the writer to fill the ring")
        assert ring.u64(L.OFF_HEAD) == 16 and producer.running  # held back by the tap
        ring.put_u64(L.OFF_TAP_TAIL, 16)  # the tap copies those out...
        tunnel.control.notify_tail()  # ...and wakes the writer
        while len(got) < 32:
            got += reader.recv_many(timeout=10)
        wait_until(lambda: ring.u64(L.OFF_HEAD) == 32, "the writer to fill the ring again")
        assert ring.u64(L.OFF_HEAD) == 32  # held back again: the tap is at 16
        ring.put_u32(L.OFF_TAP_MODE, 0)  # detach: the writer ignores the cursor again
        tunnel.control.notify_tail()
        while len(got) < 100:
            got += reader.recv_many(timeout=10)
        assert mesh.wait(10) and producer.exit_code == 0


@pytest.mark.timeout(60)
def test_a_lossless_tap_holds_a_host_writer_back_too() -> None:
    with Mesh() as mesh:
        tunnel = mesh.tunnel("t", slots=8, max_payload=8)
        ring = tunnel.ring
        ring.put_u64(L.OFF_TAP_TAIL, 0)
        ring.put_u32(L.OFF_TAP_MODE, 1)
        writer, reader = mesh.writer("t"), mesh.reader("t")
        assert writer.try_send_many([b"x"] * 20) == 8
        assert len(reader.try_recv_many()) == 8  # the reader is done with them...
        assert writer.try_send_many([b"y"]) == 0  # ...but the tap is not
        ring.put_u64(L.OFF_TAP_TAIL, 8)
        assert writer.try_send_many([b"y"] * 20) == 8
