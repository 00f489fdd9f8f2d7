"""A hot upgrade of a port's server under a burst of calls: the old module's
``serve_recv`` returns YIELD once the upgrade asks (``port.server_yield``),
having answered all it took, so it stops at a commit point, not by its epoch;
nothing is requeued and every call is answered exactly once, by one version
or the other, and the calls after the upgrade by the new one."""

from __future__ import annotations

import threading

import pytest

from conftest import guest, wait_until
from nanonet import Mesh
from nanonet.ring import portlayout as P

pytestmark = pytest.mark.timeout(120)
CALLERS = 4
AFTER = 50  # calls each caller makes once the upgrade is over
OLD, NEW = b"R", b"S"  # what each version puts before the request


def _new_server() -> str:
    return guest("port_server").replace("(i32.const 82)", "(i32.const 83)")


def _caller(mesh: Mesh, k: int, upgraded: threading.Event, got: list[bytes]) -> None:
    client = mesh.client("rpc")
    after = 0
    for i in range(200_000):  # bounded: ends AFTER calls past the upgrade
        request = b"%d:%d" % (k, i)
        reply = client.call(request, timeout=30)
        assert reply[1:] == request, (request, reply)
        got.append(reply[:1])
        after += upgraded.is_set()
        if after >= AFTER:
            return
    raise AssertionError("the upgrade never finished")


def test_an_upgraded_port_server_answers_every_call_of_a_burst_exactly_once() -> None:
    with Mesh() as mesh:
        port = mesh.port("rpc", clients=0, host_clients=CALLERS)
        mesh.service("server", guest("port_server"), serves=["rpc"])
        mesh.start()
        upgraded = threading.Event()
        got: list[list[bytes]] = [[] for _ in range(CALLERS)]
        callers = [threading.Thread(target=_caller, args=(mesh, k, upgraded, got[k]),
                                    daemon=True) for k in range(CALLERS)]
        for t in callers:
            t.start()
        wait_until(lambda: sum(map(len, got)) >= 500, "the burst is under way")
        outcome = mesh.upgrade("server", _new_server())
        upgraded.set()
        for t in callers:
            t.join(60)
        assert not any(t.is_alive() for t in callers)
        stats = mesh.port_statistics()["rpc"]
        assert port.memory.u32(P.OFF_SERVER_YIELD) == 0  # cleared once swapped
    assert not outcome.by_epoch and outcome.exactly_once, outcome.describe()
    replies = [r for one in got for r in one]
    assert stats.requeued == 0 and stats.late == 0 and stats.timeouts == 0
    assert stats.calls == stats.taken == stats.replied == len(replies)
    assert set(replies) == {OLD, NEW}
    for one in got:  # each caller: the old version's replies, then the new one's
        assert one == sorted(one) and one[-AFTER:] == [NEW] * AFTER
