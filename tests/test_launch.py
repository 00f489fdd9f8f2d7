"""Many services start at once (``runtime/launch.py``): ``Mesh.start`` and
``Mesh.start_all`` return with every service past START, a service that
traps at start is reported and restarted as its policy says, and a start
the runtime refuses is raised once the others run."""

from __future__ import annotations

import threading

import pytest

from nanonet import Mesh, NanonetError, Restart, RestartPolicy, State
from nanonet.runtime.launch import LAUNCHERS, PER_LAUNCHER, launch, launchers

pytestmark = pytest.mark.timeout(120)
# receives on its tunnel (named in its data) until the tunnel closes, then returns 0
IDLE = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "NAME")
  (func (export "run") (result i32) (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const LEN)))
    (loop $more (br_if $more (i32.ge_s
      (call $recv (local.get $h) (i32.const 64) (i32.const 64)) (i32.const 0))))
    (i32.const 0)))"""
MANY = 3 * PER_LAUNCHER + 5  # enough for the caller and two launcher threads
STOP_S = 30.0

# traps in its start function (a run that would return 0 never comes)
TRAPS_AT_START = """(module (memory (export "memory") 1)
  (func $boom unreachable)
  (start $boom)
  (func (export "run") (result i32) (i32.const 0)))"""


def _idle(mesh: Mesh, name: str) -> None:
    tunnel = f"t-{name}"
    mesh.tunnel(tunnel, slots=16, max_payload=64)
    wat = IDLE.replace("NAME", tunnel).replace("LEN", str(len(tunnel)))
    mesh.service(name, wat, reads=[tunnel])


def _names(mesh: Mesh) -> list[str]:
    return [s.thread.name for s in mesh.services.values() if s.thread is not None]


def test_a_few_services_start_on_the_caller_alone_and_many_on_launchers() -> None:
    assert launchers(1) == 1 and launchers(PER_LAUNCHER - 1) == 1
    assert launchers(MANY) == 3 and launchers(10_000) == LAUNCHERS


def test_every_service_of_a_big_mesh_is_running_when_start_returns() -> None:
    with Mesh() as mesh:
        for i in range(MANY):
            _idle(mesh, f"s{i}")
        mesh.start()
        states = {s.state for s in mesh.services.values()}
        assert states == {State.RUNNING}, states
        assert len(set(_names(mesh))) == MANY  # one thread each, named after it
        mesh.close_tunnels()
        assert mesh.wait(STOP_S)
        assert {s.exit_code for s in mesh.services.values()} == {0}


def test_start_all_starts_many_meshes_of_one_service_each() -> None:
    meshes = [Mesh() for _ in range(MANY)]
    try:
        for i, mesh in enumerate(meshes):
            _idle(mesh, f"m{i}")
        Mesh.start_all(meshes)
        assert all(s.state is State.RUNNING for m in meshes for s in m.services.values())
        Mesh.start_all(meshes)  # nothing left to start: a no-op, as start() twice
    finally:
        for mesh in meshes:
            mesh.stop()
    assert all(s.exit_code == 0 for m in meshes for s in m.services.values())


def test_a_service_that_traps_at_start_among_many_is_reported_and_restarted() -> None:
    with Mesh() as mesh:
        for i in range(MANY):
            _idle(mesh, f"s{i}")
        mesh.tunnel("b", slots=16, max_payload=64)
        boom = mesh.service("boom", TRAPS_AT_START, writes=["b"],
                            restart=RestartPolicy(Restart.ON_FAILURE, max_restarts=2,
                                                  initial_ms=0))
        mesh.start()
        assert boom.join(STOP_S), "the trapping service never gave up"
        assert boom.state is State.FAILED and boom.restarts == 2
        assert len(boom.traps) == 3 and "unreachable" in str(boom.traps[0])
        others = {s.state for s in mesh.services.values() if s is not boom}
        assert others == {State.RUNNING}, others


def test_a_start_refused_is_raised_after_the_others_were_started() -> None:
    with Mesh() as mesh:
        for i in range(MANY):
            _idle(mesh, f"s{i}")
        services = list(mesh.services.values())
        services[3].start()  # started already: starting it again is refused
        with pytest.raises(NanonetError, match="already started"):
            launch(services)
        assert all(s.state is State.RUNNING for s in services)


def test_a_thread_the_system_refuses_leaves_the_service_unstarted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``Thread.start`` raising (no thread to be had) must not leave a
    service that looks started but whose START never comes: ``start``
    says so, and the service can be started once a thread is free."""
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        if self.name == "nanonet:s0":
            raise RuntimeError("can't start new thread")
        real_start(self)

    with Mesh() as mesh:
        _idle(mesh, "s0")
        monkeypatch.setattr(threading.Thread, "start", refuse)
        with pytest.raises(NanonetError, match=r"could not start its thread.*ulimit -u"):
            mesh.start()
        service = mesh.services["s0"]
        assert not service.started and service.state is State.CREATED
        monkeypatch.setattr(threading.Thread, "start", real_start)
        service.start()
        assert service.started and mesh.services["s0"].state is State.RUNNING
        mesh.close_tunnels()
        assert mesh.wait(STOP_S)
