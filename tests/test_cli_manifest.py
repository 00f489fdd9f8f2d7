"""``nanonet check``, ``run`` and ``build`` as a new user meets them: the
manifest found in the current directory, every error of a manifest at once
(with "did you mean"), ``--json``, and a build of every guest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

WRITER = """(module
  (import "nanonet" "tunnel" (func $tunnel (param i32 i32) (result i32)))
  (import "nanonet" "send" (func $send (param i32 i32 i32) (result i32)))
  (import "nanonet" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "out")
  (data (i32.const 8) "hi")
  (func (export "run") (result i32)
    (drop (call $send (call $tunnel (i32.const 0) (i32.const 3)) (i32.const 8) (i32.const 2)))
    (call $close (call $tunnel (i32.const 0) (i32.const 3)))))
"""

GOOD = """\
[tunnels.out]
writer = "ingress"
reader = "host"

[services.ingress]
source = "ingress.wat"
"""

# four mistakes in four places: a misspelt key, two misspelt service names, a missing file
BAD = """\
[tunnels.out]
slot = 16
writer = "ingres"
reader = "host"

[tunnels.back]
writer = "host"
reader = "egres"

[services.ingress]
source = "ingress.wat"

[services.egress]
source = "missing.wat"
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def _project(tmp: Path, manifest: str = GOOD) -> Path:
    (tmp / "ingress.wat").write_text(WRITER)
    (tmp / "nanonet.toml").write_text(manifest)
    return tmp


def test_run_and_check_find_the_manifest_in_the_current_directory(tmp_path: Path) -> None:
    here = _project(tmp_path)
    ran = cli("run", cwd=here)
    assert ran.returncode == 0, ran.stderr
    assert "host ← out #1 (2 bytes): 'hi'" in ran.stdout
    checked = cli("check", cwd=here)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("nanonet.toml: valid: 1 services")


@pytest.mark.parametrize("command", ["run", "check", "build"])
def test_no_manifest_here_is_one_line_saying_how_to_make_one(tmp_path: Path,
                                                            command: str) -> None:
    done = cli(command, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"nanonet {command}: no nanonet.toml in {tmp_path}; make one with `nanonet new NAME` "
        f"(then cd NAME), or give its path: nanonet {command} PATH"]


def test_check_reports_every_table_error_at_once_with_did_you_mean(tmp_path: Path) -> None:
    bad = BAD.replace("[services.egress]", "[services.egress]\nsourc = \"x.c\"")
    done = cli("check", cwd=_project(tmp_path, bad))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "nanonet.toml:2:1: tunnels.out.slot: unknown key; did you mean 'slots'? remove it, or "
        "use one of: slots, max_payload, slot_size, writer, writers, reader, subscribers, policy, "
        "max_subscribers, type, wit, wait, durable, delivery",
        "nanonet.toml:14:1: services.egress.sourc: unknown key; did you mean 'source'? remove "
        "it, or use one of: component, imports, wasi, wit, world, wasm, source, build, "
        "build_timeout, memory, entry, exports, names, calls, grants, limits, restart, node",
        "nanonet.toml: 2 errors; fix them and run nanonet check again"]


def test_check_reports_every_cross_table_error_at_once(tmp_path: Path) -> None:
    done = cli("check", cwd=_project(tmp_path, BAD.replace("slot = 16\n", "")))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[:2] == [
        "nanonet.toml:2:1: tunnels.out.writer: no service named 'ingres' (services: egress, "
        "ingress); did you mean 'ingress'? name one of them, or \"host\"",
        "nanonet.toml:7:1: tunnels.back.reader: no service named 'egres' (services: egress, "
        "ingress); did you mean 'egress'? name one of them, or \"host\""]
    assert [line.split(": ")[:2] for line in lines[2:5]] == [
        ["nanonet.toml:9:1", "services.ingress"], ["nanonet.toml:12:1", "services.egress"],
        ["nanonet.toml:13:1", "services.egress.source"]]
    assert "holds no tunnel end" in lines[3] and "no file " in lines[4]
    assert lines[5:] == ["nanonet.toml: 5 errors; fix them and run nanonet check again"]


def test_a_misspelt_tunnel_name_gets_a_did_you_mean(tmp_path: Path) -> None:
    text = GOOD + '\n[services.ingress.restart]\npolicy = "on-failure"\n' \
        'dead_letter_after = 2\ndead_letter = "ot"\n'
    text = text.replace("[services.ingress]", "[tunnels.dead]\nwriter = \"ingress\"\n"
                        "reader = \"host\"\n\n[services.ingress]")
    done = cli("check", "--no-load", cwd=_project(tmp_path, text.replace('"ot"', '"daed"')))
    assert done.returncode == 1
    assert "names tunnel 'daed', which is not a tunnel this service writes; did you mean " \
        "'dead'? add [tunnels.daed]" in done.stderr


def test_check_json_lists_every_error_with_its_parts(tmp_path: Path) -> None:
    done = cli("check", "--json", cwd=_project(tmp_path, BAD.replace("slot = 16\n", "")))
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and len(doc["errors"]) == 5
    first = doc["errors"][0]
    assert (first["file"], first["line"], first["column"], first["key"], first["code"]) == (
        "nanonet.toml", 2, 1, "tunnels.out.writer", "manifest-invalid")
    assert first["problem"].startswith("no service named 'ingres'")


def test_check_json_of_a_good_manifest_is_ok(tmp_path: Path) -> None:
    done = cli("check", "--json", cwd=_project(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True, "manifest": "nanonet.toml", "errors": [],
                                       "services": ["ingress"], "tunnels": ["out"],
                                       "roles": {"ingress": {
                                           "tunnels": [{"tunnel": "out", "role": "writes"}],
                                           "ports": {"serves": [], "calls": []}}}}


BUILT = """\
[tunnels.out]
writer = "first"
reader = "host"

[tunnels.two]
writer = "second"
reader = "host"

[tunnels.three]
writer = "third"
reader = "host"

[services.first]
build = ["sh", "-c", "cp ingress.wat first.wat && echo made first"]
wasm = "first.wat"

[services.second]
build = ["sh", "-c", "echo the compiler says no; exit 3"]
wasm = "second.wasm"

[services.third]
build = ["sh", "-c", "touch third-ran"]
wasm = "third.wasm"
"""


def test_build_shows_progress_and_stops_at_the_first_failure_with_its_output(
        tmp_path: Path) -> None:
    here = _project(tmp_path, BUILT)
    done = cli("build", cwd=here)
    assert done.returncode == 1
    assert "[1/3] first: build command sh -c cp ingress.wat first.wat" in done.stdout
    assert "[2/3] second: build command" in done.stdout
    assert "[3/3]" not in done.stdout and not (here / "third-ran").exists()
    assert (here / "first.wat").is_file()
    assert done.stderr.startswith("build stopped: nanonet.toml:18:1: services.second.build: "
                                  "failed with exit status 3; fix the build:\n")
    assert "the compiler says no" in done.stderr


def test_build_builds_c_sources_and_commands(tmp_path: Path) -> None:
    here = _project(tmp_path, BUILT.replace("echo the compiler says no; exit 3",
                                            "cp ingress.wat second.wasm"))
    (here / "third.c").write_text('#include <nanonet.h>\nint32_t run(void) { return '
                                  'nn_close(NN_TUNNEL("three")); }\n')
    text = BUILT.replace('build = ["sh", "-c", "touch third-ran"]\nwasm = "third.wasm"',
                         'source = "third.c"')
    (here / "nanonet.toml").write_text(text.replace("echo the compiler says no; exit 3",
                                                    "cp ingress.wat second.wat")
                                       .replace("second.wasm", "second.wat"))
    done = cli("build", cwd=here)
    assert done.returncode == 0, done.stderr
    assert "[3/3] third: source third.c" in done.stdout
    assert "third: third.c (exports its memory)" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("built 3 services of nanonet.toml in ")


RANDOM = """(module
  (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32) (i32.const 0)))
"""


def test_check_reports_every_service_that_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "random.wat").write_text(RANDOM)
    text = GOOD.replace("ingress.wat", "random.wat") + (
        '\n[tunnels.two]\nwriter = "second"\nreader = "host"\n\n'
        '[services.second]\nsource = "random.wat"\n')
    done = cli("check", cwd=_project(tmp_path, text))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert [line.split(": ")[:2] for line in lines[:2]] == [
        ["nanonet.toml:5:1", "services.ingress"], ["nanonet.toml:12:1", "services.second"]]
    assert all("imports wasi_snapshot_preview1.random_get, which needs the 'random' grant"
               in line for line in lines[:2])
    assert lines[2:] == ["nanonet.toml: 2 errors; fix them and run nanonet check again"]
