"""``nanonet check`` says whether each component's data plane runs without the host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from list_export import LIST_EXPORT
from nanonet.bench.component_cost import QUAD, producer_component
from nanonet.component.fastpath import JS, PY, judge, tools
from nanonet.errors import LoadError

ANSWER = ('(component (core module $m (func (export "f") (result i32) (i32.const 4))) '
          '(core instance $i (instantiate $m)) '
          '(func (export "answer") (result u32) (canon lift (core func $i "f"))))')


def test_a_tunnel_component_runs_without_the_host() -> None:
    verdict = judge(producer_component())
    assert verdict.possible and verdict.toolchain == ""
    assert "split.data_plane runs it as a core service" in verdict.line("producer")


def test_a_component_with_only_wit_imports_needs_the_host() -> None:
    verdict = judge(bytes(wasmtime.wat2wasm(QUAD)))
    assert not verdict.possible
    assert verdict.why.startswith("none of its 1 core modules imports the nanonet ABI")


def test_two_data_planes_are_not_split() -> None:
    plane = '(core module $p{n} (import "nanonet" "close" (func (param i32) (result i32))))'
    wat = f"(component {plane.format(n=1)} {plane.format(n=2)})"
    verdict = judge(bytes(wasmtime.wat2wasm(wat)))
    assert not verdict.possible and verdict.why.startswith("2 of its core modules import")


def test_a_core_module_is_not_judged() -> None:
    with pytest.raises(LoadError, match="not a component binary"):
        judge(bytes(wasmtime.wat2wasm("(module)")))


@pytest.mark.parametrize("language, made_by", [("python", PY), ("javascript", JS)])
def test_the_guest_toolchains_are_named(language: str, made_by: str) -> None:
    from nanonet.examples.relay import build
    from nanonet.toolchain.build import BuildError

    try:
        binary = build(language).path.read_bytes()  # cached after the first build
    except BuildError as err:
        pytest.skip(f"the {language} toolchain is not here: {err}")
    verdict = judge(binary)
    assert not verdict.possible and verdict.toolchain == made_by
    assert verdict.why.startswith(f"built by {made_by}")
    assert "wit-component" in tools(binary)


def test_check_prints_the_verdict_of_every_component(tmp_path: Path) -> None:
    (tmp_path / "answer.wat").write_text(ANSWER)
    (tmp_path / "nanonet.toml").write_text('[services.answer]\ncomponent = "answer.wat"\n')
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert ("component 'answer' data plane needs the host in its path: none of its 1 core "
            "modules imports the nanonet ABI") in out.stdout


def test_check_says_which_path_a_components_tunnel_imports_take(tmp_path: Path) -> None:
    from nanonet.examples.producer import build

    (tmp_path / "p.wasm").write_bytes(build("producer").path.read_bytes())
    (tmp_path / "s.wat").write_text(LIST_EXPORT)
    checker = Path(__file__).parents[1] / "src" / "nanonet" / "guests" / "checker.wat"
    (tmp_path / "nanonet.toml").write_text(
        '[tunnels.out]\nwriter = "p"\nreader = "checker"\n'
        '[tunnels.text]\nwriter = "s"\nreader = "checker2"\n'
        f'[services.checker]\nwasm = "{checker}"\n'
        f'[services.checker2]\nwasm = "{checker}"\n'
        '[services.p]\ncomponent = "p.wasm"\nimports = { forward = "tunnel:out" }\n'
        '[services.s]\ncomponent = "s.wat"\nimports = { forward = "tunnel:text" }\n')
    out = subprocess.run([sys.executable, "-m", "nanonet.cli", "check"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert ("component 'p' data plane runs without the host: Wasm path: 'forward' -> tunnel "
            "'out' served by generated Wasm on the ring") in out.stdout
    assert ("component 's' tunnel imports take the host-function path: export 'tag' lifts "
            "its strings as utf16") in out.stdout
