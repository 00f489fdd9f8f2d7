"""A manifest service's code: a prebuilt .wasm, WAT text, or a build first.

Three ways to say where a service's code comes from, as in spin.toml:

- ``wasm = "x.wasm"``: a prebuilt module (``.wat`` text is accepted too);
- ``source = "x.c"``: built by ``nanonet.toolchain.build`` (zig cc, cached by content),
  with ``memory`` and ``exports``; ``source = "x.rs"`` the same way by
  ``nanonet.toolchain.rustbuild`` (rustc); ``source = "x.wat"`` is loaded as text;
- ``build = [cmd, ...]`` + ``wasm``: the command runs in the manifest's
  directory when ``wasm`` is missing or older than ``source`` (or always,
  without ``source``), and must produce ``wasm``; it is bounded by
  ``build_timeout`` (``manifest/buildcmd.py``).

With ``build=False`` (``nanonet check`` without ``--build``) no build command
and no componentize-py build runs (both run code the manifest brings): what is
already built is loaded, and what is missing is a ManifestError saying how to
build it. A C source is still compiled by nanonet's own zig, and a Rust one by
rustc, neither of which runs code of the manifest's (no build scripts, no
procedural macros: a Rust guest has no crates but nanonet's binding).

Every failure becomes a ManifestError at the service's key that caused it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..toolchain.build import BuildError, Built, compile_c
from ..toolchain.rustbuild import compile_rust
from .buildcmd import DEFAULT_TIMEOUT, BuildTimeout, run_build
from .schema import BUILT_SOURCES

if TYPE_CHECKING:
    from .manifest import Manifest, ServiceDef

Progress = Callable[[str], None]
Code = bytes | str | Path


ASK_BUILD = ("run `nanonet build` (or `nanonet check --build`, or `nanonet run`), which "
             "builds it, or build it yourself")


def guest_code(m: Manifest, svc: ServiceDef, progress: Progress, build: bool = True) -> Code:
    """The service's module, built first if the manifest says so (and ``build``)."""
    t = svc.table
    if t.component is not None:
        return _component(m, svc, progress, build)
    if t.build is not None:
        return _command(m, svc, progress) if build else _prebuilt(m, svc, progress)
    if t.source is not None and t.source.endswith(BUILT_SOURCES):
        return _source_build(m, svc, progress)
    return _file(m, svc, progress)


def _file(m: Manifest, svc: ServiceDef, progress: Progress) -> Code:
    """A prebuilt module's path, or a .wat file's text; a file that cannot be
    read, or a .wat that is binary or not UTF-8, is a ManifestError at its key."""
    key = "source" if svc.table.source is not None else "wasm"
    path = m.file(svc.table.source or svc.table.wasm or "")
    try:
        data = path.read_bytes() if path.suffix == ".wat" else None
        size = path.stat().st_size
    except OSError as err:
        raise m.error(("services", svc.name, key), f"cannot read {path} "
                      f"({err.strerror or err}); check the file and its permissions") from None
    progress(f"  {svc.name}: {path.name} ({size} bytes)")
    return path if data is None else _wat(m, (svc.name, key), path, data)


def _wat(m: Manifest, where: tuple[str, str], path: Path, data: bytes) -> str:
    loc = ("services", *where)
    if data[:4] == b"\0asm":
        stem = path.stem
        raise m.error(loc, f"{path} is binary Wasm, not WAT text; rename it to {stem}.wasm "
                      f"and write {where[1]} = \"{stem}.wasm\"")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise m.error(loc, f"{path} is not UTF-8 WAT text (byte {data[err.start]:#04x} at "
                      f"offset {err.start}); save it as UTF-8 text, or point wasm at a .wasm "
                      "module") from None


def _source_build(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    """A C source built with zig cc, or a Rust one with rustc: both cached by content."""
    t = svc.table
    compile_source: Callable[..., Built] = (compile_rust if (t.source or "").endswith(".rs")
                                            else compile_c)
    try:
        built = compile_source(m.file(t.source or ""), memory=t.memory or "export",
                               exports=t.exports)
    except BuildError as err:
        raise m.error(("services", svc.name, "source"), f"does not build: {err}") from None
    progress(f"  {svc.name}: {t.source} ({t.memory or 'export'}s its memory), "
             f"{built.size} bytes, {built.how}")
    return built.path


def _component(m: Manifest, svc: ServiceDef, progress: Progress, build: bool) -> Path:
    """A component file, or one built from Python with componentize-py (with
    ``--stub-wasi`` when ``wasi = false``) or from JavaScript with
    componentize-js, cached."""
    from ..toolchain.guestbuild import build_js, js_built_path
    from ..toolchain.pybuild import build_python, built_path
    from ..wit import PACKAGES

    t = svc.table
    path = m.file(t.component or "")
    if path.suffix not in (".py", ".js", ".c"):
        progress(f"  {svc.name}: component {path.name} ({path.stat().st_size:,} bytes)")
        return path
    wit, world, js = PACKAGES.get(t.wit or "") or m.file(t.wit or ""), t.world or "", \
        path.suffix == ".js"
    if path.suffix == ".c":
        return _c_component(m, svc, path, wit, progress)
    tool = "componentize-js" if js else "componentize-py"
    done = (js_built_path(path, wit, world) if js
            else built_path(path.parent, path.stem, wit, world, not t.wasi))
    if not build and not done.is_file():
        raise m.error(("services", svc.name, "component"), f"{t.component} is not built "
                      f"yet ({tool} runs its top-level code to build it): {ASK_BUILD}")
    try:
        built = (build_js(path, wit, world) if js
                 else build_python(path.parent, path.stem, wit, world, stub_wasi=not t.wasi))
    except BuildError as err:
        raise m.error(("services", svc.name, "component"), f"does not build: {err}") from None
    progress(f"  {svc.name}: {t.component} with {tool} (world {world}), "
             f"{built.size:,} bytes, {built.how}")
    return built.path


def _c_component(m: Manifest, svc: ServiceDef, path: Path, wit: Path,
                 progress: Progress) -> Path:
    """A C component, built with zig cc and wit-component (it runs none of its code)."""
    from ..toolchain.guestbuild import build_c

    world = svc.table.world or ""
    try:
        built = build_c(path, wit, world)
    except BuildError as err:
        raise m.error(("services", svc.name, "component"), f"does not build: {err}") from None
    progress(f"  {svc.name}: {svc.table.component} with zig cc (world {world}), "
             f"{built.size:,} bytes, {built.how}")
    return built.path


def _stale(m: Manifest, svc: ServiceDef) -> bool:
    """True if the build command must run: no output, or a newer source."""
    out = m.file(svc.table.wasm or "")
    if not out.is_file() or svc.table.source is None:
        return True
    return m.file(svc.table.source).stat().st_mtime > out.stat().st_mtime


def _prebuilt(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    """The build command's output as it is now, without running the command."""
    out = m.file(svc.table.wasm or "")
    if not out.is_file():
        raise m.error(("services", svc.name, "wasm"), f"{svc.table.wasm} is not built, and "
                      f"`nanonet check` runs no build command unless asked: {ASK_BUILD}")
    stale = " (older than its source: --build rebuilds it)" if _stale(m, svc) else ""
    progress(f"  {svc.name}: {out.name} ({out.stat().st_size} bytes), not rebuilt{stale}")
    return out


def _command(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    cmd = list(svc.table.build or ())
    out = m.file(svc.table.wasm or "")
    if _stale(m, svc):
        _run_command(m, svc, cmd, progress)
    if not out.is_file():
        raise m.error(("services", svc.name, "wasm"), f"the build command made no {out}; "
                      "make the command write it, or fix wasm")
    return out


def _run_command(m: Manifest, svc: ServiceDef, cmd: list[str], progress: Progress) -> None:
    """Run the build command under its timeout; any failure names the fix."""
    where = ("services", svc.name, "build")
    timeout = svc.table.build_timeout or DEFAULT_TIMEOUT
    progress(f"  {svc.name}: running {' '.join(cmd)} (timeout {timeout:g} s)")
    try:
        done = run_build(cmd, m.root, timeout, progress, svc.name)
    except OSError as err:
        raise m.error(where, f"cannot run {cmd[0]!r} ({err.strerror or err}); "
                      "fix the command") from None
    except BuildTimeout as err:
        raise m.error(where, f"{err}, so it was stopped (its whole process group); make the "
                      f"build finish sooner, or raise build_timeout = <seconds> in "
                      f"[services.{svc.name}] (default {DEFAULT_TIMEOUT:g})") from None
    if done.returncode != 0:
        raise m.error(where, f"failed with exit status {done.returncode}; fix the build:"
                      f"\n{done.output.strip()[-2000:]}")
    progress(f"  {svc.name}: built in {done.seconds * 1e3:.0f} ms")
