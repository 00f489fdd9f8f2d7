"""Talking to a control endpoint from another process: find it, read, act.

A server started with a token file writes ``{"url", "token"}`` there (mode
0600); the CLI reads the same file unless told ``--connect`` and ``--token``,
and only if it is a regular file of the user's own, not a symbolic link
(``controlfile.py``).
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
from .controlfile import read_control_file

TIMEOUT = 10.0


def default_control_file() -> Path:
    """``$NANONET_CONTROL_FILE``, else a per-user file under the cache directory."""
    env = os.environ.get("NANONET_CONTROL_FILE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nanonet" / "control.json"


class Endpoint:
    """The URL and (maybe) token of one control endpoint."""

    def __init__(self, connect: str | None, token: str | None,
                 control_file: Path | None = None) -> None:
        path = control_file or default_control_file()
        saved = read_control_file(path)
        url = f"http://{connect}" if connect and "://" not in connect else connect
        self.url = (url or saved.get("url") or "").rstrip("/")
        if not self.url:
            raise ControlFileError(f"no control endpoint: pass --connect HOST:PORT, or start "
                                   f"the mesh with a token file at {path}")
        self.token = token or (saved.get("token") if not connect or saved.get("url") == self.url
                               else None)

    def _request(self, path: str, data: bytes | None = None) -> urllib.request.Request:
        req = urllib.request.Request(self.url + path, data=data,
                                     method="POST" if data is not None else "GET")
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


def copy_stream(src: Any, out: BinaryIO, total: int = 0) -> int:
    """Copy ``src`` to ``out`` as it arrives; ``total`` plus the bytes copied."""
    while chunk := src.read1(65536) if hasattr(src, "read1") else src.read(65536):
        out.write(chunk)
        out.flush()
        total += len(chunk)
    return total
