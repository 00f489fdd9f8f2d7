"""nanonet.toolchain.build: both memory styles, the cache, clear errors, allowed imports."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from conftest import GUESTS
from nanonet import LoadError, Mesh
from nanonet.policy.policy import Grants
from nanonet.runtime.linking import check_imports
from nanonet.telemetry import sources
from nanonet.toolchain.build import BuildError, MemoryStyle, build, compile_c

TINY = """#include <nanonet.h>
int run(void) { return NN_TUNNEL("t") == NN_BAD_HANDLE ? 7 : 1; }
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty nanonet cache: every build in the test starts cold."""
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _imports(path: Path) -> list[tuple[str, str]]:
    module = wasmtime.Module(wasmtime.Engine(), path.read_bytes())
    return [(i.module, i.name or "") for i in module.imports]


def _exports(path: Path) -> set[str]:
    return {e.name for e in wasmtime.Module(wasmtime.Engine(), path.read_bytes()).exports}


def test_exported_memory_is_the_default(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "tiny.c").write_text(TINY)
    wasm = build(tmp_path / "tiny.c")
    assert wasm.is_relative_to(cache / "build") and wasm.suffix == ".wasm"
    assert _exports(wasm) == {"memory", "run"}
    assert ("nanonet", "tunnel") in _imports(wasm)
    assert not any(name == "memory" for _, name in _imports(wasm))


def test_imported_memory(cache: Path, tmp_path: Path) -> None:
    (tmp_path / "tiny.c").write_text(TINY)
    wasm = build(tmp_path / "tiny.c", memory="import", exports=["run"])
    assert ("env", "memory") in _imports(wasm)
    assert "memory" in _exports(wasm)  # re-exported: WASI writes through it


@pytest.mark.parametrize("memory", ["export", "import"])
def test_both_styles_run(memory: MemoryStyle, tmp_path: Path) -> None:
    (tmp_path / "tiny.c").write_text(TINY)
    with Mesh() as mesh:
        svc = mesh.service("tiny", build(tmp_path / "tiny.c", memory=memory))
        mesh.start()
        assert mesh.wait(60)
    assert svc.exit_code == 7
    assert svc.linked.style == f"{memory}s-memory"


def test_cache_hit_returns_same_path_without_compiling(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tiny.c").write_text(TINY)
    cold = compile_c(tmp_path / "tiny.c")
    assert not cold.cached

    def no_compiler(*args: object) -> None:
        raise AssertionError("recompiled a cached guest")

    monkeypatch.setattr("nanonet.toolchain.build.zig_cc", no_compiler)
    warm = compile_c(tmp_path / "tiny.c")
    assert warm.cached and warm.path == cold.path


def test_key_follows_source_flags_and_style(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "tiny.c"
    src.write_text(TINY)
    paths = {build(src), build(src, memory="import"), build(src, flags=["-DX=1"])}
    src.write_text(TINY + "\n/* changed */\n")
    paths.add(build(src))
    assert len(paths) == 4


def test_syntax_error_names_file_line_and_command(cache: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.c"
    bad.write_text("#include <nanonet.h>\nint run(void) {\n    return 1 +;\n}\n")
    with pytest.raises(BuildError) as info:
        build(bad)
    text = str(info.value)
    assert "bad.c:3:" in text and "error" in text
    assert "command:" in text and "ziglang cc" in text
    assert not list((cache / "build").glob("*.wasm"))  # nothing half-built is cached


def test_missing_function_fails_at_link(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "libc.c"
    src.write_text("int puts(const char *);\nint run(void) { return puts(\"hi\"); }\n")
    with pytest.raises(BuildError, match="undefined symbol: puts"):
        build(src)


def test_unknown_memory_style(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="use 'export'"):
        build(GUESTS / "conformance.c", memory="shared")  # type: ignore[arg-type]


@pytest.mark.parametrize("source,memory,grants", [
    (GUESTS / "conformance.c", "export", frozenset()),
    (GUESTS / "conformance.c", "import", frozenset()),
    (sources() / "ingress.c", "import", frozenset({"clock"})),
    (sources() / "aggregate.c", "export", frozenset({"clock"})),
])
def test_built_guests_import_only_the_abi(source: Path, memory: MemoryStyle,
                                          grants: frozenset[str]) -> None:
    wasm = build(source, memory=memory)
    module = wasmtime.Module(wasmtime.Engine(), wasm.read_bytes())
    check_imports(source.stem, module, Grants.of(grants))  # raises LoadError otherwise
    for mod, name in _imports(wasm):
        assert mod in {"nanonet", "wasi_snapshot_preview1"} or name == "memory"


def test_a_stray_import_is_refused_at_load(tmp_path: Path) -> None:
    src = tmp_path / "stray.c"
    src.write_text('__attribute__((import_module("env"), import_name("log"))) void log_(int);\n'
                   "int run(void) { log_(1); return 0; }\n")
    with Mesh() as mesh, pytest.raises(LoadError, match=r"env\.log"):
        mesh.service("stray", build(src))


TRAPS_IN_PARSE = """#include <nanonet.h>
__attribute__((noinline)) static int parse_line(int x) { if (x > 0) __builtin_trap(); return x; }
int run(void) { return parse_line(7); }
"""


@pytest.mark.timeout(60)
def test_a_built_guest_names_its_functions_in_traps_and_carries_no_dwarf(
        cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "parse.c"
    src.write_text(TRAPS_IN_PARSE)
    wasm = build(src).read_bytes()
    assert b".debug_info" not in wasm and b"producers" not in wasm
    with Mesh() as mesh:
        svc = mesh.service("parse", wasm)
        mesh.start()
        assert svc.join(30)
    (trap,) = svc.traps
    assert [(f.module, f.function) for f in trap.frames] == [(None, "parse_line"), (None, "run")]
