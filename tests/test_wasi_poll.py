"""A guest sleeping in WASI poll_oneoff is still held by its deadline and by stop.

The guest below asks poll_oneoff for one clock subscription (a relative or an
absolute monotonic timeout, set by ``configure``) and returns its errno; it
leaves the event count at 128 and the event at 64 for the test to read.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import nanonet
from conftest import call, wait_until
from nanonet import Limits, Mesh, Service, State
from nanonet.runtime import wasipoll as wp
from nanonet.runtime.watchdog import Watchdog

pytestmark = pytest.mark.timeout(120)
HOUR_NS = 3600 * 10**9

SLEEPER = """(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock (param i32 i64 i32) (result i32)))
  (memory (export "memory") 1)
  (global $timeout (mut i64) (i64.const 3600000000000))
  (global $flags (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 1))
  (func (export "configure") (param i64 i32 i32)
    (global.set $timeout (local.get 0)) (global.set $flags (local.get 1))
    (global.set $count (local.get 2)))
  (func (export "now") (result i64)
    (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 200)))
    (i64.load (i32.const 200)))
  (func (export "run") (result i32)
    (i64.store (i32.const 0) (i64.const 0x5eed))   ;; userdata
    (i32.store8 (i32.const 8) (i32.const 0))       ;; a clock subscription
    (i32.store (i32.const 16) (i32.const 1))       ;; the monotonic clock
    (i64.store (i32.const 24) (global.get $timeout))
    (i32.store16 (i32.const 40) (global.get $flags))
    (i32.store (i32.const 128) (i32.const -1))
    (call $poll (i32.const 0) (i32.const 64) (global.get $count) (i32.const 128))))
"""


def _sleeper(mesh: Mesh, limits: Limits | None = None) -> Service:
    return mesh.service("sleeper", SLEEPER, grants=["clock"], limits=limits)


def _memory(svc: Service) -> bytes:
    mem = svc.linked.memory
    return bytes(mem.read(svc.store, 0, 256))


def test_a_deadline_ends_an_hour_long_poll_oneoff_with_the_deadline_cause() -> None:
    with Mesh() as mesh:
        svc = _sleeper(mesh, Limits(deadline_ms=100))
        mesh.start()
        wait_until(lambda: not svc.running, "the sleeper traps", timeout=30)
        assert svc.state is State.TRAPPED
        assert svc.error is not None
        assert svc.error.cause == "deadline exceeded: ran 100 ms without touching a tunnel"


def test_stop_ends_an_hour_long_poll_oneoff_without_a_deadline() -> None:
    mesh = Mesh()
    svc = _sleeper(mesh)
    mesh.start()
    wait_until(lambda: svc.running, "the sleeper runs")
    stopper = threading.Thread(target=mesh.stop, kwargs={"grace": 0.05}, daemon=True)
    stopper.start()
    stopper.join(30)
    assert not stopper.is_alive(), "Mesh.stop did not return"
    assert svc.state is State.STOPPED and mesh.traps == []


def test_nanonet_run_timeout_ends_a_service_sleeping_in_poll_oneoff(tmp_path: Path) -> None:
    (tmp_path / "sleeper.wat").write_text(SLEEPER)
    (tmp_path / "nanonet.toml").write_text(
        '[tunnels.out]\nwriter = "sleeper"\nreader = "host"\n\n'
        '[services.sleeper]\nsource = "sleeper.wat"\n\n'
        "[services.sleeper.grants]\nclock = true\n")
    env = {**os.environ, "PYTHONPATH": str(Path(nanonet.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "nanonet.cli", "run",
                           str(tmp_path / "nanonet.toml"), "--timeout", "2"],
                          capture_output=True, text=True, timeout=90, env=env)
    assert done.returncode == 0, done.stderr
    assert "stopped at the timeout (2 s)" in done.stdout


def test_a_short_sleep_returns_zero_with_its_clock_event() -> None:
    with Mesh() as mesh:
        svc = _sleeper(mesh)
        call(svc, "configure", 3_000_000, 0, 1)
        mesh.start()
        assert mesh.wait(30)
        assert (svc.state, svc.exit_code) == (State.STOPPED, 0)
        mem = _memory(svc)
        assert struct.unpack_from("<I", mem, 128)[0] == 1
        userdata, error, kind = struct.unpack_from("<QHB", mem, 64)
        assert (userdata, error, kind) == (0x5EED, 0, wp.EVENT_CLOCK)


def test_an_absolute_monotonic_timeout_is_read_on_the_guests_clock() -> None:
    with Mesh() as mesh:
        svc = _sleeper(mesh)
        now = call(svc, "now")
        assert isinstance(now, int)
        call(svc, "configure", now + 5_000_000, wp.ABSTIME, 1)
        mesh.start()
        assert mesh.wait(30)
        assert (svc.state, svc.exit_code) == (State.STOPPED, 0)
        after = call(svc, "now")
        assert isinstance(after, int) and after >= now + 5_000_000


def test_no_subscription_is_einval_not_a_sleep_for_ever() -> None:
    with Mesh() as mesh:
        svc = _sleeper(mesh)
        call(svc, "configure", HOUR_NS, 0, 0)
        mesh.start()
        assert mesh.wait(30)
        assert svc.exit_code == wp.ERRNO_INVAL


def _sub(tag: int, target: int, timeout: int = 0, flags: int = 0, userdata: int = 7) -> bytes:
    return struct.pack("<QB7xIxxxxQQH6x", userdata, tag, target, timeout, 0, flags)


def _plan(*subs: bytes, now: int = 0) -> wp.Plan:
    parsed = wp.parse(b"".join(subs), len(subs))
    return wp.plan(parsed, wp.Clocks(origin_ns=1000), start_ns=0, now_ns=now)


def test_the_standard_streams_are_ready_at_once_and_other_fds_are_an_errno() -> None:
    ready = _plan(_sub(wp.EVENT_CLOCK, wp.CLOCK_MONOTONIC, HOUR_NS),
                  _sub(wp.EVENT_FD_WRITE, 1, userdata=9))
    assert ready.errno == 0 and ready.wake_ns is None
    assert ready.events == (wp.event(9, wp.EVENT_FD_WRITE, nbytes=1),)
    assert _plan(_sub(wp.EVENT_FD_READ, 0)).events == (wp.event(7, wp.EVENT_FD_READ, nbytes=1),)
    assert _plan(_sub(wp.EVENT_FD_READ, 1)).errno == wp.ERRNO_BADF
    assert _plan(_sub(wp.EVENT_FD_WRITE, 0)).errno == wp.ERRNO_BADF
    assert _plan(_sub(wp.EVENT_FD_READ, 3)).errno == wp.ERRNO_NOTSUP
    assert _plan(_sub(9, 0)).errno == wp.ERRNO_INVAL
    assert _plan(_sub(wp.EVENT_CLOCK, 2, 5)).errno == wp.ERRNO_INVAL  # a CPU-time clock


def test_the_earliest_clock_decides_the_wake_up() -> None:
    late, soon = _sub(wp.EVENT_CLOCK, wp.CLOCK_MONOTONIC, 500), _sub(wp.EVENT_CLOCK, 1, 200)
    assert _plan(late, soon).wake_ns == 200
    absolute = _sub(wp.EVENT_CLOCK, wp.CLOCK_MONOTONIC, 50, wp.ABSTIME)
    assert _plan(absolute).wake_ns == 1050  # on the guest's clock, which began at 1000
    assert _plan(late, soon, now=300).events == (wp.event(7, wp.EVENT_CLOCK),)


def test_a_stop_wakes_a_host_call_waiting_on_the_watchdog() -> None:
    dog = Watchdog([], [], None, None)
    waiter = threading.Thread(target=dog.wait_stop, args=(3600.0,), daemon=True)
    waiter.start()
    dog.stop_requested = True
    waiter.join(30)
    assert not waiter.is_alive() and dog.stop_requested


def test_the_deadline_moment_follows_the_last_progress() -> None:
    dog = Watchdog([], [], 250, None)
    before = time.monotonic()
    dog.rearm()
    fires = dog.deadline_at()
    assert fires is not None and fires >= before + 0.25
    assert Watchdog([], [], None, None).deadline_at() is None
