"""Per-tunnel wait policies (docs/runtime.md, "Wait policies"): every policy
delivers a stream in order, guest to guest and through the host ends; a
``spin`` end never parks (the ring's park counters stay 0, which a paced
``adaptive`` reader shows are counted); an idle ``park`` end costs no CPU."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from conftest import call, check_messages, guest, message, wait_until
from nanonet import FanIn, InvalidValue, ManifestError, Mesh, State, WaitPolicy
from nanonet.bench.wasm_runs import guest as bundled
from nanonet.manifest.manifest import load_manifest
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(60)
N = 20_000
SINGLE, BATCH = 0, 1  # the guests' ABI-form modes
POLICIES = pytest.mark.parametrize("wait", ["spin", "adaptive", "park"])


def _parks(mesh: Mesh) -> tuple[int, int]:
    ring = mesh.tunnels["t"].ring
    return ring.u64(L.OFF_WRITER_PARKS), ring.u64(L.OFF_READER_PARKS)


def _check_parks(mesh: Mesh, wait: str) -> None:
    """A spinning tunnel's ends never took the park path."""
    if wait == "spin":
        assert _parks(mesh) == (0, 0)


@POLICIES
def test_guest_to_guest_stream_arrives_in_order(wait: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=64, max_payload=40, wait=wait)
        producer = mesh.service("producer", guest("sender", "import", side="write"),
                                writes=["t"])
        checker = mesh.service("checker", guest("receiver", "export"), reads=["t"])
        call(producer, "configure", N, 0, SINGLE, -1)
        call(checker, "configure", 0, SINGLE)
        mesh.start()
        assert mesh.wait(40), "the pair did not finish"
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert (checker.state, checker.exit_code) == (State.STOPPED, N)
        _check_parks(mesh, wait)


@POLICIES
def test_host_writer_to_guest_reader(wait: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=64, max_payload=40, wait=wait)
        checker = mesh.service("checker", guest("receiver", "export"), reads=["t"])
        call(checker, "configure", 0, BATCH)
        writer = mesh.writer("t")
        assert writer.wait is WaitPolicy(wait)
        mesh.start()
        for start in range(0, N, 1000):
            assert writer.send_many([message(i) for i in range(start, start + 1000)],
                                    timeout=30) == 1000
        writer.close()
        assert mesh.wait(30)
        assert (checker.state, checker.exit_code) == (State.STOPPED, N)
        _check_parks(mesh, wait)


@POLICIES
def test_guest_writer_to_host_reader(wait: str) -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=64, max_payload=40, wait=wait)
        producer = mesh.service("producer", guest("sender", "import", side="write"),
                                writes=["t"])
        call(producer, "configure", N, 0, BATCH, -1)
        reader = mesh.reader("t")
        mesh.start()
        got = 0
        while got < N:
            got = check_messages(reader.recv_many(4096, timeout=30), got)
        assert mesh.wait(30)
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert list(reader) == []
        _check_parks(mesh, wait)


@POLICIES
def test_pub_sub_subscribers_get_the_stream_in_order(wait: str) -> None:
    """Two blocking Wasm subscribers of one Wasm publisher, both ends of the
    ring waiting by ``wait``."""
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=64, subscribers=["c0", "c1"], wait=wait)
        prod = mesh.service("producer", bundled("producer.wat"), writes=["stream"])
        call(prod, "configure", N, 64)
        checkers = [mesh.service(f"c{i}", bundled("checker.wat"), reads=["stream"])
                    for i in range(2)]
        for c in checkers:
            call(c, "configure", 64)
        mesh.start()
        assert mesh.wait(40), "the stream did not finish"
        assert prod.exit_code == 0
        for c in checkers:  # the checker returns -1000 on any gap or repeat
            assert (c.exit_code, call(c, "received")) == (0, N)
        ring = mesh.tunnels["stream"].ring
        if wait == "spin":
            assert ring.u64(L.OFF_WRITER_PARKS) == 0


@POLICIES
def test_asyncio_host_ends_stream_in_order(wait: str) -> None:
    """The asyncio forms poll on loop turns by policy (for ever, a while, or
    not at all) before they park in a worker thread."""
    async def pair(mesh: Mesh) -> list[bytes]:
        writer, reader = mesh.writer("t"), mesh.reader("t")

        async def write() -> None:
            for start in range(0, 2000, 100):
                await writer.asend_many([message(i) for i in range(start, start + 100)])
            writer.close()

        task = asyncio.create_task(write())
        got = [m async for m in reader]
        await task
        return got

    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=40, wait=wait)
        got = asyncio.run(asyncio.wait_for(pair(mesh), 30))
        assert check_messages(got, 0) == 2000
        _check_parks(mesh, wait)


def _paced_reader_parks(wait: str, count: int = 40) -> int:
    """A guest reader's parks while a host writer sends ``count`` messages
    2 ms apart (the pacing only leaves the ring empty between them)."""
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=40, wait=wait)
        checker = mesh.service("checker", guest("receiver", "export"), reads=["t"])
        call(checker, "configure", 0, SINGLE)
        writer = mesh.writer("t")
        mesh.start()
        for i in range(count):
            writer.send(message(i), timeout=10)
            time.sleep(0.002)
        writer.close()
        assert mesh.wait(30)
        assert (checker.state, checker.exit_code) == (State.STOPPED, count)
        return _parks(mesh)[1]


def test_a_spinning_reader_never_parks_where_an_adaptive_one_does() -> None:
    assert _paced_reader_parks("adaptive") > 0  # the counter counts this reader's parks
    assert _paced_reader_parks("spin") == 0


def test_a_spinning_host_reader_never_parks() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=40, wait="spin")
        writer, reader = mesh.writer("t"), mesh.reader("t")
        got: list[bytes] = []
        thread = threading.Thread(target=lambda: got.extend(reader))
        thread.start()
        for i in range(40):
            writer.send(message(i), timeout=10)
            time.sleep(0.002)
        writer.close()
        thread.join(30)
        assert not thread.is_alive()
        assert check_messages(got, 0) == 40
        assert _parks(mesh) == (0, 0)


def test_stop_ends_an_idle_spinning_service() -> None:
    """A spinning reader never parks, so nothing wakes it: it sees the close
    stop stores on its next poll (and the epoch at its loop's back edge)."""
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=40, wait="spin")
        checker = mesh.service("checker", guest("receiver", "export"), reads=["t"])
        mesh.writer("t")
        mesh.start()
        wait_until(lambda: mesh.tunnels["t"].ring.u64(L.OFF_EMPTY) > 0, "the reader waits")
        mesh.stop(grace=5)
        assert checker.state is State.STOPPED
        assert mesh.tunnels["t"].ring.u32(L.OFF_READER_WAITING) == 0
        assert _parks(mesh) == (0, 0)


def test_idle_park_ends_cost_no_cpu() -> None:
    """A parked guest reader and a parked host reader, over one idle second:
    the process's CPU time (not a duration of the thing under test) stays
    far below a spinning end's full core."""
    with Mesh() as mesh:
        mesh.tunnel("t", slots=16, max_payload=40, wait="park")
        mesh.tunnel("h", slots=16, max_payload=40, wait="park")
        mesh.service("checker", guest("receiver", "export"), reads=["t"])
        writer, host_writer, reader = mesh.writer("t"), mesh.writer("h"), mesh.reader("h")
        got: list[bytes] = []
        thread = threading.Thread(target=lambda: got.extend(reader))
        thread.start()
        mesh.start()
        rings = [mesh.tunnels[name].ring for name in ("t", "h")]
        wait_until(lambda: all(r.u32(L.OFF_READER_WAITING) == 1 for r in rings),
                   "both readers park")
        cpu0 = time.process_time()
        time.sleep(1.0)  # the idle second the CPU time is counted over
        used = time.process_time() - cpu0
        assert used < 0.3, f"{used:.2f} s of CPU in an idle second"
        host_writer.send(b"12345678", timeout=10)  # a parked end still wakes at once
        host_writer.close()
        writer.close()
        thread.join(30)
        assert got == [b"12345678"]
        assert mesh.wait(30)


def test_a_fan_in_tunnels_policy_reaches_each_writers_ring() -> None:
    with Mesh() as mesh:
        fan = mesh.tunnel("f", writers=["host", "host"], wait=WaitPolicy.PARK)
        assert isinstance(fan, FanIn)
        assert [p.wait for p in fan.parts] == [WaitPolicy.PARK] * 2
        assert {mesh.writer("f").wait, mesh.writer("f").wait} == {WaitPolicy.PARK}


def test_a_policy_that_is_none_of_the_three_is_refused() -> None:
    with Mesh() as mesh, pytest.raises(InvalidValue) as err:
        mesh.tunnel("t", wait="sleepy")
    assert str(err.value) == ("tunnel 't': wait = 'sleepy' is not a wait policy; use one of "
                              "'spin', 'adaptive', 'park'")


MANIFEST = """\
[tunnels.t]
writer = "producer"
reader = "host"
{line}

[services.producer]
wasm = "producer.wat"
"""


def test_the_manifest_sets_a_tunnels_policy(tmp_path: Path) -> None:
    (tmp_path / "producer.wat").write_text(guest("sender", side="write"))
    path = tmp_path / "nanonet.toml"
    path.write_text(MANIFEST.format(line='wait = "spin"'))
    assert load_manifest(path).table.tunnels["t"].wait == "spin"
    path.write_text(MANIFEST.format(line='wait = "spinning"'))
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(err.value).endswith(
        "nanonet.toml:4:1: tunnels.t.wait: must be one of 'spin', 'adaptive' or 'park' "
        "(got \"spinning\"); use one of them")
