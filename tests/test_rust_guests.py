"""Rust guests: rustc builds them against nanonet.rs, cached like C's, and they
see every status of the ABI (tests/guests/conformance.rs, the twin of
conformance.c). Where no rustc can build for wasm32-unknown-unknown, the
tests that build skip, saying what to install; the error itself is tested
everywhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
import wasmtime

from conftest import GUESTS
from nanonet import Grants, Mesh
from nanonet.toolchain import rustbuild
from nanonet.toolchain.build import BuildError, MemoryStyle
from test_c_conformance import run_conformance

DOC = Path(__file__).resolve().parents[1] / "docs" / "abi.md"
RUST_MISSING = rustbuild.available()
needs_rust = pytest.mark.skipif(RUST_MISSING is not None,
                                reason=f"Rust guests cannot be built here: {RUST_MISSING}")
PREAMBLE = """#![no_std]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! { core::arch::wasm32::unreachable() }
"""
ECHO = PREAMBLE + """use nanonet::{Code, Status, Tunnel};
#[no_mangle]
pub extern "C" fn run() -> i32 {
    let (inp, out) = match (Tunnel::open("in"), Tunnel::open("out")) {
        (Ok(i), Ok(o)) => (i, o),
        _ => return Status::BadHandle.code(),
    };
    let mut buf = [0u8; 64];
    loop {
        match inp.recv(&mut buf) {
            Ok(n) => if let Err(s) = out.send(&buf[..n]) { return s.code() },
            Err(Status::Closed) => return out.close().code(),
            Err(s) => return s.code(),
        }
    }
}
"""
MANIFEST = """[tunnels.out]
max_payload = 16
writer = "g"
reader = "host"

[services.g]
source = "g.rs"
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty nanonet cache: every build in the test starts cold."""
    monkeypatch.setenv("NANONET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _module(path: Path) -> wasmtime.Module:
    return wasmtime.Module(wasmtime.Engine(), path.read_bytes())


def _exit_code(wasm: Path, grants: Grants | None = None) -> int | None:
    with Mesh() as mesh:
        svc = mesh.service("g", wasm, grants=grants or Grants())
        mesh.start()
        assert mesh.wait(60)
        assert mesh.traps == []
    return svc.exit_code


def _guest(root: Path, text: str, name: str = "g.rs") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root / name


@needs_rust
@pytest.mark.parametrize("memory", ["export", "import"])
def test_rust_guest_sees_every_status(memory: MemoryStyle) -> None:
    run_conformance(rustbuild.build_rust(GUESTS / "conformance.rs", memory=memory), memory)


@needs_rust
def test_the_docs_rust_example_runs_in_the_docs_mesh(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text()
    rust = re.findall(r"```rust\n(.*?)```", text, flags=re.S)[-1]
    python = re.findall(r"```python\n(.*?)```", text, flags=re.S)[-1]
    (tmp_path / "upper.rs").write_text(rust)
    code = python.replace("toolchain.build import build", "toolchain.rustbuild import "
                          "build_rust").replace('build("upper.c")', 'build_rust("upper.rs")')
    assert "build_rust(\"upper.rs\")" in code
    monkeypatch.chdir(tmp_path)
    out = StringIO()
    with redirect_stdout(out):
        exec(compile(code, "docs/abi.md", "exec"), {})
    assert out.getvalue().strip() == "[b'HELLO', b'TUNNELS']"


@needs_rust
def test_a_guest_imports_only_the_calls_it_makes(cache: Path, tmp_path: Path) -> None:
    wasm = rustbuild.build_rust(_guest(tmp_path, ECHO))
    assert wasm.is_relative_to(cache / "build")
    module = _module(wasm)
    assert sorted((i.module, i.name) for i in module.imports) == [
        ("nanonet", "close"), ("nanonet", "recv"), ("nanonet", "send"), ("nanonet", "tunnel")]
    assert {"memory", "run"} <= {e.name for e in module.exports}
    with Mesh() as mesh:
        mesh.tunnel("in", max_payload=64)
        mesh.tunnel("out", max_payload=64)
        svc = mesh.service("echo", wasm, reads=["in"], writes=["out"])
        to_echo, back = mesh.writer("in"), mesh.reader("out")
        mesh.start()
        to_echo.send_many([b"", b"ferris", b"x" * 64])
        to_echo.close()
        assert list(back) == [b"", b"ferris", b"x" * 64]
        assert mesh.wait(60) and svc.exit_code == 0


@needs_rust
def test_an_imported_memory_is_exported_too_so_the_clock_can_write_it(cache: Path,
                                                                       tmp_path: Path) -> None:
    src = _guest(tmp_path, PREAMBLE + """#[no_mangle]
pub extern "C" fn run() -> i32 {
    (nanonet::clock::realtime_ns() > 1_600_000_000_000_000_000) as i32
}
""")
    wasm = rustbuild.build_rust(src, memory="import")
    module = _module(wasm)
    assert ("env", "memory") in [(i.module, i.name) for i in module.imports]
    assert "memory" in [e.name for e in module.exports]
    assert _exit_code(wasm, Grants(clock=True)) == 1


@needs_rust
def test_the_build_is_cached_and_follows_the_modules_it_reads(cache: Path,
                                                             tmp_path: Path) -> None:
    src = _guest(tmp_path, PREAMBLE + 'mod sub;\n#[no_mangle]\npub extern "C" fn run() -> i32 '
                 "{ sub::X }\n")
    (tmp_path / "sub.rs").write_text("pub const X: i32 = 5;\n")
    first = rustbuild.compile_rust(src)
    assert not first.cached and _exit_code(first.path) == 5
    assert rustbuild.compile_rust(src).cached
    (tmp_path / "sub.rs").write_text("pub const X: i32 = 6;\n")
    second = rustbuild.compile_rust(src)
    assert not second.cached and second.path != first.path
    assert _exit_code(second.path) == 6
    (tmp_path / "sub.rs").write_text("pub const X: i32 = 5;\n")
    assert rustbuild.compile_rust(src).path == first.path  # that build is still kept


@needs_rust
def test_a_compile_error_names_the_file_and_line(cache: Path, tmp_path: Path) -> None:
    src = _guest(tmp_path, PREAMBLE + '#[no_mangle]\npub extern "C" fn run() -> i32 { nope }\n')
    with pytest.raises(BuildError, match=r"cannot find value `nope`") as err:
        rustbuild.build_rust(src)
    assert "g.rs:5:" in str(err.value) and "command: " in str(err.value)


@needs_rust
def test_an_export_the_guest_does_not_define_is_a_build_error(cache: Path,
                                                              tmp_path: Path) -> None:
    src = _guest(tmp_path, PREAMBLE + '#[no_mangle]\npub extern "C" fn start() -> i32 { 0 }\n')
    with pytest.raises(BuildError, match=r"g.rs defines no function run to export; add "
                       r'#\[no_mangle\] pub extern "C" fn run\(...\)'):
        rustbuild.build_rust(src)
    with pytest.raises(BuildError, match=r"defines no function configure to export"):
        rustbuild.build_rust(_guest(tmp_path, ECHO), exports=["configure"])


def test_without_rustc_the_build_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv(rustbuild.RUSTC_ENV, str(tmp_path / "no-rustc"))
    with pytest.raises(BuildError) as err:
        rustbuild.build_rust(_guest(tmp_path, ECHO))
    said = str(err.value)
    assert "\n" not in said and said.startswith("building a Rust guest needs rustc")
    assert "install rustc and libstd-rust-dev-wasm32" in said


def _cli(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nanonet.cli", *args], cwd=root, timeout=300,
                          capture_output=True, text=True, env={**os.environ, **env})


def test_a_manifest_without_rustc_is_one_line_at_the_source_key(tmp_path: Path) -> None:
    _guest(tmp_path, ECHO)
    (tmp_path / "nanonet.toml").write_text(MANIFEST)
    done = _cli(tmp_path, "check", "nanonet.toml", NANONET_RUSTC=str(tmp_path / "no-rustc"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    error = [line for line in done.stderr.splitlines() if "rustc" in line]
    assert len(error) == 1 and "nanonet.toml:7:" in error[0], done.stderr
    assert "install rustc and libstd-rust-dev-wasm32" in error[0]


@needs_rust
def test_a_manifest_builds_a_rust_source_and_runs_it(tmp_path: Path) -> None:
    _guest(tmp_path, PREAMBLE + """use nanonet::{Code, Tunnel};
#[no_mangle]
pub extern "C" fn run() -> i32 {
    let out = Tunnel::open("out").unwrap_or(Tunnel::from_handle(-1));
    if let Err(s) = out.send(b"from rust") { return s.code() }
    out.close().code()
}
""")
    (tmp_path / "nanonet.toml").write_text(MANIFEST + 'memory = "import"\n')
    check = _cli(tmp_path, "check", "nanonet.toml")
    assert check.returncode == 0, check.stderr
    assert "source g.rs, built by nanonet.toolchain.rustbuild (imports its memory)" in check.stdout
    run = _cli(tmp_path, "run", "nanonet.toml")
    assert run.returncode == 0, run.stderr
    assert "host ← out #1 (9 bytes): 'from rust'" in run.stdout
