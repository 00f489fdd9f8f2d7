"""Compile once: a component's types come from its outline, and each piece of
code is compiled once, by the path that runs it.

The compilations are counted through ``host/compiles.py`` (never timed), in a
runtime whose compiled-module cache starts empty. The outline test of the
JavaScript and Python relays compiles them whole once to compare (~10 s of
CPU each, unless another test of the run put them in the disk cache).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pytest
import wasmtime

from js_toolchain import javascript_missing
from nanonet import LoadError, Mesh
from nanonet.component import load, pair
from nanonet.component.artifacts import FULL_TAG, compiled
from nanonet.component.host import Loaded
from nanonet.component.outline import outline
from nanonet.component.ringpath import RingLoaded
from nanonet.component.split import core_modules
from nanonet.examples.producer import build as build_producer
from nanonet.examples.relay import LANGUAGES
from nanonet.examples.relay import build as build_relay
from nanonet.host.compiles import counting
from nanonet.host.engine import Runtime
from test_component_compose import NOTING


def _missing(language: str) -> str | None:
    if language == "c":
        return None
    if language == "python":
        found = Path(sys.executable).with_name("componentize-py").exists()
        return None if found else "componentize-py is not installed"
    return javascript_missing()


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Runtime:
    """A runtime whose compiled-module cache is empty: every compilation happens."""
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path))
    return Runtime()


def _wit(loaded: Loaded) -> tuple[dict[str, str | dict[str, str]], dict[str, str]]:
    """Every import and export with its WIT signature, as text."""
    imports = {name: (want.wit() if not isinstance(want, dict)
                      else {f: s.wit() for f, s in want.items()})
               for name, want in loaded.imports.items()}
    return imports, {name: sig.wit() for name, sig in loaded.exports.items()}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_outline_has_the_components_type(language: str) -> None:
    if (why := _missing(language)) is not None:
        pytest.skip(why)
    rt = Runtime()
    binary = build_relay(language).path.read_bytes()
    loaded = load(rt, binary)
    whole = Loaded(compiled(rt.engine, rt.disk, binary, rt.digest(FULL_TAG + binary)),
                   rt.engine)
    assert _wit(loaded) == _wit(whole)
    assert loaded.imports == whole.imports and loaded.exports == whole.exports
    assert "forward" in loaded.imports and "transmit-packet" in loaded.exports
    small = outline(rt.engine, binary)
    assert len(small) <= len(binary)  # the code is gone; an outline of 18 MB is ~0.3 MB
    assert len(list(core_modules(small))) == len(list(core_modules(binary)))


def test_the_wasm_path_compiles_each_core_module_once(fresh: Runtime) -> None:
    binary = build_producer("producer").path.read_bytes()
    cores = list(core_modules(binary))
    with counting() as seen, Mesh(fresh) as mesh:
        mesh.tunnel("out", slots=64, max_payload=64)
        comp = mesh.component("p", binary, imports={"forward": "tunnel:out"})
        assert isinstance(comp.loaded, RingLoaded)
        out = mesh.reader("out")
        mesh.start()
        assert comp.call("run", 20, 8, timeout=60) == 20
        comp.close()
        assert len(list(out)) == 20
    kinds = Counter(kind for kind, _ in seen)
    assert kinds["component"] == 0 and kinds["outline"] == 1, kinds
    modules = Counter(source for kind, source in seen if kind == "module")
    assert {m: modules[m] for m in cores} == dict.fromkeys(cores, 1)
    with counting() as again:  # a new runtime on the same disk cache compiles nothing
        rt = Runtime()
        with Mesh(rt) as mesh:
            mesh.tunnel("out", slots=64, max_payload=64)
            comp = mesh.component("p", binary, imports={"forward": "tunnel:out"})
            mesh.start()
            assert comp.call("run", 3, 8, timeout=60) == 3
    assert again == []


def test_the_host_path_compiles_the_component_once_on_first_use(fresh: Runtime) -> None:
    with counting() as seen:
        loaded = load(fresh, pair.callee())
        assert [kind for kind, _ in seen] == ["outline"]
        for _ in range(2):
            inst = loaded.instantiate(fresh.new_store(), {})
            assert inst.call(f"{pair.CALC}#scale", {"x": 3, "y": 4}) == {"x": 6, "y": 5}
    assert [kind for kind, _ in seen] == ["outline", "component"]
    assert seen[1][1] == pair.callee()


def test_a_composition_compiles_only_its_composite(fresh: Runtime) -> None:
    caller = pair.caller()
    with counting() as seen, Mesh(fresh) as mesh:
        mesh.component("callee", NOTING, imports={"sink": {"note": lambda x: None}})
        both = mesh.component("caller", caller, wasi=True, imports={"calc": "component:callee"})
        mesh.start()
        assert both.call("spin", 4) == 32
    whole = [source for kind, source in seen if kind == "component"]
    assert whole == [both.loaded.binary]
    assert Counter(kind for kind, _ in seen)["outline"] == 3  # callee, caller, composite


_INVALID = ('(component (core module $m (func (export "f") (result i32) (i64.const 1))) '
            '(core instance $i (instantiate $m)) '
            '(func (export "f") (result u32) (canon lift (core func $i "f"))))')

# $c is dropped from the interface, so ref.func $c no longer names a function:
# the outline keeps this module whole, bodies emptied
_REF_FUNC = ('(component (core module $m (func $a) (func $b) (func $c) '
             '(global funcref (ref.func $c)) '
             '(func (export "f") (param i32) (result i32) (local.get 0))) '
             '(core instance $i (instantiate $m)) '
             '(func (export "f") (param "x" u32) (result u32) (canon lift (core func $i "f"))))')


def test_code_that_does_not_validate_is_refused_at_load() -> None:
    with pytest.raises(LoadError, match=re.escape("its core module 0 does not validate")):
        load(Runtime(), _INVALID)


def test_a_module_the_interface_cannot_stand_for_is_outlined_whole() -> None:
    rt = Runtime()
    loaded = load(rt, _REF_FUNC)
    assert loaded.exports["f"].wit() == "func(x: u32) -> u32"
    assert loaded.instantiate(rt.new_store(), {}).call("f", 7) == 7
    small = next(core_modules(outline(rt.engine, bytes(wasmtime.wat2wasm(_REF_FUNC)))))
    wasmtime.Module.validate(rt.engine, small)
    assert small.count(b"\x03\x00\x00\x0b") == 4  # every function kept, each unreachable
