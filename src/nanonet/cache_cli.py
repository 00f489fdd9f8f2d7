"""``nanonet cache``: where compiled modules live, and clearing them."""

from __future__ import annotations

import argparse
import shutil
from typing import Any

from .runtime.engine import cache_dir


def _run(args: argparse.Namespace) -> int:
    path = cache_dir()
    files = list(path.glob("*.cwasm")) if path.exists() else []
    size = sum(f.stat().st_size for f in files)
    print(f"{path}: {len(files)} compiled modules, {size / 1e6:.1f} MB")
    if args.clear and path.exists():
        shutil.rmtree(path)
        print("cleared")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="show or clear the compiled-module cache",
                       description="Compiled Wasm is cached on disk, keyed by the module's "
                       "bytes, the engine settings and the wasmtime version.")
    p.add_argument("--clear", action="store_true", help="delete every cached module")
    p.set_defaults(func=_run)
