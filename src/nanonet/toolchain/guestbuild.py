"""Building C and JavaScript guests into components, cached like Python's.

    build_c("relay.c", PACKAGES["tunnel"], "relay")    # zig cc, then embed + new
    build_js("relay.js", PACKAGES["tunnel"], "relay")  # componentize-js

C is compiled by nanonet's own zig (``nanonet.toolchain.build``) to a core module whose
imports and exports follow the canonical ABI's names; wasm-tools, as jco
ships it, embeds the world and makes it a component. JavaScript is built by
``jco componentize`` with every WASI feature disabled, so the component
imports only its world. The npm tools are the ones pinned in the repository's
``package.json`` (``npm ci``, which ``scripts/setup`` runs); nothing is
downloaded at build time. Outputs are kept under
``<nanonet cache>/build/components/``, keyed by the sources, the WIT, the
world and the tools' versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .build import BuildError, Built, build_dir, zig_cc, zig_version

HERE = Path(__file__).parent
EMBED_SCRIPT = HERE.parent / "component" / "wit_component.mjs"
C_FLAGS = ("--target=wasm32-freestanding", "-O2", "-nostdlib", "-Wl,--no-entry",
           "-Wl,--strip-debug")
JCO = "@bytecodealliance/jco"
SETUP_HINT = "run scripts/setup (it runs `npm ci` where node is installed)"


def node_modules() -> Path:
    """The ``node_modules`` holding jco: ``$NANONET_NODE_MODULES``, else the
    nearest one above this package (a checkout) or the working directory."""
    if env := os.environ.get("NANONET_NODE_MODULES"):
        return Path(env)
    for base in (HERE, Path.cwd()):
        for folder in (base, *base.parents):
            if (folder / "node_modules" / JCO / "package.json").is_file():
                return folder / "node_modules"
    raise BuildError(f"building C and JavaScript components needs {JCO} from npm: {SETUP_HINT}")


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise BuildError(f"building C and JavaScript components needs node: {SETUP_HINT}")
    return found


def npm_version(package: str) -> str:
    meta = node_modules() / package / "package.json"
    return str(json.loads(meta.read_text())["version"])


def cache_key(tools: str, sources: Sequence[Path], wit: Path, world: str) -> str:
    h = hashlib.sha256(f"{tools}\0{world}\0".encode())
    for path in [*sources, *sorted(wit.glob("*.wit"))]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:24]


def _cached(name: str, key: str, make: Callable[[Path], None]) -> Built:
    """The build at ``components/NAME-KEY.wasm``, made by ``make(tmp)`` if missing."""
    t0 = time.perf_counter()
    out = build_dir() / "components" / f"{name}-{key}.wasm"
    cached = out.exists()
    if not cached:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        try:
            make(tmp)
            os.replace(tmp, out)  # atomic: a concurrent build never sees half a file
        finally:
            tmp.unlink(missing_ok=True)
    return Built(out, cached, time.perf_counter() - t0)


def _run(what: str, cmd: list[str], out: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        words = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
        raise BuildError(f"{what} failed:\n{words}\ncommand: {' '.join(cmd)}")


def build_c(source: str | Path, wit: str | Path, world: str) -> Built:
    """The component of ``world`` built from C ``source`` (and the ``*.h`` beside it)."""
    src, wit_dir = Path(source).resolve(), Path(wit).resolve()
    if not src.is_file():
        raise BuildError(f"no C source at {src}")
    sources = [src, *sorted(src.parent.glob("*.h")), EMBED_SCRIPT]
    tools = f"zig-{zig_version()}\0jco-transpile-{npm_version(JCO + '-transpile')}\0{C_FLAGS}"

    def make(tmp: Path) -> None:
        core = tmp.with_suffix(".core.wasm")
        try:
            zig_cc(src, C_FLAGS, core)
            _run("making a component of the C guest",
                 [node(), str(EMBED_SCRIPT), str(node_modules()), str(core), str(wit_dir),
                  world, str(tmp)], tmp)
        finally:
            core.unlink(missing_ok=True)

    return _cached(src.stem + "-c", cache_key(tools, sources, wit_dir, world), make)


def _js_key(src: Path, wit_dir: Path, world: str) -> str:
    cjs = npm_version("@bytecodealliance/componentize-js")
    return cache_key(f"jco-{npm_version(JCO)}\0componentize-js-{cjs}", [src], wit_dir, world)


def js_built_path(source: str | Path, wit: str | Path, world: str) -> Path:
    """Where ``build_js`` caches this build (it may not exist yet)."""
    src, wit_dir = Path(source).resolve(), Path(wit).resolve()
    return build_dir() / "components" / f"{src.stem}-js-{_js_key(src, wit_dir, world)}.wasm"


def build_js(source: str | Path, wit: str | Path, world: str) -> Built:
    """The component of ``world`` built from the JavaScript module ``source``."""
    src, wit_dir = Path(source).resolve(), Path(wit).resolve()
    if not src.is_file():
        raise BuildError(f"no JavaScript source at {src}")
    modules = node_modules()

    def make(tmp: Path) -> None:
        cli = modules / JCO / "dist" / "jco.js"
        _run("jco componentize", [node(), str(cli), "componentize", str(src), "-w", str(wit_dir),
                                  "-n", world, "-d", "all", "-o", str(tmp)], tmp)

    return _cached(src.stem + "-js", _js_key(src, wit_dir, world), make)
