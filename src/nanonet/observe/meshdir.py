"""One control file per running mesh, in one directory, gone when the mesh is.

Every mesh served with ``nanonet run --dashboard`` leaves
``NAME.json`` (``{"url", "token", "pid", "mesh"}``) in ``control_dir()``, so
that two meshes on one machine never overwrite each other's file and
``nanonet top`` can list them. A name a live mesh holds gets a suffix
(``NAME-2``). The file is made with ``os.link`` from a private temporary file,
which creates the name or fails and never replaces another mesh's file. The
mesh removes its file when it stops; a file whose process is gone (killed
with SIGKILL, a crash) is stale, and whoever finds one removes it.
``$NANONET_CONTROL_FILE`` still names one file for whoever wants a fixed path.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ControlFileError
from .controlfile import open_directory, read_control_file, write_new_file

MAX_SUFFIX = 100  # NAME, NAME-2, ... NAME-100: enough meshes of one name on one machine
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def control_dir() -> Path:
    """``$XDG_CACHE_HOME/nanonet/meshes`` (``~/.cache/nanonet/meshes`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nanonet" / "meshes"


def file_name(text: str) -> str:
    """``text`` as a file name: letters, digits, ``.``, ``_`` and ``-`` only."""
    return _UNSAFE.sub("-", text).strip(".-") or "mesh"


@dataclass(frozen=True)
class RunningMesh:
    """One mesh's control file, read back."""

    name: str
    path: Path
    url: str
    token: str
    pid: int | None

    def describe(self) -> str:
        pid = "" if self.pid is None else f", pid {self.pid}"
        return f"{self.name} ({self.url}{pid})"


def alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists (a file without a pid is trusted)."""
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone's process: not ours to call stale
    return True


def read_mesh(path: Path) -> RunningMesh | None:
    """The mesh whose file is ``path``; None (and the file removed) if it is stale."""
    data = read_control_file(path)
    if not data:
        return None
    pid = int(data["pid"]) if data.get("pid", "").isdigit() else None
    if not alive(pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return RunningMesh(data.get("mesh") or path.stem, path, data.get("url", ""),
                       data.get("token", ""), pid)


def running_meshes(directory: Path | None = None) -> list[RunningMesh]:
    """Every live mesh with a file in ``directory``, by name; stale files are removed."""
    directory = directory or control_dir()
    found = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            mesh = read_mesh(path)
        except ControlFileError:
            continue  # not a mesh's file (or not ours): never used, never removed
        if mesh is not None:
            found.append(mesh)
    return sorted(found, key=lambda m: m.name)


def claim(name: str, url: str, token: str, directory: Path | None = None) -> Path:
    """Leave this process's control file under ``name`` (or ``name-N``); its path."""
    directory = directory or control_dir()
    dfd = open_directory(directory)
    try:
        for n in range(1, MAX_SUFFIX + 1):
            candidate = name if n == 1 else f"{name}-{n}"
            fields = {"url": url, "token": token, "pid": str(os.getpid()), "mesh": candidate}
            if _take(dfd, directory / f"{candidate}.json", fields):
                return directory / f"{candidate}.json"
    finally:
        os.close(dfd)
    raise ControlFileError(f"{MAX_SUFFIX} meshes named {name!r} are running: stop some, or "
                           "name this one with --name")


def _take(dfd: int, path: Path, fields: dict[str, str]) -> bool:
    """Create ``path``; if a stale file held it, remove that and create it."""
    if write_new_file(dfd, path.name, fields):
        return True
    try:
        if read_mesh(path) is not None:
            return False  # a live mesh's
    except ControlFileError:
        return False  # not a mesh's file: left alone
    return write_new_file(dfd, path.name, fields)


def release(path: Path, token: str) -> None:
    """Remove ``path`` if it is still this mesh's file (same token)."""
    with contextlib.suppress(ControlFileError, OSError):
        if read_control_file(path).get("token") == token:
            path.unlink()
