"""Building the native peers (``c/peers.c``) for the host, once, with zig cc.

The binary is cached under the nanonet cache directory, keyed by the source,
the compiler flags, the zig version and the machine, so a bench run pays the
build only the first time. Built to a temporary name, then renamed: a
concurrent run never executes half a binary.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

from ..errors import BenchError
from ..host.engine import cache_dir

SOURCE = Path(__file__).resolve().parent / "c" / "peers.c"
FLAGS = ("-O2", "-pthread")
BUILD_TIMEOUT = 600


def zig_version() -> str:
    out = subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True,
                         text=True, timeout=60, check=True)
    return out.stdout.strip()


def _key(zig: str) -> str:
    h = hashlib.sha256(SOURCE.read_bytes())
    h.update("|".join((*FLAGS, zig, platform.machine())).encode())
    return h.hexdigest()[:16]


def peers_binary() -> Path:
    """The path of the built peers program, building it if needed."""
    out = cache_dir().parent / "native" / f"peers-{_key(zig_version())}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    cmd = [sys.executable, "-m", "ziglang", "cc", *FLAGS, "-o", str(tmp), str(SOURCE)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        raise BenchError(f"building the native peers failed:\n{done.stderr}")
    os.replace(tmp, out)
    for stale in out.parent.glob("peers-*"):  # older sources or compilers
        if stale != out and not stale.name.endswith(".tmp"):
            stale.unlink(missing_ok=True)
    return out
