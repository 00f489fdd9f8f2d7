"""wait_any: a service waits on many tunnel ends with one park on its bell
line, and a message (or a close) on any one of them wakes it."""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import guest, wait_until
from nanonet import Mesh, Service, State, TunnelReader, TunnelWriter
from nanonet.observe.threadcpu import thread_cpu_seconds
from nanonet.ring import layout as L
from nanonet.toolchain.build import NEEDS_ZIG, build, has_zig

pytestmark = pytest.mark.timeout(120)
ENDS = 8
IDLE_SECONDS = 2.0


def _merge_mesh(mesh: Mesh, wasm_writers: int, count: int) -> None:
    """Tunnels in0..in7 -> the merger -> out; the first ``wasm_writers`` ends
    are written by tagged senders (added BEFORE the merger: they are built
    again knowing its bell), the rest by the host."""
    for i in range(ENDS):
        mesh.tunnel(f"in{i}", slots=64, max_payload=56)
    mesh.tunnel("out", slots=256, max_payload=56)
    for i in range(wasm_writers):
        sender = mesh.service(f"w{i}", guest("tagged_sender"), writes=[f"in{i}"])
        sender.call("configure", i, count, 16)
    mesh.service("merge", guest("merger"), reads=[f"in{i}" for i in range(ENDS)],
                 writes=["out"])


def _started_merger(mesh: Mesh) -> tuple[list[TunnelWriter], TunnelReader, Service]:
    """The merge mesh, every end written by the host, started: the host's writers,
    its reader of ``out`` and the merger."""
    _merge_mesh(mesh, 0, 0)
    writers = [mesh.writer(f"in{i}") for i in range(ENDS)]
    out = mesh.reader("out")
    mesh.start()
    return writers, out, mesh.services["merge"]


def _tags(out: Iterator[bytes]) -> dict[int, list[int]]:
    got: dict[int, list[int]] = {}
    for msg in out:
        writer, seq = struct.unpack_from("<II", msg)
        got.setdefault(writer, []).append(seq)
    return got


def test_every_message_of_eight_writers_reaches_a_service_waiting_on_all_eight() -> None:
    count = 3000
    with Mesh() as mesh:
        _merge_mesh(mesh, 4, count)
        hosts = [mesh.writer(f"in{i}") for i in range(4, ENDS)]
        out = mesh.reader("out")
        mesh.start()

        def feed() -> None:
            for seq in range(count):
                for k, w in enumerate(hosts):
                    w.send(struct.pack("<II", 4 + k, seq) + bytes(8), timeout=20)
            for w in hosts:
                w.close()

        feeder = threading.Thread(target=feed)
        feeder.start()
        got = _tags(iter(out))
        feeder.join(30)
        assert sorted(got) == list(range(ENDS))
        assert all(got[w] == list(range(count)) for w in got), "a writer's order broke"
        assert mesh.wait(30)
        merge = mesh.services["merge"]
        assert (merge.state, merge.exit_code) == (State.STOPPED, 0)


def test_an_idle_service_waiting_on_eight_ends_sleeps_and_any_one_wakes_it() -> None:
    with Mesh() as mesh:
        writers, out, merge = _started_merger(mesh)
        ring = mesh.tunnels["in5"].ring
        wait_until(lambda: ring.u32(L.OFF_READER_WAITING) == 1, "the merger parks")
        cpu0, t0 = thread_cpu_seconds(merge.thread), time.monotonic()
        time.sleep(IDLE_SECONDS)  # the idle window its CPU time is read over
        cpu1, seconds = thread_cpu_seconds(merge.thread), time.monotonic() - t0
        assert cpu0 is not None and cpu1 is not None
        assert (cpu1 - cpu0) / seconds < 0.01, f"{cpu1 - cpu0:.4f} s of CPU in {seconds:.1f} s"
        parks = mesh.bells.parks("merge")
        assert parks is not None and 1 <= parks < 40  # one park per idle spell, backed off

        for k in (5, 0, 7):  # each single end wakes it, one after the other
            writers[k].send(struct.pack("<II", k, 0) + bytes(8), timeout=10)
            assert struct.unpack_from("<II", out.recv(timeout=10)) == (k, 0)
        assert (mesh.bells.parks("merge") or 0) > parks  # it parked again in between
        for w in writers:
            w.close()
        assert mesh.wait(30)
        assert (merge.state, merge.exit_code) == (State.STOPPED, 0)


def test_a_stop_wakes_a_service_parked_on_many_ends_and_it_returns() -> None:
    with Mesh() as mesh:
        _merge_mesh(mesh, 0, 0)
        mesh.start()
        ring = mesh.tunnels["in0"].ring
        wait_until(lambda: ring.u32(L.OFF_READER_WAITING) == 1, "the merger parks")
        mesh.stop(grace=10)
        merge = mesh.services["merge"]
        assert merge.outcome is not None and merge.outcome.kind == "result"


def test_wait_any_times_out_with_again() -> None:
    with Mesh() as mesh:
        _merge_mesh(mesh, 0, 0)
        mesh.services["merge"].call("configure", ENDS, 120)
        mesh.start()
        assert mesh.wait(30)
        merge = mesh.services["merge"]
        assert merge.exit_code == L.Status.AGAIN
        assert merge.call("waits") == 1


def test_a_waiter_added_before_its_wasm_writers_is_rung_by_them() -> None:
    count = 500
    with Mesh() as mesh:
        for i in range(2):
            mesh.tunnel(f"in{i}", slots=8, max_payload=56)
        mesh.tunnel("out", slots=64, max_payload=56)
        merge = mesh.service("merge", guest("merger"), reads=["in0", "in1"], writes=["out"])
        merge.call("configure", 2, -1)
        for i in range(2):
            sender = mesh.service(f"w{i}", guest("tagged_sender"), writes=[f"in{i}"])
            sender.call("configure", i, count, 24)
        out = mesh.reader("out")
        mesh.start()
        got = _tags(iter(out))
        assert got == {0: list(range(count)), 1: list(range(count))}
        assert mesh.wait(30)
        assert merge.exit_code == 0


def test_a_waiter_cannot_join_once_its_peers_run() -> None:
    from nanonet import LoadError

    with Mesh() as mesh:
        mesh.tunnel("in0", slots=8, max_payload=56)
        mesh.tunnel("out", slots=8, max_payload=56)
        mesh.service("w0", guest("tagged_sender"), writes=["in0"]).call("configure", 0, 0, 8)
        mesh.start()
        assert mesh.wait(30)
        with pytest.raises(LoadError, match=r"add the waiting service before mesh\.start"):
            mesh.service("merge", guest("merger"), reads=["in0"], writes=["out"])


def test_a_waiter_restarted_after_a_trap_is_still_woken_by_every_end() -> None:
    from nanonet import Restart, RestartPolicy

    with Mesh() as mesh:
        for i in range(ENDS):
            mesh.tunnel(f"in{i}", slots=16, max_payload=56)
        mesh.tunnel("out", slots=256, max_payload=56)
        policy = RestartPolicy(Restart.ON_FAILURE, initial_ms=1, dead_letter_after=1)
        merge = mesh.service("merge", guest("merger"), reads=[f"in{i}" for i in range(ENDS)],
                             writes=["out"], restart=policy)
        writers = [mesh.writer(f"in{i}") for i in range(ENDS)]
        out = mesh.reader("out")
        mesh.start()
        writers[3].send(struct.pack("<II", 0xFFFFFFFF, 0) + bytes(8), timeout=10)  # poison
        wait_until(lambda: merge.restarts >= 2, "the merger restarts, twice")
        ring = mesh.tunnels["in6"].ring
        wait_until(lambda: ring.u32(L.OFF_READER_WAITING) == 1, "the new instance parks")
        for k in range(ENDS):
            writers[k].send(struct.pack("<II", k, 1) + bytes(8), timeout=10)
        got = sorted(struct.unpack_from("<II", out.recv(timeout=10)) for _ in range(ENDS))
        assert got == [(k, 1) for k in range(ENDS)]
        assert [r.sequence for r in merge.dead_letters] == [0]


def test_an_upgrade_wakes_a_service_parked_on_many_ends_and_it_yields() -> None:
    with Mesh() as mesh:
        writers, out, merge = _started_merger(mesh)
        wait_until(lambda: merge.parked, "the merger parks on its bell")
        outcome = mesh.upgrade("merge", guest("merger") + "\n;; version 2\n")
        assert outcome.exactly_once and not outcome.by_epoch, outcome.describe()
        writers[2].send(struct.pack("<II", 2, 7) + bytes(8), timeout=10)
        assert struct.unpack_from("<II", out.recv(timeout=10)) == (2, 7)


C_MERGE = r"""
#include "nanonet.h"
static char buf[256];
int32_t run(void) {
  int32_t set[2] = {NN_TUNNEL("left"), NN_TUNNEL("right")}, out = NN_TUNNEL("out");
  int32_t alive = 2;
  while (alive > 0) {
    int32_t ready = nn_wait_any(set, (uint32_t)alive, NN_FOREVER);
    if (ready < 0) return ready;
    for (int32_t i = alive - 1; i >= 0; i--) {
      if (!NN_READY(ready, i)) continue;
      int32_t n;
      while ((n = nn_try_recv(set[i], buf, sizeof buf)) >= 0)
        if (nn_send(out, buf, (size_t)n) < 0) return -100;
      if (n == NN_CLOSED) set[i] = set[--alive];
      else if (n != NN_AGAIN) return n;
    }
  }
  return nn_close(out);
}
"""


@pytest.mark.skipif(not has_zig(), reason=NEEDS_ZIG)
def test_a_c_guest_waits_on_two_ends_with_the_header(tmp_path: Path) -> None:
    (tmp_path / "merge.c").write_text(C_MERGE)
    with Mesh() as mesh:
        for name in ("left", "right", "out"):
            mesh.tunnel(name, slots=16, max_payload=56)
        mesh.service("merge", build(tmp_path / "merge.c"), reads=["left", "right"],
                     writes=["out"])
        left, right, out = mesh.writer("left"), mesh.writer("right"), mesh.reader("out")
        mesh.start()
        got: list[bytes] = []
        for i in range(50):
            (left if i % 3 else right).send(b"m%d" % i, timeout=10)
            got.append(out.recv(timeout=10))
        left.close()
        right.close()
        assert got == [b"m%d" % i for i in range(50)]
        assert mesh.wait(30) and mesh.services["merge"].exit_code == 0


@pytest.mark.parametrize("reader", ["host", "wasm"])
def test_a_writer_waits_for_room_with_wait_any_and_a_reader_wakes_it(reader: str) -> None:
    count = 2000
    with Mesh() as mesh:
        mesh.tunnel("t", slots=8, max_payload=56)
        mesh.tunnel("out", slots=8, max_payload=56)
        sender = mesh.service("s", guest("room_waiter"), writes=["t"])
        sender.call("configure", count)
        if reader == "wasm":  # its adapter's commit rings the writer's bell
            mesh.service("r", guest("batch_relay"), reads=["t"], writes=["out"])
        out = mesh.reader("out" if reader == "wasm" else "t")
        mesh.start()
        ring = mesh.tunnels["t"].ring
        wait_until(lambda: ring.u32(L.OFF_WRITER_WAITING) == 1, "the writer parks for room")
        got = [struct.unpack_from("<II", m)[1] for m in out]
        assert got == list(range(count))
        assert mesh.wait(30) and sender.exit_code == 0
        assert int(sender.call("waits")) > 0 and (mesh.bells.parks("s") or 0) > 0
