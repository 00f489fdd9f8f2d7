"""The wheel, installed in a fresh venv, runs the demo and the auth example.

The wheel is built from a copy of the tree (setuptools writes its build
folders beside the sources), installed with its declared dependencies and the
``[components]`` extra (componentize-py builds the auth component) but
without ``[c]`` and ``[otel]``, and run from a temporary working directory,
so what it finds it found in the installed copy. The ``wheel`` marker
deselects it (``-m 'not wheel'``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from nanonet.cli.schema_cli import schema_text
from nanonet.demo import C_GUESTS, prebuilt
from nanonet.telemetry import sources
from nanonet.toolchain.build import compile_c, has_zig

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DOC = ROOT / "docs" / "nanonet.schema.json"
MANIFESTS = sorted((ROOT / "src" / "nanonet" / "examples").glob("*/nanonet.toml"))
IN_WHEEL = ("nanonet/examples/auth/nanonet.toml", "nanonet/examples/auth/README.md",
            "nanonet/examples/telemetry/prebuilt/ingress.wasm",
            "nanonet/examples/telemetry/prebuilt/aggregate.wasm",
            "nanonet-0.1.0.dist-info/licenses/LICENSE")


def test_the_schema_in_docs_is_current() -> None:
    assert SCHEMA_DOC.read_text() == schema_text(), (
        "refresh it: python -m nanonet.cli schema > docs/nanonet.schema.json")


def test_nanonet_schema_prints_it() -> None:
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "schema"], capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out)["title"] == "nanonet.toml"
    assert out == SCHEMA_DOC.read_text()


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.parent.name)
def test_the_example_manifests_meet_the_schema(manifest: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(tomllib.loads(manifest.read_text()), json.loads(schema_text()))


def test_the_schema_refuses_a_misspelt_key() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    bad = {"services": {"a": {"source": "a.wat", "grant": {"clock": True}}}}
    with pytest.raises(jsonschema.ValidationError, match="grant"):
        jsonschema.validate(bad, json.loads(schema_text()))


@pytest.mark.skipif(not has_zig(), reason="building C guests needs ziglang: pip install "
                    "'nanonet[c]'")
@pytest.mark.parametrize(("name", "memory", "exports"), C_GUESTS, ids=[g[0] for g in C_GUESTS])
def test_the_prebuilt_guests_are_what_the_sources_build(name: str, memory: str,
                                                        exports: tuple[str, ...]) -> None:
    built = compile_c(sources() / f"{name}.c", memory=memory,  # type: ignore[arg-type]
                      exports=exports)
    assert prebuilt(name).read_bytes() == built.path.read_bytes(), (
        f"refresh it: cp {built.path} {prebuilt(name)}")


def _wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the tree, without build isolation."""
    tree = tmp / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tree)
    shutil.copytree(ROOT / "src", tree / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp / "dist"), str(tree)], check=True,
                   capture_output=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("nanonet-*.whl")
    return wheel


def _outside() -> dict[str, str]:
    """The environment without this checkout on the path: pip would otherwise
    take the tree's nanonet (its egg-info) as installed already."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _venv(tmp: Path, wheel: Path) -> Path:
    """A fresh venv holding the wheel, its dependencies and the [components] extra.

    ``--no-compile``: pip would byte-compile every installed module, most of
    which the test never imports (2.2-2.5 s against 3.7-8.4 s here); Python
    compiles what it imports anyway."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   env=_outside(), timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "-q", "--no-compile", f"{wheel}[components]"], check=True,
                   capture_output=True, env=_outside(), timeout=600)
    return venv / "bin"


def _run(cwd: Path, *cmd: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_outside(), capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(the wheel, the venv's bin, a working directory outside the tree)."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheel = _wheel(tmp)
    (tmp / "cwd").mkdir()
    return wheel, _venv(tmp, wheel), tmp / "cwd"


def _package(bin_dir: Path, cwd: Path) -> Path:
    where = _run(cwd, bin_dir / "python", "-c", "import nanonet; print(nanonet.__file__)")
    return Path(where.stdout.strip()).parent


@pytest.mark.wheel
@pytest.mark.timeout(900)
def test_the_wheel_holds_the_examples_and_the_license(
        installed: tuple[Path, Path, Path]) -> None:
    wheel, _, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read("nanonet-0.1.0.dist-info/METADATA").decode()
    assert set(IN_WHEEL) <= names
    assert "License-File: LICENSE" in meta
    plain = [line for line in meta.splitlines()
             if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert plain and not [line for line in plain if "ziglang" in line or "sdk" in line]


@pytest.mark.wheel
@pytest.mark.timeout(900)
def test_the_installed_demo_runs_on_its_prebuilt_guests(
        installed: tuple[Path, Path, Path]) -> None:
    _, bin_dir, cwd = installed
    assert _package(bin_dir, cwd).is_relative_to(bin_dir.parent)
    done = _run(cwd, bin_dir / "nanonet", "demo", "--count", "20000")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prebuilt (pip install 'nanonet[c]'" in done.stdout
    assert "summary matches the Python model" in done.stdout


@pytest.mark.wheel
@pytest.mark.timeout(900)
def test_the_installed_auth_example_runs(installed: tuple[Path, Path, Path]) -> None:
    _, bin_dir, cwd = installed
    done = _run(cwd, bin_dir / "python", "-m", "nanonet.examples.auth.example")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ALLOW {'user-id': 42, 'role': 'admin'} ok" in done.stdout
    assert "audit trail: [(42, 'ok'), (42, 'bad signature')" in done.stdout
    manifest = _package(bin_dir, cwd) / "examples" / "auth" / "nanonet.toml"
    check = _run(cwd, bin_dir / "nanonet", "check", manifest)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "all 2 services load" in check.stdout


@pytest.mark.wheel
@pytest.mark.timeout(900)
def test_without_the_extras_each_says_which_to_install(
        installed: tuple[Path, Path, Path]) -> None:
    _, bin_dir, cwd = installed
    telemetry = _package(bin_dir, cwd) / "examples" / "telemetry" / "nanonet.toml"
    built = _run(cwd, bin_dir / "nanonet", "check", telemetry)
    assert built.returncode == 1
    *errors, count = built.stderr.strip().splitlines()  # one line per C guest, then the count
    assert errors and count.endswith(f"{len(errors)} errors; fix them and run nanonet check again")
    assert all(e.endswith("needs zig's C compiler: pip install 'nanonet[c]'") for e in errors)
    probe = ("from nanonet.observe.traces import provider\n"
             "provider('none')\n"
             "provider('console')\n")
    traced = _run(cwd, bin_dir / "python", "-c", probe)
    assert "MissingTool: --traces console needs the OpenTelemetry SDK: " \
           "pip install 'nanonet[otel]'" in traced.stderr


def test_a_manifest_may_name_its_schema_for_editors(tmp_path: Path) -> None:
    from nanonet.manifest.manifest import load_manifest

    (tmp_path / "a.wat").write_text('(module (func (export "run") (result i32) i32.const 0))')
    (tmp_path / "nanonet.toml").write_text(
        '#:schema ./nanonet.schema.json\n[tunnels.t]\nwriter = "a"\nreader = "host"\n'
        '[services.a]\nsource = "a.wat"\n')
    assert list(load_manifest(tmp_path / "nanonet.toml").services) == ["a"]
