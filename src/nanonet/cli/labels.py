"""Guest output labelled with its service: ``[ingress] starting``.

When ``nanonet run`` runs several services that write to their granted
stdout or stderr, their lines interleave; each is printed whole, prefixed
with the service's name, as Spin and docker compose do. Bytes are kept per
(service, stream) until a newline ends the line (a guest writes a line in
several ``fd_write`` calls as often as not); ``flush`` prints what is left.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from ..policy.wasi import route_output


class Labeller:
    """A sink for ``route_output``: whole lines, each with its ``[service]``."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._streams = {"stdout": out, "stderr": err}
        self._partial: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def _stream(self, name: str) -> TextIO:
        chosen = self._streams[name]
        return chosen if chosen is not None else getattr(sys, name)

    def __call__(self, owner: str, stream: str, data: bytes) -> None:
        with self._lock:
            text = self._partial.pop((owner, stream), b"") + data
            *lines, rest = text.split(b"\n")
            if rest:
                self._partial[(owner, stream)] = rest
            self._write(owner, stream, lines)

    def _write(self, owner: str, stream: str, lines: list[bytes]) -> None:
        if not lines:
            return
        out = self._stream(stream)
        out.write("".join(f"[{owner}] {line.decode('utf-8', 'replace')}\n" for line in lines))
        out.flush()

    def flush(self) -> None:
        """Print every unfinished line (a guest that ended without a newline)."""
        with self._lock:
            left, self._partial = self._partial, {}
            for (owner, stream), rest in left.items():
                self._write(owner, stream, [rest])


@contextmanager
def labelled(on: bool, out: TextIO | None = None) -> Iterator[None]:
    """While it lasts (and if ``on``), guests' stdio goes through a Labeller;
    ``out`` takes their stdout in place of ours (stderr, under ``--json``)."""
    if not on:
        yield
        return
    labeller = Labeller(out)
    route_output(labeller)
    try:
        yield
    finally:
        route_output(None)
        labeller.flush()
