"""A tap of one tunnel written to a file, started and stopped from ``nanonet top``.

It asks the control endpoint's ``POST /api/tap`` (as ``nanonet tap`` does)
on a thread of its own and copies the pcapng stream into the file as it
arrives. Stopping shuts the connection's socket down, which ends the read
at once even when no message flows; the server sees the client gone and
detaches the tap.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from pathlib import Path
from urllib.parse import urlencode, urlsplit


class TapToFile:
    """One running tap: ``tunnel`` into ``path`` until ``stop`` or the server ends it."""

    def __init__(self, url: str, token: str | None, tunnel: str, path: Path) -> None:
        self.tunnel, self.path = tunnel, path
        self.written = 0
        self.error: str | None = None  # the server's refusal, or why the stream ended
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._sock: socket.socket | None = None  # a closing response drops conn.sock
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._copy, name=f"nanonet:top-tap-{tunnel}",
                                        daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _copy(self) -> None:
        try:
            self._conn.connect()
            self._sock = self._conn.sock
            if self._stopping.is_set():
                return
            self._conn.request("POST", "/api/tap?" + urlencode({"tunnel": self.tunnel}), b"",
                               self._headers)
            resp = self._conn.getresponse()
            if resp.status != 200:
                self.error = _refusal(resp.read())
                return
            with self.path.open("wb") as out:
                while chunk := resp.read1(65536):
                    out.write(chunk)
                    out.flush()
                    self.written += len(chunk)
        except OSError as err:
            if not self._stopping.is_set():
                self.error = f"the tap's stream ended: {err}"
        finally:
            self._conn.close()

    def stop(self, timeout: float = 10.0) -> None:
        """End the capture (the file keeps what arrived) and wait for the copy."""
        self._stopping.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout)


def _refusal(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace").strip() or "the server refused the tap"
