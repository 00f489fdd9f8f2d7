"""What a snapshot says of a service beyond its counters: its thread's CPU time (read from
/proc for the thread named nanonet:NAME), its last traps in full (cause, frames with
function and offset) and the mesh's uptime."""

from __future__ import annotations

import threading

from conftest import guest
from nanonet import Mesh
from nanonet.observe.snapshot import SHOWN_TRAPS, take
from nanonet.observe.threadcpu import thread_cpu_seconds


def test_a_trap_in_full_cpu_time_and_uptime() -> None:
    with Mesh() as mesh:
        mesh.tunnel("go", slots=4, max_payload=16)
        boom = mesh.service("boom", guest("trapper"), reads=["go"])
        assert take(mesh).uptime_s is None  # not started yet
        mesh.start()
        running = take(mesh)
        assert running.uptime_s is not None and running.uptime_s >= 0
        assert running.services[0].cpu_seconds is not None  # its thread is alive
        mesh.writer("go").send(b"now", timeout=10)
        assert boom.join(20)
        (svc,) = take(mesh).services
    (trap,) = svc.last_traps
    assert trap["cause"] == "unreachable executed"
    assert trap["frames"][0]["function"] == "boom" and trap["frames"][0]["offset"] > 0
    assert svc.cpu_seconds is None  # its thread ended: its id may be another's now
    assert SHOWN_TRAPS >= 1


def test_cpu_time_grows_with_work_on_that_thread_only() -> None:
    go, done, release = threading.Event(), threading.Event(), threading.Event()

    def spin() -> None:
        go.wait(10)
        total = 0
        for i in range(3_000_000):  # CPU work on this thread
            total += i
        done.set()
        release.wait(10)

    worker = threading.Thread(target=spin, name="nanonet:spin", daemon=True)
    worker.start()
    before = thread_cpu_seconds(worker)
    go.set()
    assert done.wait(60)
    after = thread_cpu_seconds(worker)
    assert before is not None and after is not None and after > before
    release.set()
    worker.join(10)
    assert thread_cpu_seconds(worker) is None
    assert thread_cpu_seconds(None) is None
