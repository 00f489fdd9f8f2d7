"""Component cold start beside the core-module cold start, in one run.

    python -m nanonet.bench.component_coldstart [--json]

For the relay guest (src/nanonet/examples/relay/) built in C, JavaScript
(componentize-js, ~12.5 MB) and Python (componentize-py, ~18 MB), with the
compiled artifact already in the disk cache (one load first warms it):

- ``load``: a fresh ``Runtime`` (no in-process cache) turning the file into
  a ``Loaded``: read, hash, the cache entry checked and deserialized, the
  import and export types reflected;
- ``first``: the first instantiation of that component (a new store);
- ``again``: p50 of later instantiations of the same ``Loaded`` (new store
  each), what a second service of the same code pays;
- ``reload``: ``load`` again in the same runtime (the in-process cache);
- ``cold``: with an empty compiled-module cache instead, the CPU seconds
  (``time.process_time``, every thread) of a mesh adding the relay as a
  component (``forward`` wired to a tunnel) and starting it (its first
  instantiation), on the path the mesh chooses (``cold_wasm_path`` 1: the
  Wasm tunnel path, which compiles the core modules; 0: the host path,
  which compiles the component), and the MB of Wasm compiled for it
  (``host/compiles.py``; an outline, docs/components.md, is a few KB).

The warm ``load`` reads the component's types from its outline's cache
entry; the full component's entry is read by ``first`` (the host path).

The core row is the same stages for the W4 guest (checker.wat): ``rt.module``
from the disk cache in a fresh runtime, then ``InstancePre.instantiate`` with
a new store (first and p50). wasmtime's C API has no component
``InstancePre`` (wasmtime-py 50 exposes none), so a component's imports are
resolved again at each instantiation. Figures vary: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..component.host import Loaded, load
from ..component.ringpath import RingLoaded
from ..examples.relay import LANGUAGES, build
from ..host.compiles import counting
from ..host.engine import Runtime
from ..mesh import Mesh
from ..policy.policy import Grants
from .coldstart import engine_floor
from .wasm_runs import guest

RELAY_IMPORTS = {"forward": lambda packet: None, "receive-stream": lambda: []}
AGAIN = 20


def _ms(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, (time.perf_counter() - t0) * 1e3


def _instantiate(rt: Runtime, loaded: Loaded, wasi: bool) -> None:
    loaded.instantiate(rt.new_store(), RELAY_IMPORTS, wasi=Grants() if wasi else None)


def _fresh(path: Path, wasi: bool) -> tuple[Runtime, Loaded, float, float]:
    """A new runtime, the component loaded in it and instantiated once (ms each)."""
    rt = Runtime()
    loaded, load_ms = _ms(lambda: load(rt, path))
    return rt, loaded, load_ms, _ms(lambda: _instantiate(rt, loaded, wasi))[1]


def component(language: str, samples: int = 5) -> dict[str, float]:
    """ms to load (best of ``samples`` fresh runtimes), first and later instantiations."""
    path = build(language).path
    wasi = language == "python"  # componentize-py's runtime imports WASI
    load(Runtime(), path)  # the disk cache holds the compiled artifact from here on
    runs = [_fresh(path, wasi) for _ in range(samples)]
    rt, loaded = runs[-1][0], runs[-1][1]
    again = [_ms(lambda: _instantiate(rt, loaded, wasi))[1] for _ in range(AGAIN)]
    reload = _ms(lambda: load(rt, path))[1]
    return {"size_MB": path.stat().st_size / 1e6, "load_ms": min(r[2] for r in runs),
            "first_ms": min(r[3] for r in runs), "again_ms": statistics.median(again),
            "reload_ms": reload, **cold(language)}


@contextmanager
def _empty_cache() -> Iterator[None]:
    """Runtimes made inside compile into a new, empty cache (removed after)."""
    before = os.environ.get("NANONET_CACHE")
    with tempfile.TemporaryDirectory(prefix="nanonet-cold-") as root:
        os.environ["NANONET_CACHE"] = root
        try:
            yield
        finally:
            if before is None:
                del os.environ["NANONET_CACHE"]
            else:
                os.environ["NANONET_CACHE"] = before


def cold(language: str) -> dict[str, float]:
    """CPU seconds and MB compiled to add the relay to a mesh and start it, from nothing."""
    path = build(language).path  # first: the guest builds are cached under the cache too
    with _empty_cache(), counting() as seen:
        t0 = time.process_time()
        with Mesh(Runtime()) as mesh:
            mesh.tunnel("out", slots=16, max_payload=256)
            comp = mesh.component("relay", path, wasi=language == "python", imports={
                "forward": "tunnel:out", "receive-stream": RELAY_IMPORTS["receive-stream"]})
            mesh.start()
            wasm = isinstance(comp.loaded, RingLoaded)
        cpu = time.process_time() - t0
    return {"cold_cpu_s": cpu, "cold_compiled_MB": sum(len(s) for _, s in seen) / 1e6,
            "cold_wasm_path": float(wasm)}


def core(samples: int = 5) -> dict[str, float]:
    """The same stages for the W4 core guest: deserialize from disk, InstancePre."""
    wasm = guest("checker.wat").read_bytes()
    Runtime().module(wasm)  # warm the disk cache
    loads = [_ms(lambda: Runtime().module(wasm))[1] for _ in range(samples)]
    floor = engine_floor(wasm, AGAIN)
    return {"load_ms": min(loads), "first_ms": floor[0] / 1e6,
            "again_ms": statistics.median(floor) / 1e6, "reload_ms": 0.0}


def figures() -> dict[str, float]:
    """Every row, flat, with --json keys ``coldstart_<lang>_<stage>_ms``."""
    rows = {"core": core(), **{lang: component(lang) for lang in LANGUAGES}}
    return {f"coldstart_{who}_{k}": v for who, row in rows.items() for k, v in row.items()}


def print_rows(fig: dict[str, float]) -> None:
    print(f"{'cold start (ms)':18} {'load':>8} {'first':>8} {'again':>8} {'reload':>8}"
          f"  {'cold (CPU s, MB compiled, path)'}")
    for who in ("core", *LANGUAGES):
        k = f"coldstart_{who}_"
        line = (f"{who:18} {fig[k + 'load_ms']:8.2f} {fig[k + 'first_ms']:8.3f} "
                f"{fig[k + 'again_ms']:8.3f} {fig[k + 'reload_ms']:8.2f}")
        if k + "cold_cpu_s" in fig:
            path = "Wasm" if fig[k + "cold_wasm_path"] else "host"
            line += (f"  {fig[k + 'cold_cpu_s']:6.2f} s {fig[k + 'cold_compiled_MB']:6.2f} MB "
                     f"{path}")
        print(line)
    for lang in LANGUAGES:
        ratio = fig[f"coldstart_{lang}_load_ms"] / fig["coldstart_core_load_ms"]
        print(f"{lang} load is {ratio:.0f}x the core module's")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    fig = figures()
    if args.json:
        print(json.dumps(fig))
    else:
        print_rows(fig)


if __name__ == "__main__":
    main()
