"""The restart window's manifest keys, and `nanonet run`'s exit status when a
restart cannot load the service again."""

from __future__ import annotations

from pathlib import Path

import pytest

import nanonet
from nanonet.cli import main
from nanonet.errors import LoadError
from nanonet.runtime.service import Service

TRAPS_AT_ONCE = """(module (import "nanonet" "tunnel" (func (param i32 i32) (result i32)))
  (memory (export "memory") 1) (func (export "run") (result i32) unreachable))"""


def _manifest(tmp_path: Path, restart: str) -> Path:
    (tmp_path / "boom.wat").write_text(TRAPS_AT_ONCE)
    path = tmp_path / "nanonet.toml"
    path.write_text('[tunnels.out]\nwriter = "boom"\nreader = "host"\n\n'
                    f'[services.boom]\nwasm = "boom.wat"\n\n[services.boom.restart]\n{restart}')
    return path


def test_window_and_healthy_keys_reach_the_policy(tmp_path: Path) -> None:
    path = _manifest(tmp_path, 'policy = "on-failure"\nmax_restarts = 3\nwindow_s = 30\n'
                               'healthy_s = 2.5\n')
    (svc,) = nanonet.load_manifest(path).services.values()
    r = svc.policy.restart
    assert (r.max_restarts, r.window_s, r.healthy_s) == (3, 30.0, 2.5)
    old = nanonet.load_manifest(_manifest(tmp_path, 'policy = "on-failure"\n')).services["boom"]
    assert (old.policy.restart.window_s, old.policy.restart.healthy_s) == (60.0, 10.0)


def test_run_exits_non_zero_when_a_restart_cannot_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    real, loads = Service._load, [0]

    def load_once(self: Service):  # type: ignore[no-untyped-def]
        loads[0] += 1
        if loads[0] > 1:
            raise LoadError(f"service {self.name!r} exceeds its memory cap at instantiation")
        return real(self)

    monkeypatch.setattr(Service, "_load", load_once)
    path = _manifest(tmp_path, 'policy = "on-failure"\ninitial_ms = 0\n')
    assert main(["run", str(path), "--timeout", "30"]) != 0
    out = capsys.readouterr().out
    assert "failed" in out and "restart failed: service 'boom' exceeds its memory cap" in out
