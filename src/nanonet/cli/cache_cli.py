"""``nanonet cache``: where compiled modules and built guests live; clearing them."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from ..host.engine import cache_dir


def _usage(path: Path) -> tuple[int, int]:
    files = [f for f in path.rglob("*") if f.is_file()] if path.exists() else []
    return len(files), sum(f.stat().st_size for f in files)


def _run(args: argparse.Namespace) -> int:
    root = cache_dir().parent
    for part, what in (("modules", "compiled Wasm modules"), ("build", "built C guests"),
                       ("native", "native benchmark peers")):
        count, size = _usage(root / part)
        print(f"{root / part}: {count} files, {size / 1e6:.1f} MB ({what})")
    if args.clear and root.exists():
        shutil.rmtree(root)
        print("cleared")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("cache", help="show or clear nanonet's caches",
                       description="Compiled Wasm is cached on disk, keyed by the module's "
                       "bytes, the engine settings and the wasmtime version; built guests by "
                       "their sources, flags and compiler version. $NANONET_CACHE moves it. "
                       "A compiled module is used only if this user's key (modules.key) "
                       "binds it to its source; the directory must be private (chmod 700).")
    p.add_argument("--clear", action="store_true", help="delete every cached file")
    p.set_defaults(func=_run)
