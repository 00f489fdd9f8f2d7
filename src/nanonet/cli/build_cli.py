"""``nanonet build [MANIFEST]``: build every guest of a manifest, and nothing else.

Each service's code is made the way ``nanonet run`` makes it
(``manifest/guests.py``): a ``build`` command run when its output is missing
or stale, a C ``source`` compiled with zig (cached), a Python component with
componentize-py (cached); a prebuilt ``wasm`` is only checked to be there.
A counter shows progress; the first failure stops the build with its
output (the command's or the compiler's own words).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import ManifestError
from ..manifest.manifest import Manifest, ServiceDef, load_manifest
from .verbosity import add_switch
from .where import manifest_path


def _what(svc: ServiceDef) -> str:
    t = svc.table
    if t.component is not None:
        return f"component {t.component}"
    if t.build is not None:
        return f"build command {' '.join(t.build)}"
    return f"{'source' if t.source else 'wasm'} {t.source or t.wasm}"


def build_all(m: Manifest) -> int:
    """Build each service in manifest order; the count of services built."""
    from ..manifest.guests import guest_code  # zig and componentize-py: only when used

    todo = list(m.services.values())
    for i, svc in enumerate(todo, start=1):
        print(f"[{i}/{len(todo)}] {svc.name}: {_what(svc)}", flush=True)
        guest_code(m, svc, lambda line: print(line, flush=True), build=True)
    return len(todo)


def _build(args: argparse.Namespace) -> int:
    path = manifest_path(args.manifest, "build")
    if path is None:
        return 1
    t0 = time.perf_counter()
    try:
        done = build_all(load_manifest(path))
    except ManifestError as err:
        print(f"build stopped: {err}", file=sys.stderr)
        return 1
    print(f"built {done} service{'s' if done != 1 else ''} of {path} in "
          f"{time.perf_counter() - t0:.1f} s")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("build", help="build every guest of a nanonet.toml",
                       description="Run each service's build the way `nanonet run` does "
                       "(build commands when their output is missing or older than the "
                       "source, C sources with zig, Python components with componentize-py; "
                       "cached), showing progress, and stop at the first failure with its "
                       "output. Exit status 0 if every service built.")
    p.add_argument("manifest", nargs="?",
                   help="the manifest (default ./nanonet.toml)")
    add_switch(p)
    p.set_defaults(func=_build)
