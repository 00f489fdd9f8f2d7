"""A manifest service's code: a prebuilt .wasm, WAT text, or a build first.

Three ways to say where a service's code comes from, as in spin.toml:

- ``wasm = "x.wasm"``: a prebuilt module (``.wat`` text is accepted too);
- ``source = "x.c"``: built by ``nanonet.build`` (zig cc, cached by content),
  with ``memory`` and ``exports``; ``source = "x.wat"`` is loaded as text;
- ``build = [cmd, ...]`` + ``wasm``: the command runs in the manifest's
  directory when ``wasm`` is missing or older than ``source`` (or always,
  without ``source``), and must produce ``wasm``.

Every failure becomes a ManifestError at the service's key that caused it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..build import BuildError, compile_c

if TYPE_CHECKING:
    from .manifest import Manifest, ServiceDef

Progress = Callable[[str], None]
Code = bytes | str | Path


def guest_code(m: Manifest, svc: ServiceDef, progress: Progress) -> Code:
    """The service's module, built first if the manifest says so."""
    t = svc.table
    if t.component is not None:
        return _component(m, svc, progress)
    if t.build is not None:
        return _command(m, svc, progress)
    if t.source is not None and t.source.endswith(".c"):
        return _c_build(m, svc, progress)
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


def _c_build(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    t = svc.table
    try:
        built = compile_c(m.file(t.source or ""), memory=t.memory or "export",
                          exports=t.exports)
    except BuildError as err:
        raise m.error(("services", svc.name, "source"), f"does not build: {err}") from None
    progress(f"  {svc.name}: {t.source} ({t.memory or 'export'}s its memory), "
             f"{built.size} bytes, {built.how}")
    return built.path


def _component(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    """A component file, or a Python one built with componentize-py (cached)."""
    from ..component.pybuild import build_python
    from ..wit import PACKAGES

    t = svc.table
    path = m.file(t.component or "")
    if path.suffix != ".py":
        progress(f"  {svc.name}: component {path.name} ({path.stat().st_size:,} bytes)")
        return path
    wit = PACKAGES.get(t.wit or "") or m.file(t.wit or "")
    try:
        built = build_python(path.parent, path.stem, wit, t.world or "")
    except BuildError as err:
        raise m.error(("services", svc.name, "component"), f"does not build: {err}") from None
    progress(f"  {svc.name}: {t.component} with componentize-py (world {t.world}), "
             f"{built.size:,} bytes, {built.how}")
    return built.path


def _stale(m: Manifest, svc: ServiceDef) -> bool:
    """True if the build command must run: no output, or a newer source."""
    out = m.file(svc.table.wasm or "")
    if not out.is_file() or svc.table.source is None:
        return True
    return m.file(svc.table.source).stat().st_mtime > out.stat().st_mtime


def _command(m: Manifest, svc: ServiceDef, progress: Progress) -> Path:
    cmd = list(svc.table.build or ())
    out = m.file(svc.table.wasm or "")
    where = ("services", svc.name, "build")
    if _stale(m, svc):
        progress(f"  {svc.name}: running {' '.join(cmd)}")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=m.root, capture_output=True, text=True)
        except OSError as err:
            raise m.error(where, f"cannot run {cmd[0]!r} ({err.strerror or err}); "
                          "fix the command") from None
        if proc.returncode != 0:
            words = (proc.stderr or proc.stdout).strip()[-2000:]
            raise m.error(where, f"failed with exit status {proc.returncode}; fix the build:"
                          f"\n{words}")
        progress(f"  {svc.name}: built in {(time.perf_counter() - t0) * 1e3:.0f} ms")
    if not out.is_file():
        raise m.error(("services", svc.name, "wasm"), f"the build command made no {out}; "
                      "make the command write it, or fix wasm")
    return out
