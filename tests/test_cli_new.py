"""``nanonet new``: each template makes a directory that ``check`` accepts and
``run`` runs, the greeting reaching the host; a non-empty directory is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nanonet.toolchain.rustbuild import available as rust_missing

pytestmark = pytest.mark.timeout(240)
HAS_COMPONENTIZE = Path(sys.executable).with_name("componentize-py").exists()
GUESTS = {"c": "guest.c", "wat": "guest.wat", "rust": "guest.rs"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=200, cwd=cwd)


@pytest.mark.parametrize("template", sorted(GUESTS))
def test_a_core_template_checks_and_runs(tmp_path: Path, template: str) -> None:
    if template == "rust" and (why := rust_missing()) is not None:
        pytest.skip(why)
    made = cli("new", "greeter", "--template", template, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    here = tmp_path / "greeter"
    guest = GUESTS[template]
    assert sorted(p.name for p in here.iterdir()) == sorted(["README.md", "nanonet.toml", guest])
    checked = cli("check", cwd=here)
    assert checked.returncode == 0, checked.stderr
    assert "the service loads: every import is granted" in checked.stdout
    ran = cli("run", cwd=here)
    assert ran.returncode == 0, ran.stderr
    assert "host ← out #1 (18 bytes): 'hello from greeter'" in ran.stdout


@pytest.mark.skipif(not HAS_COMPONENTIZE,
                    reason="componentize-py is not installed (pip install 'nanonet[components]')")
def test_the_python_component_template_builds_checks_and_runs(tmp_path: Path) -> None:
    assert cli("new", "auth_svc", "-t", "python-component", cwd=tmp_path).returncode == 0
    here = tmp_path / "auth_svc"
    # componentize-py takes 30 s and more; the template's guest is the auth example's,
    # whose build test_auth_example.py made (and cached) earlier in the session
    built = cli("build", cwd=here)
    assert built.returncode == 0, built.stderr
    assert "[1/1] auth_svc: component guest_py/auth.py" in built.stdout
    checked = cli("check", cwd=here)
    assert checked.returncode == 0, checked.stderr
    # a component only answers calls: the run the template names calls it, then stops
    ran = cli("run", "--call", 'auth_svc.authenticate("not.a.token")', "--calls", "3", cwd=here)
    assert ran.returncode == 0, ran.stderr
    assert "calls: 3 × auth_svc.authenticate" in ran.stdout, ran.stdout
    assert "(component: answers calls)" in ran.stdout
    assert "nanonet run --call 'auth_svc.authenticate(" in (here / "README.md").read_text()


def test_new_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    done = cli("new", "taken", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"nanonet new: {tmp_path / 'taken'} exists and is not empty; pick another NAME, or "
        "empty it first"]
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["mine.txt"]


def test_new_uses_an_empty_directory_and_refuses_a_name_no_service_can_have(
        tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert cli("new", "empty", "-t", "wat", cwd=tmp_path).returncode == 0
    assert (tmp_path / "empty" / "nanonet.toml").is_file()
    done = cli("new", "two words", cwd=tmp_path)
    assert done.returncode == 1 and not (tmp_path / "two words").exists()
    assert done.stderr.startswith("nanonet new: cannot name a service 'two words'")
