"""Which manifest a command means: the path given, else ``./nanonet.toml``.

As with Spin and cargo, a command run inside a service's directory needs no
path. With no path and no ``nanonet.toml`` here, the one line printed says
how to make one.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT = "nanonet.toml"


def manifest_path(given: str | None, command: str) -> Path | None:
    """The manifest to use, or None after saying (on stderr) that there is none."""
    if given is not None:
        return Path(given)
    here = Path(DEFAULT)
    if here.is_file():
        return here
    print(f"nanonet {command}: no {DEFAULT} in {Path.cwd()}; make one with `nanonet new "
          f"NAME` (then cd NAME), or give its path: nanonet {command} PATH", file=sys.stderr)
    return None
