"""Talking to a control endpoint from another process: find it, read, act.

A mesh served by ``nanonet run --dashboard`` leaves its URL and token in its
own control file (``meshdir.py``; mode 0600). The CLI finds the one the user
means (``--mesh NAME``, ``--control-file``, or the only one running) unless
told ``--connect`` and ``--token``, and trusts only a regular file of the
user's own, not a symbolic link (``controlfile.py``).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlencode

from ..errors import ControlFileError
from .meshdir import RunningMesh, read_mesh, running_meshes

TIMEOUT = 10.0


START = ("start one with 'nanonet run MANIFEST --dashboard', or pass --connect HOST:PORT "
         "and --token")


def env_control_file() -> Path | None:
    """``$NANONET_CONTROL_FILE``: one fixed control file instead of one per mesh."""
    env = os.environ.get("NANONET_CONTROL_FILE")
    return Path(env) if env else None


def find_mesh(control_file: Path | None = None, name: str | None = None) -> RunningMesh:
    """The one running mesh the user means: the file given, the one named, or the only one."""
    path = control_file or env_control_file()
    if path is not None:
        found = read_mesh(path)
        if found is None:
            raise ControlFileError(f"no running mesh: none left a control file at {path}; "
                                   f"{START}")
        return found
    meshes = running_meshes()
    if name is not None:
        match = [m for m in meshes if m.name == name]
        if match:
            return match[0]
        running = ", ".join(m.name for m in meshes)
        choose = f"choose one of {running} with --mesh NAME" if meshes else START
        raise ControlFileError(f"no running mesh named {name!r}; {choose}")
    if not meshes:
        raise ControlFileError(f"no running mesh: {START}")
    if len(meshes) > 1:
        listed = ", ".join(m.describe() for m in meshes)
        raise ControlFileError(f"{len(meshes)} meshes are running: {listed}; choose one with "
                               "--mesh NAME")
    return meshes[0]


class Endpoint:
    """The URL and (maybe) token of one control endpoint."""

    def __init__(self, connect: str | None, token: str | None,
                 control_file: Path | None = None, mesh: str | None = None) -> None:
        if connect:
            self.url = (connect if "://" in connect else f"http://{connect}").rstrip("/")
            self.token = token or self._saved_token(control_file)
            return
        found = find_mesh(control_file, mesh)
        self.url, self.token = found.url.rstrip("/"), token or found.token

    def _saved_token(self, control_file: Path | None) -> str | None:
        """The token a running mesh at this URL left, if one did."""
        path = control_file or env_control_file()
        try:
            meshes = [m for m in [read_mesh(path)] if m] if path else running_meshes()
        except ControlFileError:
            return None
        return next((m.token for m in meshes if m.url.rstrip("/") == self.url), None)

    def _request(self, path: str, data: bytes | None = None) -> urllib.request.Request:
        req = urllib.request.Request(self.url + path, data=data,
                                     method="POST" if data is not None else "GET")
        if data is not None:
            req.add_header("Content-Type", "application/octet-stream")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        return req

    def snapshot(self) -> dict[str, Any]:
        with urllib.request.urlopen(self._request("/api/snapshot"), timeout=TIMEOUT) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def open_tap(self, query: Mapping[str, object] | Sequence[tuple[str, object]] | str) -> Any:
        """Ask for a tap; the response once the server accepted it (its body is
        the capture), or ``HTTPError`` with the server's refusal.

        ``query`` is the parameters (encoded here; pairs may repeat ``tunnel``)
        or a query string already encoded.
        """
        qs = query if isinstance(query, str) else urlencode(query)
        return urllib.request.urlopen(self._request(f"/api/tap?{qs}", b""), timeout=None)

    def tap(self, query: Mapping[str, object] | Sequence[tuple[str, object]] | str,
            out: BinaryIO) -> int:
        """Stream a capture into ``out`` until the server ends it; bytes written."""
        with self.open_tap(query) as r:
            return copy_stream(r, out)

    def replay(self, tunnel: str, pcapng: bytes) -> int:
        """Send a capture's packets into ``tunnel``; how many the server sent."""
        req = self._request(f"/api/replay?{urlencode({'tunnel': tunnel})}", pcapng)
        req.add_header("Content-Type", "application/x-pcapng")
        with urllib.request.urlopen(req, timeout=TIMEOUT * 6) as resp:
            return int(json.load(resp)["sent"])


    def send(self, tunnel: str, message: bytes) -> int:
        """Send one message into ``tunnel`` through the mesh's write path (1 if it went)."""
        req = self._request(f"/api/send?{urlencode({'tunnel': tunnel})}", message)
        with urllib.request.urlopen(req, timeout=TIMEOUT * 6) as resp:
            return int(json.load(resp)["sent"])

    def recent(self, tunnel: str, last: int) -> dict[str, Any]:
        """The inspector's last ``last`` messages of ``tunnel`` (it inspects it from now on)."""
        query = urlencode({"tunnel": tunnel, "last": last})
        with urllib.request.urlopen(self._request(f"/api/inspect?{query}"),
                                    timeout=TIMEOUT) as resp:
            data: dict[str, Any] = json.load(resp)
        return data


def copy_stream(src: Any, out: BinaryIO, total: int = 0) -> int:
    """Copy ``src`` to ``out`` as it arrives; ``total`` plus the bytes copied."""
    while chunk := src.read1(65536) if hasattr(src, "read1") else src.read(65536):
        out.write(chunk)
        out.flush()
        total += len(chunk)
    return total
