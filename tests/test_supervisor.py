"""The supervisor: transitions on the service's own thread, the event bus, restart
windows on an injected clock, host calls re-applied after a restart, and threads
whose every ending is recorded and surfaced."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import guest, wait_until
from nanonet import LoadError, Mesh, NanonetError, RestartPolicy, State
from nanonet.cli.manifest_run import HostReads, RunOptions, failed, run_mesh
from nanonet.errors import InternalError, StopTimeout
from nanonet.observe import Observer
from nanonet.observe.snapshot import take
from nanonet.observe.traces import provider
from nanonet.policy.policy import Restart
from nanonet.runtime.lifecycle import Event
from nanonet.runtime.service import Service
from nanonet.runtime.supervisor import Transition

RETURNS_AT_ONCE = """(module (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 0)))"""
DOUBLE = """(component
  (core module $m (func (export "double") (param i32) (result i32)
    (i32.mul (local.get 0) (i32.const 2))))
  (core instance $i (instantiate $m))
  (func (export "double") (param "x" u32) (result u32) (canon lift (core func $i "double"))))"""


# traps on its second message of each instance: a message it took is committed
# by its next receive, so each message sent after the first causes one trap
TRAPS_ON_THE_SECOND = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "go")
  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 2)))
    (local.set $r (call $recv (local.get $h) (i32.const 64) (i32.const 256)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (local.set $r (call $recv (local.get $h) (i32.const 64) (i32.const 256)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    unreachable))"""


class HandClock:
    """A clock a test moves by hand; a wait returns at once, its time added."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        with self._lock:
            self.waits.append(seconds)
            self.now += seconds
        return event.is_set()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def _trapper(mesh: Mesh, policy: RestartPolicy) -> Service:
    mesh.tunnel("go", slots=8, max_payload=16)
    return mesh.service("boom", guest("trapper"), reads=["go"], restart=policy)


# -- 1. lifecycle ---------------------------------------------------------------

def test_observers_racing_an_exit_leave_it_stopped_with_code_0() -> None:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the threads as finely as Python allows
    try:
        for _ in range(40):
            with Mesh() as mesh:
                svc = mesh.service("quick", RETURNS_AT_ONCE)
                done = threading.Event()

                def look(m: Mesh = mesh, done: threading.Event = done) -> None:
                    while not done.is_set():
                        take(m)

                lookers = [threading.Thread(target=look) for _ in range(2)]
                for t in lookers:
                    t.start()
                mesh.start()
                assert mesh.wait(10)
                done.set()
                for t in lookers:
                    t.join(10)
                assert (svc.state, svc.exit_code) == (State.STOPPED, 0)
    finally:
        sys.setswitchinterval(old)


def test_a_service_started_twice_is_refused() -> None:
    with Mesh() as mesh:
        svc = mesh.service("quick", RETURNS_AT_ONCE)
        mesh.start()
        with pytest.raises(NanonetError, match="'quick' is already started"):
            svc.start()
        assert mesh.wait(10) and svc.state is State.STOPPED


def test_a_restart_that_cannot_load_ends_failed_with_its_cause(
        monkeypatch: pytest.MonkeyPatch) -> None:
    loads = {"n": 0}
    real = Service._load

    def load_once(self: Service):  # type: ignore[no-untyped-def]
        loads["n"] += 1
        if loads["n"] > 1:
            raise LoadError(f"service {self.name!r} exceeds its memory cap at instantiation")
        return real(self)

    monkeypatch.setattr(Service, "_load", load_once)
    with Mesh() as mesh:
        svc = _trapper(mesh, RestartPolicy(Restart.ON_FAILURE, initial_ms=0))
        mesh.writer("go").send(b"now", timeout=10)
        why = run_mesh(mesh, HostReads({}, RunOptions(quiet=True), print), RunOptions(timeout=30))
        assert svc.state is State.FAILED
        assert svc.cause == ("restart failed: service 'boom' exceeds its memory cap at "
                             "instantiation")
        assert svc.outcome is not None and svc.outcome.kind == "failed"
        assert failed(mesh, why)  # nanonet run exits non-zero


# -- 2. events ------------------------------------------------------------------

def test_a_service_that_returns_at_once_still_yields_its_span() -> None:
    spans = InMemorySpanExporter()
    with Mesh() as mesh:
        mesh.service("quick", RETURNS_AT_ONCE)
        obs = Observer(mesh, interval=3600, tracer_provider=provider(spans)).start()
        mesh.start()
        assert mesh.wait(10)
        obs.close()
    (span,) = [s for s in spans.get_finished_spans() if s.name == "service quick"]
    assert span.attributes is not None
    assert span.attributes["nanonet.final_state"] == "stopped"


def test_transitions_reach_subscribers_in_order_with_their_cause() -> None:
    seen: list[Transition] = []
    with Mesh() as mesh:
        svc = _trapper(mesh, RestartPolicy(Restart.ON_FAILURE, max_restarts=1, initial_ms=0))
        mesh.writer("go").send(b"now", timeout=10)
        mesh.start()
        assert svc.join(20)
        unsubscribe = mesh.supervisor.bus.subscribe(seen.append)  # late: replayed
        assert mesh.supervisor.bus.flush()
        unsubscribe()
    steps = [(t.from_state, t.event, t.to_state) for t in seen if t.service == "boom"]
    assert steps == [(State.CREATED, Event.START, State.RUNNING),
                     (State.RUNNING, Event.TRAP, State.TRAPPED),
                     (State.TRAPPED, Event.RESTART, State.RESTARTING),
                     (State.RESTARTING, Event.RESUME, State.RUNNING),
                     (State.RUNNING, Event.TRAP, State.TRAPPED),
                     (State.TRAPPED, Event.GIVE_UP, State.FAILED)]
    assert seen[1].cause == "unreachable executed"
    assert all(t.service == "boom" for t in seen)


def test_metrics_count_transitions_from_the_bus() -> None:
    with Mesh() as mesh:
        mesh.service("quick", RETURNS_AT_ONCE)
        obs = Observer(mesh, interval=3600)
        mesh.start()
        assert mesh.wait(10)
        assert mesh.supervisor.bus.flush()
        text = obs.metrics().decode()
        obs.close()
    assert 'nanonet_service_transitions_total{event="start",service="quick"} 1.0' in text
    assert 'nanonet_service_transitions_total{event="return",service="quick"} 1.0' in text


# -- 3. components ------------------------------------------------------------------

def test_a_component_shares_the_lifecycle_and_is_observed() -> None:
    with Mesh() as mesh:
        comp = mesh.component("double", DOUBLE)
        obs = Observer(mesh, interval=3600)
        mesh.start()
        (snap,) = obs.fresh().services
        assert (snap.name, snap.kind, snap.state) == ("double", "component", "running")
        assert 'nanonet_service_state{service="double",state="running"} 1.0' in \
            obs.metrics().decode()
        mesh.stop()
        assert comp.state is State.STOPPED
        assert obs.fresh().services[0].state == "stopped"
        obs.close()


# -- 4. restart windows on an injected clock -------------------------------------------

def test_restarts_are_counted_within_a_window_not_a_lifetime() -> None:
    clock = HandClock()
    policy = RestartPolicy(Restart.ON_FAILURE, max_restarts=2, initial_ms=1000, factor=2,
                           max_ms=60_000, window_s=100, healthy_s=50)
    with Mesh(clock=clock) as mesh:
        mesh.tunnel("go", slots=8, max_payload=16)
        svc = mesh.service("boom", TRAPS_ON_THE_SECOND, reads=["go"], restart=policy)
        w = mesh.writer("go")
        w.send(b"first", timeout=10)
        mesh.start()
        for n in range(1, 5):  # one trap a "day": never two in the window
            clock.advance(86_400)
            w.send(b"now", timeout=10)

            def restarted(n: int = n) -> bool:
                return svc.restarts == n and svc.state is State.RUNNING

            wait_until(restarted, f"restart {n}")
        assert clock.waits == [1.0, 1.0, 1.0, 1.0]  # each after a healthy day: back-off reset
        w.send(b"now", timeout=10)  # two more at once: the window is full
        wait_until(lambda: svc.restarts == 5, "restart 5")
        w.send(b"now", timeout=10)
        assert svc.join(20) and svc.state is State.FAILED
        assert clock.waits[-1] == 2.0  # the second of a burst doubles
        assert svc.cause is not None and "2 within 100 s" in svc.cause


def test_the_deadline_reads_the_injected_clock() -> None:
    from nanonet.runtime.watchdog import Watchdog

    clock = HandClock()
    dog = Watchdog([], [], deadline_ms=500, fuel_per_tick=None, clock=clock)
    assert dog.deadline_at() == 1000.5
    clock.advance(0.4)
    assert not dog._expired()
    clock.advance(0.2)
    assert dog._expired()


# -- 5. host calls survive a restart -----------------------------------------------------

def test_calls_made_before_start_are_reapplied_after_a_restart() -> None:
    with Mesh() as mesh:
        svc = _trapper(mesh, RestartPolicy(Restart.ON_FAILURE, max_restarts=1, initial_ms=0))
        svc.call("configure", 1)  # kind 1: an out-of-bounds load instead of unreachable
        mesh.writer("go").send(b"now", timeout=10)
        mesh.start()
        assert svc.join(20) and svc.state is State.FAILED
    assert [t.cause for t in svc.traps] == ["out-of-bounds memory access"] * 2


def test_a_call_while_the_service_runs_is_refused() -> None:
    with Mesh() as mesh:
        svc = _trapper(mesh, RestartPolicy())
        comp = mesh.component("double", DOUBLE)
        mesh.start()
        assert (svc.state, comp.state) == (State.RUNNING, State.RUNNING)  # on return
        wait_until(lambda: svc.parked, "it parks on its tunnel")
        assert svc.observed_state() is State.PARKED and svc.state is State.RUNNING
        with pytest.raises(NanonetError, match="'boom' is running"):
            svc.call("configure", 1)


# -- 6. every thread has an owner ----------------------------------------------------------

def test_an_internal_error_surfaces_from_wait_and_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Service) -> None:
        raise RuntimeError("commit table missing")

    monkeypatch.setattr(Service, "_commit_all", broken)
    mesh = Mesh()
    svc = mesh.service("quick", RETURNS_AT_ONCE)
    mesh.start()
    with pytest.raises(InternalError, match="'quick': RuntimeError: commit table missing"):
        mesh.wait(10)
    assert svc.state is State.FAILED and svc.outcome is not None
    assert svc.outcome.kind == "internal"
    with pytest.raises(InternalError, match="commit table missing"):
        mesh.stop()


def test_stop_reports_a_service_that_did_not_end(tmp_path: Path) -> None:
    release = threading.Event()
    QUAD = """(component
  (import "double" (func $d (param "x" u32) (result u32)))
  (core func $double (canon lower (func $d)))
  (core module $m (import "h" "double" (func $double (param i32) (result i32)))
    (func (export "quad") (param i32) (result i32)
      (call $double (call $double (local.get 0)))))
  (core instance $i (instantiate $m (with "h" (instance (export "double" (func $double))))))
  (func (export "quad") (param "x" u32) (result u32) (canon lift (core func $i "quad"))))"""

    def stuck(x: int) -> int:
        release.wait(30)
        return 2 * x

    mesh = Mesh()
    comp = mesh.component("quad", QUAD, imports={"double": stuck})
    mesh.start()
    caller = threading.Thread(target=lambda: comp.call("quad", 1))
    caller.start()
    try:
        with pytest.raises(StopTimeout, match="'quad' still run"):
            mesh.stop(grace=0.05, timeout=0.05)
    finally:
        release.set()
        caller.join(30)
    assert comp.join(30) and comp.state is State.STOPPED


def test_no_thread_outlives_a_stopped_mesh_and_its_observer() -> None:
    spans = InMemorySpanExporter()
    with Mesh() as mesh:
        mesh.component("double", DOUBLE)
        mesh.service("quick", RETURNS_AT_ONCE)
        obs = Observer(mesh, interval=3600, tracer_provider=provider(spans)).start()
        mesh.start()
        assert mesh.wait(0) is False  # the component runs until closed
    obs.close()  # after the mesh: the events of its stop still reach the tracer
    names = sorted(s.name for s in spans.get_finished_spans())
    assert names == ["service double", "service quick"]

    def ours() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("nanonet")]

    wait_until(lambda: not ours(), f"every nanonet thread has ended ({ours()})")


def test_the_bus_delivers_everything_and_leaves_no_dispatcher_behind() -> None:
    from nanonet.runtime.supervisor import Supervisor

    sups = [Supervisor() for _ in range(200)]
    for sup in sups:
        publishers = [threading.Thread(target=lambda s=sup: [
            s.emit("x", State.CREATED, State.RUNNING, Event.START) for _ in range(3)])
            for _ in range(3)]
        for t in publishers:
            t.start()
        for t in publishers:
            t.join(10)
        assert sup.bus.flush()
        assert len(sup.bus.history()) == 9
    wait_until(lambda: not [t for t in threading.enumerate() if t.name == "nanonet-events"],
               "every dispatcher has ended")


def test_top_shows_a_component_and_the_cause_of_a_failure() -> None:
    from rich.console import Console

    from nanonet.observe.top import render

    with Mesh() as mesh:
        mesh.component("double", DOUBLE)
        svc = _trapper(mesh, RestartPolicy(Restart.ON_FAILURE, max_restarts=0))
        mesh.writer("go").send(b"now", timeout=10)
        obs = Observer(mesh, interval=3600)
        mesh.start()
        assert svc.join(20)
        snap = obs.fresh().to_json()
        obs.close()
    console = Console(record=True, width=200)
    console.print(render(snap))
    text = console.export_text()
    assert "double" in text and "component" in text and "running" in text
    assert "out of restarts: 0 within 60 s" in text


def test_the_restart_budget_forgets_old_restarts_and_resets_its_back_off() -> None:
    from nanonet.runtime.restarts import RestartBudget

    clock = HandClock()
    budget = RestartBudget(RestartPolicy(Restart.ON_FAILURE, max_restarts=3, initial_ms=100,
                                         factor=10, max_ms=5000, window_s=60, healthy_s=30),
                           clock)
    delays = []
    for _ in range(3):
        delays.append(budget.after_trap())
        budget.running()  # restarted: it runs again, and traps at once
    assert delays == [0.1, 1.0, 5.0]  # a burst grows
    assert budget.after_trap() is None and "3 within 60 s" in budget.why
    clock.advance(61)  # the window has passed; restarted, it traps at once: not healthy
    budget.running()
    assert budget.after_trap() == 5.0
    budget.running()
    clock.advance(30)  # healthy: the next burst starts at initial_ms
    assert budget.after_trap() == 0.1


def test_a_subscriber_that_blocks_never_holds_a_service_back() -> None:
    release, seen = threading.Event(), []

    def slow(ev: Transition) -> None:
        seen.append(threading.current_thread().name)
        release.wait(30)

    with Mesh() as mesh:
        svc = mesh.service("quick", RETURNS_AT_ONCE)
        unsubscribe = mesh.supervisor.bus.subscribe(slow)
        mesh.start()
        try:
            assert mesh.wait(20) and (svc.state, svc.exit_code) == (State.STOPPED, 0)
        finally:
            release.set()
        assert mesh.supervisor.bus.flush()
        unsubscribe()
    assert seen == ["nanonet-events", "nanonet-events"]  # START and RETURN, on the bus's thread
