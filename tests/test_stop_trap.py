"""stop() ends a guest that never calls the ABI; a trap stops only its service."""

from __future__ import annotations

import pytest

from conftest import call, guest, wait_until
from nanonet import GuestTrap, Mesh, Service, State, TunnelWriter
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(60)
BATCH = 1


def _gated_pair(mesh: Mesh, count: int,
                gate_at: int) -> tuple[Service, Service, TunnelWriter]:
    """A producer -> checker pair on "t" whose producer, after ``gate_at``
    messages, waits for one message on "gate" (returned: the host's writer)."""
    mesh.tunnel("gate", slots=2, max_payload=8)
    mesh.tunnel("t", slots=64, max_payload=40)
    producer = mesh.service("producer", guest("sender"), writes=["t"],
                            reads=["gate"])
    checker = mesh.service("checker", guest("receiver"), reads=["t"])
    call(producer, "configure", count, 0, BATCH, gate_at)
    call(checker, "configure", 0, BATCH)
    return producer, checker, mesh.writer("gate")


def test_stop_ends_a_spinning_guest_and_another_mesh_keeps_working() -> None:
    with Mesh() as other:
        producer, checker, gate = _gated_pair(other, 300_000, 100)
        other.start()
        stats = other.tunnels["t"].statistics
        wait_until(lambda: stats().received == 100, "the other mesh is mid-stream")

        with Mesh() as mesh:
            spinner = mesh.service("spinner", guest("spin"))
            mesh.start()
            wait_until(lambda: spinner.running, "the spinner runs")
            mesh.stop(grace=0.05)
            assert not spinner.running
            assert spinner.state is State.STOPPED
            assert spinner.error is None and mesh.traps == []

        assert (producer.state, checker.state) == (State.RUNNING, State.RUNNING)
        gate.send(b"go", timeout=10)
        assert other.wait(30)
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert (checker.state, checker.exit_code) == (State.STOPPED, 300_000)
        assert other.traps == []


def test_stop_closes_tunnels_of_parked_services() -> None:
    with Mesh() as mesh:
        mesh.tunnel("t", slots=4, max_payload=40)
        svc = mesh.service("s", guest("until_status", side="read"), reads=["t"])
        mesh.start()
        ring = mesh.tunnels["t"].ring
        wait_until(lambda: ring.u32(L.OFF_READER_WAITING) == 1, "the service parks")
        mesh.stop()
        assert (svc.state, svc.exit_code) == (State.STOPPED, -1)


TRAPS = {0: "unreachable", 1: "out of bounds", 2: "divide by zero", 3: "stack"}


@pytest.mark.parametrize("kind", sorted(TRAPS), ids=list(TRAPS.values()))
def test_trap_stops_only_its_service(kind: int) -> None:
    with Mesh() as mesh:
        producer, checker, gate = _gated_pair(mesh, 200_000, 5000)
        mesh.tunnel("go", slots=2, max_payload=8)
        bad = mesh.service("bad", guest("trapper"), reads=["go"])
        call(bad, "configure", kind)
        go = mesh.writer("go")
        mesh.start()
        t = mesh.tunnels["t"]
        wait_until(lambda: t.statistics().received == 5000, "the pair is mid-stream")
        go.send(b"now", timeout=10)  # the third service traps while the pair waits
        assert bad.join(30)
        assert bad.state is State.TRAPPED
        assert producer.running and checker.running
        [trap] = mesh.traps
        assert isinstance(trap, GuestTrap) and trap is bad.error
        assert trap.service == "bad"
        assert TRAPS[kind] in trap.message.lower()
        where = "deeper" if kind == 3 else "boom"  # a deep stack shows its top frames
        assert trap.frames and trap.frames[0].function == where, trap.frames
        assert "'bad'" in str(trap) and f"{where}+0x" in str(trap)
        gate.send(b"on", timeout=10)
        assert producer.join(30) and checker.join(30)
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert (checker.state, checker.exit_code) == (State.STOPPED, 200_000)
        assert t.statistics().quarantine == 0
