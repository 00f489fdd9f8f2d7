"""Request/reply ports: every reply reaches the caller that asked, whatever fails.

Guests: tests/guests/port_server.wat ('R' + the request) and port_client.wat
(checks every reply against its own request). ``NANONET_STRESS_SCALE`` scales the
calls per client (10^5 in the eight-client run, 10^4 in the fault tests, by default).
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator

import pytest

from conftest import GUESTS, wait_until
from nanonet import CallTimeout, Mesh, Service, TunnelBroken
from nanonet.errors import LoadError, TunnelCorrupt
from nanonet.policy.policy import Limits, Restart, RestartPolicy
from nanonet.ring import portlayout as P
from nanonet.ring.port import Port
from nanonet.ring.portctl import PortControl
from nanonet.ring.portlayout import Box
from nanonet.toolchain.build import MemoryStyle, build

SCALE = int(os.environ.get("NANONET_STRESS_SCALE", "1"))
CALLS = 10_000 * SCALE  # per client, in the fault tests
STRESS = 100_000 * SCALE  # per client, in the eight-client run
WATCHDOG = 120.0  # a bound on a hang, never a speed check
SERVER = (GUESTS / "port_server.wat").read_text()
CLIENT = (GUESTS / "port_client.wat").read_text()
NO_DEADLINE = -1


@pytest.fixture
def mesh() -> Iterator[Mesh]:
    with Mesh() as m:
        yield m


def _clients(mesh: Mesh, count: int, calls: int, timeout_ms: int = NO_DEADLINE,
             first_id: int = 1) -> list[Service]:
    out = []
    for i in range(count):
        svc = mesh.service(f"client{i}", CLIENT, calls=["rpc"])
        svc.call("configure", calls, first_id + i, 0, timeout_ms)
        out.append(svc)
    return out


def _host_calls(mesh: Mesh, tag: bytes, calls: int, bad: list[bytes]) -> threading.Thread:
    client = mesh.client("rpc")

    def run() -> None:
        for i in range(calls):
            request = tag + i.to_bytes(4, "little") + bytes([i & 0xFF]) * (i % 40)
            reply = client.call(request, timeout=WATCHDOG)
            if reply != b"R" + request:
                bad.append(request)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_every_reply_matches_its_request_across_eight_clients(mesh: Mesh) -> None:
    mesh.port("rpc", clients=6, host_clients=2, max_payload=64)
    mesh.service("server", SERVER, serves=["rpc"])
    wasm = _clients(mesh, 6, STRESS)
    mesh.start()
    bad: list[bytes] = []
    hosts = [_host_calls(mesh, tag, STRESS, bad) for tag in (b"h0", b"h1")]
    for svc in wasm:
        assert svc.join(WATCHDOG), "watchdog: a client never finished"
        assert svc.exit_code == 0, svc.outcome
    for thread in hosts:
        thread.join(WATCHDOG)
    assert bad == []
    stats = mesh.port_statistics()["rpc"]
    assert stats.calls == stats.replied == stats.taken == 8 * STRESS
    assert (stats.timeouts, stats.late, stats.in_flight) == (0, 0, 0)


def test_a_client_killed_mid_call_does_not_block_the_others(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=4, host_clients=1)
    mesh.service("server", SERVER, serves=["rpc"])
    # client id 72 sends requests starting with 'H': the server takes them
    # and never answers, so its deadline kills it while its call is taken
    victim = mesh.service("victim", CLIENT, calls=["rpc"], limits=Limits(deadline_ms=100))
    victim.call("configure", 10, 72, 0, NO_DEADLINE)
    others = _clients(mesh, 3, CALLS // 4)
    mesh.start()
    wait_until(lambda: victim.traps != [], "the victim trapped", WATCHDOG)
    for svc in others:
        assert svc.join(WATCHDOG)
        assert svc.exit_code == 0, svc.outcome
    assert "deadline" in victim.traps[0].cause
    wait_until(lambda: port.memory.u64(port.geometry.box(0)) == Box.DEAD, "its mailbox is DEAD")
    assert mesh.client("rpc").call(b"after", timeout=WATCHDOG) == b"Rafter"


def test_a_server_that_traps_mid_burst_loses_no_accepted_call(mesh: Mesh) -> None:
    mesh.port("rpc", clients=4, host_clients=1)
    restart = RestartPolicy(Restart.ON_FAILURE, max_restarts=1000, initial_ms=1, max_ms=5)
    server = mesh.service("server", SERVER, serves=["rpc"], restart=restart)
    server.call("configure", 997)  # traps on every 998th request it takes, unanswered
    wasm = _clients(mesh, 4, CALLS // 2)
    mesh.start()
    bad: list[bytes] = []
    host = _host_calls(mesh, b"hh", CALLS // 4, bad)
    for svc in wasm:
        assert svc.join(WATCHDOG)
        assert svc.exit_code == 0, svc.outcome
        assert svc.call("timeouts") == 0
    host.join(WATCHDOG)
    assert bad == []
    stats = mesh.port_statistics()["rpc"]
    assert server.restarts >= 1
    assert stats.requeued >= server.restarts  # each trap left one taken request
    assert stats.replied == 4 * (CALLS // 2) + CALLS // 4


def test_a_host_call_with_no_server_answering_times_out(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=1)
    client = mesh.client("rpc")
    mesh.start()
    with pytest.raises(CallTimeout, match=r"port 'rpc' did not answer within 0\.05 s") as err:
        client.call(b"anyone?", timeout=0.05)
    assert err.value.code == "call-timeout"
    stats = mesh.port_statistics()["rpc"]
    assert (stats.calls, stats.timeouts, stats.in_flight) == (1, 1, 0)


def test_a_late_reply_is_never_delivered_to_the_next_call(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=1)
    release = threading.Event()

    def handler(request: bytes) -> bytes:
        if request == b"first":
            release.wait(WATCHDOG)  # answered only after its caller gave up
        return b"reply to " + request

    mesh.serve("rpc", handler)
    client = mesh.client("rpc")
    mesh.start()
    with pytest.raises(CallTimeout):
        client.call(b"first", timeout=0.05)
    release.set()
    assert client.call(b"second", timeout=WATCHDOG) == b"reply to second"
    assert client.call(b"third", timeout=WATCHDOG) == b"reply to third"
    wait_until(lambda: mesh.port_statistics()["rpc"].replied == 2, "the server counted 2 replies")
    stats = mesh.port_statistics()["rpc"]
    assert (stats.late, stats.timeouts) == (1, 1)


def test_host_clients_call_from_asyncio(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=4)
    mesh.service("server", SERVER, serves=["rpc"])
    clients = [mesh.client("rpc") for _ in range(4)]
    mesh.start()

    async def burst() -> list[bytes]:
        calls = [c.acall(b"%d-%d" % (i, n), timeout=WATCHDOG)
                 for n in range(50) for i, c in enumerate(clients)]
        return await asyncio.gather(*calls)

    replies = asyncio.run(burst())
    assert replies == [b"R%d-%d" % (i, n) for n in range(50) for i in range(4)]


def test_a_server_gone_for_good_breaks_the_port(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=1)
    server = mesh.service("server", SERVER, serves=["rpc"])
    server.call("configure", 1)  # traps on its second request; no restart policy
    client = mesh.client("rpc")
    mesh.start()
    assert client.call(b"one", timeout=WATCHDOG) == b"Rone"
    with pytest.raises(TunnelBroken, match="port 'rpc' is broken"):
        client.call(b"two", timeout=WATCHDOG)


def test_a_service_not_granted_a_port_cannot_reach_it(mesh: Mesh) -> None:
    mesh.port("rpc")
    with pytest.raises(LoadError, match=r"imports nanonet\.port but neither serves nor calls"):
        mesh.service("stranger", CLIENT)


def test_the_port_lookup_refuses_an_unknown_name(mesh: Mesh) -> None:
    mesh.port("other", clients=1)
    mesh.service("server", SERVER.replace('"rpc"', '"oth"'), serves=["other"])
    svc = mesh.service("client", CLIENT, calls=["other"])  # looks "rpc" up
    mesh.start()
    assert svc.join(WATCHDOG)
    assert svc.exit_code == -5  # NN_BAD_HANDLE


def test_a_forged_request_length_is_refused_not_read_out_of_bounds(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=0, host_clients=2, max_payload=64)
    mesh.service("server", SERVER, serves=["rpc"])
    mesh.start()
    forger = PortControl(mesh.rt, port.memory)
    box = port.geometry.box(1)
    port.memory.put_u32(box + P.BOX_REQ_LEN, 0xFFFF_FFF0)  # far past the memory's end
    assert forger.call(box, 1, int(WATCHDOG * 1e9)) == -4  # NN_CORRUPT: refused
    forger.release()
    assert port.statistics().refused == 1
    assert mesh.client("rpc").call(b"still here", timeout=WATCHDOG) == b"Rstill here"


def test_a_forged_reply_length_is_refused_by_the_wasm_client(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=1, host_clients=0, max_payload=64)
    svc = mesh.service("client", CLIENT, calls=["rpc"])
    svc.call("configure", 1, 1, 0, NO_DEADLINE)
    forger = PortControl(mesh.rt, port.memory)  # plays a hostile server
    mesh.start()
    box = -1
    while box < 0:
        box = forger.take(0, 10_000_000)
    call_id = port.memory.u64(box) >> 32
    port.memory.put_u32(box + P.BOX_REP_LEN, 0x7FFF_0000)
    assert forger.complete(box, call_id)
    assert svc.join(WATCHDOG)
    assert svc.exit_code == -1004  # NN_CORRUPT, and no trap: nothing read out of bounds
    assert svc.traps == []
    forger.release()


def test_a_forged_reply_length_is_refused_by_the_host_client(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=0, host_clients=1, max_payload=64)
    forger = PortControl(mesh.rt, port.memory)
    client = mesh.client("rpc")
    mesh.start()
    answer = threading.Thread(target=lambda: _forge_reply(port, forger), daemon=True)
    answer.start()
    with pytest.raises(TunnelCorrupt, match="reply length of 1000000 bytes"):
        client.call(b"x", timeout=WATCHDOG)
    answer.join(WATCHDOG)
    forger.release()


def _forge_reply(port: Port, forger: PortControl) -> None:
    box = -1
    while box < 0:
        box = forger.take(0, 10_000_000)
    port.memory.put_u32(box + P.BOX_REP_LEN, 1_000_000)
    forger.complete(box, port.memory.u64(box) >> 32)


@pytest.mark.parametrize("memory", ["export", "import"])
def test_c_guests_serve_and_call_through_nanonet_h(mesh: Mesh, memory: MemoryStyle) -> None:
    server = build(GUESTS / "port_c.c", memory=memory, flags=["-DSERVER"])
    client = build(GUESTS / "port_c.c", memory=memory, flags=["-DCOUNT=2000"])
    mesh.port("rpc", clients=2, host_clients=1, max_payload=256)
    mesh.service("server", server, serves=["rpc"])
    callers = [mesh.service(f"c{i}", client, calls=["rpc"]) for i in range(2)]
    mesh.start()
    assert mesh.client("rpc").call(b"host", timeout=WATCHDOG) == b"Chost"
    for svc in callers:
        assert svc.join(WATCHDOG)
        assert svc.exit_code == 0, svc.outcome


def test_the_port_layout_is_documented_at_its_offsets() -> None:
    text = (GUESTS.parent.parent / "docs" / "ring.md").read_text()
    rows = re.findall(r"^\| (\d+) \| ((?:port|box)\.\w+) \|", text, flags=re.M)
    fields = {name: int(off) for off, name in rows}
    for name, value in vars(P).items():
        if name.startswith("OFF_"):
            assert fields[f"port.{name[4:].lower()}"] == value, name
        elif name.startswith("BOX_") and name not in ("BOX_HEADER", "BOX_REQUEST"):
            assert fields[f"box.{name[4:].lower()}"] == value, name
    assert f"`{P.MAGIC:#010X}`".replace("0X", "0x") in text


def test_an_observer_snapshot_carries_the_port_counters(mesh: Mesh) -> None:
    from nanonet.observe.snapshot import take

    mesh.port("rpc", clients=0, host_clients=1)
    mesh.service("server", SERVER, serves=["rpc"])
    client = mesh.client("rpc")
    mesh.start()
    for i in range(5):
        client.call(b"%d" % i, timeout=WATCHDOG)
    wait_until(lambda: mesh.port_statistics()["rpc"].replied == 5, "5 replies counted")
    (port,) = take(mesh).to_json()["ports"]
    assert port | {"calls": 5, "replied": 5, "taken": 5, "in_flight": 0} == port
    assert (port["name"], port["server"], port["timeouts"]) == ("rpc", "server", 0)


def _parks_twice(port: Port) -> None:
    start = port.memory.u64(P.OFF_SERVER_PARKS)
    wait_until(lambda: port.memory.u64(P.OFF_SERVER_PARKS) > start + 2, "it parks twice")


def test_an_idle_server_with_a_deadline_is_not_taken_for_a_loop(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=0, host_clients=1)
    server = mesh.service("server", SERVER, serves=["rpc"], limits=Limits(deadline_ms=30))
    client = mesh.client("rpc")
    mesh.start()
    for i in range(3):  # idle spells of several deadlines (100 ms parks) between calls
        _parks_twice(port)
        assert client.call(b"%d" % i, timeout=WATCHDOG) == b"R%d" % i
    assert server.traps == []


def test_a_forged_port_header_is_refused_by_the_wasm_client(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=1, host_clients=0)
    svc = mesh.service("client", CLIENT, calls=["rpc"])
    port.memory.put_u32(P.OFF_MAILBOXES, 1 << 30)  # would put mailboxes far out of bounds
    mesh.start()
    assert svc.join(WATCHDOG)
    assert svc.exit_code == -1004  # NN_CORRUPT: quarantined, nothing read out of bounds
    assert port.memory.u32(P.OFF_QUARANTINE) != 0


def test_the_metrics_carry_the_port_counters(mesh: Mesh) -> None:
    from prometheus_client import generate_latest

    from nanonet.observe.metrics import registry
    from nanonet.observe.snapshot import take

    mesh.port("rpc", clients=0, host_clients=1)
    client = mesh.client("rpc")
    mesh.start()
    with pytest.raises(CallTimeout):
        client.call(b"nobody serves", timeout=0.01)
    text = generate_latest(registry(lambda: take(mesh))).decode()
    assert 'nanonet_port_calls_total{port="rpc"} 1.0' in text
    assert 'nanonet_port_timeouts_total{port="rpc"} 1.0' in text
    assert 'nanonet_port_in_flight{port="rpc"} 0.0' in text


def test_random_writes_to_one_mailbox_never_reach_another_caller(mesh: Mesh) -> None:
    """A hostile writer scribbles over mailbox 1 (state, id, lengths); the
    server must not trap, nor read or write out of bounds, and the honest
    caller in mailbox 0 gets every one of its own replies."""
    import random

    port = mesh.port("rpc", clients=0, host_clients=2, max_payload=64)
    server = mesh.service("server", SERVER, serves=["rpc"])
    honest = mesh.client("rpc")
    mesh.start()
    stop = threading.Event()
    box = port.geometry.box(1)

    def scribble() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            state = rng.choice([Box.POSTED, Box.TAKEN, Box.REPLIED, rng.getrandbits(32)])
            port.memory.put_u32(box + P.BOX_REQ_LEN, rng.choice([0, 64, 65, rng.getrandbits(32)]))
            port.memory.put_u32(box + P.BOX_REP_LEN, rng.getrandbits(32))
            port.memory.put_u64(box, (rng.getrandbits(32) << 32) | state)

    thread = threading.Thread(target=scribble, daemon=True)
    thread.start()
    try:
        for i in range(3000):
            request = b"%d" % i
            assert honest.call(request, timeout=WATCHDOG) == b"R" + request
    finally:
        stop.set()
        thread.join(WATCHDOG)
    assert server.traps == [] and server.running
    assert port.memory.u32(P.OFF_QUARANTINE) == 0


def test_a_server_that_returns_breaks_its_port(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=1)
    server = mesh.service("server", '(module '
                          '(import "nanonet" "port" (func (param i32 i32) (result i32))) '
                          '(memory (export "memory") 1) '
                          '(func (export "run") (result i32) (i32.const 0)))', serves=["rpc"])
    client = mesh.client("rpc")
    mesh.start()
    assert server.join(WATCHDOG)
    with pytest.raises(TunnelBroken, match="port 'rpc' is broken"):
        client.call(b"anyone?", timeout=WATCHDOG)


def test_a_rust_guest_calls_through_nanonet_rs(mesh: Mesh) -> None:
    from nanonet.toolchain import rustbuild

    missing = rustbuild.available()
    if missing is not None:
        pytest.skip(f"Rust guests cannot be built here: {missing}")
    mesh.port("rpc", clients=1, host_clients=0, max_payload=128)
    mesh.service("server", build(GUESTS / "port_c.c", flags=["-DSERVER"]), serves=["rpc"])
    caller = mesh.service("caller", rustbuild.build_rust(GUESTS / "port_rust.rs"), calls=["rpc"])
    mesh.start()
    assert caller.join(WATCHDOG)
    assert caller.exit_code == 0, caller.outcome


def test_one_host_client_shared_by_threads_gives_each_its_own_reply(mesh: Mesh) -> None:
    mesh.port("rpc", clients=0, host_clients=1)
    mesh.service("server", SERVER, serves=["rpc"])
    client = mesh.client("rpc")
    mesh.start()
    bad: list[bytes] = []

    def run(tag: int) -> None:
        for i in range(1000):
            request = b"%d:%d" % (tag, i)
            if client.call(request, timeout=WATCHDOG) != b"R" + request:
                bad.append(request)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WATCHDOG)
    assert bad == []
    assert mesh.port_statistics()["rpc"].calls == 4000


def test_a_wasm_callers_late_reply_is_dropped_not_delivered_to_its_retry(mesh: Mesh) -> None:
    port = mesh.port("rpc", clients=1, host_clients=0)
    box = port.geometry.box(0)
    first = threading.Event()

    def handler(request: bytes) -> bytes:
        if not first.is_set():  # answered only once its caller timed out, and wrongly
            first.set()
            wait_until(lambda: port.memory.u64(box + P.BOX_TIMEOUTS) == 1, "the caller gave up")
            return b"LATE"
        return b"R" + request

    mesh.serve("rpc", handler)
    caller = mesh.service("caller", CLIENT, calls=["rpc"])
    caller.call("configure", 5, 1, 0, 50)  # 50 ms deadlines; a timeout retries the same call
    mesh.start()
    assert caller.join(WATCHDOG)
    assert caller.exit_code == 0, caller.outcome  # no bad reply: "LATE" never reached it
    assert caller.call("timeouts") == 1
    wait_until(lambda: mesh.port_statistics()["rpc"].late == 1, "the late reply was dropped")
