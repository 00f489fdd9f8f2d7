"""A restart storm keeps a bounded trap list and exact counts per cause."""

from __future__ import annotations

import pytest

from nanonet import Mesh, RestartPolicy, State
from nanonet.host.traps import KEEP_TRAPS
from nanonet.observe.snapshot import service_snapshot
from nanonet.policy.policy import Restart

TRAPS_AT_ONCE = """(module (memory (export "memory") 1)
  (func (export "run") (result i32) unreachable))"""
RESTARTS = 3 * KEEP_TRAPS


@pytest.mark.timeout(120)
def test_a_restart_storm_keeps_the_last_traps_and_counts_them_all() -> None:
    storm = RestartPolicy(Restart.ON_FAILURE, max_restarts=RESTARTS, initial_ms=0, max_ms=0)
    with Mesh() as mesh:
        svc = mesh.service("storm", TRAPS_AT_ONCE, restart=storm)
        mesh.start()
        assert svc.join(100)
        assert svc.state is State.FAILED and svc.restarts == RESTARTS
        assert len(svc.traps) == KEEP_TRAPS  # bounded, however many restarts
        assert svc.trap_counts == {"unreachable executed": RESTARTS + 1}
        assert service_snapshot(svc).traps == {"unreachable executed": RESTARTS + 1}
        assert len(mesh.traps) == KEEP_TRAPS and mesh.traps[-1] is svc.traps[-1]


def test_the_back_off_stays_at_its_maximum_past_a_thousand_restarts() -> None:
    policy = RestartPolicy(Restart.ON_FAILURE, max_restarts=10_000, initial_ms=0, max_ms=0)
    assert policy.delay(5_000) == 0.0  # 2.0 ** 5000 overflows a float
    assert RestartPolicy(Restart.ON_FAILURE, initial_ms=1, max_ms=50).delay(2_000) == 0.05
