"""Building Python guests into components with componentize-py, cached.

A Python component bundles an interpreter (~18 MB) and takes ~10-30 s to
build, so outputs are kept under ``<nanonet cache>/build/components/``, keyed
by the app's ``.py`` files, the WIT it is built against, the world and the
componentize-py version: an unchanged guest is built once per machine.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .build import BuildError, Built, build_dir


def componentize_py_version() -> str:
    try:
        return version("componentize-py")
    except PackageNotFoundError:
        raise BuildError("building Python components needs componentize-py: "
                         "pip install 'nanonet[components]'") from None


def cache_key(app: Path, module: str, wit: Path, world: str, stub_wasi: bool = False) -> str:
    stub = "\0stub-wasi" if stub_wasi else ""
    h = hashlib.sha256(f"componentize-py-{componentize_py_version()}\0{module}\0{world}\0{stub}"
                       .encode())
    for path in sorted(app.glob("*.py")) + sorted(wit.glob("*.wit")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def built_path(app: str | Path, module: str, wit: str | Path, world: str,
               stub_wasi: bool = False) -> Path:
    """Where the build of ``module`` is cached (it may not exist yet)."""
    app_dir, wit_dir = Path(app).resolve(), Path(wit).resolve()
    key = cache_key(app_dir, module, wit_dir, world, stub_wasi)
    return build_dir() / "components" / f"{module}-{key}.wasm"


def build_python(app: str | Path, module: str, wit: str | Path, world: str,
                 stub_wasi: bool = False) -> Built:
    """The component built from ``module`` in folder ``app`` for ``world`` of ``wit``.

    ``stub_wasi``: every WASI import replaced by a stub that traps
    (componentize-py ``--stub-wasi``), so the component imports no WASI at all."""
    t0 = time.perf_counter()
    app_dir, wit_dir = Path(app).resolve(), Path(wit).resolve()
    out = built_path(app_dir, module, wit_dir, world, stub_wasi)
    cached = out.exists()
    if not cached:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        tool = str(Path(sys.executable).with_name("componentize-py"))
        cmd = [tool, "-d", str(wit_dir), "-w", world, "componentize", "-p", str(app_dir),
               *(["--stub-wasi"] if stub_wasi else []), module, "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=app_dir)
        if proc.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            raise BuildError(f"componentize-py failed:\n{(proc.stderr or proc.stdout).strip()}"
                             f"\ncommand: {' '.join(cmd)}")
        os.replace(tmp, out)
    return Built(out, cached, time.perf_counter() - t0)
