"""Fan-in tunnels: several writers (services and the host), one reader that
reads every writer's ring as one handle, fairly, parked once for all."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import pytest

import nanonet
from conftest import guest
from nanonet import EndpointTaken, FanIn, InvalidValue, Mesh, State
from nanonet.manifest.manifest import check_manifest
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(300)
# 10^6 messages in all (a few seconds here); NANONET_STRESS_SCALE scales it
TOTAL = int(1_000_000 * float(os.environ.get("NANONET_STRESS_SCALE", "1"))) // 4 * 4
WRITERS = ["a", "b", "c", "host"]
TRAPS = '(module (import "env" "memory" (memory 1)) (func (export "run") (result i32) unreachable))'


def _fan_mesh(mesh: Mesh, reader: str, per_writer: int, senders: str = "abc") -> None:
    mesh.tunnel("in", slots=256, max_payload=56, writers=WRITERS)
    mesh.tunnel("out", slots=1024, max_payload=56)
    for i, name in enumerate(senders):
        mesh.service(name, guest("tagged_sender"), writes=["in"]).call(
            "configure", i, per_writer, 16)
    mesh.service("r", guest(reader), reads=["in"], writes=["out"])


def _host_feed(mesh: Mesh, count: int) -> threading.Thread:
    writer = mesh.writer("in")

    def feed() -> None:
        for first in range(0, count, 64):
            writer.send_many([struct.pack("<II", 3, s) + bytes(8)
                              for s in range(first, min(count, first + 64))], timeout=30)
        writer.close()

    thread = threading.Thread(target=feed)
    thread.start()
    return thread


@pytest.mark.parametrize("reader", ["batch_relay", "merger"])
def test_four_writers_each_whole_in_order_and_none_starved(reader: str) -> None:
    per = TOTAL // 4
    with Mesh() as mesh:
        _fan_mesh(mesh, reader, per)
        if reader == "merger":
            mesh.services["r"].call("configure", 1, -1)  # wait_any on the one fan-in handle
        out = mesh.reader("out")
        mesh.start()
        feeder = _host_feed(mesh, per)
        tags = [struct.unpack_from("<II", m) for m in out]
        feeder.join(30)
        assert len(tags) == TOTAL
        for w in range(4):
            assert [s for t, s in tags if t == w] == list(range(per)), f"writer {w}"
        first_half = {t for t, _ in tags[: TOTAL // 2]}
        assert first_half == {0, 1, 2, 3}, "a writer was starved while all four streamed"
        assert mesh.wait(30)
        assert (mesh.services["r"].state, mesh.services["r"].exit_code) == (State.STOPPED, 0)
        fan = mesh.tunnels["in"]
        assert isinstance(fan, FanIn)
        counts = [(w, s.sent, s.received) for w, s in fan.per_writer()]
        assert counts == [(w if w != "host" else "<host>", per, per) for w in WRITERS]
        assert mesh.statistics()["in"].received == TOTAL


def test_a_broken_writer_lets_the_others_through_then_the_reader_sees_broken() -> None:
    per = 2000
    with Mesh() as mesh:
        mesh.tunnel("in", slots=64, max_payload=56, writers=["a", "b", "dead"])
        mesh.tunnel("out", slots=8192, max_payload=56)
        for i, name in enumerate("ab"):
            mesh.service(name, guest("tagged_sender"), writes=["in"]).call(
                "configure", i, per, 16)
        mesh.service("dead", TRAPS, writes=["in"])
        relay = mesh.service("r", guest("batch_relay"), reads=["in"], writes=["out"])
        out = mesh.reader("out")
        mesh.start()
        tags = [struct.unpack_from("<II", out.recv(timeout=30)) for _ in range(2 * per)]
        assert sorted(tags) == sorted((w, s) for w in range(2) for s in range(per))
        assert mesh.wait(30)
        assert relay.exit_code == L.Status.BROKEN


def test_a_fan_in_handle_and_a_plain_tunnel_in_one_wait_any() -> None:
    with Mesh() as mesh:
        mesh.tunnel("in", slots=16, max_payload=56, writers=["a", "host"])
        mesh.tunnel("x", slots=16, max_payload=56)
        mesh.tunnel("out", slots=1024, max_payload=56)
        mesh.service("a", guest("tagged_sender"), writes=["in"]).call("configure", 0, 300, 16)
        merge = mesh.service("m", guest("merger"), reads=["in", "x"], writes=["out"])
        merge.call("configure", 2, -1)
        host_in, host_x = mesh.writer("in"), mesh.writer("x")
        out = mesh.reader("out")
        mesh.start()
        for s in range(300):
            host_in.send(struct.pack("<II", 1, s) + bytes(8), timeout=10)
            host_x.send(struct.pack("<II", 2, s) + bytes(8), timeout=10)
        host_in.close()
        host_x.close()
        tags = [struct.unpack_from("<II", m) for m in out]
        for w in range(3):
            assert [s for t, s in tags if t == w] == list(range(300))
        assert mesh.wait(30)
        assert merge.exit_code == 0


def test_who_may_hold_a_fan_in_end() -> None:
    with Mesh() as mesh:
        mesh.tunnel("in", slots=8, max_payload=56, writers=["a", "host"])
        with pytest.raises(EndpointTaken, match=r"writers \[a, <host>\] and 'z' is not one"):
            mesh.service("z", guest("tagged_sender"), writes=["in"])
        mesh.writer("in")
        with pytest.raises(EndpointTaken, match="all taken"):
            mesh.writer("in")
        with pytest.raises(InvalidValue, match="its reader is a service"):
            mesh.reader("in")
        with pytest.raises(InvalidValue, match="each service once"):
            mesh.tunnel("dup", writers=["a", "a"])


FAN_MANIFEST = """
[tunnels.in]
slots = 64
max_payload = 56
writers = ["a", "b", "host"]
reader = "m"

[tunnels.out]
writer = "m"
reader = "host"

[services.a]
wasm = "tagged_sender.wat"
[services.b]
wasm = "tagged_sender.wat"
[services.m]
wasm = "batch_relay.wat"
"""


def test_a_manifest_declares_a_fan_in_tunnel_with_writers(tmp_path: Path) -> None:
    for name in ("tagged_sender", "batch_relay"):
        (tmp_path / f"{name}.wat").write_text(guest(name))
    (tmp_path / "nanonet.toml").write_text(FAN_MANIFEST)
    m = nanonet.load_manifest(tmp_path / "nanonet.toml")
    assert m.host_writes == ("in",)
    assert m.services["m"].reads == ("in",) and m.services["a"].writes == ("in",)
    mesh = m.build_mesh()
    try:
        for i, name in enumerate("ab"):
            mesh.services[name].call("configure", i, 100, 16)
        host, out = mesh.writer("in"), mesh.reader("out")
        mesh.start()
        host.send_many([struct.pack("<II", 2, s) + bytes(8) for s in range(100)], timeout=10)
        host.close()
        tags = [struct.unpack_from("<II", msg) for msg in out]
        assert sorted(tags) == [(w, s) for w in range(3) for s in range(100)]
    finally:
        mesh.close()


def test_a_tunnel_with_both_writer_and_writers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nanonet.toml").write_text(FAN_MANIFEST.replace(
        'writers = ["a", "b", "host"]', 'writer = "a"\nwriters = ["a", "b"]'))
    _m, errors = check_manifest(tmp_path / "nanonet.toml")
    assert any("exactly one of them" in str(e) for e in errors)


def test_a_snapshot_shows_each_writer_of_a_fan_in_tunnel_and_the_waiter() -> None:
    from nanonet.observe.snapshot import take

    with Mesh() as mesh:
        mesh.tunnel("in", slots=8, max_payload=56, writers=["a", "host"])
        mesh.tunnel("out", slots=8, max_payload=56)
        mesh.service("a", guest("tagged_sender"), writes=["in"]).call("configure", 0, 3, 16)
        mesh.service("m", guest("batch_relay"), reads=["in"], writes=["out"])
        mesh.writer("in").send(b"12345678")
        snap = take(mesh)
        fan = next(t for t in snap.tunnels if t.name == "in")
        assert fan.writer == "a, <host>" and fan.sent == 1
        assert [(w["writer"], w["sent"]) for w in fan.writers] == [("a", 0), ("<host>", 1)]
        parks = {s.name: s.bell_parks for s in snap.services}
        assert parks == {"a": None, "m": 0}


def test_raw_access_and_dead_letters_are_refused_on_a_fan_in_tunnel() -> None:
    from nanonet import Grants, LoadError, Restart, RestartPolicy

    with Mesh() as mesh:
        mesh.tunnel("in", slots=8, max_payload=56, writers=["a", "host"])
        mesh.tunnel("out", slots=8, max_payload=56)
        with pytest.raises(LoadError, match="raw access to fan-in tunnel 'in'"):
            mesh.service("m", guest("batch_relay"), reads=["in"], writes=["out"],
                         grants=Grants(raw=("in",)))
        policy = RestartPolicy(Restart.ON_FAILURE, dead_letter_after=1, dead_letter="in")
        with pytest.raises(InvalidValue, match="is a fan-in tunnel"):
            mesh.service("x", guest("batch_relay"), reads=["out"], writes=[], restart=policy)


def test_a_fan_in_reader_restarted_after_a_poison_message_reads_on() -> None:
    from nanonet import Restart, RestartPolicy

    with Mesh() as mesh:
        mesh.tunnel("in", slots=16, max_payload=56, writers=["host", "host"])
        mesh.tunnel("out", slots=64, max_payload=56)
        policy = RestartPolicy(Restart.ON_FAILURE, initial_ms=1, dead_letter_after=1)
        merge = mesh.service("m", guest("merger"), reads=["in"], writes=["out"], restart=policy)
        merge.call("configure", 1, -1)
        first, second = mesh.writer("in"), mesh.writer("in")
        out = mesh.reader("out")
        mesh.start()
        first.send(struct.pack("<II", 1, 0) + bytes(8), timeout=10)
        assert struct.unpack_from("<II", out.recv(timeout=10)) == (1, 0)
        second.send(struct.pack("<II", 0xFFFFFFFF, 0) + bytes(8), timeout=10)  # poison
        for s in range(1, 20):
            first.send(struct.pack("<II", 1, s) + bytes(8), timeout=10)
        second.send(struct.pack("<II", 2, 1) + bytes(8), timeout=10)
        got = [struct.unpack_from("<II", out.recv(timeout=20)) for _ in range(20)]
        assert [s for w, s in got if w == 1] == list(range(1, 20))
        assert [s for w, s in got if w == 2] == [1]
        assert merge.restarts == 2 and [r.sequence for r in merge.dead_letters] == [0]
