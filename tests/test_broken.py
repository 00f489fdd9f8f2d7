"""A service gone for good breaks its tunnels: its peers get BROKEN /
TunnelBroken (the cause chained) instead of waiting for ever, a reader only
once it has drained what was sent before the break."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import guest, wait_until
from nanonet import Mesh, RestartPolicy, State
from nanonet.cli import main
from nanonet.errors import GuestTrap, TunnelBroken, TunnelClosed
from nanonet.policy.policy import Restart
from nanonet.ring import layout as L

pytestmark = pytest.mark.timeout(60)

# forwards each message from "t" to "u"; traps (unreachable) on message TRAP_AT
FILTER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "tu")
  (func (export "run") (result i32) (local $t i32) (local $u i32) (local $n i32) (local $r i32)
    (local.set $t (call $tunnel (i32.const 0) (i32.const 1)))
    (local.set $u (call $tunnel (i32.const 1) (i32.const 1)))
    (loop $more
      (local.set $r (call $recv (local.get $t) (i32.const 1024) (i32.const 1024)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (if (i32.eq (local.get $n) (i32.const TRAP_AT)) (then unreachable))
      (local.set $r (call $send (local.get $u) (i32.const 1024) (local.get $r)))
      (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
      (br $more))
    (i32.const 0)))"""

SEND = 1  # until_status: send 8-byte messages until a negative status


def _pipeline(mesh: Mesh, trap_at: int = 5, restart: RestartPolicy | None = None) -> None:
    mesh.tunnel("t", slots=8, max_payload=16)
    mesh.tunnel("u", slots=64, max_payload=16)
    first = mesh.service("source", guest("until_status", side="write"), writes=["t"])
    first.call("configure", SEND)
    mesh.service("filter", FILTER.replace("TRAP_AT", str(trap_at)), reads=["t"],
                 writes=["u"], restart=restart)


def _drain_until_broken(reader: object) -> tuple[list[bytes], TunnelBroken]:
    from nanonet.ring.endpoint import TunnelReader
    assert isinstance(reader, TunnelReader)
    got: list[bytes] = []
    with pytest.raises(TunnelBroken) as info:
        for _ in range(1000):  # each recv is bounded: a hang fails, never waits for ever
            got.append(reader.recv(timeout=20))
    return got, info.value


def test_a_trapped_middle_stage_breaks_both_of_its_tunnels() -> None:
    with Mesh() as mesh:
        _pipeline(mesh)
        out = mesh.reader("u")
        mesh.start()
        got, err = _drain_until_broken(out)
        assert got == [b"messages"] * 4  # what it forwarded before the trap still arrives
        assert str(err) == ("tunnel 'u' is broken: its writer 'filter' trapped "
                            "(unreachable executed) and will not restart")
        assert isinstance(err.__cause__, GuestTrap)
        assert err.__cause__.service == "filter"
        assert mesh.wait(20)  # nothing waits for ever: every service ended
        source = mesh.services["source"]
        assert source.exit_code == L.Status.BROKEN == -7
        assert source.state is State.STOPPED
        assert mesh.services["filter"].state is State.TRAPPED
        stats = mesh.statistics()
        assert stats["t"].broken == stats["u"].broken == L.Broken.TRAPPED


def test_a_reader_drains_what_was_sent_before_the_break_then_gets_broken() -> None:
    with Mesh() as mesh:
        mesh.tunnel("u", slots=64, max_payload=16)
        w = mesh.writer("u")
        r = mesh.reader("u")
        for i in range(3):
            w.send(bytes([i]))
        from nanonet.ring.control import BreakInfo
        mesh.tunnels["u"].control.break_(BreakInfo("writer", "w", L.Broken.FAILED, "x"))
        assert [r.recv(timeout=5) for _ in range(3)] == [b"\0", b"\1", b"\2"]
        with pytest.raises(TunnelBroken, match="its writer 'w' failed"):
            r.recv(timeout=5)
        with pytest.raises(TunnelBroken):
            w.send(b"late")


def test_a_close_is_not_a_break() -> None:
    with Mesh() as mesh:
        mesh.tunnel("u", slots=8, max_payload=16)
        w = mesh.writer("u")
        r = mesh.reader("u")
        w.close()
        with pytest.raises(TunnelClosed):
            r.recv(timeout=5)
        assert not mesh.statistics()["u"].broken


def test_a_service_out_of_restarts_breaks_its_tunnels_as_failed() -> None:
    policy = RestartPolicy(Restart.ON_FAILURE, max_restarts=1, initial_ms=0, max_ms=0)
    with Mesh() as mesh:
        _pipeline(mesh, trap_at=1, restart=policy)
        out = mesh.reader("u")
        mesh.start()
        _got, err = _drain_until_broken(out)
        assert "its writer 'filter' failed (out of restarts" in str(err)
        assert isinstance(err.__cause__, GuestTrap)
        wait_until(lambda: not mesh.services["source"].running, "the source ended")
        assert mesh.services["source"].exit_code == L.Status.BROKEN
        assert mesh.services["filter"].state is State.FAILED
        assert mesh.statistics()["u"].broken == L.Broken.FAILED


# sends 8-byte messages on "t" until a send fails, and returns that status
SOURCE = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1))
  (data (i32.const 0) "t")
  (func (export "run") (result i32) (local $h i32) (local $r i32)
    (local.set $h (call $tunnel (i32.const 0) (i32.const 1)))
    (loop $more
      (local.set $r (call $send (local.get $h) (i32.const 64) (i32.const 8)))
      (br_if $more (i32.ge_s (local.get $r) (i32.const 0))))
    (local.get $r)))"""


def test_run_ends_when_nothing_can_move_and_exits_non_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "source.wat").write_text(SOURCE)
    (tmp_path / "filter.wat").write_text(FILTER.replace("TRAP_AT", "5"))
    (tmp_path / "nanonet.toml").write_text(
        '[tunnels.t]\nwriter = "source"\nreader = "filter"\nslots = 8\nmax_payload = 16\n'
        '[tunnels.u]\nwriter = "filter"\nreader = "host"\nmax_payload = 16\n'
        '[services.source]\nsource = "source.wat"\n[services.filter]\nsource = "filter.wat"\n')
    assert main(["run", str(tmp_path / "nanonet.toml"), "--timeout", "120"]) != 0
    out = capsys.readouterr().out
    assert "every service ended" in out  # not the timeout
    assert ("host: u: tunnel 'u' is broken: its writer 'filter' trapped "
            "(unreachable executed) and will not restart") in out
    assert re.search(r"source\s+stopped\s+-7", out)
    assert re.search(r"filter\s+trapped", out)


def test_a_stop_closes_and_breaks_nothing() -> None:
    with Mesh() as mesh:
        _pipeline(mesh, trap_at=1 << 30)  # the filter never traps
        out = mesh.reader("u")
        mesh.start()
        mesh.stop()
        assert not any(st.broken for st in mesh.statistics().values())
        assert mesh.services["source"].exit_code == L.Status.CLOSED
        with pytest.raises(TunnelClosed):
            while True:
                out.recv(timeout=20)
