"""What a command that runs a mesh (``nanonet run``) calls to be observable.

    add_arguments(parser)                 # --dashboard, --top, --observe-port, --traces, --name
    preflight(args)                       # before loading: a busy port, a missing exporter
    with attach(mesh, args) as obs:       # None-safe: does nothing without the flags
        mesh.start(); ...

``attach`` starts an Observer; with ``--dashboard`` it serves the control
endpoint and prints the dashboard's URL, the token in its fragment, and leaves
the mesh's own control file (``meshdir.py``), so ``nanonet top`` / ``tap`` /
``replay`` in another shell find it; the file is removed when the block ends,
however it ends. A control file that cannot be written safely is skipped with
a warning, and those commands then need ``--connect`` and ``--token``. With
``--top`` the caller may run ``obs.top()`` in place of its own wait loop.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ControlFileError, InvalidValue, MissingTool
from ..mesh import Mesh
from .client import env_control_file
from .controlfile import write_control_file
from .meshdir import claim, file_name, release
from .observer import MESH_NAME, Observer
from .server import port_refusal
from .top import live_top
from .traces import EXPORTERS


def add_arguments(parser: argparse.ArgumentParser, node: bool = False) -> None:
    """The observability options; ``node``: those of ``nanonet node``, which
    has no terminal view and whose ``--name`` is the node's."""
    g = parser.add_argument_group("observability")
    g.add_argument("--dashboard", action="store_true",
                   help="serve the dashboard, /metrics and the control API on 127.0.0.1")
    if not node:
        g.add_argument("--top", action="store_true", help="show the live terminal view")
    g.add_argument("--observe-port", type=int, default=0, metavar="PORT",
                   help="port of the control endpoint (default: any free one)")
    g.add_argument("--traces", choices=EXPORTERS, default="none",
                   help="export OpenTelemetry spans of service lifecycles")
    if node:
        return
    g.add_argument("--name", metavar="NAME",
                   help="the mesh's name: for top, tap and replay --mesh NAME, and in spans "
                   "(default: the manifest's, or its directory's for a nanonet.toml)")


OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


def preflight(args: argparse.Namespace) -> None:
    """Refuse what would fail only after every service loaded: a missing
    exporter, a port in use."""
    if getattr(args, "traces", "none") == "otlp" and not _importable(OTLP_MODULE):
        raise MissingTool("--traces otlp needs opentelemetry-exporter-otlp-proto-http: "
                          "pip install it, or choose --traces console")
    port = getattr(args, "observe_port", 0)
    if getattr(args, "dashboard", False) and port:
        check_port("127.0.0.1", port)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` as the control server will (address reuse on) and let go."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise InvalidValue(port_refusal(host, port, err)) from None




class Attached:
    """The observer a run holds, and what it serves."""

    def __init__(self, observer: Observer, url: str | None) -> None:
        self.observer = observer
        self.url = url

    def top(self, frames: int | None = None, until: Callable[[], bool] | None = None,
            lines: Callable[[], list[str]] | None = None) -> None:
        """The live view of this mesh until Ctrl-C, ``frames`` redraws or
        ``until()``; ``lines`` are printed above it (``live_top``)."""
        live_top(lambda: self.observer.snapshot().to_json(), self.url or "in-process",
                 frames=frames, until=until, lines=lines)


def mesh_name(manifest: str | Path) -> str:
    """What a manifest's mesh is called: the file's name, or its directory's for
    a ``nanonet.toml`` (``examples/telemetry/nanonet.toml`` is ``telemetry``)."""
    path = Path(manifest).resolve()
    return path.parent.name if path.stem == "nanonet" else path.stem


@contextmanager
def attach(mesh: Mesh, args: argparse.Namespace, name: str = MESH_NAME) -> Iterator[Attached]:
    """An Observer for ``mesh`` (called ``name``) as the flags ask; stopped when
    the block ends, and the control file it left (named by ``name``) removed."""
    obs = Observer(mesh, name=name, traces=getattr(args, "traces", "none"))
    url, left = None, None
    with obs:
        try:
            if getattr(args, "dashboard", False):
                server = obs.serve(port=getattr(args, "observe_port", 0))
                url = server.url
                print(f"dashboard: {server.dashboard_url}  metrics: {url}/metrics",
                      file=sys.stderr)
                left = _leave_control_file(file_name(name), url, server.token)
            yield Attached(obs, url)
        finally:
            if left is not None:
                release(*left)


def _leave_control_file(name: str, url: str, token: str) -> tuple[Path, str] | None:
    """Tell other shells where the mesh is; without a safe place, say how to reach it."""
    fixed = env_control_file()
    try:
        if fixed is None:
            path = claim(name, url, token)
        else:
            path = fixed
            write_control_file(fixed, url, token, {"pid": str(os.getpid()), "mesh": name})
    except (ControlFileError, OSError) as err:
        print(f"dashboard: not writing the control file: {err}; nanonet top, tap and "
              f"replay need --connect {url.split('://', 1)[1]} --token {token}",
              file=sys.stderr)
        return None
    how = "nanonet top" if fixed else f"nanonet top --mesh {path.stem}"
    print(f"dashboard: {how} finds this mesh (control file {path}, removed when it stops)",
          file=sys.stderr)
    return path, token
