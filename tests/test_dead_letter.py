"""A poison message: redelivered to a reader that traps on it every time, it
is moved to the dead-letter tunnel (or dropped and counted) after
``dead_letter_after`` redeliveries, and the rest of the stream flows on."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from nanonet import Mesh, RestartPolicy, State
from nanonet.errors import ManifestError
from nanonet.manifest.manifest import load_manifest
from nanonet.observe.snapshot import take
from nanonet.policy.policy import Restart
from nanonet.ring.endpoint import TunnelReader, TunnelWriter

pytestmark = pytest.mark.timeout(120)

COUNT, POISON = 1000, 500

# forwards every 4-byte message from "in" to "out", one at a time; traps
# (unreachable) on a message whose value is 0xFFFFFFFF
PICKY = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "inout")
  (func (export "run") (result i32) (local $a i32) (local $b i32) (local $r i32)
    (local.set $a (call $tunnel (i32.const 0) (i32.const 2)))
    (local.set $b (call $tunnel (i32.const 2) (i32.const 3)))
    (loop $more
      (local.set $r (call $recv (local.get $a) (i32.const 1024) (i32.const 64)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (if (i32.eq (i32.load (i32.const 1024)) (i32.const -1)) (then unreachable))
      (local.set $r (call $send (local.get $b) (i32.const 1024) (local.get $r)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (br $more))
    (i32.const 0)))"""


def _messages() -> list[bytes]:
    return [struct.pack("<I", 0xFFFFFFFF if i == POISON else i) for i in range(COUNT)]


def _policy(sink: str | None) -> RestartPolicy:
    return RestartPolicy(Restart.ON_FAILURE, max_restarts=10, initial_ms=0, max_ms=0,
                         dead_letter_after=2, dead_letter=sink)


def _build(mesh: Mesh, sink: str | None) -> tuple[TunnelWriter, TunnelReader]:
    mesh.tunnel("in", slots=64, max_payload=8)
    mesh.tunnel("out", slots=64, max_payload=8)
    if sink:
        mesh.tunnel(sink, slots=8, max_payload=8)
    mesh.service("picky", PICKY, reads=["in"], writes=["out"], restart=_policy(sink))
    return mesh.writer("in"), mesh.reader("out")


def _stream(mesh: Mesh, w: TunnelWriter, r: TunnelReader) -> list[int]:
    """Send the stream, poison included; what arrives once all but one did."""
    mesh.start()
    got: list[int] = []
    pending = _messages()
    while len(got) < COUNT - 1:
        if pending:
            pending = pending[w.try_send_many(pending):]
        got += [struct.unpack("<I", m)[0] for m in r.recv_many(256, timeout=20)]
    return got


def test_a_poison_message_goes_to_the_dead_letter_tunnel_and_the_rest_flow_on() -> None:
    with Mesh() as mesh:
        w, r = _build(mesh, "dlq")
        dlq = mesh.reader("dlq")
        got = _stream(mesh, w, r)
        assert got == [i for i in range(COUNT) if i != POISON]
        assert dlq.recv(timeout=20) == struct.pack("<I", 0xFFFFFFFF)
        picky = mesh.services["picky"]
        [report] = picky.dead_letters
        assert (report.tunnel, report.sequence, report.moved_to) == ("in", POISON, "dlq")
        assert report.traps == 3  # its first delivery and two redeliveries trapped
        assert picky.restarts == 3 and picky.state is State.RUNNING
        assert mesh.statistics()["in"].dead_letters == 1
        snap = take(mesh).to_json()
        assert {t["name"]: t["dead_letters"] for t in snap["tunnels"]}["in"] == 1
        assert {s["name"]: s["dead_letters"] for s in snap["services"]}["picky"] == [
            {"tunnel": "in", "sequence": POISON, "size": 4, "moved_to": "dlq", "traps": 3}]


def test_without_a_dead_letter_tunnel_the_poison_message_is_dropped_and_counted() -> None:
    with Mesh() as mesh:
        got = _stream(mesh, *_build(mesh, None))
        assert got == [i for i in range(COUNT) if i != POISON]
        [report] = mesh.services["picky"].dead_letters
        assert (report.sequence, report.moved_to) == (POISON, None)
        assert mesh.statistics()["in"].dead_letters == 1


def test_the_manifest_names_the_dead_letter_tunnel(tmp_path: Path) -> None:
    (tmp_path / "picky.wat").write_text(PICKY)
    (tmp_path / "nanonet.toml").write_text("""
[tunnels.in]
writer = "host"
reader = "picky"
max_payload = 8
[tunnels.out]
writer = "picky"
reader = "host"
max_payload = 8
[tunnels.dlq]
writer = "picky"
reader = "host"
max_payload = 8
[services.picky]
source = "picky.wat"
[services.picky.restart]
policy = "on-failure"
dead_letter_after = 2
dead_letter = "dlq"
""")
    m = load_manifest(tmp_path / "nanonet.toml")
    assert m.services["picky"].writes == ("out",)
    assert m.services["picky"].policy.restart.dead_letter == "dlq"
    assert m.services["picky"].policy.restart.dead_letter_after == 2
    mesh = m.build_mesh()
    try:
        assert mesh.tunnels["dlq"].writer == "picky"
    finally:
        mesh.close()


def test_a_dead_letter_tunnel_the_service_does_not_write_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nanonet.toml").write_text("""
[tunnels.in]
writer = "host"
reader = "picky"
[services.picky]
source = "picky.wat"
[services.picky.restart]
policy = "on-failure"
dead_letter_after = 2
dead_letter = "nowhere"
""")
    with pytest.raises(ManifestError, match="names tunnel 'nowhere', which is not a tunnel"):
        load_manifest(tmp_path / "nanonet.toml")
