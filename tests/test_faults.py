"""The fault matrix: one fault kind at a time, in a 3-service mesh under traffic.

producer -> "a" -> relay -> "b" -> checker. The relay faults every TRIGGER
messages, right after forwarding a batch it has not committed yet. Only the
relay may stop; it restarts under its back-off policy; the checker must see
every sequence number at least once and none out of order (repeats are the
at-least-once redeliveries of the uncommitted batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import GUESTS, call, guest
from nanonet import Limits, Mesh, RestartPolicy, State
from nanonet.errors import TunnelBroken
from nanonet.policy.policy import Restart

COUNT = 12_000
TRIGGER = 3_000
RESTARTS = RestartPolicy(Restart.ON_FAILURE, max_restarts=50, initial_ms=1, max_ms=10)


@dataclass(frozen=True)
class Fault:
    body: str  # the WAT body of $fault
    cause: str  # what the trap report must name
    limits: Limits = field(default_factory=Limits)
    fuel: bool = False


FAULTS = {
    "out-of-bounds": Fault("(drop (i32.load (i32.const -16)))", "out-of-bounds memory access"),
    "unreachable": Fault("unreachable", "unreachable executed"),
    "stack-overflow": Fault("(drop (call $deep (i32.const 0)))", "stack overflow"),
    "fuel": Fault("(loop $spin (br $spin))", "fuel exhausted",
                  Limits(fuel_per_tick=5_000_000), fuel=True),
    "deadline": Fault("(loop $spin (br $spin))", "deadline exceeded",
                      Limits(deadline_ms=100)),
    "memory-cap": Fault("(loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 1)) "
                        "(i32.const -1)))) unreachable", "memory cap reached",
                        Limits(memory_bytes=4 << 20)),
}


def _relay(fault: Fault, trigger: int = TRIGGER) -> str:
    text = (GUESTS / "relay.wat").read_text()
    return text.replace("FAULT_BODY", fault.body).replace("TRIGGER", str(trigger))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", list(FAULTS))
def test_only_the_offender_stops_restarts_and_nothing_is_lost(kind: str) -> None:
    fault = FAULTS[kind]
    with Mesh(fuel=fault.fuel) as mesh:
        mesh.tunnel("a", slots=256, max_payload=32)
        mesh.tunnel("b", slots=256, max_payload=32)
        producer = mesh.service("producer", guest("sender", side="write").replace('"t"', '"a"'),
                                writes=["a"])
        call(producer, "configure", COUNT, 16, 1, -1)
        relay = mesh.service("relay", _relay(fault), reads=["a"], writes=["b"],
                             limits=fault.limits, restart=RESTARTS)
        checker = mesh.service("checker", guest("dedup_checker").replace('"t"', '"b"'),
                               reads=["b"])
        mesh.start()
        assert mesh.wait(100), "the mesh did not finish"
        assert call(checker, "next") == COUNT  # every sequence number, in order
        assert (producer.state, producer.exit_code) == (State.STOPPED, 0)
        assert (checker.state, checker.exit_code) == (State.STOPPED, 0)
        assert producer.traps == [] and checker.traps == []  # only the offender stopped
        assert relay.restarts >= 1 and relay.state is State.STOPPED
        causes = {t.cause for t in relay.traps}
        assert all(fault.cause in c for c in causes), causes
        assert relay.traps[0].service == "relay" and relay.traps[0].frames


@pytest.mark.timeout(60)
def test_a_trap_without_a_restart_policy_stays_trapped() -> None:
    with Mesh() as mesh:
        mesh.tunnel("a", slots=64, max_payload=32)
        mesh.tunnel("b", slots=64, max_payload=32)
        relay = mesh.service("relay", _relay(FAULTS["unreachable"], trigger=0), reads=["a"],
                             writes=["b"])
        writer = mesh.writer("a")
        mesh.start()
        writer.send(bytes(16), timeout=20)  # it traps on its first batch
        assert relay.join(20)
        assert relay.state is State.TRAPPED and relay.restarts == 0
        assert "unreachable" in str(mesh.traps[0])


@pytest.mark.timeout(60)
def test_restarts_give_up_after_the_policy_s_maximum() -> None:
    with Mesh() as mesh:
        mesh.tunnel("a", slots=64, max_payload=32)
        mesh.tunnel("b", slots=64, max_payload=32)
        policy = RestartPolicy(Restart.ON_FAILURE, max_restarts=2, initial_ms=1, max_ms=2)
        relay = mesh.service("relay", _relay(FAULTS["unreachable"], trigger=0), reads=["a"],
                             writes=["b"], restart=policy)
        writer = mesh.writer("a")
        mesh.start()
        writer.send(bytes(16), timeout=20)  # every instance traps on its first batch
        assert relay.join(20)
        assert relay.state is State.FAILED and relay.restarts == 2
        assert len(relay.traps) == 3


HALF_BATCH = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send_batch" (func $send_batch (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1))
  (data (i32.const 0) "b")
  ;; three records at 1024; the third claims 65000 bytes, which run past
  ;; the end of this 64 KiB memory: the copy of that record traps mid-batch
  (data (i32.const 1024) "\\08\\00\\00\\00first...\\08\\00\\00\\00second..\\e8\\fd\\00\\00")
  (func (export "run") (result i32)
    (call $send_batch (call $tunnel (i32.const 0) (i32.const 1))
                      (i32.const 1024) (i32.const 3))))"""


def test_a_writer_that_dies_mid_batch_leaves_nothing_half_written() -> None:
    with Mesh() as mesh:
        mesh.tunnel("b", slots=8, max_payload=65_000)
        writer = mesh.service("w", HALF_BATCH, writes=["b"])
        reader = mesh.reader("b")
        mesh.start()
        assert writer.join(20) and writer.state is State.TRAPPED
        stats = mesh.tunnels["b"].statistics()
        assert (stats.sent, stats.quarantine) == (0, 0)  # nothing of the batch was published
        with pytest.raises(TunnelBroken):  # no message, half or whole: the writer is gone
            reader.try_recv()


BUSY = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "try_recv" (func $try_recv (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "go")
  ;; polls without ever parking until a message arrives: burns fuel all along
  (func (export "run") (result i32) (local $h i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 2)))
    (loop $poll
      (br_if $poll (i32.eq (call $try_recv (local.get $h) (i32.const 64) (i32.const 64))
                           (i32.const -2))))
    (i32.const 0)))"""


@pytest.mark.timeout(60)
def test_fuel_burnt_under_a_budget_is_counted_for_observers() -> None:
    from conftest import wait_until
    from nanonet.observe.snapshot import service_snapshot

    with Mesh(fuel=True) as mesh:
        mesh.tunnel("go", slots=2, max_payload=8)
        busy = mesh.service("busy", BUSY, reads=["go"], limits=Limits(fuel_per_tick=10**10))
        go = mesh.writer("go")
        mesh.start()
        wait_until(lambda: busy.watchdog.fuel_used > 0, "a tick to count the fuel burnt")
        go.send(b"stop")
        assert busy.join(20) and busy.exit_code == 0
        assert (service_snapshot(busy).fuel_used or 0) > 0
