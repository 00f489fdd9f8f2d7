"""Pub-sub tunnels: one Wasm writer, several subscribers, each at its own pace.

Every sequence number is checked: blocking subscribers see each once, in
order; a lossy one sees an in-order subset and its missed count makes up
the rest, and nothing waits for it (the stream ends while it is paused).
``NANONET_STRESS_SCALE`` multiplies the message count of the big runs (10**6).
"""

from __future__ import annotations

import os
import struct
import threading

import pytest

from conftest import call, guest, wait_until
from nanonet import Mesh, Service, State
from nanonet.bench.wasm_runs import guest as bundled
from nanonet.errors import EndpointTaken, NanonetError, TunnelClosed, TunnelCorrupt
from nanonet.ring import layout as L
from nanonet.ring.subscriber import TunnelSubscriber

N = int(10**6 * float(os.environ.get("NANONET_STRESS_SCALE", "1")))
SIZE = 64


def _producer(mesh: Mesh, count: int) -> Service:
    prod = mesh.service("producer", bundled("producer.wat"), writes=["stream"])
    call(prod, "configure", count, SIZE)
    return prod


def _checker(mesh: Mesh, name: str) -> Service:
    svc = mesh.service(name, bundled("checker.wat"), reads=["stream"])
    call(svc, "configure", SIZE)
    return svc


def _seqs(msgs: list[bytes]) -> list[int]:
    return [struct.unpack_from("<q", m)[0] for m in msgs]


@pytest.mark.timeout(120)
def test_four_blocking_subscribers_each_see_every_message_in_order() -> None:
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=256, max_payload=SIZE,
                    subscribers=["c0", "c1", "c2", "c3"])
        prod = _producer(mesh, N)
        checkers = [_checker(mesh, f"c{i}") for i in range(4)]
        mesh.start()
        assert mesh.wait(100), "the stream did not finish"
        assert mesh.traps == []
        assert prod.exit_code == 0
        for c in checkers:  # the checker returns -1000 on any gap or repeat
            assert (c.state, c.exit_code, call(c, "received")) == (State.STOPPED, 0, N)
        stats = mesh.statistics()["stream"]
        assert stats.sent == N and [s.received for s in stats.subscribers] == [N] * 4


@pytest.mark.timeout(120)
def test_a_paused_lossy_subscriber_holds_nobody_back_and_counts_what_it_missed() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=256, max_payload=SIZE, subscribers=["c0", "c1", "c2"])
        prod = _producer(mesh, N)
        checkers = [_checker(mesh, f"c{i}") for i in range(3)]
        lossy = mesh.subscribe("stream", policy="lossy")
        mesh.start()
        # the lossy subscriber reads nothing until the others are done: the
        # stream finishing at all shows the writer never waited for it
        assert mesh.wait(100), "the writer waited for the paused lossy subscriber"
        assert [c.exit_code for c in checkers] == [0, 0, 0] and prod.exit_code == 0
        got = _seqs(list(lossy))
        assert got == sorted(set(got)) and got[-1] == N - 1
        assert len(got) + lossy.missed == N
        assert len(got) == t.geometry.lossy_window  # it resumed at the oldest safe message
        lines = {s.line: s for s in mesh.statistics()["stream"].subscribers}
        assert lines[lossy.line].missed == lossy.missed
        assert lines[lossy.line].policy == "lossy"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", [0, 1], ids=["recv", "recv_batch"])
def test_a_slow_lossy_wasm_subscriber_sees_an_in_order_subset(mode: int) -> None:
    count = max(N // 10, 10**5)
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=SIZE,
                    subscribers={"c0": "block", "slow": "lossy"})
        _producer(mesh, count)
        checker = _checker(mesh, "c0")
        slow = mesh.service("slow", guest("lossy_checker"), reads=["stream"])
        call(slow, "configure", mode, 20_000)
        mesh.start()
        assert mesh.wait(100)
        assert checker.exit_code == 0 and call(checker, "received") == count
        assert slow.exit_code == 0, slow.exit_code  # -1000: out of order
        got, missed = call(slow, "received"), call(slow, "missed")
        assert isinstance(got, int) and isinstance(missed, int)
        assert missed > 0 and got + missed == count


@pytest.mark.timeout(60)
def test_a_late_subscriber_starts_at_the_newest_message_or_history_back() -> None:
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=1024, max_payload=SIZE, max_subscribers=4)
        first = mesh.subscribe("stream")  # blocking: the writer stops a ring ahead of it
        _producer(mesh, 10_000)
        mesh.start()
        taken: list[bytes] = []
        while len(taken) < 500:  # the writer publishes in steps: a receive may get fewer
            taken += first.recv_many(500 - len(taken), timeout=20)
        assert _seqs(taken) == list(range(500))
        wait_until(lambda: first.lag() == 1024, "the writer filling the ring")
        head = first.ring.head()
        late = mesh.subscribe("stream", history=10)
        newest = mesh.subscribe("stream")
        got = _read_all([first, late, newest])  # all blocking: read side by side
        assert got[0] == list(range(500, 10_000))
        assert got[1] == list(range(head - 10, 10_000))
        assert got[2] == list(range(head, 10_000))


def _read_all(subs: list[TunnelSubscriber]) -> list[list[int]]:
    """Every message of each subscriber until the tunnel closes, one thread each."""
    out: list[list[int]] = [[] for _ in subs]

    def drain(i: int) -> None:
        out[i] = _seqs(list(subs[i]))

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(subs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads)
    return out


@pytest.mark.timeout(60)
def test_a_blocking_subscriber_that_leaves_releases_the_writer() -> None:
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=SIZE, max_subscribers=1)
        held = mesh.subscribe("stream")
        prod = _producer(mesh, 5_000)
        mesh.start()
        wait_until(lambda: mesh.statistics()["stream"].writer_parks > 0, "the writer parking")
        with pytest.raises(EndpointTaken, match="no free subscriber line"):
            mesh.subscribe("stream")
        held.close()  # the line is free: the writer ignores it and runs to the end
        assert mesh.wait(30) and prod.exit_code == 0
        again = mesh.subscribe("stream", history=5)
        assert _seqs(list(again)) == list(range(4_995, 5_000))


@pytest.mark.timeout(60)
def test_a_corrupt_blocking_cursor_quarantines_the_ring() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=64, max_payload=SIZE, max_subscribers=2)
        sub = mesh.subscribe("stream")
        prod = _producer(mesh, 100_000)
        mesh.start()
        sub.recv_many(10, timeout=20)
        # a hostile subscriber claims to be far ahead of the writer
        t.ring.put_u64(t.geometry.sub_line(sub.line) + L.SUB_TAIL, 1 << 62)
        assert mesh.wait(30)
        assert prod.exit_code == -100  # its send_batch returned CORRUPT
        assert t.ring.quarantine == L.Quarantine.BAD_COUNTERS
        with pytest.raises(TunnelCorrupt):
            sub.recv_many(10, timeout=5)


@pytest.mark.timeout(60)
def test_the_writer_ignores_a_free_line_whatever_it_holds() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=64, max_payload=SIZE, subscribers=["c0"])
        for line in range(1, t.geometry.subscribers):  # garbage in every free line
            at = t.geometry.sub_line(line)
            t.ring.put_u64(at + L.SUB_TAIL, 0xDEAD_BEEF_DEAD_BEEF)
        _producer(mesh, 20_000)
        checker = _checker(mesh, "c0")
        mesh.start()
        assert mesh.wait(30) and checker.exit_code == 0 and t.ring.quarantine == 0


@pytest.mark.timeout(60)
def test_a_lossy_subscriber_quarantines_a_head_that_went_back() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=64, max_payload=SIZE, max_subscribers=1)
        lossy = mesh.subscribe("stream", policy="lossy", history=0)
        t.ring.put_u64(t.geometry.sub_line(lossy.line) + L.SUB_TAIL, 0)
        lossy2_pos = 1000  # the subscriber's cursor is ahead of head (0): corrupt
        lossy._pos = lossy2_pos
        with pytest.raises(TunnelCorrupt, match="head=0"):
            lossy.try_recv_many()
        assert t.ring.quarantine == L.Quarantine.BAD_COUNTERS


@pytest.mark.timeout(60)
def test_an_adapter_refuses_a_ring_whose_subscriber_count_changed() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=64, max_payload=SIZE, subscribers=["c0"])
        t.ring.put_u32(L.OFF_SUBSCRIBERS, 63)  # lines the adapter was not built for
        checker = _checker(mesh, "c0")
        mesh.start()
        assert mesh.wait(30)
        assert checker.exit_code == L.Status.CORRUPT
        assert t.ring.quarantine == L.Quarantine.BAD_HEADER


def test_single_reader_rings_keep_version_1_and_pubsub_rings_say_2() -> None:
    with Mesh() as mesh:
        plain = mesh.tunnel("plain", slots=64, max_payload=SIZE)
        ps = mesh.tunnel("ps", slots=64, max_payload=SIZE, subscribers=["a"])
        assert plain.ring.u32(L.OFF_VERSION) == 1 and plain.geometry.subscribers == 0
        assert ps.ring.u32(L.OFF_VERSION) == L.VERSION_PUBSUB
        assert ps.ring.u32(L.OFF_SUBSCRIBERS) == ps.geometry.subscribers == 5
        assert ps.ring.u32(L.OFF_SUB_LINES) == ps.geometry.sub_lines
        assert ps.geometry.sub_lines >= L.HEADER_SIZE + 64 * ps.geometry.slot_size
        assert ps.geometry.sub_lines % L.CACHE_LINE == 0
        with pytest.raises(NanonetError, match="subscribe"):
            mesh.reader("ps")
        with pytest.raises(NanonetError, match="single-reader"):
            mesh.subscribe("plain")


def test_only_declared_services_subscribe() -> None:
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=SIZE, subscribers=["c0"])
        with pytest.raises(EndpointTaken, match="not one of its subscribers"):
            _checker(mesh, "stranger")


@pytest.mark.timeout(60)
def test_lag_and_missed_of_each_subscriber_reach_the_snapshot_and_metrics() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from nanonet.observe.metrics import exposition, registry
    from nanonet.observe.snapshot import take
    from nanonet.observe.topmodel import tunnel_details

    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=SIZE, subscribers=["c0"])
        _producer(mesh, 1_000)
        _checker(mesh, "c0")
        lossy = mesh.subscribe("stream", policy="lossy")
        mesh.start()
        assert mesh.wait(30)
        snap = take(mesh)
        (tunnel,) = snap.tunnels
        subs = {s["owner"]: s for s in tunnel.subscribers}
        assert subs["c0"]["lag"] == 0 and subs["c0"]["policy"] == "block"
        assert subs["<host>"]["lag"] == 1_000 and subs["<host>"]["policy"] == "lossy"
        assert tunnel.received == 0 and tunnel.fill == 1_000  # its slowest subscriber
        assert len(list(lossy)) == 48 and lossy.missed == 1_000 - 48
        text, _ = exposition(registry(lambda: take(mesh)), None)
        found = {(s.name, s.labels["subscriber"]): s.value
                 for fam in text_string_to_metric_families(text.decode())
                 for s in fam.samples if s.name.startswith("nanonet_subscriber")}
        assert found[("nanonet_subscriber_missed_messages_total", "<host>")] == 952
        assert found[("nanonet_subscriber_lag_messages", "c0")] == 0
        lines = tunnel_details(take(mesh).to_json(), "stream")
        assert f"  sub {lossy.line:<3} <host> (lossy): lag 0, received 1,000, missed 952" in lines


def test_a_host_subscriber_of_a_closed_mesh_reads_a_closed_tunnel() -> None:
    with Mesh() as mesh:
        mesh.tunnel("stream", slots=64, max_payload=SIZE, max_subscribers=2)
        sub = mesh.subscribe("stream")
    with pytest.raises(TunnelClosed, match="mesh was closed"):
        sub.try_recv_many()
    assert sub.missed == 0 and sub.lag() == 0  # its line reads a released ring's zeros
    sub.close()


@pytest.mark.timeout(60)
def test_every_parked_subscriber_is_woken_by_the_writer() -> None:
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=1024, max_payload=SIZE,
                        subscribers=["c0", "c1", "c2", "c3"])
        checkers = [_checker(mesh, f"c{i}") for i in range(4)]
        mesh.start()
        # idle subscribers park: reader_waiting counts them
        wait_until(lambda: t.ring.u32(L.OFF_READER_WAITING) == 4, "four parked subscribers")
        # starts at once (the mesh runs), with its default count of 10**6
        mesh.service("producer", bundled("producer.wat"), writes=["stream"])
        assert mesh.wait(60)
        assert [(c.exit_code, call(c, "received")) for c in checkers] == [(0, 10**6)] * 4
        assert all(s.received == 10**6 for s in t.statistics().subscribers)
        assert t.ring.u32(L.OFF_READER_WAITING) == 0


def test_a_pubsub_writer_wakes_all_parked_subscribers_at_once() -> None:
    from nanonet.ring.adapter import Direction, EndSpec, adapter_wat
    from nanonet.ring.layout import Geometry

    single = adapter_wat([EndSpec("t", Direction.WRITE, Geometry.for_payload(64, 8))])
    pubsub = adapter_wat([EndSpec("t", Direction.WRITE, Geometry.for_payload(64, 8, 2))])

    def publish(text: str) -> str:
        return text[text.index("(func $publish1"):text.index("(func $put1")]

    wake = "(memory.atomic.notify 1 offset=64 (i32.const 0) (i32.const {}))"
    assert wake.format(1) in publish(single)  # one reader
    assert wake.format(-1) in publish(pubsub)  # every parked subscriber


@pytest.mark.timeout(60)
def test_a_lossless_tap_on_a_pubsub_tunnel_sees_every_message() -> None:
    import io

    from nanonet.observe import Observer, read_packets

    with Mesh() as mesh, Observer(mesh) as obs:
        mesh.tunnel("stream", slots=64, max_payload=SIZE, subscribers=["c0"])
        buf = io.BytesIO()
        tap = obs.tap("stream", buf)  # attached before the writer runs: it holds the writer
        prod = _producer(mesh, 20_000)
        checker = _checker(mesh, "c0")
        mesh.start()
        assert mesh.wait(30) and prod.exit_code == checker.exit_code == 0
        wait_until(lambda: mesh.tunnels["stream"].ring.u64(L.OFF_TAP_TAIL) == 20_000,
                   "the tap copied every message")
        obs.stop_tap(tap)
        assert tap.error is None
    got = list(read_packets(io.BytesIO(buf.getvalue())))
    assert [p.packet_id for p in got] == list(range(20_000))
    assert _seqs([p.data for p in got]) == list(range(20_000))


@pytest.mark.timeout(120)
def test_the_pubsub_bench_run_delivers_every_message_to_every_subscriber() -> None:
    from nanonet.bench.pubsub_bench import pubsub_run

    figures = pubsub_run(5_000)  # raises BenchError if a subscriber missed one
    assert figures["delivered"] == 4 * 5_000


@pytest.mark.timeout(120)
def test_a_lossy_host_subscriber_takes_packed_batches_and_counts_what_it_missed() -> None:
    """``recv_packed``: one buffer per batch, the same messages and the same
    missed count as ``recv_many`` would give (a paused lossy line)."""
    count = max(N // 10, 10**5)
    with Mesh() as mesh:
        t = mesh.tunnel("stream", slots=256, max_payload=SIZE, subscribers=["c0"])
        _producer(mesh, count)
        checker = _checker(mesh, "c0")
        lossy = mesh.subscribe("stream", policy="lossy")
        mesh.start()
        assert mesh.wait(100) and checker.exit_code == 0
        got: list[bytes] = []
        while True:
            try:
                got += list(lossy.recv_packed(timeout=10))
            except TunnelClosed:
                break
        seqs = _seqs(got)
        assert seqs == list(range(count - t.geometry.lossy_window, count))
        assert len(got) + lossy.missed == count and all(len(m) == SIZE for m in got)
