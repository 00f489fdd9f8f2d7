"""What a command that runs a mesh (``nanonet run``) calls to be observable.

    add_arguments(parser)                 # --dashboard, --top, --observe-port, --traces
    with attach(mesh, args) as obs:       # None-safe: does nothing without the flags
        mesh.start(); ...

``attach`` starts an Observer; with ``--dashboard`` it serves the control
endpoint and prints the dashboard's URL, the token in its fragment (and writes
the control file, so ``nanonet top`` / ``tap`` / ``replay`` in another shell
find it; a control file that cannot be written safely is skipped with a
warning, and those commands then need ``--connect`` and ``--token``); with
``--top`` the caller may run ``obs.top()`` in place of its own wait loop.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ControlFileError
from ..mesh import Mesh
from .client import default_control_file
from .controlfile import write_control_file
from .observer import MESH_NAME, Observer
from .top import live_top
from .traces import EXPORTERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("observability")
    g.add_argument("--dashboard", action="store_true",
                   help="serve the dashboard, /metrics and the control API on 127.0.0.1")
    g.add_argument("--top", action="store_true", help="show the live terminal view")
    g.add_argument("--observe-port", type=int, default=0, metavar="PORT",
                   help="port of the control endpoint (default: any free one)")
    g.add_argument("--traces", choices=EXPORTERS, default="none",
                   help="export OpenTelemetry spans of service lifecycles")


class Attached:
    """The observer a run holds, and what it serves."""

    def __init__(self, observer: Observer, url: str | None) -> None:
        self.observer = observer
        self.url = url

    def top(self, frames: int | None = None, until: Callable[[], bool] | None = None) -> None:
        """The live view of this mesh until Ctrl-C, ``frames`` redraws or ``until()``."""
        live_top(lambda: self.observer.snapshot().to_json(), self.url or "in-process",
                 frames=frames, until=until)


def mesh_name(manifest: str | Path) -> str:
    """What a manifest's mesh is called: the file's name, or its directory's for
    a ``nanonet.toml`` (``examples/telemetry/nanonet.toml`` is ``telemetry``)."""
    path = Path(manifest).resolve()
    return path.parent.name if path.stem == "nanonet" else path.stem


@contextmanager
def attach(mesh: Mesh, args: argparse.Namespace, name: str = MESH_NAME) -> Iterator[Attached]:
    """An Observer for ``mesh`` (called ``name``) as the flags ask; stopped when
    the block ends."""
    obs = Observer(mesh, name=name, traces=getattr(args, "traces", "none"))
    url = None
    with obs:
        if getattr(args, "dashboard", False):
            server = obs.serve(port=getattr(args, "observe_port", 0))
            url = server.url
            print(f"dashboard: {server.dashboard_url}  metrics: {url}/metrics", file=sys.stderr)
            _leave_control_file(url, server.token)
        yield Attached(obs, url)


def _leave_control_file(url: str, token: str) -> None:
    """Tell other shells where the mesh is; without a safe place, say how to reach it."""
    path = default_control_file()
    try:
        write_control_file(path, url, token)
    except (ControlFileError, OSError) as err:
        print(f"dashboard: not writing the control file: {err}; nanonet top, tap and "
              f"replay need --connect {url.split('://', 1)[1]} --token {token}",
              file=sys.stderr)
